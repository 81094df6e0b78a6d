"""Fixtures of the interruption and resume tests: a simulated bench served by
``rramlab sim serve`` in a subprocess (so that it outlives the ``rramlab run``
processes the tests interrupt), a station file pointing at it, and what the bench says
about its outputs."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rramlab.drivers.array_board import ArrayBoard
from rramlab.limits import SafetyLimits
from rramlab.run_log import load_run
from rramlab.station import open_station

LIMITS = {"max_voltage_V": 5.0, "max_current_A": 1e-3, "max_pulse_width_s": 1.0}


@dataclass
class ServedBench:
    """A served simulated bench and a station file for it."""

    station_file: Path
    smu_host: str
    smu_port: int
    board_url: str

    def scpi(self, *lines: str) -> list[str]:
        """Send SCPI lines to the SMU on a connection of its own; the replies of the
        queries among them. Ends with ``*OPC?``, so every line has been carried out
        before the connection closes (the server reads each connection in a thread of
        its own: a command still unread on a closed connection could otherwise be
        carried out after the next connection's query)."""
        replies = []
        with socket.create_connection((self.smu_host, self.smu_port), timeout=5) as sock:
            stream = sock.makefile("rw", newline="\n")
            for line in (*lines, "*OPC?"):
                stream.write(line + "\n")
                stream.flush()
                if line.endswith("?"):
                    replies.append(stream.readline().strip())
        assert replies.pop() == "1", "the SMU did not complete the commands"
        return replies

    def smu_output_on(self) -> bool:
        return self.scpi(":OUTP?")[0] == "1"

    def board_route(self) -> str:
        board = ArrayBoard(self.board_url, limits=SafetyLimits(**LIMITS))
        try:
            return " ".join(board.link.command("ROUTE?").fields)
        finally:
            board.close()

    def outputs_off(self) -> bool:
        """The SMU's output off and no cell routed to it."""
        return not self.smu_output_on() and self.board_route() in ("OFF", "NONE")


@pytest.fixture
def served_bench(sim_serve, tmp_path) -> ServedBench:
    """A 32 x 32 simulated bench (seed 4) served on free loopback ports, all its cells
    formed, with ``tmp_path/served.yaml`` pointing at it."""
    serve = sim_serve("--port", "0", "--rows", "32", "--cols", "32", "--seed", "4", fake_smu=False)
    text, _ = serve.read_until(r"array board: (\S+)")
    smu = re.search(r"TCPIP0::([\d.]+)::(\d+)::SOCKET", text)
    board = re.search(r"array board: (\S+)", text)[1]
    station_file = tmp_path / "served.yaml"
    station_file.write_text(
        "station: served-sim\n"
        f"limits: {LIMITS}\n"
        "instruments:\n"
        f'  smu: {{driver: keithley2450, resource: "{smu[0]}", backend: "@py"}}\n'
        f'  board: {{driver: array_board, resource: "{board}"}}\n'
        "roles: {smu: smu, board: board}\n"
        "wiring: {board_smu: smu}\n"
    )
    with open_station(station_file) as station:  # form every cell (~50 uA compliance)
        station.board.set_gate(1.2)
        for v in (3.6, 4.0, 4.4):
            for row in range(32):
                station.board.pulse_row(v, 1e-4, row)
    return ServedBench(station_file, smu[1], int(smu[2]), board)


class RunProcess:
    """``python -m rramlab run ...`` in a subprocess, working in ``cwd``."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        # cwd off the source tree: there ./rramlab would shadow the installed package
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rramlab", "run", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_rows(self, out: Path, rows: int = 1, timeout_s: float = 30) -> tuple[Path, int]:
        """Wait until the run under ``out`` has at least ``rows`` rows on disk; its
        folder and the rows on disk."""
        deadline = time.monotonic() + timeout_s
        while True:
            folders = [p for p in out.glob("*") if p.is_dir()] if out.exists() else []
            if folders and list((folders[0] / "data").glob("part-*.parquet")):
                data, _ = load_run(folders[0])
                if len(data) >= rows:
                    return folders[0], len(data)
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended early: {self.proc.communicate()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"no {rows} rows on disk in {timeout_s} s")
            time.sleep(0.02)

    def stop(self, *signals: int, pause_s: float = 0.0) -> tuple[int, str, str]:
        """Send ``signals`` (``pause_s`` apart); the exit code, stdout and stderr."""
        for k, sig in enumerate(signals):
            if k:
                time.sleep(pause_s)
            self.proc.send_signal(sig)
        return self.finish()

    def finish(self, timeout_s: float = 60) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, out, err


@pytest.fixture
def rramlab_run(tmp_path) -> Callable[..., RunProcess]:
    """``rramlab_run("endurance", "--set", ...)`` starts ``python -m rramlab run`` with
    those arguments in ``tmp_path``; processes still running after the test are
    killed."""
    started: list[RunProcess] = []

    def start(*args: str) -> RunProcess:
        started.append(RunProcess([str(a) for a in args], tmp_path))
        return started[-1]

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGKILL)
            run.proc.communicate()
