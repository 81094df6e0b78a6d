"""Two processes opening the same instrument: the second gets a clear "in use" error
(rramlab.instrument_lock), and the instrument is free again once the first closes it
or dies. The instruments are the simulated bench's, served on loopback TCP by this
test process (as ``rramlab sim serve`` does) and opened through the real drivers by
child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rramlab import instrument_lock
from rramlab.instrument_lock import InstrumentInUseError, acquire, resource_key
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.board_server import BoardServer
from rramlab.sim.tcp_server import InstrumentServer
from rramlab.sim.transport import bench_lock

#: a child process: opens the instrument ``argv[2]`` (kind ``argv[1]``: smu or board)
#: on each line read from stdin ("open" / "close"), printing what happened
CHILD = textwrap.dedent(
    """
    import os, sys
    from rramlab.limits import SafetyLimits
    from rramlab.instrument_lock import InstrumentInUseError
    kind, resource = sys.argv[1], sys.argv[2]
    limits = SafetyLimits()
    driver = None
    print("PID", os.getpid(), flush=True)
    for line in sys.stdin:
        if line.strip() == "open":
            try:
                if kind == "smu":
                    from rramlab.drivers.keithley2450 import Keithley2450
                    driver = Keithley2450(resource, limits=limits, backend="@py", timeout_s=5)
                else:
                    from rramlab.drivers.array_board import ArrayBoard
                    driver = ArrayBoard(resource, limits=limits, timeout_s=5)
                print("OPENED", driver.identity.model, flush=True)
            except InstrumentInUseError as error:
                print("INUSE", error, flush=True)
        elif line.strip() == "close":
            driver.close()
            print("CLOSED", flush=True)
    """
)


class Child:
    def __init__(self, kind: str, resource: str, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, kind, resource],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,  # off the source tree: ./rramlab would shadow the installed package
        )
        first = self.proc.stdout.readline().split()
        assert first[:1] == ["PID"], self.fail_text(first)
        self.pid = int(first[1])

    def say(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.fail_text(line)
        return line.strip()

    def fail_text(self, got: object) -> str:
        self.proc.kill()
        return f"child said {got!r}; stderr: {self.proc.stderr.read()[-2000:]}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def lock_env(tmp_path, monkeypatch) -> dict[str, str]:
    """A private lock folder for this test, for this process and its children."""
    folder = tmp_path / "locks"
    monkeypatch.setenv("RRAMLAB_LOCK_DIR", str(folder))
    monkeypatch.delenv("RRAMLAB_INSTRUMENT_LOCKS", raising=False)
    return {**os.environ, "RRAMLAB_LOCK_DIR": str(folder)}


@pytest.fixture
def children(tmp_path, lock_env) -> Iterator:
    started: list[Child] = []

    def start(kind: str, resource: str) -> Child:
        started.append(Child(kind, resource, lock_env, tmp_path))
        return started[-1]

    yield start
    for child in started:
        child.stop()


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """A simulated 2450 and board on loopback TCP, as ``rramlab sim serve`` serves them."""
    bench = SimulatedBench(rows=4, cols=4, seed=1, smu_models=("2450",))
    smu = InstrumentServer(bench.smus["2450"], lock=bench_lock(bench))
    board = BoardServer(bench.board, lock=bench_lock(bench))
    smu.start()
    board.start()
    yield {"smu": smu.resource_name, "board": board.resource_name, "port": str(board.port)}
    smu.stop()
    board.stop()


def test_a_second_process_gets_in_use_naming_the_holder_until_it_closes(children, served, tally):
    holder = children("smu", served["smu"])
    assert holder.say("open") == "OPENED MODEL 2450"
    # the same instrument, spelled another way (as a pyvisa-py user might)
    other = served["smu"].replace("TCPIP0::127.0.0.1", "TCPIP::localhost")
    second = children("smu", other)
    refused = second.say("open")
    assert refused.startswith("INUSE"), refused
    assert other in refused and f"process {holder.pid}" in refused
    assert "close it there first" in refused
    assert holder.say("close") == "CLOSED"
    assert second.say("open") == "OPENED MODEL 2450"
    tally["instrument lock"]["second process refused"] += 1


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_the_board_is_free_again_when_its_holder_dies(children, served, tally):
    holder = children("board", served["board"])
    assert holder.say("open").startswith("OPENED")
    second = children("board", served["board"])
    refused = second.say("open")
    assert refused.startswith("INUSE") and f"process {holder.pid}" in refused, refused
    os.kill(holder.pid, signal.SIGKILL)  # no close, no cleanup: the OS drops the lock
    holder.proc.wait(timeout=10)
    assert second.say("open").startswith("OPENED")
    tally["instrument lock"]["freed by the holder's death"] += 1


def test_one_process_may_open_an_instrument_again(children, served, lock_env):
    first = acquire(served["board"])
    again = acquire(served["board"].replace("127.0.0.1", "localhost"))  # a reconnect
    other = children("board", served["board"])
    assert other.say("open").startswith("INUSE")
    first.release()
    assert other.say("open").startswith("INUSE"), "released while a handle was left"
    again.release()
    assert other.say("open").startswith("OPENED")


def test_in_process_simulations_are_not_locked(lock_env):
    import pyvisa

    assert instrument_lock.lock_port("rramsim://bench=x") is None
    assert instrument_lock.lock_port("loop://") is None
    assert (
        instrument_lock.lock_visa_resource("GPIB0::18::INSTR", pyvisa.ResourceManager("@rramsim"))
        is None
    )
    held = instrument_lock.lock_port("socket://127.0.0.1:1")
    assert held is not None
    held.release()


def test_locking_can_be_turned_off(lock_env, monkeypatch):
    monkeypatch.setenv("RRAMLAB_INSTRUMENT_LOCKS", "0")
    assert instrument_lock.lock_port("socket://127.0.0.1:1") is None


@pytest.mark.skipif(sys.platform == "win32", reason="Windows keeps its lock files")
def test_a_released_lock_leaves_no_file(lock_env):
    lock = acquire("GPIB0::9::INSTR")
    assert lock.path.exists()
    path = lock.path
    lock.release()
    lock.release()  # twice is fine
    assert not path.exists()


def test_a_lock_left_by_a_crashed_process_is_taken_over(lock_env, tmp_path):
    # a holder killed at any point leaves its file (and its details) but not its lock
    code = "from rramlab.instrument_lock import acquire; import os; acquire('COM7'); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, env=lock_env, cwd=tmp_path)
    with acquire("com7") as lock:
        assert lock.path.exists()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("GPIB0::18::INSTR", "gpib::18"),
        ("TCPIP0::127.0.0.1::5025::SOCKET", "socket://localhost:5025"),
        ("TCPIP0::127.0.0.1::5025::SOCKET", "tcpip::LOCALHOST::5025::socket"),
        ("ASRL/dev/ttyS0::INSTR", "/dev/ttyS0"),
        ("spy:///dev/ttyS0", "/dev/ttyS0"),
        ("COM3", "com3"),
        ("TCPIP::Lab-SMU.local::INSTR", "TCPIP0::lab-smu.local::inst0::INSTR"),
        ("USB0::0x05E6::0x2450::04365704::INSTR", "usb0::0x05e6::0x2450::04365704::0::instr"),
    ],
)
def test_spellings_of_one_instrument_share_a_key(a, b):
    assert resource_key(a) == resource_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("GPIB0::18::INSTR", "GPIB0::19::INSTR"),
        ("GPIB0::18::INSTR", "GPIB1::18::INSTR"),
        ("socket://127.0.0.1:5025", "socket://127.0.0.1:5026"),
        ("/dev/ttyS0", "/dev/ttyS1"),
    ],
)
def test_different_instruments_have_different_keys(a, b):
    assert resource_key(a) != resource_key(b)


def test_the_error_is_an_instrument_error_naming_resource_and_process():
    from rramlab.errors import InstrumentError

    error = InstrumentInUseError("GPIB0::18::INSTR", {"pid": 4242, "argv": "rramlab run x"})
    assert isinstance(error, InstrumentError)
    assert "GPIB0::18::INSTR is in use by process 4242" in str(error)
    assert "rramlab run x" in str(error)
