"""Reading the crossbar: cell currents (A) and apparent conductances (S) row by row,
and analog matrix-vector multiplication (row voltages in V, column currents in A), with
read noise and the stress each leaves on the cells. Mixed into
:class:`rramlab.sim.crossbar.Crossbar`."""

from __future__ import annotations

import numpy as np

from rramlab.sim import cell
from rramlab.sim import crossbar_checks as check
from rramlab.sim.biasing import check_scheme, line_bias
from rramlab.sim.crossbar_arrays import block, row_groups, set_block
from rramlab.sim.crossbar_checks import MAX_ABS_VOLTAGE_V
from rramlab.sim.crossbar_stress import DOSE_REF_V, FLUSH_PROGRESS
from rramlab.sim.selection import Lines, Selection, select

DEFAULT_READ_WIDTH_S = 1e-6  # [REFERENCE 5] ~0.2 V, ~1 us reads


class ReadMixin:
    """Reads and MVM (uses ``cells``, ``params``, ``rng``, the wires mixin for the
    network and the stress mixin for disturb and record)."""

    def read(
        self,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        v_read_V: float | None = None,
        width_s: float = DEFAULT_READ_WIDTH_S,
        scheme: str = "ground",
    ) -> np.ndarray:
        """Read the selected cells row by row at ``v_read_V`` (default
        ``params.v_read_ref_V``) for ``width_s`` seconds; returns the current (A) each
        selected cell's column carries, shaped like the selection.

        In a passive array the current includes whatever the biasing ``scheme`` lets
        other cells add to the sensed column (sneak paths), as a real read would. Every
        read nudges the cells it biases a little (read disturb).
        """
        v = self.params.v_read_ref_V if v_read_V is None else check.voltage(v_read_V, "v_read_V")
        if v == 0:
            raise ValueError("v_read_V must not be 0 V (nothing would flow)")
        width = check.positive(width_s, "width_s")
        check_scheme(scheme)
        sel = select(self.shape, rows, cols, mask)
        self._prepare()
        if self._isolated_cells:
            # Row by row with only that row's transistors on: each sensed column carries
            # exactly its selected cell's current.
            self._small_bias(sel.flat, np.full(sel.size, v), width)
            self._flush(sel.flat)
            g = self.cells.g_S.ravel()[sel.flat]
            noise = cell.read_noise_sigma(g, self.params) * self.rng.standard_normal(g.shape)
            g_read = np.maximum(g + noise, 0.0)  # a fluctuating conductance stays >= 0
            return cell.cell_current(g_read, v, self.params).reshape(sel.out_shape)
        currents = np.empty(sel.size)
        start = 0
        for group in row_groups(sel, one_shot=False):
            bias = line_bias(group.row_mask(), group.col_mask(), v, self.access, scheme)
            v_cells = self._cell_voltages(bias)
            biased = np.flatnonzero(v_cells)
            self._small_bias(biased, v_cells[biased], width)
            self._flush(biased)
            g_read = self._noisy_conductance(bias.rows_on)
            solution = self._solve(g_read, bias.v_rows_V, bias.v_cols_V)
            currents[start : start + group.size] = solution.i_col_terminal_A[group.cols, 0]
            start += group.size
        return currents.reshape(sel.out_shape)

    def read_conductance(
        self,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        v_read_V: float | None = None,
        width_s: float = DEFAULT_READ_WIDTH_S,
        scheme: str = "ground",
    ) -> np.ndarray:
        """:meth:`read` divided by the read voltage: apparent conductance (S)."""
        v = self.params.v_read_ref_V if v_read_V is None else v_read_V
        currents = self.read(
            rows=rows, cols=cols, mask=mask, v_read_V=v_read_V, width_s=width_s, scheme=scheme
        )
        return currents / v

    def mvm(
        self,
        v_in_V: np.ndarray,
        *,
        rows: Lines = None,
        cols: Lines = None,
        noise: bool = True,
        width_s: float = DEFAULT_READ_WIDTH_S,
    ) -> np.ndarray:
        """Analog matrix-vector multiplication: drive the selected rows with ``v_in_V``
        (volts, shape (R_sel,) or (B, R_sel) for a batch), hold every column at virtual
        ground, and return the selected columns' currents (A), shape (C_sel,) or
        (B, C_sel). Unselected rows are grounded (their word lines off in 1T1R). Each
        vector biases the cells for ``width_s`` seconds.

        With ideal wires this is ``shape(V) @ G`` plus read noise (drawn at the output
        with exactly the distribution that independent per-cell conductance fluctuations
        give); with wire resistance it is the nodal solution of the whole network.
        """
        sel = select(self.shape, rows, cols)
        v_in = np.asarray(v_in_V, dtype=float)
        single = v_in.ndim == 1
        v_in = np.atleast_2d(v_in)
        if v_in.ndim != 2 or v_in.shape[1] != sel.rows.size:
            raise ValueError(
                f"v_in_V must have shape ({sel.rows.size},) or (B, {sel.rows.size}), "
                f"got {np.shape(v_in_V)}"
            )
        if not np.all(np.isfinite(v_in)):
            raise ValueError("v_in_V holds a NaN or infinite voltage")
        if np.max(np.abs(v_in)) > MAX_ABS_VOLTAGE_V:
            raise ValueError(f"v_in_V exceeds the model's +-{MAX_ABS_VOLTAGE_V} V")
        width = check.positive(width_s, "width_s")
        self._sync()
        self._mvm_stress(sel, v_in, width)
        drive = cell.iv_shape(v_in, self.params)
        if noise and not self.has_wires:
            # Read noise (>= 1%) dwarfs float32 rounding (~1e-7), so the noisy product is
            # computed in float32, together with the variance of the noise.
            g32, var32 = self._float32_views()
            drive32 = drive.astype(np.float32)
            out = drive32 @ block(g32, sel)
            sigma = np.sqrt(np.square(drive32) @ block(var32, sel))
            out += sigma * self.rng.standard_normal(out.shape, dtype=np.float32)
            out = out.astype(float)
        elif not self.has_wires:
            out = drive @ block(self.cells.g_S, sel)
        else:
            v_rows = np.zeros((self.n_rows, v_in.shape[0]))
            v_rows[sel.rows] = v_in.T
            rows_on = self._rows_on(sel)
            solution = self._solve(
                self.cells.g_S * rows_on[:, None], v_rows, np.zeros((self.n_cols, v_in.shape[0]))
            )
            out = solution.i_col_terminal_A[sel.cols].T
            if noise:
                var = block(self._float32_views()[1], sel)
                sigma = np.sqrt(np.square(drive, dtype=np.float32) @ var)
                out = out + sigma * self.rng.standard_normal(out.shape, dtype=np.float32)
        return out[0] if single else out

    def _mvm_stress(self, sel: Selection, v_in: np.ndarray, width_s: float) -> None:
        """What an MVM does to the cells: each vector biases every selected cell of row
        i at its input v_i. Kept in the safety record and as read-disturb dose; for
        whole rows (the common case) per row, so an MVM costs O(rows), not O(cells)."""
        magnitude = np.abs(v_in)
        v_peak = magnitude.max(axis=0)  # (R_sel,)
        exponent = (magnitude - DOSE_REF_V) / self.params.v_kinetic_V
        weights = width_s * np.exp(np.minimum(exponent, 700.0))
        negative = v_in < 0
        if negative.any():
            dose_neg = np.where(negative, weights, 0.0).sum(axis=0)
            row_dose = {1.0: weights.sum(axis=0) - dose_neg, -1.0: dose_neg}
        else:
            row_dose = {1.0: weights.sum(axis=0), -1.0: np.zeros(v_peak.size)}
        if sel.cols.size == self.n_cols:
            rows = sel.rows
            self._row_v_peak[rows] = np.maximum(self._row_v_peak[rows], v_peak)
            due = np.zeros(rows.size, dtype=bool)
            for sign, dose in row_dose.items():
                self._row_dose[sign][rows] += dose
                due |= self._row_dose[sign][rows] * self._row_dose_factor[sign][rows] > (
                    FLUSH_PROGRESS
                )
            if due.any():
                self._materialize_rows(rows[due])
                self._flush((rows[due][:, None] * self.n_cols + np.arange(self.n_cols)).ravel())
            return
        c = self.cells
        i_peak = np.abs(cell.iv_shape(v_peak, self.params))[:, None] * block(c.g_S, sel)
        set_block(c.v_max_seen_V, sel, np.maximum(block(c.v_max_seen_V, sel), v_peak[:, None]))
        set_block(c.i_max_seen_A, sel, np.maximum(block(c.i_max_seen_A, sel), i_peak))
        set_block(c.dose_pos_s, sel, block(c.dose_pos_s, sel) + row_dose[1.0][:, None])
        set_block(c.dose_neg_s, sel, block(c.dose_neg_s, sel) + row_dose[-1.0][:, None])
        self._flush(sel.flat)

    def _noisy_conductance(self, rows_on: np.ndarray) -> np.ndarray:
        """One read's conductances (S): every conducting cell with read noise drawn."""
        g = self.cells.g_S
        noise = cell.read_noise_sigma(g, self.params) * self.rng.standard_normal(self.shape)
        return np.where(rows_on[:, None], np.maximum(g + noise, 0.0), 0.0)

    def _float32_views(self) -> tuple[np.ndarray, np.ndarray]:
        """Conductances and read-noise variances in float32, cached until cells change."""
        if self._noise_var is None:
            sigma = cell.read_noise_sigma(self.cells.g_S, self.params)
            self._noise_var = (
                self.cells.g_S.astype(np.float32),
                np.square(sigma).astype(np.float32),
            )
        return self._noise_var
