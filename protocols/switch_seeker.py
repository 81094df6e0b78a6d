"""Switch seeker: find each cell's SET and RESET voltages with pulse ramps (ArC's
SwitchSeeker).

Every cycle is a SET ramp then a RESET ramp. A ramp reads the cell (``g_start_S``),
then pulses with growing |amplitude| (``v_*_start_V`` to ``v_*_stop_V`` in ``v_step_V``
steps), reading after each pulse. The first read that has moved by ``factor`` -- SET:
``g_read_S >= factor * g_start_S``, RESET: ``g_read_S <= g_start_S / factor`` -- marks
the switch: that pulse's amplitude is the detected voltage, written in ``v_set_V`` /
``v_reset_V`` on its row (``switched`` True; NaN on every other row; no value for a
ramp that ran to its end without switching). :func:`switching_voltages` gives one row
per cycle.

The SET ramp stops at its switch. The RESET ramp goes on until the read has fallen
``reset_stop_factor`` (>= ``factor``) times: a compliance-limited SET returns the cell
to about the LRS the RESET started from, so a RESET stopped at exactly ``factor`` would
leave the next SET ramp a rise of only about ``factor`` -- a coin toss against
cycle-to-cycle noise.

A cell that starts in its low-resistance state shows no SET in the first cycle (its
conductance cannot rise ``factor``-fold): start with a RESET (``pulse``) or ignore the
first cycle's ``v_set_V``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.access import CellAccess, cell_access
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext

MAX_STEPS = 10_000


@dataclass(frozen=True)
class SwitchSeekerParams(ProtocolParams):
    """Parameters of ``switch-seeker`` (SI units; see docs/protocols/switch-seeker.md)."""

    cells: tuple[tuple[int, int], ...] = ((0, 0),)
    v_set_start_V: float = 0.5  # first SET amplitude (V, > 0)
    v_set_stop_V: float = 2.0  # last SET amplitude (V)
    v_reset_start_V: float = -0.5  # first RESET amplitude (V, < 0)
    v_reset_stop_V: float = -2.5  # last RESET amplitude (V)
    v_step_V: float = 0.05  # |amplitude| step of both ramps (V)
    width_s: float = 1e-3  # pulse width (s)
    i_set_compliance_A: float = 100e-6  # SET current limit (A)
    i_reset_compliance_A: float | None = None  # RESET current limit (A); None: the station's
    factor: float = 5.0  # conductance change that counts as switched
    reset_stop_factor: float = 10.0  # the RESET ramp stops once the read fell this much
    g_floor_S: float = 0.5e-6  # reads below this count as this in the ratios (S)
    cycles: int = 3
    v_read_V: float = 0.2  # read voltage (V)
    via: str = "smu"  # "smu" or "board"

    def check(self) -> None:
        object.__setattr__(self, "cells", cellcheck.normalize_cells(self.cells))
        num = cellcheck.check_number
        num("v_set_start_V", self.v_set_start_V, positive=True)
        num("v_set_stop_V", self.v_set_stop_V, minimum=self.v_set_start_V)
        num("v_reset_start_V", self.v_reset_start_V, maximum=-1e-12)
        num("v_reset_stop_V", self.v_reset_stop_V, maximum=self.v_reset_start_V)
        num("v_step_V", self.v_step_V, positive=True)
        num("width_s", self.width_s, positive=True)
        num("i_set_compliance_A", self.i_set_compliance_A, positive=True)
        if self.i_reset_compliance_A is not None:
            num("i_reset_compliance_A", self.i_reset_compliance_A, positive=True)
        num("factor", self.factor, minimum=1.0 + 1e-9)
        num("reset_stop_factor", self.reset_stop_factor, minimum=self.factor)
        num("g_floor_S", self.g_floor_S, positive=True)
        cellcheck.check_count("cycles", self.cycles)
        num("v_read_V", self.v_read_V, nonzero=True)
        cellcheck.check_via(self.via)
        for name, start, stop in (
            ("set", self.v_set_start_V, self.v_set_stop_V),
            ("reset", self.v_reset_start_V, self.v_reset_stop_V),
        ):
            if cellcheck.ramp_length(start, stop, self.v_step_V) > MAX_STEPS:
                raise ValueError(f"the {name} ramp has more than {MAX_STEPS} steps; raise v_step_V")

    def check_station(self, station) -> None:
        cellcheck.check_via_station(self.via, station)
        cellcheck.check_cells_fit(self.cells, station)
        for field in ("v_set_stop_V", "v_reset_stop_V"):
            cellcheck.check_pulse_voltage(station, self.via, getattr(self, field), field)
        cellcheck.check_pulse_width(station, self.via, self.width_s)
        cellcheck.check_compliance(station, self.via, self.i_set_compliance_A, "i_set_compliance_A")
        cellcheck.check_compliance(
            station, self.via, self.reset_compliance_A(station), "i_reset_compliance_A"
        )
        cellcheck.check_read_voltage(station, self.via, self.v_read_V)

    def ramp_V(self, phase: str) -> np.ndarray:
        """The amplitudes of the "set" or "reset" ramp (V), start to stop."""
        start, stop = (
            (self.v_set_start_V, self.v_set_stop_V)
            if phase == "set"
            else (self.v_reset_start_V, self.v_reset_stop_V)
        )
        n = cellcheck.ramp_length(start, stop, self.v_step_V)
        return start + math.copysign(self.v_step_V, start) * np.arange(n)

    def reset_compliance_A(self, station) -> float:
        if self.i_reset_compliance_A is not None:
            return self.i_reset_compliance_A
        return station.limits.max_current_A


def run(ctx: RunContext, params: SwitchSeekerParams) -> None:
    """Cycle SET and RESET ramps on each cell; one row per pulse."""
    access = cell_access(ctx.station, params.via)
    total = len(params.cells) * params.cycles * 2
    done = 0
    try:
        for row, col in params.cells:
            for cycle in range(params.cycles):
                for phase in ("set", "reset"):
                    ctx.check_abort()
                    _ramp(ctx, access, params, {"row": row, "col": col, "cycle": cycle}, phase)
                    done += 1
                    ctx.progress(done / total, f"({row}, {col}) cycle {cycle} {phase}")
    finally:
        access.finish()


def _ramp(
    ctx: RunContext, access: CellAccess, params: SwitchSeekerParams, where: dict, phase: str
) -> None:
    """One SET or RESET ramp on the cell ``where`` names; logs a row per pulse."""
    row, col = where["row"], where["col"]
    if phase == "set":
        limit, stop = params.i_set_compliance_A, params.factor
    else:
        limit, stop = params.reset_compliance_A(ctx.station), params.reset_stop_factor
    g_start = access.read(row, col, params.v_read_V).g_S
    detected = False
    for step, v in enumerate(params.ramp_V(phase)):
        ctx.check_abort()
        pulse = access.pulse(row, col, float(v), params.width_s, limit)
        reading = access.read(row, col, params.v_read_V)
        ratio = _ratio(phase, g_start, reading.g_S, params.g_floor_S)
        switched = not detected and ratio >= params.factor
        detected = detected or switched
        ctx.log(
            {
                **where,
                "phase": phase,
                "step": step,
                "v_pulse_V": pulse.v_V,
                "width_s": pulse.width_s,
                "i_compliance_A": pulse.i_limit_A,
                "i_pulse_A": pulse.i_A,
                "v_read_V": reading.v_V,
                "g_start_S": g_start,
                "g_read_S": reading.g_S,
                "ratio": ratio,
                "switched": switched,
                "v_set_V": pulse.v_V if switched and phase == "set" else math.nan,
                "v_reset_V": pulse.v_V if switched and phase == "reset" else math.nan,
                "t_s": ctx.station.clock.now(),
            }
        )
        if detected and ratio >= stop:
            return


def _ratio(phase: str, g_start_S: float, g_S: float, g_floor_S: float) -> float:
    """How far a read moved in the ramp's direction: g/g_start for SET, g_start/g for
    RESET, each conductance taken as at least ``g_floor_S`` (a deep HRS reads near
    the bottom of the read's range, where noise alone would look like a big ratio)."""
    g_start, g = max(g_start_S, g_floor_S), max(g_S, g_floor_S)
    return g / g_start if phase == "set" else g_start / g


def switching_voltages(data: pd.DataFrame) -> pd.DataFrame:
    """One row per (row, col, cycle) with the detected ``v_set_V`` and ``v_reset_V``
    (NaN where a ramp found no switch), from the rows ``switch-seeker`` logged."""
    return data.groupby(["row", "col", "cycle"], as_index=False)[["v_set_V", "v_reset_V"]].first()


SPEC = ProtocolSpec(
    name="switch-seeker",
    params=SwitchSeekerParams,
    run=run,
    summary="Find SET and RESET voltages with pulse ramps until the conductance moves by a factor.",
)
