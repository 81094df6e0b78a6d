"""InstrumentServer: a fake instrument on a loopback raw socket, many clients, bad clients."""

import contextlib
import socket
import threading
import time

import pytest
import pyvisa

from rramlab.sim.tcp_server import InstrumentServer, is_loopback

HOST = "127.0.0.1"


class Client:
    """A raw-socket client with a 5 s budget per reply."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=5)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def query(self, message: str) -> str:
        self.send(message.encode() + b"\n")
        return self.readline()

    def readline(self) -> str:
        line = self.file.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        return line.decode().removesuffix("\n")

    def at_eof(self) -> bool:
        """True once the server has closed this connection (waits up to 5 s)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def smu(fakes):
    return fakes["OverrunAwareSMU"]()


@pytest.fixture
def server(smu):
    srv = InstrumentServer(smu, host=HOST, port=0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def connect(server):
    clients: list[Client] = []

    def make() -> Client:
        clients.append(Client(server.port))
        return clients[-1]

    yield make
    for c in clients:
        c.close()


def test_start_on_port_0_binds_a_free_port_and_names_the_resource(server):
    assert server.port > 0
    assert server.resource_name == f"TCPIP0::127.0.0.1::{server.port}::SOCKET"


def test_pyvisa_py_round_trip(server):
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(
            server.resource_name, read_termination="\n", write_termination="\n", timeout=5000
        )
        assert inst.query("*IDN?") == "FAKE,MODEL 2450,0001,1.0"
        inst.write("SET 7")
        assert inst.query("GET?") == "7"
        inst.close()
    finally:
        rm.close()


def test_concurrent_clients_each_get_their_own_replies(connect, smu):
    clients = [connect() for _ in range(4)]
    wrong: list[tuple[str, str]] = []

    def talk(client: Client, tag: str) -> None:
        for i in range(150):
            want = f"{tag}-{i}"
            got = client.query(f"ECHO? {want}")
            if got != want:
                wrong.append((want, got))

    threads = [threading.Thread(target=talk, args=(c, f"c{n}")) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []
    assert len(smu.messages) == 4 * 150


def test_a_reply_is_sent_only_to_the_client_that_asked(connect):
    asker, bystander = connect(), connect()
    asker.send(b"ECHO? mine\n")
    bystander.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        bystander.sock.recv(1)
    assert asker.readline() == "mine"


def test_a_client_that_disconnects_mid_line_does_not_run_it_or_hurt_others(connect, smu):
    other = connect()
    quitter = connect()
    quitter.send(b"SET 99")  # no terminator: an unfinished message
    quitter.close()
    assert other.query("GET?") == "0"  # the half message never ran
    assert "SET 99" not in smu.messages
    assert connect().query("*IDN?").startswith("FAKE")


def test_garbage_and_an_over_long_line_do_not_kill_the_server(connect, smu):
    bystander, bad = connect(), connect()
    bad.send(b"\x00\xff\xfe garbage \x80\n")
    assert bad.query("ERR?") == '-113,"Undefined header"'
    # 1 MiB + change without a newline, then a proper query on the same connection.
    bad.send(b"SET " + b"9" * (1 << 20) + b"\n")
    assert bad.query("ERR?") == '-363,"Input buffer overrun"'
    assert smu.overruns == 1 and smu.value == "0"  # nothing of the long line ran
    assert bystander.query("*IDN?") == "FAKE,MODEL 2450,0001,1.0"
    assert bad.query("ECHO? still here") == "still here"


def test_an_exception_in_instrument_code_is_contained(connect):
    client = connect()
    client.send(b"BOOM\n")
    assert client.query("ECHO? after") == "after"
    assert connect().query("ECHO? other") == "other"


def test_connections_beyond_the_cap_are_closed_at_once(fakes):
    with InstrumentServer(fakes["FakeSMU"](), host=HOST, port=0, max_connections=3) as srv:
        clients = [Client(srv.port) for _ in range(3)]
        try:
            for c in clients:
                assert c.query("ECHO? in") == "in"  # all three admitted
            assert srv.connection_count == 3
            refused = Client(srv.port)
            assert refused.at_eof()
            refused.close()
            assert clients[0].query("ECHO? alive") == "alive"
            clients.pop().close()
            deadline = time.monotonic() + 5
            while srv.connection_count > 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            late = Client(srv.port)
            clients.append(late)
            assert late.query("ECHO? late") == "late"  # the freed slot is usable
        finally:
            for c in clients:
                c.close()


def test_stop_closes_every_connection_and_the_port(fakes):
    srv = InstrumentServer(fakes["FakeSMU"](), host=HOST, port=0)
    port = srv.start()
    clients = [Client(port) for _ in range(3)]
    for c in clients:
        assert c.query("ECHO? x") == "x"
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2
    assert all(c.at_eof() for c in clients)
    assert srv.connection_count == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("rramsim-")]
    with pytest.raises(OSError):
        socket.create_connection((HOST, port), timeout=1).close()
    srv.stop()  # twice is fine
    for c in clients:
        c.close()


def test_a_stopped_server_can_serve_again(fakes):
    srv = InstrumentServer(fakes["FakeSMU"](), host=HOST, port=0)
    for _ in range(2):
        client = Client(srv.start())
        assert client.query("ECHO? again") == "again"
        client.close()
        srv.stop()


def test_non_loopback_hosts_are_refused_unless_allowed(fakes):
    with pytest.raises(ValueError, match="not a loopback address"):
        InstrumentServer(fakes["FakeSMU"](), host="192.0.2.1")
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.9") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("192.0.2.1") and not is_loopback("0.0.0.0")
    with contextlib.suppress(OSError):  # constructing is allowed; binding may not be
        InstrumentServer(fakes["FakeSMU"](), host="192.0.2.1", allow_remote=True)
