"""endurance: SET/RESET cycling of a block of cells until their switching window closes.

Every cycle is one SET pulse and one RESET pulse. Every ``verify_every`` cycles (and on
the first and the last) the cycle is verified: the cells are read after the SET (g_on)
and after the RESET (g_off). A cell has *failed* once its window g_on / g_off has been
below ``min_window`` at ``n_failures`` consecutive verifies (a cell that no longer
switches, stuck high or low, has a window near 1); it is then left alone. The run ends
at ``max_cycles`` or when every cell has failed. Resumable (:func:`resume`): an
interrupted run goes on from its last verified cycle.

Also home of :class:`SwitchingParams` and :class:`CellCycler`, the SET/RESET pulses
that variability shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.access import square_law_gate
from rramlab.protocols.base import ProtocolSpec, RunContext
from rramlab.protocols.read_map import ReadParams, RegionReader


@dataclass(frozen=True)
class SwitchingParams(ReadParams):
    """SET and RESET pulses of a block of cells, and the reads that verify them.

    SET: ``set_V`` (V, > 0) for ``set_width_s`` (s) under ``set_compliance_A`` (A): the
    SMU's current limit, or on the board the word-line gate that gives that access-
    transistor current. RESET: ``reset_V`` (V, < 0) for ``reset_width_s`` (s) with no
    compliance of its own (the station's current limit through the SMU; the word line
    fully on through the board). Defaults suit the board (1 us pulses); the SMU needs
    widths of at least its shortest pulse (1 ms on a 2450).
    """

    set_V: float = 1.5
    set_width_s: float = 1e-6
    set_compliance_A: float = 100e-6
    reset_V: float = -1.8
    reset_width_s: float = 1e-6

    def check(self) -> None:
        super().check()
        num = cellcheck.check_number
        for name in ("set_V", "set_width_s", "set_compliance_A", "reset_width_s"):
            num(name, getattr(self, name), positive=True)
        if num("reset_V", self.reset_V) >= 0:
            raise ValueError(f"reset_V must be negative (a RESET), got {self.reset_V!r}")

    def check_station(self, station: Any) -> None:
        super().check_station(station)
        for name in ("set_V", "reset_V"):
            cellcheck.check_pulse_voltage(station, self.via, getattr(self, name), name)
        for name in ("set_width_s", "reset_width_s"):
            cellcheck.check_pulse_width(station, self.via, getattr(self, name), name)
        cellcheck.check_compliance(station, self.via, self.set_compliance_A, "set_compliance_A")
        if self.via == "board":
            # The board sets a SET's compliance with the word-line gate (1T1R).
            gate = square_law_gate(self.set_compliance_A, v_max_V=math.inf)
            top = station.board.capabilities.gate_range_V[1]
            if gate > top:
                raise ValueError(
                    f"set_compliance_A={self.set_compliance_A:g} A needs a {gate:.3g} V gate; "
                    f"the board's gate goes to {top:g} V"
                )


class CellCycler(RegionReader):
    """SET and RESET pulses and reads of a list of cells. Through the board the cells
    selected by ``which`` are pulsed by one ``PULSE ... CELLS`` command (one after the
    other, in a single round trip); through the SMU one by one."""

    def __init__(self, station: Any, p: SwitchingParams, cells: np.ndarray) -> None:
        super().__init__(station, p.via, cells, nplc=p.smu_nplc)
        self.p = p
        self._gate_set = False

    def set(self, which: np.ndarray) -> None:
        p = self.p
        if self.via == "board" and not self._gate_set:
            # The SET compliance of a 1T1R cell is its access transistor's current.
            self.station.board.set_gate(square_law_gate(p.set_compliance_A))
            self._gate_set = True
        self._pulse(which, p.set_V, p.set_width_s, p.set_compliance_A)

    def reset(self, which: np.ndarray) -> None:
        self._pulse(which, self.p.reset_V, self.p.reset_width_s, self.station.limits.max_current_A)

    def _pulse(self, which: np.ndarray, v_V: float, width_s: float, limit_A: float) -> None:
        cells = self.cells[np.asarray(which, dtype=bool)]
        if len(cells) == 0:
            return
        if self._smu is None:
            self.station.board.pulse_cells(v_V, width_s, cells)
            return
        for row, col in cells:
            self._smu.pulse(int(row), int(col), v_V, width_s, limit_A)


def on_off_ratio(g_on_S: np.ndarray, g_off_S: np.ndarray) -> np.ndarray:
    """g_on / g_off; an off state read as <= 0 (below the read's resolution) gives inf
    when the on state conducts, NaN when neither does (a cell that does not switch)."""
    g_on, g_off = np.asarray(g_on_S, dtype=float), np.asarray(g_off_S, dtype=float)
    positive = g_off > 0
    ratio = g_on / np.where(positive, g_off, 1.0)
    return np.where(positive, ratio, np.where(g_on > 0, np.inf, np.nan))


@dataclass(frozen=True)
class EnduranceParams(SwitchingParams):
    """endurance: cycle the region (default: cell (0, 0)) up to ``max_cycles`` times,
    verifying every ``verify_every`` cycles; a cell fails when its window stays below
    ``min_window`` (> 1) for ``n_failures`` consecutive verifies."""

    rows: int | None = 1
    cols: int | None = 1
    max_cycles: int = 10_000
    verify_every: int = 100
    min_window: float = 5.0
    n_failures: int = 3

    def check(self) -> None:
        super().check()
        cellcheck.check_count("max_cycles", self.max_cycles)
        cellcheck.check_count("verify_every", self.verify_every)
        cellcheck.check_count("n_failures", self.n_failures)
        cellcheck.check_number("min_window", self.min_window, minimum=1.0 + 1e-9)


def run(ctx: RunContext, p: EnduranceParams) -> None:
    """One row per (verified cycle, cell still cycling): cycle, row, col, g_on_S,
    g_off_S, window (g_on / g_off), failed (declared failed at this verify)."""
    cells = p.selected(ctx.station)
    _cycle(ctx, p, cells, 1, np.ones(len(cells), dtype=bool), np.zeros(len(cells), dtype=int))


def resume(ctx: RunContext, p: EnduranceParams, previous: pd.DataFrame) -> None:
    """Continue an interrupted run after its last verified cycle: the cycle count goes
    on from there, the cells declared failed stay alone, and each cell's count of
    consecutive low verifies is taken up from its rows. The cycles between the last
    verify and the stop (fewer than ``verify_every``) were applied but are not
    counted: nothing recorded them."""
    cells = p.selected(ctx.station)
    alive = np.ones(len(cells), dtype=bool)
    below = np.zeros(len(cells), dtype=int)
    last = 0
    if len(previous) and {"cycle", "row", "col", "window", "failed"} <= set(previous.columns):
        last = int(previous["cycle"].max())
        index = {(int(r), int(c)): k for k, (r, c) in enumerate(cells)}
        for (row, col), rows in previous.sort_values("cycle", kind="stable").groupby(
            ["row", "col"], sort=False
        ):
            k = index.get((int(row), int(col)))
            if k is None:
                continue
            if rows["failed"].astype(bool).any():
                alive[k] = False
            low = ~(rows["window"].to_numpy(dtype=float) >= p.min_window)
            # consecutive low verifies at the end of the cell's record
            below[k] = len(low) - (np.flatnonzero(~low)[-1] + 1) if (~low).any() else len(low)
    if last >= p.max_cycles or not alive.any():
        ctx.progress(1.0, f"cycle {last}, {alive.sum()} cell(s) switching")
        return
    _cycle(ctx, p, cells, last + 1, alive, below)


def _cycle(
    ctx: RunContext,
    p: EnduranceParams,
    cells: np.ndarray,
    first: int,
    alive: np.ndarray,
    below: np.ndarray,
) -> None:
    """Cycles ``first`` .. ``max_cycles`` of the ``alive`` cells; ``below``: each
    cell's consecutive verifies below ``min_window`` so far."""
    cycler = CellCycler(ctx.station, p, cells)
    try:
        for cycle in range(first, p.max_cycles + 1):
            ctx.check_abort()
            verify = cycle == 1 or cycle % p.verify_every == 0 or cycle == p.max_cycles
            cycler.set(alive)
            if verify:
                v_on, i_on = cycler.read(p.v_read_V, alive)
            cycler.reset(alive)
            if not verify:
                continue
            v_off, i_off = cycler.read(p.v_read_V, alive)
            g_on, g_off = i_on / v_on, i_off / v_off
            window = on_off_ratio(g_on, g_off)
            low = ~(window >= p.min_window)  # NaN (no switching) counts as low
            below[alive] = np.where(low, below[alive] + 1, 0)
            failed = below[alive] >= p.n_failures
            index = np.flatnonzero(alive)
            ctx.log(
                pd.DataFrame(
                    {
                        "cycle": np.full(index.size, cycle),
                        "row": cells[index, 0],
                        "col": cells[index, 1],
                        "g_on_S": g_on,
                        "g_off_S": g_off,
                        "window": window,
                        "failed": failed,
                    }
                )
            )
            alive[index[failed]] = False
            ctx.progress(cycle / p.max_cycles, f"cycle {cycle}, {alive.sum()} cell(s) switching")
            if not alive.any():
                break
    finally:
        cycler.finish()


SPEC = ProtocolSpec(
    name="endurance",
    params=EnduranceParams,
    run=run,
    summary="SET/RESET cycling with verify reads until the on/off window closes",
    resume=resume,
)
