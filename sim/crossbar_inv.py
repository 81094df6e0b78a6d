"""The crossbar's closed-loop matrix-inversion (INV) operation: input currents (A)
into a square block's rows, settled op-amp outputs (V) on its columns, with optional
feedback conductance (S), parallel column copies and differential (negated) columns.
Mixed into :class:`rramlab.sim.crossbar.Crossbar`."""

from __future__ import annotations

import numpy as np

from rramlab.sim import cell
from rramlab.sim import crossbar_checks as check
from rramlab.sim.crossbar_read import DEFAULT_READ_WIDTH_S
from rramlab.sim.inv_circuit import InvResult, solve_inv, with_feedback
from rramlab.sim.inv_columns import (
    check_wiring,
    column_voltages,
    differential_columns,
    parallel_copies,
)
from rramlab.sim.nodal import NodalSolver
from rramlab.sim.selection import Lines, Selection, select


class InvMixin:
    """The INV circuit (uses ``cells``, ``params``, ``opamp_offset_V``, the read mixin's
    noisy conductances, the wires mixin and the stress mixin)."""

    def inv(
        self,
        i_in_A: np.ndarray,
        *,
        rows: Lines = None,
        cols: Lines = None,
        width_s: float = DEFAULT_READ_WIDTH_S,
        feedback_S: float = 0.0,
        copies: int = 1,
        differential: bool = False,
    ) -> InvResult:
        """Run the closed-loop INV circuit on the square block ``rows`` x ``cols``:
        inject ``i_in_A`` (A, shape (N,) or (N, B)) into the rows and return the settled
        op-amp outputs (volts on the columns), which solve ``G V = -I``. Other rows are
        grounded (word lines off in 1T1R), other columns held at 0 V. ``feedback_S``
        (S, >= 0) puts a resistor from each op-amp's output to its inverting input, so
        the outputs solve ``(G + feedback_S I) V = -I``. ``copies`` (k >= 1): ``cols``
        holds k n columns and op-amp ``j`` drives columns ``j, n + j, ..., (k-1) n + j``
        (its output switched onto k column lines), so each entry of ``G`` is k cells in
        parallel, ``G = G_0 + ... + G_{k-1}``. ``differential``: each output ``V_j`` also
        drives, through an ideal unity-gain inverter, a second set of k n columns with
        ``-V_j``; ``cols`` holds 2 k n columns, the k positive copies first, then the
        negative ones in the same order (op-amp ``j`` on ``k n + c n + j``), and the
        outputs solve ``(G+ - G- + feedback_S I) V = -I`` (signed matrices from
        differential pairs, Sun et al. PNAS 2019).

        Raises :class:`rramlab.errors.InstabilityError` when the programmed block cannot
        be inverted by the loop; outputs that hit the clamp are flagged ``saturated``.
        The settled voltages bias the block's cells for ``width_s`` seconds.
        """
        sel = select(self.shape, rows, cols)
        n = sel.rows.size
        check_wiring(n, sel.cols.size, copies, differential)
        i_in = np.asarray(i_in_A, dtype=float)
        if i_in.ndim not in (1, 2) or i_in.shape[0] != n:
            raise ValueError(f"i_in_A must have shape ({n},) or ({n}, B), got {i_in.shape}")
        if not np.all(np.isfinite(i_in)):
            raise ValueError("i_in_A holds a NaN or infinite current")
        width = check.positive(width_s, "width_s")
        feedback = check.finite(feedback_S, "feedback_S")
        if feedback < 0:
            raise ValueError(f"feedback_S must be >= 0, got {feedback_S!r}")
        self._prepare()
        p = self.params
        rows_on = self._rows_on(sel)
        g_read = self._noisy_conductance(rows_on)
        if self.has_wires:
            k_rr, k_rc, row_currents = self._inv_network_wires(g_read, sel)
        else:
            k_rr, k_rc, row_currents = self._inv_network_ideal(g_read, sel)
        if differential:
            k_rr, k_rc, row_currents = differential_columns(k_rr, k_rc, row_currents)
        if copies > 1:
            k_rr, k_rc, row_currents = parallel_copies(k_rr, k_rc, row_currents, int(copies))
        k_rr, k_rc, row_currents = with_feedback(k_rr, k_rc, row_currents, feedback)
        result = solve_inv(
            k_rr=k_rr,
            k_rc=k_rc,
            row_currents=row_currents,
            i_in_A=i_in,
            offset_V=self.opamp_offset_V[sel.rows],
            gain=p.opamp_gain,
            clamp_V=p.opamp_clamp_V,
            gbw_Hz=p.opamp_gbw_Hz,
        )
        self._inv_stress(sel, result, width, int(copies), bool(differential))
        return result

    def _inv_stress(
        self, sel: Selection, result: InvResult, width_s: float, copies: int, differential: bool
    ) -> None:
        """The settled INV voltages bias every cell on the op-amps' rows (unselected
        columns are at 0 V, negative columns at -V): record them and add their dose."""
        v_out = result.v_out_V.reshape(sel.rows.size, -1)
        v_out = column_voltages(v_out, copies, differential)
        v_in = result.v_in_V.reshape(sel.rows.size, -1)
        v_cols = np.zeros((self.n_cols, v_out.shape[1]))
        v_cols[sel.cols] = v_out
        index = (sel.rows[:, None] * self.n_cols + np.arange(self.n_cols)[None, :]).ravel()
        for b in range(v_out.shape[1]):
            self._small_bias(index, (v_in[:, b][:, None] - v_cols[:, b][None, :]).ravel(), width_s)
        self._flush(index)

    def _inv_network_ideal(self, g: np.ndarray, sel: Selection):
        p = self.params
        g_rows = g[sel.rows]  # (N, C): every cell on the op-amps' rows
        g_lin = self._linear_part(g_rows)
        k_rr = np.diag(g_lin.sum(axis=1))
        k_rc = -g_lin[:, sel.cols]
        unselected = np.ones(self.n_cols, dtype=bool)
        unselected[sel.cols] = False
        g_block, g_other = g_rows[:, sel.cols], g_rows[:, unselected].sum(axis=1)

        def row_currents(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
            dv = v_rows[:, None, :] - v_cols[None, :, :]  # (N, N, B)
            to_block = np.einsum("ij,ijb->ib", g_block, cell.iv_shape(dv, p))
            return to_block + g_other[:, None] * cell.iv_shape(v_rows, p)

        return k_rr, k_rc, row_currents

    def _inv_network_wires(self, g: np.ndarray, sel: Selection):
        n, m = sel.rows.size, sel.cols.size  # m = n, or k n for parallel copies
        v_rows = np.zeros((self.n_rows, n + m))
        v_cols = np.zeros((self.n_cols, n + m))
        v_rows[sel.rows, :n] = np.eye(n)
        v_cols[sel.cols, n:] = np.eye(m)
        solver = NodalSolver(self._network(self._linear_part(g)))
        unit = solver.solve(v_rows, v_cols).i_row_terminal_A[sel.rows]
        k_rr, k_rc = unit[:, :n], unit[:, n:]

        def row_currents(vr: np.ndarray, vc: np.ndarray) -> np.ndarray:
            rows_v = np.zeros((self.n_rows, vr.shape[1]))
            cols_v = np.zeros((self.n_cols, vc.shape[1]))
            rows_v[sel.rows], cols_v[sel.cols] = vr, vc
            return self._solve(g, rows_v, cols_v).i_row_terminal_A[sel.rows]

        return k_rr, k_rc, row_currents
