"""variability: device-to-device and cycle-to-cycle spread of the LRS and HRS.

Each cell of the region is cycled ``cycles`` times (SET, read the LRS, RESET, read the
HRS). The table holds two kinds of rows, told apart by ``kind``:

- ``kind="cycle"``, one per (cell, cycle): row, col, cycle, g_lrs_S, g_hrs_S;
- ``kind="summary"``, one per state (``state`` "lrs" or "hrs"), logged at the end:
  g_median_S, d2d_sigma_ln, c2c_sigma_ln, n_cells (see :func:`summarize`).

In the whole table a column of the other kind is empty (<NA> or NaN) on a row; so that
integers stay integers there, ``row``, ``col``, ``cycle`` and ``n_cells`` are pandas
nullable integers (``Int64``). ``summarize(data)`` recomputes the summary from the
cycle rows (of a loaded run, too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.base import ProtocolSpec, RunContext
from rramlab.protocols.endurance import CellCycler, SwitchingParams


@dataclass(frozen=True)
class VariabilityParams(SwitchingParams):
    """variability: ``cycles`` (>= 2) SET/RESET cycles of every cell of the region
    (default: rows 0-1, columns 0-3, 8 cells), reading both states each cycle."""

    rows: int | None = 2
    cols: int | None = 4
    cycles: int = 50

    def check(self) -> None:
        super().check()
        cellcheck.check_count("cycles", self.cycles, minimum=2)


def summarize(data: pd.DataFrame) -> pd.DataFrame:
    """Log-normal spread of each state from cycle rows (columns row, col, g_lrs_S,
    g_hrs_S; rows of other kinds are ignored). One row per state ("lrs", "hrs"):

    - g_median_S: exp of the median over cells of each cell's median ln g (S);
    - d2d_sigma_ln: device to device, the standard deviation over cells of each cell's
      median ln g;
    - c2c_sigma_ln: cycle to cycle, the median over cells of each cell's standard
      deviation of ln g over its cycles;
    - n_cells: cells with at least two readable (> 0 S) values, the ones counted.

    Sigmas are in ln units (a log-normal sigma; 0.3 is about 30 %). Reads <= 0 S (below
    the read's resolution) have no logarithm and are left out.
    """
    if "kind" in data:
        data = data[data["kind"] == "cycle"]
    out = []
    for state in ("lrs", "hrs"):
        g = data[f"g_{state}_S"].astype(float)
        ln = np.log(g.where(g > 0)).rename("ln_g")
        per_cell = (
            pd.concat([data[["row", "col"]], ln], axis=1)
            .dropna()
            .groupby(["row", "col"])["ln_g"]
            .agg(["median", "std", "count"])
        )
        per_cell = per_cell[per_cell["count"] >= 2]
        n = len(per_cell)
        out.append(
            {
                "state": state,
                "g_median_S": float(np.exp(per_cell["median"].median())) if n else np.nan,
                "d2d_sigma_ln": float(per_cell["median"].std(ddof=1)) if n >= 2 else np.nan,
                "c2c_sigma_ln": float(per_cell["std"].median()) if n else np.nan,
                "n_cells": n,
            }
        )
    return pd.DataFrame(out)


def _ints(frame: pd.DataFrame, *names: str) -> pd.DataFrame:
    """``names`` as nullable integers, which stay integers next to the other kind's rows."""
    return frame.astype({name: "Int64" for name in names})


def run(ctx: RunContext, p: VariabilityParams) -> None:
    """Cycle rows as each cycle is read, then the two summary rows."""
    cells = p.selected(ctx.station)
    cycler = CellCycler(ctx.station, p, cells)
    every = np.ones(len(cells), dtype=bool)
    frames = []
    try:
        for cycle in range(p.cycles):
            ctx.check_abort()
            cycler.set(every)
            v, i = cycler.read(p.v_read_V)
            g_lrs = i / v
            cycler.reset(every)
            v, i = cycler.read(p.v_read_V)
            frame = pd.DataFrame(
                {
                    "kind": "cycle",
                    "row": cells[:, 0],
                    "col": cells[:, 1],
                    "cycle": cycle,
                    "g_lrs_S": g_lrs,
                    "g_hrs_S": i / v,
                }
            )
            frame = _ints(frame, "row", "col", "cycle")
            ctx.log(frame)
            frames.append(frame)
            ctx.progress((cycle + 1) / p.cycles, f"cycle {cycle + 1} of {p.cycles}")
    finally:
        cycler.finish()
    summary = summarize(pd.concat(frames, ignore_index=True))
    ctx.log(_ints(summary.assign(kind="summary")[["kind", *summary.columns]], "n_cells"))


SPEC = ProtocolSpec(
    name="variability",
    params=VariabilityParams,
    run=run,
    summary="device-to-device and cycle-to-cycle spread of LRS and HRS (log-normal sigma)",
)
