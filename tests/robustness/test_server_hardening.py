"""The simulated bench's servers (the SMU's raw socket and the board's, as ``rramlab sim
serve`` runs them) are safe to leave running on a lab PC: they bind loopback by
default and refuse other addresses unless told, cap connections and line length, and
never execute what they receive, only parse it."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rramlab.sim.bench import SimulatedBench
from rramlab.sim.board_server import BoardServer
from rramlab.sim.tcp_server import MAX_CONNECTIONS, InstrumentServer
from rramlab.sim.transport import MAX_MESSAGE_BYTES, bench_lock


@pytest.fixture(scope="module")
def bench() -> SimulatedBench:
    return SimulatedBench(rows=4, cols=4, seed=2)


@pytest.fixture
def servers(bench) -> Iterator[dict[str, InstrumentServer]]:
    """Every simulated instrument of the bench served with the defaults."""
    out = {
        model: InstrumentServer(smu, lock=bench_lock(bench)) for model, smu in bench.smus.items()
    }
    out["board"] = BoardServer(bench.board, lock=bench_lock(bench))
    for server in out.values():
        server.start()
    yield out
    for server in out.values():
        server.stop()


def connect(server: InstrumentServer, timeout_s: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_line(sock: socket.socket) -> str:
    """One reply line, read a byte at a time so nothing after it is consumed."""
    data = b""
    while not data.endswith(b"\n"):
        byte = sock.recv(1)
        assert byte, "the server closed the connection"
        data += byte
    return data.decode("latin-1").rstrip("\r\n")


def ask(sock: socket.socket, line: str) -> str:
    """Send ``line``; its reply line."""
    sock.sendall((line + "\n").encode("latin-1"))
    return read_line(sock)


def closed_by_peer(sock: socket.socket, timeout_s: float = 3.0) -> bool:
    sock.settimeout(timeout_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


IDN = {"2450": "*IDN?", "B2902A": "*IDN?", "2636B": "*IDN?", "board": "*IDN?"}
ERRORS = {
    "2450": ":SYST:ERR?",
    "B2902A": ":SYST:ERR?",
    "2636B": "print(errorqueue.next())",
}


# ------------------------------------------------------------------------ loopback
def test_every_server_binds_loopback_by_default(servers):
    for name, server in servers.items():
        assert server.host == "127.0.0.1", name
        assert server._listener.socket.getsockname()[0] == "127.0.0.1", name
        assert "127.0.0.1" in server.resource_name


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com", ""])
def test_a_non_loopback_host_is_refused_without_allow_remote(bench, host):
    with pytest.raises(ValueError, match="allow_remote"):
        InstrumentServer(bench.smus["2450"], host=host)
    with pytest.raises(ValueError, match="allow_remote"):
        BoardServer(bench.board, host=host)


def test_allow_remote_is_an_explicit_opt_in(bench):
    server = InstrumentServer(bench.smus["2450"], host="0.0.0.0", allow_remote=True)
    assert server.host == "0.0.0.0"  # constructed; not started: no test listens on the LAN


def test_sim_serve_listens_on_loopback_only(sim_serve):
    serve = sim_serve("--port", "0", fake_smu=False)
    text, _ = serve.read_until(r"array board: socket://\S+")
    hosts = re.findall(r"(?:TCPIP0::|socket://)([^:]+)", text)
    assert hosts and set(hosts) == {"127.0.0.1"}, text


# ------------------------------------------------------------------------ connection cap
@pytest.mark.parametrize("name", ["2450", "board"])
def test_the_connection_beyond_the_cap_is_closed(servers, name):
    server = servers[name]
    clients = [connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in clients:
            assert ask(sock, IDN[name])  # all of them served
        extra = connect(server)
        assert closed_by_peer(extra), f"connection {MAX_CONNECTIONS + 1} was not closed"
        extra.close()
        assert ask(clients[0], IDN[name])  # the others carry on
        clients.pop().close()  # one leaves: there is room again
        deadline = time.monotonic() + 5
        while server.connection_count >= MAX_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.01)
        late = connect(server)
        clients.append(late)
        assert ask(late, IDN[name])
    finally:
        for sock in clients:
            sock.close()


# ------------------------------------------------------------------------ line length
@pytest.mark.parametrize("name", ["2450", "B2902A", "2636B"])
def test_an_over_long_smu_line_is_dropped_and_reported(servers, name):
    with connect(servers[name]) as sock:
        sock.sendall(b"*CLS\n" if name != "2636B" else b"errorqueue.clear()\n")
        sock.sendall(b"A" * (MAX_MESSAGE_BYTES + 10) + b"\n")
        reply = ask(sock, ERRORS[name])
        assert "-363" in reply or "-3.63000e+02" in reply, reply
        assert ask(sock, IDN[name])


def test_an_over_long_board_line_gets_err_101_and_the_board_carries_on(servers):
    with connect(servers["board"]) as sock:
        for junk in (b"READ " + b"1" * 10_000, b"X" * 5000):
            sock.sendall(junk + b"\n")
            reply = read_line(sock)
            assert reply.startswith("ERR 101") and "longer than 4096" in reply, reply
            assert ask(sock, "*IDN?").startswith("RRAMLAB,")


# ------------------------------------------------------------------------ never executed
def payloads(marker: Path) -> list[str]:
    m = str(marker)
    return [
        f"__import__('os').system('touch {m}')",
        f"exec(\"open('{m}', 'w')\")",
        f"eval(\"__import__('os').system('touch {m}')\")",
        f"os.execute('touch {m}')",
        f"io.open('{m}', 'w')",
        f"io.popen('touch {m}')",
        f"require('os').execute('touch {m}')",
        f"load(\"os.execute('touch {m}')\")()",
        f"dofile('{m}')",
        f":SYST:COMM '{m}';$(touch {m});`touch {m}`",
        f"*IDN?; touch {m}",
        f"loadandrunscript\nos.execute('touch {m}')\nendscript",
        f"!!python/object/apply:os.system ['touch {m}']",
        f"{{{{ ''.__class__.__mro__[1].__subclasses__() }}}} {m}",
        f"PULSE 1 1e-6 && touch {m}",
        f"READ 0 0; import os; os.system('touch {m}')",
    ]


def test_no_server_executes_what_it_receives(servers, tmp_path, tally):
    marker = tmp_path / "pwned"
    for name, server in servers.items():
        with connect(server) as sock:
            for payload in payloads(marker):
                sock.sendall(payload.encode() + b"\n")
            sock.sendall(b"*IDN?\n")  # still serving: the payloads were only parsed
            seen = b""
            while not re.search(rb"(2450|B29|2636|RRAMLAB)[^\n]*\n", seen):
                chunk = sock.recv(65536)
                assert chunk, f"{name} closed the connection"
                seen += chunk
        tally["server hardening"]["payloads sent"] += len(payloads(marker))
    assert not marker.exists(), "a server executed its input"
    assert not Path("pwned").exists()
