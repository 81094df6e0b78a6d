"""Runs interrupted and resumed (bench_reliability part b).

Each resumable protocol (program-levels, endurance, retention) runs as ``python -m
rramlab run`` in a subprocess on a simulated bench served by ``rramlab sim serve`` in
another (so the bench, and its cells, outlive the runs). At a random (seeded) point
after its first rows reach the disk the run gets SIGINT, SIGTERM or two SIGTERMs, and
is continued with ``rramlab run --resume`` (which may be interrupted in turn) until it
completes. Then:

- **rows lost**: rows on disk after an interruption that are not, unchanged, in the
  final run, plus rows a complete run has and the final run lacks (program-levels: one
  per cell; endurance: one per cell and verified cycle; retention: every read whole, the
  last at or after ``t_max_s``);
- **twice**: cells programmed twice (program-levels) or cycles verified twice
  (endurance);
- **left on**: interruptions after which the served SMU's output was on or a cell
  still routed to it.

The three protocols run side by side, each on a bench of its own (a bench's
instruments are locked to one process at a time).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rramlab.drivers.array_board import ArrayBoard
from rramlab.limits import SafetyLimits
from rramlab.run_files import read_meta
from rramlab.run_log import load_run
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.sim.serve_output import read_until

LIMITS = {"max_voltage_V": 5.0, "max_current_A": 1e-3, "max_pulse_width_s": 1.0}
SIZE = 16  # the served crossbar: SIZE x SIZE
SERVE = [sys.executable, "-m", "rramlab", "sim", "serve", "--port", "0"]
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

#: protocol -> its --set values (a complete run takes a few seconds) and how long (s)
#: into a run or resume a signal may come
RUNS = {
    "program-levels": (["rows_per_step=1", "pattern=ramp"], 1.0),
    "endurance": (["via=board", "rows=2", "cols=4", "max_cycles=3000", "verify_every=5"], 2.5),
    "retention": (["rows=4", "cols=4", "t_min_s=0.05", "t_max_s=3", "points=10"], 3.0),
}


COUNTS = ("runs", "interrupted", "interruptions", "resumes", "completed", "rows")
COUNTS += ("rows_lost", "twice", "left_on")


@dataclass
class ResumeTally:
    """What part (b) found, per protocol."""

    runs: int = 0
    interrupted: int = 0  # runs stopped by a signal at least once
    interruptions: int = 0  # signals that stopped a run (or a resume)
    resumes: int = 0
    completed: int = 0  # runs that ended completed
    rows: int = 0  # rows in the final runs
    rows_lost: int = 0
    twice: int = 0
    left_on: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: ResumeTally) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems += other.problems


# ------------------------------------------------------------------------ the served bench
class ServedBench:
    """``rramlab sim serve`` in a subprocess (SIZE x SIZE, every cell formed) and a
    station file for it."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, "--rows", str(SIZE), "--cols", str(SIZE), "--seed", str(seed)],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # never read: a full pipe would stall the bench
        )
        text, found = read_until(self.proc, r"array board: (\S+)", timeout_s=30)
        if found is None:
            self.stop()
            raise RuntimeError(f"rramlab sim serve printed no resource strings: {text!r}")
        smu = re.search(r"TCPIP0::([\d.]+)::(\d+)::SOCKET", text)
        self.smu_host, self.smu_port = smu[1], int(smu[2])
        self.board_url = re.search(r"array board: (\S+)", text)[1]
        self.station_file = folder / "served.yaml"
        self.station_file.write_text(
            "station: served-sim\n"
            f"limits: {LIMITS}\n"
            "instruments:\n"
            f'  smu: {{driver: keithley2450, resource: "{smu[0]}", backend: "@py"}}\n'
            f'  board: {{driver: array_board, resource: "{self.board_url}"}}\n'
            "roles: {smu: smu, board: board}\n"
            "wiring: {board_smu: smu}\n"
        )
        board = self._board()
        try:
            form_every_cell(board)
        finally:
            board.close()

    def _board(self) -> ArrayBoard:
        return ArrayBoard(self.board_url, limits=SafetyLimits(**LIMITS))

    def outputs_off(self) -> bool:
        """The SMU's output off and no cell routed to it."""
        with socket.create_connection((self.smu_host, self.smu_port), timeout=5) as sock:
            stream = sock.makefile("rw", newline="\n")
            stream.write(":OUTP?\n")
            stream.flush()
            smu_on = stream.readline().strip() == "1"
        board = self._board()
        try:
            route = " ".join(board.link.command("ROUTE?").fields)
        finally:
            board.close()
        return not smu_on and route in ("OFF", "NONE")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


# ------------------------------------------------------------------------ one run
def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rramlab", "run", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _started(out: Path, attempt: int) -> Path | None:
    """The run folder once attempt ``attempt`` (1: the first, 2: its first resume, ...)
    is running (its signal handlers are in place by then), else None."""
    folders = [p for p in out.glob("*") if p.is_dir()] if out.exists() else []
    if not folders or not (folders[0] / "meta.json").exists():
        return None
    try:
        meta = read_meta(folders[0])
    except Exception:  # being replaced: look again
        return None
    if len(meta.get("resumes") or []) + 1 == attempt and meta["status"] == "running":
        return folders[0]
    return None


