"""The board on a loopback TCP socket (pyserial socket://), bad clients, and
`rramlab sim serve` serving it on --port + 1."""

import re
import signal
import socket
import time

import numpy as np
import pytest
import serial

from rramlab.sim.board.framing import crc32_hex
from rramlab.sim.board_server import BoardServer
from rramlab.sim.transport import bench_lock


def f32(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


@pytest.fixture
def server(bench16):
    srv = BoardServer(bench16.board, lock=bench_lock(bench16), block_timeout_s=0.3)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def connect(server, client_class):
    ports = []

    def make():
        ports.append(serial.serial_for_url(server.resource_name, timeout=5))
        return client_class(ports[-1])

    yield make
    for port in ports:
        port.close()


def raw_socket(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_socket_url_round_trip(server, connect):
    assert re.fullmatch(r"socket://127\.0\.0\.1:\d+", server.resource_name)
    board = connect()
    assert board.query("*IDN?")[0].startswith("RRAMLAB,RRAMSIM-AB1,SIM11,")
    text, tile = board.floats("READ TILE")
    assert text == "OK" and tile.size == 256
    text, out = board.floats("MVM 0 0 4 4", f32([0.1, 0.0, -0.1, 0.05]))
    assert text == "OK" and out.size == 4


def test_a_client_that_disconnects_mid_block_harms_no_one(server, connect):
    other = connect()
    other.ok("SEL 1 2")
    block = f32([0.1] * 4)
    for _ in range(3):
        sock = raw_socket(server)
        sock.sendall(f"MVM 0 0 4 4 BLOCK 16 {crc32_hex(block)}\n".encode() + block[:5])
        sock.close()
    assert other.ok("SEL?") == "1 2"
    text, out = other.floats("MVM 0 0 4 4", block)
    assert text == "OK" and out.size == 4
    late = connect()  # the server still accepts
    assert late.ok("PROTO?") == "1.1"
    deadline = time.monotonic() + 5
    while server.connection_count > 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.connection_count == 2


def test_a_block_that_stops_arriving_times_out_with_200(server, connect):
    board = connect()
    block = f32([0.1] * 4)
    board.port.write(f"MVM 0 0 4 4 BLOCK 16 {crc32_hex(block)}\n".encode() + block[:9])
    t0 = time.monotonic()
    assert board.line().startswith("ERR 200")
    assert 0.25 < time.monotonic() - t0 < 4
    assert board.ok("PROTO?") == "1.1"  # the rest of the link is in step


def test_interleaved_clients_each_get_their_own_replies(server, connect):
    a, b = connect(), connect()
    a.port.write(b"REA")  # half a command ...
    assert b.query("*IDN?")[0].startswith("RRAMLAB,")
    a.port.write(b"D 0 0\n")  # ... finished later
    assert a.line().startswith("OK ")
    a.ok("SEL 3 3")
    assert b.ok("SEL?") == "3 3"  # one board: its state is shared, as over two cables


def test_garbage_gets_error_replies_and_the_server_lives_on(server, connect):
    rng = np.random.default_rng(0)
    garbage = rng.integers(0, 256, size=20000, dtype=np.uint8).tobytes()
    garbage = garbage.replace(b"\n", b"") + b"\n"  # one long line of binary noise
    board = connect()
    board.port.write(garbage + b"\x00BLOCK\n")
    assert board.line().startswith("ERR 101")
    assert board.line().startswith("ERR 1")
    assert board.ok("PROTO?") == "1.1"


def test_the_server_refuses_a_remote_host_unless_allowed(bench16):
    with pytest.raises(ValueError, match="loopback"):
        BoardServer(bench16.board, host="192.0.2.1")


def test_sim_serve_serves_the_board_after_the_smu(sim_serve, client_class):
    serve = sim_serve("--port", "0", "--seed", "6")
    seen, _ = serve.read_until(r"Ctrl\+C")
    found = re.search(r"array board: (socket://127\.0\.0\.1:\d+)", seen)
    assert found, (seen, serve.proc.stderr.read() if serve.proc.poll() is not None else "")
    port = serial.serial_for_url(found.group(1), timeout=5)
    assert client_class(port).query("*IDN?")[0] == "RRAMLAB,RRAMSIM-AB1,SIM6,1.0.0"
    port.close()
    out, err = serve.stop(signal.SIGINT)
    assert serve.proc.returncode == 0, err
    assert out.strip().endswith("stopped")
