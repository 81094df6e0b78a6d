"""Ideal-lines backend: every line is one node, solved exactly by dense Cholesky.

With both wire resistances 0 the side with fewer unknown lines is the primary side;
the other side's equations are diagonal, so they are eliminated and the primary side's
Schur complement (at most min(R, C) square) is Cholesky-factored once per floating
pattern and reused for every right-hand side. Lines held by ideal sources are known
values and drop out.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from rramlab.sim.nodal_geometry import _Config, _PrimarySide


class _DenseIdealLines(_PrimarySide):
    """Ideal lines: eliminate the diagonal side, Cholesky the other side's Schur complement."""

    def __init__(self, cfg: _Config):
        free_r, free_c = cfg.free_r[:, 0], cfg.free_c[:, 0]
        self.rows_primary = free_r.sum() <= free_c.sum()
        if self.rows_primary:
            self.d_p, self.d_e, free_p, coupling = (
                cfg.diag_r[:, 0],
                cfg.diag_c[:, 0],
                free_r,
                cfg.g_eff,
            )
        else:
            self.d_p, self.d_e, free_p, coupling = (
                cfg.diag_c[:, 0],
                cfg.diag_r[:, 0],
                free_c,
                cfg.g_eff_t,
            )
        self.coupling = coupling  # (L_p, L_e), zero wherever either line is held
        self.unknown = np.nonzero(free_p)[0]
        self.g_u = coupling[self.unknown]  # (n_u, L_e)
        self.chol = None
        if self.unknown.size:
            schur = np.diag(self.d_p[self.unknown]) - (self.g_u / self.d_e) @ self.g_u.T
            self.chol = cho_factor(schur)

    def _solve_primary(
        self, b_p: np.ndarray, b_e: np.ndarray, guess_p: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, int, float]:
        b_p, b_e = b_p[:, :, 0], b_e[:, :, 0]
        x_p = b_p.copy()
        if self.chol is not None:
            rhs = b_p[:, self.unknown] + (b_e / self.d_e) @ self.g_u.T
            x_p[:, self.unknown] = cho_solve(self.chol, rhs.T).T
        x_e = (b_e + x_p @ self.coupling) / self.d_e
        return x_p[:, :, None], x_e[:, :, None], 0, 0.0
