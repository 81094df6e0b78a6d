"""read-disturb: does reading a cell over and over change it?

The selected cells are read ``n_reads`` times at ``v_read_V`` (a read voltage possibly
raised above the usual 0.1-0.2 V to accelerate the effect). Before the first read and
after every ``sample_every`` reads (and after the last) each cell's conductance is
sampled by one extra read at ``v_sample_V`` (0.2 V), so every sample sees the cells the
same way whatever the stress voltage (I/V at a raised voltage is not the 0.2 V
conductance: the I-V curve is superlinear).

The read width is what the access path gives: through the SMU, ``nplc`` power-line
cycles (1 PLC = 20 ms at 50 Hz) with the output on only while it measures; through the
board, its own fixed read (about 1 us on the simulated board), one cell per command so
that only the selected cells are read. A cell whose current at the sample voltage is
beyond the board's ADC range samples as NaN.
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
class ReadDisturbParams(ReadParams):
    """read-disturb: ``n_reads`` (>= 1) stress reads at ``v_read_V`` (V) of the region
    (default: cell (0, 0)), sampled at ``v_sample_V`` (V) every ``sample_every`` (>= 1)
    reads."""

    rows: int | None = 1
    cols: int | None = 1
    n_reads: int = 1000
    sample_every: int = 100
    v_sample_V: float = 0.2

    def check(self) -> None:
        super().check()
        cellcheck.check_count("n_reads", self.n_reads)
        cellcheck.check_count("sample_every", self.sample_every)
        cellcheck.check_number("v_sample_V", self.v_sample_V, nonzero=True)

    def check_station(self, station: Any) -> None:
        super().check_station(station)
        cellcheck.check_read_voltage(station, self.via, self.v_sample_V, "v_sample_V")


def run(ctx: RunContext, p: ReadDisturbParams) -> None:
    """One row per (sample, cell): read_count (stress reads so far), row, col,
    v_read_V (the stress voltage), g_S (at v_sample_V)."""
    cells = p.selected(ctx.station)
    reader = RegionReader(ctx.station, p.via, cells, nplc=p.smu_nplc, cellwise=True)

    def sample(count: int) -> None:
        v, i = reader.read(p.v_sample_V)
        ctx.log(
            pd.DataFrame(
                {
                    "read_count": np.full(len(cells), count),
                    "row": cells[:, 0],
                    "col": cells[:, 1],
                    "v_read_V": float(p.v_read_V),
                    "g_S": i / v,
                }
            )
        )
        ctx.progress(count / p.n_reads, f"{count} of {p.n_reads} reads")

    try:
        sample(0)
        for count in range(1, p.n_reads + 1):
            ctx.check_abort()
            reader.read(p.v_read_V)
            if count % p.sample_every == 0 or count == p.n_reads:
                sample(count)
    finally:
        reader.finish()


SPEC = ProtocolSpec(
    name="read-disturb",
    params=ReadDisturbParams,
    run=run,
    summary="repeated reads (read voltage possibly raised), conductance sampled every k reads",
)
