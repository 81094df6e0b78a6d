"""`rramlab sim serve`: prints what it serves, answers over pyvisa-py, stops cleanly."""

import importlib.util
import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest
import pyvisa
from click.testing import CliRunner

from rramlab.cli import main
from rramlab.cli_sim import SMU_CHOICES
from rramlab.sim.bench import SMU_MODELS

# `rramlab sim serve` with make_smu swapped for an echo fake, so the command itself is
# tested before the real personalities exist.
FAKE_SERVE = """
import sys
import rramlab.sim.bench as bench

class Fake:
    name = "Fake SMU"
    def __init__(self, model):
        self.model, self.out = model, []
    def write(self, message):
        if message == "*IDN?":
            self.out.append("FAKE," + self.model)
    def read(self):
        return self.out.pop(0) if self.out else None
    def clear(self):
        self.out.clear()

bench.make_smu = lambda model, probes, clock, rng: Fake(model)
from rramlab.cli import main
main(["sim", "serve", *sys.argv[1:]])
"""


def start(args: list[str], tmp_path) -> subprocess.Popen:
    # cwd off the source tree: there ./rramlab would shadow the installed package.
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until_resource(proc: subprocess.Popen, timeout_s: float = 15) -> tuple[str, str]:
    """Stdout up to the line naming a TCPIP socket resource, and that resource name."""
    # Raw reads on the descriptor: a buffered readline() would hide lines from select().
    fd, seen = proc.stdout.fileno(), b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and sel.select(timeout=deadline - time.monotonic()):
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            found = re.search(rb"TCPIP0::127\.0\.0\.1::\d+::SOCKET\r?\n", seen)
            if found:
                return seen.decode(), found.group(0).decode().strip()
    proc.kill()
    raise AssertionError(
        f"no resource name printed; stdout {seen!r}, stderr {proc.stderr.read()!r}"
    )


def query_idn(resource: str) -> str:
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(resource, read_termination="\n", write_termination="\n")
        inst.timeout = 5000
        return inst.query("*IDN?")
    finally:
        rm.close()


def stop(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return out, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_resource_answers_and_exits_0_on_a_signal(tmp_path, sig):
    proc = start(["-c", FAKE_SERVE, "--port", "0", "--smu", "b2902a", "--seed", "4"], tmp_path)
    out, resource = read_until_resource(proc)
    assert "seed 4" in out and "Fake SMU: TCPIP0::127.0.0.1::" in out
    assert query_idn(resource) == "FAKE,B2902A"
    more, err = stop(proc, sig)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert more.strip().endswith("stopped")


def test_serve_refuses_a_remote_host_without_allow_remote():
    result = CliRunner().invoke(main, ["sim", "serve", "--host", "192.0.2.1"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output and "--allow-remote" in result.output


def test_sim_group_is_on_the_main_command_and_knows_every_model():
    result = CliRunner().invoke(main, ["sim", "serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--allow-remote" in result.output
    assert "sim" in CliRunner().invoke(main, ["--help"]).output
    assert SMU_CHOICES == SMU_MODELS


@pytest.mark.skipif(
    importlib.util.find_spec("rramlab.sim.instruments.keithley2450") is None,
    reason="the simulated Keithley 2450 personality is not written yet",
)
def test_serve_with_the_real_2450(tmp_path):
    proc = start(["-m", "rramlab", "sim", "serve", "--port", "0"], tmp_path)
    _, resource = read_until_resource(proc)
    assert query_idn(resource).startswith("KEITHLEY INSTRUMENTS,MODEL 2450,")
    _, err = stop(proc, signal.SIGINT)
    assert proc.returncode == 0, err
