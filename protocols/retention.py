"""retention: how programmed cells hold their conductance over time.

The cells are read once at the start and then at ``points`` times spaced
logarithmically from ``t_min_s`` to ``t_max_s`` after it, waiting on the station's
clock in between with every output off (on the simulated bench the clock is virtual: a
10^4 s run takes a moment). The cells are not programmed here: program them first
(program-levels, write-verify) and start retention right away, as drift runs from the
last programming.

The temperature is what the bench has; rramlab sets none (no instrument here can).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.base import ProtocolSpec, RunContext
from rramlab.protocols.read_map import ReadParams, RegionReader


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
        cellcheck.check_count("points", self.points, minimum=2)

    def default_size(self, station: Any) -> tuple[int, int]:
        if self.via == "smu":
            return 1, 1
        return super().default_size(station)

    def times_s(self) -> np.ndarray:
        """When to read (s after the start): 0, then the log-spaced times."""
        return np.concatenate([[0.0], np.geomspace(self.t_min_s, self.t_max_s, self.points)])


def run(ctx: RunContext, p: RetentionParams) -> None:
    """One row per (time, cell): t_s (s since the start, when that time's reads
    began), row, col, g_S."""
    clock = ctx.station.clock
    cells = p.selected(ctx.station)
    reader = RegionReader(ctx.station, p.via, cells, nplc=p.smu_nplc)
    times = p.times_s()
    try:
        start = clock.now()
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
            ctx.progress((k + 1) / len(times), f"read at t = {t_s:.3g} s")
    finally:
        reader.finish()


SPEC = ProtocolSpec(
    name="retention",
    params=RetentionParams,
    run=run,
    summary="reads of programmed cells at log-spaced times (waits on the station clock)",
)
