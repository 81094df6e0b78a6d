"""Write-verify: program single cells to target conductances within a tolerance band
with a host-side loop of verify reads and adaptive pulses.

Per cell: read (the mean of ``verify_reads`` reads at ``v_read_V``); if the read is in
the band ``g_target_S * (1 +- tol_rel)`` the cell is done; below the band a SET pulse,
above it a RESET pulse; read again; and so on, at most ``max_pulses`` pulses.

SET pulses run under a current limit of ``set_headroom * g_target_S * 1 V``: a
compliance-limited SET lands near I_cc / 1 V in these devices, so even a complete SET
overshoots the target at most about ``set_headroom``-fold (RESET pulses use
``i_reset_compliance_A``; on the board path the word line is fully on for them).

Amplitudes adapt to the last observed change, separately for each polarity: starting
at ``v_set_start_V`` / ``v_reset_start_V``, a pulse that moved the cell by less than a
fifth of the way to the target (on a log scale) makes the next pulse of that polarity
``step`` volts stronger; a pulse that overshot past the band makes it ``step`` weaker
and halves that polarity's ``step`` (from ``v_step_V`` down to ``v_step_min_V``), so
the amplitude closes in on one that lands in the band. |amplitude| never exceeds
``v_max_V``.

With ``width_s`` None the pulses are as short as the access path allows but at least
100 ns (the board: 100 ns writes, as in the literature; a 2450 SMU: 1 ms).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.access import CellAccess, cell_access
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext

SHORTEST_WRITE_S = 100e-9  # REFERENCE: ~100-200 ns write pulses
WEAK = 0.2  # a pulse that covers less of the (log) gap than this was too weak
MAX_PULSES = 100_000


@dataclass(frozen=True)
class WriteVerifyParams(ProtocolParams):
    """Parameters of ``write-verify`` (SI units; see docs/protocols/write-verify.md)."""

    cells: tuple[tuple[int, int], ...] = ((0, 0),)
    g_target_S: tuple[float, ...] = (20e-6,)  # one per cell, or one for every cell (S)
    tol_rel: float = 0.05  # band: g_target * (1 +- tol_rel)
    max_pulses: int = 200  # pulses per cell before giving up
    v_max_V: float = 2.5  # largest |pulse amplitude| (V)
    v_set_start_V: float = 0.8  # first SET amplitude (V, > 0)
    v_reset_start_V: float = -0.8  # first RESET amplitude (V, < 0)
    v_step_V: float = 0.05  # first amplitude step (V)
    v_step_min_V: float = 0.005  # smallest amplitude step (V)
    width_s: float | None = None  # pulse width (s); None: the path's shortest, >= 100 ns
    set_headroom: float = 2.0  # SET limit = set_headroom * g_target * 1 V
    i_reset_compliance_A: float | None = None  # RESET limit (A); None: the station's
    v_read_V: float = 0.2  # verify read voltage (V)
    verify_reads: int = 3  # reads averaged per verify
    via: str = "smu"  # "smu" or "board"

    def check(self) -> None:
        object.__setattr__(self, "cells", cellcheck.normalize_cells(self.cells))
        targets = self.g_target_S
        if isinstance(targets, numbers.Real) and not isinstance(targets, bool):
            targets = (targets,)
        object.__setattr__(self, "g_target_S", _conductances("g_target_S", targets))
        if len(self.g_target_S) not in (1, len(self.cells)):
            raise ValueError(
                f"g_target_S holds {len(self.g_target_S)} values for {len(self.cells)} cells;"
                " give one per cell or one for all"
            )
        num = cellcheck.check_number
        for g in self.g_target_S:
            num("g_target_S", g, positive=True)
        num("tol_rel", self.tol_rel, positive=True, maximum=0.5)
        cellcheck.check_count("max_pulses", self.max_pulses, maximum=MAX_PULSES)
        num("v_max_V", self.v_max_V, positive=True)
        num("v_set_start_V", self.v_set_start_V, positive=True, maximum=self.v_max_V)
        num("v_reset_start_V", self.v_reset_start_V, maximum=-1e-12, minimum=-self.v_max_V)
        num("v_step_V", self.v_step_V, positive=True)
        num("v_step_min_V", self.v_step_min_V, positive=True, maximum=self.v_step_V)
        if self.width_s is not None:
            num("width_s", self.width_s, positive=True)
        num("set_headroom", self.set_headroom, minimum=1.0)
        if self.i_reset_compliance_A is not None:
            num("i_reset_compliance_A", self.i_reset_compliance_A, positive=True)
        num("v_read_V", self.v_read_V, nonzero=True)
        cellcheck.check_count("verify_reads", self.verify_reads, maximum=1000)
        cellcheck.check_via(self.via)

    def check_station(self, station) -> None:
        cellcheck.check_via_station(self.via, station)
        cellcheck.check_cells_fit(self.cells, station)
        cellcheck.check_pulse_voltage(station, self.via, self.v_max_V, "v_max_V")
        cellcheck.check_pulse_voltage(station, self.via, -self.v_max_V, "v_max_V (RESET)")
        cellcheck.check_pulse_width(station, self.via, self.pulse_width_s(station))
        for g in self.g_target_S:
            cellcheck.check_compliance(
                station, self.via, self.set_headroom * g * 1.0, "set_headroom * g_target_S"
            )
        cellcheck.check_compliance(
            station, self.via, self.reset_compliance_A(station), "i_reset_compliance_A"
        )
        cellcheck.check_read_voltage(station, self.via, self.v_read_V)

    def targets(self) -> list[float]:
        """The target (S) of each cell, in the order of ``cells``."""
        if len(self.g_target_S) == 1:
            return [self.g_target_S[0]] * len(self.cells)
        return list(self.g_target_S)

    def pulse_width_s(self, station) -> float:
        if self.width_s is not None:
            return self.width_s
        return max(cellcheck.shortest_pulse_s(station, self.via), SHORTEST_WRITE_S)

    def reset_compliance_A(self, station) -> float:
        if self.i_reset_compliance_A is not None:
            return self.i_reset_compliance_A
        return station.limits.max_current_A


def _conductances(field: str, value: Any) -> tuple:
    """``value`` as a tuple (its members are checked as numbers afterwards)."""
    if not isinstance(value, (str, bytes)):
        try:
            return tuple(value)
        except TypeError:
            pass
    raise ValueError(f"{field} must be conductances (S), got {value!r}")


class _Amplitudes:
    """The adaptive amplitude (V, magnitude) and step of each polarity (+1 SET, -1 RESET)."""

    def __init__(self, params: WriteVerifyParams) -> None:
        self.params = params
        self.v = {1: params.v_set_start_V, -1: -params.v_reset_start_V}
        self.step = {1: params.v_step_V, -1: params.v_step_V}

    def learn(self, sign: int, g_before: float, g_after: float, target: float, tol: float) -> None:
        """Adapt polarity ``sign``'s amplitude to what its last pulse did."""
        # A deep HRS may read 0 (below the converter's resolution): floor the logs.
        floor = 1e-3 * target
        g_before, g_after = max(g_before, floor), max(g_after, floor)
        wanted = sign * math.log(target / g_before)
        moved = sign * math.log(g_after / g_before)
        overshot = sign * (g_after - target) > tol * target
        if overshot:
            self.v[sign] -= self.step[sign]
            self.step[sign] = max(self.step[sign] / 2, self.params.v_step_min_V)
        elif moved < WEAK * wanted:
            self.v[sign] += self.step[sign]
        self.v[sign] = min(max(self.v[sign], self.step[sign]), self.params.v_max_V)


