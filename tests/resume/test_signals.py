"""SIGINT and SIGTERM during a run, in this process: the first asks the protocol to stop
at its next step, a second stops it at once; either way every output goes off, the rows
stay and the run is marked aborted with the signal's name. Handlers are put back."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from click.testing import CliRunner

from rramlab.cli import main
from rramlab.progress import ProgressBar
from rramlab.protocols.base import Aborted
from rramlab.run_log import load_run
from rramlab.runner import run_protocol
from rramlab.station import open_station
from rramlab.stop_signals import StopOnSignals, StopSignal, exit_code, signals_deferred


def deliver(sig: int) -> None:
    """Send ``sig`` to this process and give its Python handler a moment to run."""
    os.kill(os.getpid(), sig)
    for _ in range(100):
        time.sleep(0.001)


def handlers() -> dict[int, object]:
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}


def test_the_first_signal_sets_the_abort_the_second_stops_at_once():
    before = handlers()
    with StopOnSignals() as stop:
        assert stop.installed and stop.received is None
        deliver(signal.SIGTERM)
        assert stop.abort.is_set() and stop.abort.reason == "SIGTERM"
        assert stop.received == "SIGTERM" and stop.exit_code == 143
        with pytest.raises(StopSignal) as second:
            deliver(signal.SIGINT)
        assert isinstance(second.value, KeyboardInterrupt)
        assert second.value.signal_name == "SIGINT"
        assert str(second.value) == "SIGINT (a second stop signal: stopped at once)"
    assert handlers() == before


def test_a_signal_during_clean_up_is_only_noted():
    with StopOnSignals() as stop:
        deliver(signal.SIGINT)
        with signals_deferred():
            deliver(signal.SIGINT)  # does not raise: the clean-up goes on
        assert stop.received == "SIGINT" and stop.exit_code == 130


def test_outside_the_main_thread_nothing_is_installed():
    before, seen = handlers(), []

    def work():
        with StopOnSignals() as stop:
            seen.append(stop.installed)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [False] and handlers() == before


def test_exit_codes():
    assert (exit_code("SIGINT"), exit_code("SIGTERM"), exit_code(None)) == (130, 143, 130)


@pytest.fixture
def station():
    with open_station(seed=2, rows=4, cols=4) as st:
        yield st


def test_run_protocol_stops_on_sigterm_when_asked_to(station, tmp_path):
    calls, before = [], handlers()

    def sigterm_after_3(fraction, what):
        calls.append(fraction)
        if len(calls) == 3:
            deliver(signal.SIGTERM)  # only asks: the protocol stops at its next step

    params = {"cells": "0,0; 1,1", "via": "board", "width_s": 1e-5}
    with pytest.raises(Aborted) as stop:
        run_protocol(
            station,
            "forming",
            params,
            out_dir=tmp_path,
            progress=sigterm_after_3,
            handle_signals=True,
        )
    data, meta = load_run(stop.value.run_path)
    assert meta["status"] == "aborted" and meta["error"] == "SIGTERM"
    assert len(data) == 3
    assert handlers() == before


def test_a_second_signal_stops_at_once_and_outputs_still_go_off(station, tmp_path):
    calls = []

    def twice(fraction, what):
        calls.append(fraction)
        if len(calls) == 2:
            station.smu.source_voltage(0.2, current_limit_A=1e-4)
            station.smu.enable_output()  # stopped while the SMU sources
            deliver(signal.SIGTERM)
            deliver(signal.SIGTERM)  # raises here

    params = {"cells": "0,0; 1,1", "via": "board", "width_s": 1e-5}
    with pytest.raises(StopSignal) as stop:
        run_protocol(
            station, "forming", params, out_dir=tmp_path, progress=twice, handle_signals=True
        )
    data, meta = load_run(stop.value.run_path)
    assert meta["status"] == "aborted"
    assert meta["error"] == "SIGTERM (a second stop signal: stopped at once)"
    assert len(data) == 2
    assert not station.bench.smus["2450"].channel.output_on


def test_rramlab_run_exits_143_on_sigterm_and_says_how_to_resume(tmp_path, monkeypatch):
    calls = []

    def sigterm_after_2(self, fraction, what=""):
        calls.append(fraction)
        if len(calls) == 2:
            deliver(signal.SIGTERM)

    monkeypatch.setattr(ProgressBar, "__call__", sigterm_after_2)
    out = tmp_path / "runs"
    args = ["run", "endurance", "--set", "max_cycles=50", "--set", "verify_every=5"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 143, result.output
    (folder,) = out.iterdir()
    data, meta = load_run(folder)
    assert meta["status"] == "aborted" and meta["error"] == "SIGTERM"
    assert list(data["cycle"]) == [1, 5]
    assert "Interrupted (SIGTERM): outputs off" in result.output
    assert f"rramlab run --resume {folder}" in result.output
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
