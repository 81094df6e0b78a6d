"""Forming: a pulsed voltage ramp under an escalating current limit, stopped per cell
once a read shows a filament (ArC's FormFinder, "forming with escalating compliance").

For each cell and each compliance level (``compliance_start_A``, times
``compliance_factor`` each level, the last level ``compliance_max_A``) the pulse
amplitude ramps from ``v_start_V`` to ``v_stop_V`` in ``v_step_V`` steps; every pulse is
followed by a read at ``v_read_V``. The cell is done at the first read whose
conductance reaches ``formed_threshold_S``; higher levels are never tried. A cell that
never gets there after every level is reported not formed.

A low first limit keeps the new filament thin (a cell forms at about I_cc / 1 V, and
forming without a limit makes a permanent short); raising it only when needed is what
labs do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.access import CellAccess, cell_access
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext

MAX_PULSES = 100_000  # a ramp longer than this is a typo, not an experiment


@dataclass(frozen=True)
class FormingParams(ProtocolParams):
    """Parameters of ``forming`` (SI units; see docs/protocols/forming.md)."""

    cells: tuple[tuple[int, int], ...] = ((0, 0),)
    v_start_V: float = 2.0  # first pulse amplitude of each ramp (V, > 0)
    v_stop_V: float = 4.0  # last pulse amplitude (V)
    v_step_V: float = 0.05  # amplitude step (V)
    width_s: float = 1e-3  # pulse width (s)
    compliance_start_A: float = 10e-6  # first current limit (A)
    compliance_max_A: float = 100e-6  # last current limit (A)
    compliance_factor: float = 2.0  # each level's limit is this times the previous one
    v_read_V: float = 0.2  # read voltage after each pulse (V)
    formed_threshold_S: float = 5e-6  # a read at or above this means formed (S)
    via: str = "smu"  # "smu" or "board"

    def check(self) -> None:
        object.__setattr__(self, "cells", cellcheck.normalize_cells(self.cells))
        num = cellcheck.check_number
        num("v_start_V", self.v_start_V, positive=True)
        num("v_stop_V", self.v_stop_V, minimum=self.v_start_V)
        num("v_step_V", self.v_step_V, positive=True)
        num("width_s", self.width_s, positive=True)
        num("compliance_start_A", self.compliance_start_A, positive=True)
        num("compliance_max_A", self.compliance_max_A, minimum=self.compliance_start_A)
        num("compliance_factor", self.compliance_factor, minimum=1.0 + 1e-9)
        num("v_read_V", self.v_read_V, nonzero=True)
        num("formed_threshold_S", self.formed_threshold_S, positive=True)
        cellcheck.check_via(self.via)
        # counted, not built: a tiny step or factor must fail here, not exhaust memory
        steps = cellcheck.ramp_length(self.v_start_V, self.v_stop_V, self.v_step_V)
        ratio = self.compliance_max_A / self.compliance_start_A
        levels = math.ceil(math.log(ratio) / math.log(self.compliance_factor) - 1e-9) + 1
        pulses = steps * levels
        if pulses > MAX_PULSES:
            raise ValueError(
                f"the ramp makes {pulses} pulses per cell (> {MAX_PULSES}); raise v_step_V "
                "or compliance_factor"
            )

    def check_station(self, station) -> None:
        cellcheck.check_via_station(self.via, station)
        cellcheck.check_cells_fit(self.cells, station)
        cellcheck.check_pulse_voltage(station, self.via, self.v_stop_V, "v_stop_V")
        cellcheck.check_pulse_width(station, self.via, self.width_s)
        cellcheck.check_compliance(station, self.via, self.compliance_start_A, "compliance_start_A")
        cellcheck.check_compliance(station, self.via, self.compliance_max_A, "compliance_max_A")
        cellcheck.check_read_voltage(station, self.via, self.v_read_V)

    def amplitudes_V(self) -> np.ndarray:
        """The ramp: v_start_V, v_start_V + v_step_V, ... up to v_stop_V (included when
        the step divides the span)."""
        n = cellcheck.ramp_length(self.v_start_V, self.v_stop_V, self.v_step_V)
        return self.v_start_V + self.v_step_V * np.arange(n)

    def compliances_A(self) -> list[float]:
        """The levels: start, start x factor, ... while below the max, then the max."""
        levels = []
        level = self.compliance_start_A
        while level < self.compliance_max_A * (1 - 1e-9):
            levels.append(level)
            level *= self.compliance_factor
        levels.append(self.compliance_max_A)
        return levels


def run(ctx: RunContext, params: FormingParams) -> None:
    """Form each cell of ``params.cells`` in turn; one row per pulse."""
    access = cell_access(ctx.station, params.via)
    n = len(params.cells)
    try:
        for index, (row, col) in enumerate(params.cells):
            formed = _form_cell(ctx, access, params, row, col, index)
            done = f"formed ({row}, {col})" if formed else f"({row}, {col}) did not form"
            ctx.progress((index + 1) / n, done)
    finally:
        access.finish()


def _form_cell(
    ctx: RunContext, access: CellAccess, params: FormingParams, row: int, col: int, index: int
) -> bool:
    """Ramp one cell level by level until a read passes the threshold; True if it did."""
    amplitudes, levels = params.amplitudes_V(), params.compliances_A()
    total = len(levels) * len(amplitudes)
    pulses = 0
    for level_index, limit in enumerate(levels):
        for step, v in enumerate(amplitudes):
            ctx.check_abort()
            pulse = access.pulse(row, col, float(v), params.width_s, limit)
            reading = access.read(row, col, params.v_read_V)
            pulses += 1
            formed = reading.g_S >= params.formed_threshold_S
            ctx.log(
                {
                    "row": row,
                    "col": col,
                    "compliance_step": level_index,
                    "i_compliance_A": pulse.i_limit_A,
                    "step": step,
                    "pulse": pulses,
                    "v_pulse_V": pulse.v_V,
                    "width_s": pulse.width_s,
                    "i_pulse_A": pulse.i_A,
                    "v_read_V": reading.v_V,
                    "i_read_A": reading.i_A,
                    "g_read_S": reading.g_S,
                    "formed": bool(formed),
                    "t_s": ctx.station.clock.now(),
                }
            )
            fraction = (level_index * len(amplitudes) + step + 1) / total
            ctx.progress((index + fraction) / len(params.cells), f"forming ({row}, {col})")
            if formed:
                return True
    return False


SPEC = ProtocolSpec(
    name="forming",
    params=FormingParams,
    run=run,
    summary="Form cells: pulsed voltage ramp with escalating compliance, stops once formed.",
)
