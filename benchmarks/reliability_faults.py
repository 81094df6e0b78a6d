"""Faults injected and survived (bench_reliability part a).

Protocols run with :func:`rramlab.runner.run_protocol` on simulated 4 x 4 benches
(the real drivers, the ``@rramsim`` pyvisa backend and ``rramsim://``; I/O timeouts of
50 ms for the SMU, 100 ms for the board) while :mod:`rramlab.sim.faults` injects one
kind of fault, seeded, into the SMU's and the board's links. Each run ends

- **survived**: completed (reads and queries sent again after a resynchronisation),
  every simulated SMU output off;
- **failed cleanly**: an :class:`~rramlab.errors.InstrumentError` naming the
  instrument and the command, ``meta.json`` marked failed with that error, every row
  logged before it on disk, and no output on that the driver believes off (every
  simulated output off, or, for a stuck output or a lost link, the driver knowing it
  may be on and the SMU unrouted from the cells);
- **unclean** (must be 0): anything else.

The faults counted are the injector's own record (:attr:`FaultInjector.events`;
latency: the replies it delayed; a stuck output: one per run).
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rramlab.errors import InstrumentError
from rramlab.run_log import load_run
from rramlab.runner import run_protocol
from rramlab.sim.faults import clear_faults, inject, injector_for, simulated_channels
from rramlab.station import DEFAULT_SIMULATION, open_simulated_station

SMU_TIMEOUT_S = 0.05
BOARD_TIMEOUT_S = 0.1

#: fault kind -> its rule for the SMU and for the board (None: not on that
#: instrument); ``{p}`` is the protocol's fault rate (per message), ``{h}`` half of it
KINDS: dict[str, tuple[str | None, str | None]] = {
    "latency": ("latency=0.001,jitter=0.002", "latency=0.001,jitter=0.002"),
    "drop": ("drop={p}", "drop={p}"),
    "truncate": ("truncate={p}", "truncate={p}"),
    "garble": ("garble={p},garble_bytes=2", "garble={p},garble_bytes=2"),
    "late": ("late={p},late_s=0.12", "late={p},late_s=0.2"),
    "hang (short)": ("hang={p},hang_s=0.02", "hang={p},hang_s=0.03"),
    "hang (until cleared)": ("hang={h}", "hang={h}"),
    "disconnect": ("disconnect={h}", "disconnect={h}"),
    "instrument error": ("error={p}", "error={p}"),
    "stuck output": ("stuck=1", None),
}

#: label -> (protocol, parameters, fault rate): small runs through one instrument or
#: both, the rate chosen for a few faults per run (their messages: SMU + board)
PROTOCOLS: dict[str, tuple[str, dict[str, Any], float]] = {
    "read-map via SMU": ("read-map", {"via": "smu", "rows": 2, "cols": 4}, 0.02),  # 133 + 8
    "read-map via board": ("read-map", {"n_reads": 10}, 0.15),  # 0 + 11
    "iv-sweep": ("iv-sweep", {"cells": ((1, 1), (2, 2)), "points_per_branch": 10}, 0.025),
    "write-verify via SMU": (  # 1611 + 2
        "write-verify",
        {"cells": ((0, 0), (2, 3)), "g_target_S": (30e-6,), "max_pulses": 10},
        0.002,
    ),
    "write-verify via board": (  # 0 + 163
        "write-verify",
        {"via": "board", "cells": ((0, 0), (2, 3)), "g_target_S": (30e-6,), "max_pulses": 30},
        0.015,
    ),
    "program-levels": ("program-levels", {"max_pulses": 20, "rows_per_step": 1}, 0.3),  # 0 + 5
}


@dataclass
class FaultTally:
    """What part (a) found for one fault kind."""

    runs: int = 0
    injected: int = 0
    survived: int = 0
    failed_cleanly: int = 0
    unclean: int = 0
    errors: Counter = field(default_factory=Counter)  # exception type -> runs
    problems: list[str] = field(default_factory=list)

    def add(self, other: FaultTally) -> None:
        for name in ("runs", "injected", "survived", "failed_cleanly", "unclean"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
        self.problems += other.problems


def _prepare(station) -> None:
    """Every cell formed (applied to the model directly: the array as a lab finds it)."""
    array = station.bench.array
    array.pulse(3.4, 1e-3, compliance_A=100e-6)
    array.pulse(-1.5, 1e-3)


def _outputs(station) -> tuple[bool, bool, bool]:
    """(a simulated SMU output on, the driver believes its output on, a cell routed to
    the SMU)."""
    sim_on = any(
        ch.output_on for smu in station.bench.smus.values() for ch in simulated_channels(smu)
    )
    return sim_on, bool(station.smu.output_enabled), station.bench.board.route is not None


def one_run(kind: str, label: str, seed: int, out: Path) -> FaultTally:
    """The run ``label`` (:data:`PROTOCOLS`) on a new bench with ``kind`` injected
    (seed ``seed``)."""
    tally = FaultTally(runs=1)
    protocol, params, rate = PROTOCOLS[label]
    simulation = {**DEFAULT_SIMULATION, "seed": seed, "rows": 4, "cols": 4}
    station = open_simulated_station(simulation, name=f"faults {kind} {label} {seed}")
    smu_rule, board_rule = KINDS[kind]
    instruments = [(station.bench.smus["2450"], smu_rule), (station.bench.board, board_rule)]
    try:
        _prepare(station)
        station.smu.connection.resource.timeout = SMU_TIMEOUT_S * 1000.0
        station.board.link.port.timeout = BOARD_TIMEOUT_S
        for instrument, rule in instruments:
            if rule is not None:
                text = rule.format(p=f"{rate:g}", h=f"{rate / 2:g}")
                inject(instrument, f"{text},seed={seed}")
        error: BaseException | None = None
        try:
            run_protocol(station, protocol, params, out_dir=out)
        except Exception as failure:  # judged below
            error = failure
        for instrument, rule in instruments:
            injector = injector_for(instrument)
            if injector is not None and rule is not None:
                if kind == "latency":
                    tally.injected += injector.counts["delayed"]
                elif kind == "stuck output":
                    tally.injected += 1
                else:
                    tally.injected += len(injector.events)
        sim_on, believed_on, routed = _outputs(station)
        folder = next(out.iterdir(), None)
        data, meta = load_run(folder) if folder is not None else (None, {})
        rows_kept = data is not None and meta.get("rows") == len(data)
        if error is None:
            # (a completed run may leave its last cell routed, the SMU's output off)
            if meta.get("status") == "completed" and not sim_on:
                tally.survived = 1
            else:
                tally.unclean = 1
                tally.problems.append(
                    f"{kind}, {label}, seed {seed}: {meta.get('status')}, SMU output on {sim_on}"
                )
            return tally
        tally.errors[type(error).__name__] += 1
        named = isinstance(error, InstrumentError) and bool(error.instrument)
        marked = meta.get("status") == "failed" and type(error).__name__ in str(meta.get("error"))
        # an output still on is tolerated only where the driver knows it (a stuck
        # relay, a lost link) and no cell is routed to it
        truthful = not sim_on or (believed_on and not routed)
        if named and marked and rows_kept and truthful:
            tally.failed_cleanly = 1
        else:
            tally.unclean = 1
            tally.problems.append(
                f"{kind}, {label}, seed {seed}: {type(error).__name__}: {error} "
                f"(named {named}, marked {marked}, rows kept {rows_kept}, "
                f"sim on {sim_on}, believed on {believed_on}, routed {routed})"
            )
        return tally
    finally:
        for instrument, _ in instruments:
            clear_faults(instrument)
        station.close()


def _job(kind: str, label: str, seed: int) -> FaultTally:
    with tempfile.TemporaryDirectory(prefix="rramlab-faults-") as tmp:
        return one_run(kind, label, seed, Path(tmp))


def measure(seeds: int, seed: int = 0, workers: int = 8) -> dict[str, FaultTally]:
    """Part (a): every fault kind on every protocol, ``seeds`` seeds each; the tallies
    by fault kind. Runs wait mostly on timeouts, so they run on ``workers`` threads."""
    logging.getLogger("rramlab").setLevel(logging.CRITICAL)  # the faults are expected
    jobs = [
        (kind, label, seed * 1000 + k)
        for kind in KINDS
        for label in PROTOCOLS
        for k in range(seeds)
    ]
    out = {kind: FaultTally() for kind in KINDS}
    with ThreadPoolExecutor(workers) as pool:
        for (kind, _, _), tally in zip(jobs, pool.map(lambda j: _job(*j), jobs), strict=True):
            out[kind].add(tally)
    return out
