"""`rramlab sim serve`: prints what it serves, answers over pyvisa-py, stops cleanly."""

import importlib.util
import signal

import pytest
import pyvisa
from click.testing import CliRunner

from rramlab.cli import main
from rramlab.cli_sim import SMU_CHOICES
from rramlab.sim.bench import SMU_MODELS


def read_until_resource(serve) -> tuple[str, str]:
    """Stdout up to the line naming a TCPIP socket resource, and that resource name."""
    out, found = serve.read_until(r"TCPIP0::127\.0\.0\.1::\d+::SOCKET\r?\n")
    return out, found.group(0).strip()


def query_idn(resource: str) -> str:
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(resource, read_termination="\n", write_termination="\n")
        inst.timeout = 5000
        return inst.query("*IDN?")
    finally:
        rm.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_resource_answers_and_exits_0_on_a_signal(sim_serve, sig):
    serve = sim_serve("--port", "0", "--smu", "b2902a", "--seed", "4")
    out, resource = read_until_resource(serve)
    assert "seed 4" in out and "Fake SMU: TCPIP0::127.0.0.1::" in out
    assert query_idn(resource) == "FAKE,B2902A"
    more, err = serve.stop(sig)
    assert serve.proc.returncode == 0, err
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
def test_serve_with_the_real_2450(sim_serve):
    serve = sim_serve("--port", "0", fake_smu=False)
    _, resource = read_until_resource(serve)
    assert query_idn(resource).startswith("KEITHLEY INSTRUMENTS,MODEL 2450,")
    _, err = serve.stop(signal.SIGINT)
    assert serve.proc.returncode == 0, err