def _interrupt(
    proc: subprocess.Popen, out: Path, attempt: int, duration_s: float, rng
) -> tuple[Path | None, bool, str]:
    """Once the attempt runs, after a random pause up to ``duration_s``, a random signal
    (SIGINT, SIGTERM, two SIGTERMs). Returns (run folder, whether the signal stopped
    the run, a problem or "")."""
    deadline = time.monotonic() + 60
    folder = None
    while folder is None and proc.poll() is None and time.monotonic() < deadline:
        folder = _started(out, attempt)
        time.sleep(0.01)
    time.sleep(float(rng.uniform(0.0, duration_s)))
    kind = str(rng.choice(["SIGINT", "SIGTERM", "SIGTERM x2"]))
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT if kind == "SIGINT" else signal.SIGTERM)
        if kind == "SIGTERM x2":
            time.sleep(0.01)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    folder = folder or next((p for p in out.glob("*") if p.is_dir()), None)
    status = read_meta(folder)["status"] if folder is not None else None
    if status == "completed":  # it ended before the signal took effect
        return folder, False, ""
    wanted = EXIT_CODES[signal.SIGINT if kind == "SIGINT" else signal.SIGTERM]
    if status != "aborted" or proc.returncode != wanted:
        return folder, False, f"{kind}: exit {proc.returncode}, status {status}: {err[-300:]}"
    return folder, True, ""


def one_run(protocol: str, bench: ServedBench, work: Path, stops: int, rng) -> ResumeTally:
    """Start ``protocol``, interrupt it (and its resumes) ``stops`` times, resume until it
    completes; what was lost."""
    tally = ResumeTally(runs=1)
    out = work / "runs"
    args = [protocol, "--station", str(bench.station_file), "--out", str(out)]
    settings, duration_s = RUNS[protocol]
    for value in settings:
        args += ["--set", value]
    proc = _start(args, work)
    snapshots: list[pd.DataFrame] = []
    for attempt in range(1, stops + 2):
        if attempt == stops + 1:  # the last resume runs to the end
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                tally.problems.append(f"{protocol}: exit {proc.returncode}: {err[-300:]}")
            break
        folder, stopped, problem = _interrupt(proc, out, attempt, duration_s, rng)
        if problem:
            tally.problems.append(f"{protocol}: {problem}")
        if not stopped:
            break
        tally.interruptions += 1
        tally.interrupted = 1
        snapshots.append(load_run(folder)[0])
        if not bench.outputs_off():
            tally.left_on += 1
        tally.resumes += 1
        proc = _start(["--resume", str(folder)], work)
    folder = next(p for p in out.glob("*") if p.is_dir())
    final, meta = load_run(folder)
    tally.completed = int(meta["status"] == "completed")
    tally.rows = len(final)
    body = final.drop(columns="attempt", errors="ignore")
    for snap in snapshots:  # every row on disk at an interruption, unchanged
        snap = snap.drop(columns="attempt", errors="ignore")
        head = body.iloc[: len(snap)].reset_index(drop=True)
        if len(head) < len(snap) or not head.equals(snap.reset_index(drop=True)):
            kept = len(head.merge(snap, how="inner")) if len(head) else 0
            tally.rows_lost += len(snap) - kept
    lost, twice = _coverage(protocol, body)
    tally.rows_lost += lost
    tally.twice += twice
    return tally


def _coverage(protocol: str, data: pd.DataFrame) -> tuple[int, int]:
    """(rows a complete run has that ``data`` lacks, rows it holds twice)."""
    settings = dict(v.split("=") for v in RUNS[protocol][0])
    if protocol == "program-levels":
        cells = data[["row", "col"]].drop_duplicates()
        return SIZE * SIZE - len(cells), int(data.duplicated(["row", "col"]).sum())
    if protocol == "endurance":
        top, every = int(settings["max_cycles"]), int(settings["verify_every"])
        grid = np.array([1, *range(every, top + 1, every)])
        n_cells = int(settings["rows"]) * int(settings["cols"])
        lost = (n_cells - data.groupby(["row", "col"]).ngroups) * len(grid)
        for _, rows in data.groupby(["row", "col"]):
            # every verify up to the end: max_cycles, or the verify that found it failed
            end = rows["cycle"].max() if rows["failed"].astype(bool).any() else top
            lost += int(np.count_nonzero(~np.isin(grid[grid <= end], rows["cycle"])))
        return lost, int(data.duplicated(["row", "col", "cycle"]).sum())
    # retention: whole reads, the last at or after t_max_s
    n_cells = int(settings["rows"]) * int(settings["cols"])
    per_read = data.groupby("t_s").size()
    lost = int((n_cells - per_read[per_read < n_cells]).sum())
    if data["t_s"].max() < float(settings["t_max_s"]):
        lost += n_cells
    return lost, int(data.duplicated(["t_s", "row", "col"]).sum())


def lane(protocol: str, runs: int, max_stops: int, seed: int) -> ResumeTally:
    """``runs`` runs of ``protocol``, one after the other, on a bench of their own."""
    rng = np.random.default_rng([seed, list(RUNS).index(protocol)])
    tally = ResumeTally()
    with tempfile.TemporaryDirectory(prefix=f"rramlab-resume-{protocol}-") as tmp:
        bench = ServedBench(Path(tmp), seed=4 + seed)
        try:
            for k in range(runs):
                work = Path(tmp) / f"run{k}"
                work.mkdir()
                stops = int(rng.integers(1, max_stops + 1))
                tally.add(one_run(protocol, bench, work, stops, rng))
        finally:
            bench.stop()
    return tally


def measure(runs: int, max_stops: int, seed: int) -> dict[str, ResumeTally]:
    """Part (b): ``runs`` runs of each resumable protocol, each stopped 1..``max_stops``
    times; the tallies by protocol."""
    with ThreadPoolExecutor(len(RUNS)) as pool:
        futures = {p: pool.submit(lane, p, runs, max_stops, seed) for p in RUNS}
        return {p: f.result() for p, f in futures.items()}
