"""retention: how programmed cells hold their conductance over time.

The cells are read once at the start and then at ``points`` times spaced
logarithmically from ``t_min_s`` to ``t_max_s`` after it, waiting on the station's
clock in between with every output off (on the simulated bench the clock is virtual: a
10^4 s run takes a moment). The cells are not programmed here: program them first
(program-levels, write-verify) and start retention right away, as drift runs from the
last programming.

The temperature is what the bench has; rramlab sets none (no instrument here can).

Resumable (:func:`resume`): an interrupted run goes on with its schedule, its times
still counted from the run's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.base import ProtocolSpec, RunContext
from rramlab.protocols.read_map import ReadParams, RegionReader

MAX_POINTS = 100_000  # read times: more is a typo (the schedule is built at once)


@dataclass(frozen=True)
class RetentionParams(ReadParams):
    """retention: reads of the region at t = 0 and at ``points`` (>= 2) log-spaced
    times from ``t_min_s`` to ``t_max_s`` (s, 0 < t_min_s < t_max_s). Default region:
    the whole array through the board, cell (0, 0) alone through the SMU (whose reads
    go cell by cell)."""

    t_min_s: float = 1.0
    t_max_s: float = 1e4
    points: int = 20

    def check(self) -> None:
        super().check()
        cellcheck.check_number("t_min_s", self.t_min_s, positive=True)
        cellcheck.check_number("t_max_s", self.t_max_s, minimum=self.t_min_s * (1 + 1e-9))
        cellcheck.check_count("points", self.points, minimum=2, maximum=MAX_POINTS)

    def default_size(self, station: Any) -> tuple[int, int]:
        if self.via == "smu":
            return 1, 1
        return super().default_size(station)

    def times_s(self) -> np.ndarray:
        """When to read (s after the start): 0, then the log-spaced times."""
        return np.concatenate([[0.0], np.geomspace(self.t_min_s, self.t_max_s, self.points)])


def run(ctx: RunContext, p: RetentionParams) -> None:
    """One row per (time, cell): t_s (s since the run's start, when that time's reads
    began), row, col, g_S."""
    _read_at(ctx, p, p.times_s(), 0)


def resume(ctx: RunContext, p: RetentionParams, previous: pd.DataFrame) -> None:
    """Continue an interrupted run on its schedule, times counted from the run's
    original start (``ctx.origin_clock_s``; see :mod:`rramlab.resume` for what that
    means on each clock). Scheduled times up to the last read logged count as done;
    those that passed during the interruption are replaced by one read right away; the
    later ones follow as planned. A run that was past ``t_max_s`` when resumed gets
    that one read, so its times still cover ``t_max_s``."""
    times = p.times_s()
    last = -np.inf
    if len(previous) and "t_s" in previous.columns and previous["t_s"].notna().any():
        last = float(previous["t_s"].max())
    remaining = times[times > last]  # the times up to the last read are covered
    if remaining.size == 0:
        return
    elapsed = ctx.station.clock.now() - ctx.origin()
    missed = int(np.count_nonzero(remaining <= elapsed))
    if missed:  # one read now stands for the times that went by
        remaining = np.concatenate([[elapsed], remaining[missed:]])
    _read_at(ctx, p, remaining, len(times) - remaining.size)


def _read_at(ctx: RunContext, p: RetentionParams, times: np.ndarray, done: int) -> None:
    """Read the cells at each of ``times`` (s since the run's start), waiting on the
    station clock in between; ``done``: the schedule's reads already taken (progress)."""
    clock = ctx.station.clock
    cells = p.selected(ctx.station)
    reader = RegionReader(ctx.station, p.via, cells, nplc=p.smu_nplc)
    total = done + len(times)
    try:
        start = ctx.origin()
        for k, t in enumerate(times):
            wait = start + t - clock.now()
            if wait > 0:
                ctx.sleep(wait)  # checks for an abort while it waits
            ctx.check_abort()
            t_s = clock.now() - start
            v, i = reader.read(p.v_read_V)
            ctx.log(
                pd.DataFrame(
                    {"t_s": t_s, "row": cells[:, 0], "col": cells[:, 1], "g_S": i / v},
                )
            )
            ctx.progress((done + k + 1) / total, f"read at t = {t_s:.3g} s")
    finally:
        reader.finish()


SPEC = ProtocolSpec(
    name="retention",
    params=RetentionParams,
    run=run,
    summary="reads of programmed cells at log-spaced times (waits on the station clock)",
    resume=resume,
)