def run(ctx: RunContext, params: WriteVerifyParams) -> None:
    """Program each cell in turn; one row per verify (iteration 0: before any pulse)."""
    station = ctx.station
    access = cell_access(station, params.via)
    width = params.pulse_width_s(station)
    reset_limit = params.reset_compliance_A(station)
    try:
        targets = params.targets()
        for index, (row, col) in enumerate(params.cells):
            ctx.check_abort()
            _program(ctx, access, params, row, col, targets[index], width, reset_limit)
            ctx.progress((index + 1) / len(params.cells), f"programmed ({row}, {col})")
    finally:
        access.finish()


def _program(
    ctx: RunContext,
    access: CellAccess,
    params: WriteVerifyParams,
    row: int,
    col: int,
    target: float,
    width_s: float,
    reset_limit_A: float,
) -> None:
    """The loop for one cell; logs each verify."""
    tol = params.tol_rel
    amplitudes = _Amplitudes(params)
    g = cellcheck.mean_read(access, row, col, params.v_read_V, params.verify_reads)
    base = {"row": row, "col": col, "g_target_S": target}
    iteration = 0
    pulse = None
    action = "read"
    while True:
        inside = abs(g - target) <= tol * target
        final = inside or iteration >= params.max_pulses
        ctx.log(
            {
                **base,
                "iteration": iteration,
                "action": action,
                "v_pulse_V": pulse.v_V if pulse else math.nan,
                "width_s": pulse.width_s if pulse else math.nan,
                "i_compliance_A": pulse.i_limit_A if pulse else math.nan,
                "i_pulse_A": pulse.i_A if pulse else math.nan,
                "g_read_S": g,
                "error_rel": (g - target) / target,
                "inside": bool(inside),
                "final": bool(final),
                "t_s": ctx.station.clock.now(),
            }
        )
        if final:
            return
        ctx.check_abort()
        sign = 1 if g < target else -1
        v = sign * amplitudes.v[sign]
        limit = params.set_headroom * target * 1.0 if sign > 0 else reset_limit_A
        pulse = access.pulse(row, col, v, width_s, limit)
        g_after = cellcheck.mean_read(access, row, col, params.v_read_V, params.verify_reads)
        amplitudes.learn(sign, g, g_after, target, tol)
        g = g_after
        iteration += 1
        action = "set" if sign > 0 else "reset"


SPEC = ProtocolSpec(
    name="write-verify",
    params=WriteVerifyParams,
    run=run,
    summary="Program cells to target conductances within a tolerance band (host-side loop).",
)
