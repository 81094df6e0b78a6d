"""Programming the crossbar: pulses (V, s) on selected cells under a current limit
(A), and the full switching physics (forming, SET, RESET, wear, breakdown) of the
cells a bias moves. Mixed into :class:`rramlab.sim.crossbar.Crossbar`."""

from __future__ import annotations

import math

import numpy as np

from rramlab.sim import cell, wear
from rramlab.sim import crossbar_checks as check
from rramlab.sim.biasing import check_scheme, line_bias
from rramlab.sim.crossbar_arrays import gather, row_groups, scatter
from rramlab.sim.crossbar_stress import FLUSH_PROGRESS
from rramlab.sim.population import HEALTHY, STUCK_HIGH, STUCK_LOW
from rramlab.sim.selection import Lines, select
from rramlab.sim.state import NOT_STUCK

# A switching event that moves ln g by more than this restarts the cell's aging clock.
PROGRAMMING_EVENT_LN = 1e-4


class ProgrammingMixin:
    """Pulses and switching (uses ``cells``, ``population``, ``params``, ``rng``, the
    wires mixin for the network and the stress mixin for disturb and record)."""

    def pulse(
        self,
        v_V: float,
        width_s: float,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        compliance_A: float | None = None,
        v_gate_V: float | None = None,
        scheme: str = "V/2",
    ) -> np.ndarray:
        """Apply ``v_V`` volts for ``width_s`` seconds to the selected cells.

        ``compliance_A`` caps each selected cell's current (an SMU or board limiter);
        in a 1T1R array the word-line gate voltage ``v_gate_V`` (default
        ``params.v_gate_on_V``) caps it too, through the transistor's saturation current.
        ``scheme`` biases the other lines of a passive array (see
        :mod:`rramlab.sim.biasing`). Returns each selected cell's current (A) at the end
        of the pulse, shaped like the selection.
        """
        v = check.voltage(v_V, "v_V")
        width = check.positive(width_s, "width_s")
        limit = self._current_limit(compliance_A, v_gate_V)
        check_scheme(scheme)
        sel = select(self.shape, rows, cols, mask)
        self._prepare()
        if limit <= 0:
            # The word line is below the access transistor's threshold: the selected
            # cells are cut off and see nothing.
            return np.zeros(sel.out_shape)
        if self._isolated_cells:
            index = None if sel.is_everything_in_order else sel.flat
            self._flush(index)
            return self._switch(index, v, width, limit).reshape(sel.out_shape)
        currents = np.empty(sel.size)
        start = 0
        for group in row_groups(sel, one_shot=True):
            bias = line_bias(group.row_mask(), group.col_mask(), v, self.access, scheme)
            v_cells = self._cell_voltages(bias)
            currents[start : start + group.size] = self._pulse_network(
                group.flat, v_cells, width, limit
            )
            start += group.size
        return currents.reshape(sel.out_shape)

    def _current_limit(self, compliance_A: float | None, v_gate_V: float | None) -> float:
        limit = math.inf
        if compliance_A is not None:
            limit = check.positive(compliance_A, "compliance_A")
        if self.access == "1T1R":
            gate = (
                self.params.v_gate_on_V if v_gate_V is None else check.finite(v_gate_V, "v_gate_V")
            )
            limit = min(limit, float(cell.transistor_current_limit(gate, self.params)))
        elif v_gate_V is not None:
            raise ValueError("v_gate_V applies to 1T1R arrays; this array is passive")
        return limit

    def _pulse_network(
        self, selected: np.ndarray, v_cells: np.ndarray, width_s: float, limit: float
    ) -> np.ndarray:
        """A pulse where the network sets every cell's voltage: the selected cells switch
        under the limit, the others are disturbed by what they see."""
        others = v_cells != 0
        others[selected] = False
        others = np.flatnonzero(others)
        moving = self._progress_bound(others, v_cells[others], width_s) > FLUSH_PROGRESS
        self._small_bias(others[~moving], v_cells[others[~moving]], width_s)
        index = np.concatenate([selected, others[moving]])
        self._flush(index)
        limits = np.full(index.size, np.inf)
        limits[: selected.size] = limit  # only the selected cells are behind the limiter
        return self._switch(index, v_cells[index], width_s, limits)[: selected.size]

    def _switch(
        self,
        index: np.ndarray | None,
        v: np.ndarray | float,
        width_s: np.ndarray | float,
        limits: np.ndarray | float,
        *,
        record: bool = True,
        programming: bool = True,
    ) -> np.ndarray:
        """Full switching physics for the cells at flat ``index`` (None: every cell, in
        order); ``v``, ``width_s`` and ``limits`` are scalars or per selected cell.
        Returns the cells' currents (A) at the end of the bias."""
        c, p = self.cells, self.params
        pop = self.population.take(index) if index is not None else self.population.flat()
        g_old = gather(c.g_S, index)
        stuck_old = gather(c.stuck, index)
        cycles_old = gather(c.cycles, index)
        movable = stuck_old == NOT_STUCK
        floor, ceiling = wear.worn_window(
            pop.g_floor_S, pop.g_ceiling_S, cycles_old, pop.endurance_cycles, p
        )
        result = cell.apply_bias(
            g_S=g_old,
            formed=gather(c.formed, index),
            form_progress=gather(c.form_progress, index),
            movable=movable,
            formable=pop.defect == HEALTHY,
            v_form_V=pop.v_form_V,
            v_set_V=pop.v_set_V,
            v_reset_V=pop.v_reset_V,
            rate=pop.rate,
            g_floor_S=floor,
            g_ceiling_S=ceiling,
            v_V=v,
            width_s=width_s,
            i_limit_A=limits,
            p=p,
            rng=self.rng,
        )
        cycles = cycles_old + wear.cycles_from_switching(
            result.switched_ln, pop.g_floor_S, pop.g_ceiling_S
        )
        stuck = stuck_old.copy()
        worn_out = np.flatnonzero(movable & result.formed & (cycles >= pop.endurance_cycles))
        if worn_out.size:
            midpoint = np.sqrt(pop.g_floor_S[worn_out] * pop.g_ceiling_S[worn_out])
            stuck[worn_out] = np.where(result.g_S[worn_out] > midpoint, STUCK_HIGH, STUCK_LOW)
        g_new = result.g_S
        currents = result.i_cell_A
        if result.broke_down.any():
            stuck[result.broke_down] = STUCK_HIGH
            g_new = np.where(result.broke_down, p.g_breakdown_S, g_new)
            currents = np.where(
                result.broke_down, cell.cell_current(g_new, result.v_cell_V, p), currents
            )
        restart = programming & (result.switched_ln > PROGRAMMING_EVENT_LN)
        ages = np.where(restart, 0.0, gather(c.age_s, index))
        scatter(c.g_S, index, g_new)
        scatter(c.formed, index, result.formed)
        scatter(c.form_progress, index, result.form_progress)
        scatter(c.cycles, index, cycles)
        scatter(c.stuck, index, stuck)
        scatter(c.age_s, index, ages)
        if record:
            self._record(index, result.v_cell_V, currents)
        self._noise_var = None
        return currents
