"""Pulse: a train of identical SET (positive) or RESET (negative) pulses on each cell,
with a read before the first pulse and after every ``read_every``-th one (and the last).

A SET pulse's current limit sets where it lands (about I_cc / 1 V in these devices);
a RESET needs a generous limit, or the limit eats the voltage the RESET needs. On the
board path a RESET runs with the word line fully on whatever the limit says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.access import CellPulse, CellReading, cell_access
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext

DEFAULT_SET_COMPLIANCE_A = 100e-6  # LRS ~10 kohm, inside the typical 50-200 uA
MAX_COUNT = 1_000_000


@dataclass(frozen=True)
class PulseParams(ProtocolParams):
    """Parameters of ``pulse`` (SI units; see docs/protocols/pulse.md)."""

    cells: tuple[tuple[int, int], ...] = ((0, 0),)
    v_pulse_V: float = 1.5  # amplitude (V): > 0 SETs, < 0 RESETs
    width_s: float = 1e-3  # pulse width (s)
    i_compliance_A: float | None = None  # None: 100 uA for SET, the station's limit for RESET
    count: int = 10  # pulses per cell
    read_every: int = 1  # read after every k-th pulse (and after the last)
    v_read_V: float = 0.2  # read voltage (V)
    via: str = "smu"  # "smu" or "board"

    def check(self) -> None:
        object.__setattr__(self, "cells", cellcheck.normalize_cells(self.cells))
        num = cellcheck.check_number
        num("v_pulse_V", self.v_pulse_V, nonzero=True)
        num("width_s", self.width_s, positive=True)
        if self.i_compliance_A is not None:
            num("i_compliance_A", self.i_compliance_A, positive=True)
        cellcheck.check_count("count", self.count, maximum=MAX_COUNT)
        cellcheck.check_count("read_every", self.read_every)
        num("v_read_V", self.v_read_V, nonzero=True)
        cellcheck.check_via(self.via)

    def check_station(self, station) -> None:
        cellcheck.check_via_station(self.via, station)
        cellcheck.check_cells_fit(self.cells, station)
        cellcheck.check_pulse_voltage(station, self.via, self.v_pulse_V, "v_pulse_V")
        cellcheck.check_pulse_width(station, self.via, self.width_s)
        cellcheck.check_compliance(station, self.via, self.compliance_A(station), "i_compliance_A")
        cellcheck.check_read_voltage(station, self.via, self.v_read_V)

    def compliance_A(self, station) -> float:
        """The current limit (A) the pulses use on ``station``."""
        if self.i_compliance_A is not None:
            return self.i_compliance_A
        if self.v_pulse_V > 0:
            return DEFAULT_SET_COMPLIANCE_A
        return station.limits.max_current_A


def run(ctx: RunContext, params: PulseParams) -> None:
    """Pulse each cell ``count`` times; one row per pulse (row ``pulse`` 0: the read
    before the first pulse)."""
    access = cell_access(ctx.station, params.via)
    limit = params.compliance_A(ctx.station)
    n_cells = len(params.cells)
    try:
        for index, (row, col) in enumerate(params.cells):
            ctx.check_abort()
            first = access.read(row, col, params.v_read_V)
            ctx.log(_row(ctx, row, col, 0, None, first))
            for n in range(1, params.count + 1):
                ctx.check_abort()
                pulse = access.pulse(row, col, params.v_pulse_V, params.width_s, limit)
                reading = None
                if n % params.read_every == 0 or n == params.count:
                    reading = access.read(row, col, params.v_read_V)
                ctx.log(_row(ctx, row, col, n, pulse, reading))
                ctx.progress((index + n / params.count) / n_cells, f"pulsing ({row}, {col})")
    finally:
        access.finish()


def _row(
    ctx: RunContext,
    row: int,
    col: int,
    n: int,
    pulse: CellPulse | None,
    reading: CellReading | None,
) -> dict:
    """One logged row; NaN for what this pulse number did not do (pulse or read)."""
    return {
        "row": row,
        "col": col,
        "pulse": n,
        "v_pulse_V": pulse.v_V if pulse else math.nan,
        "width_s": pulse.width_s if pulse else math.nan,
        "i_compliance_A": pulse.i_limit_A if pulse else math.nan,
        "i_pulse_A": pulse.i_A if pulse else math.nan,
        "v_read_V": reading.v_V if reading else math.nan,
        "i_read_A": reading.i_A if reading else math.nan,
        "g_read_S": reading.g_S if reading else math.nan,
        "t_s": ctx.station.clock.now(),
    }


SPEC = ProtocolSpec(
    name="pulse",
    params=PulseParams,
    run=run,
    summary="Trains of SET or RESET pulses with reads in between.",
)
