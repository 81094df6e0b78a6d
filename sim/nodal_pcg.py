"""Resistive-lines backend: Schur-complement PCG preconditioned by exact line solves.

The side with fewer nodes is the PCG unknown; the other side is eliminated exactly by
one batched tridiagonal solve per operator application (``S = T_p - G T_e^-1 G^T``), and
the preconditioner is the primary side's own line solve ``T_p^-1``. The batched PCG
(:func:`_pcg`) runs every batch vector as its own system, measures convergence in the
preconditioner's norm and confirms it on the true residual. Line factorisations are
made once per floating pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from rramlab.errors import ConvergenceError
from rramlab.sim.nodal_geometry import (
    _batched_dot,
    _Config,
    _couple_to_cols,
    _couple_to_rows,
    _Geometry,
    _PrimarySide,
)
from rramlab.sim.tridiagonal import SymmetricTridiagonal


class _SchurPcg(_PrimarySide):
    """Resistive lines: PCG on the Schur complement of one side, line-solve preconditioned.

    The side with fewer nodes is the PCG unknown ("primary", p); the other side (e) is
    eliminated exactly by its tridiagonal solve in every operator application:
    ``S = T_p - W`` with ``W = G T_e^-1 G^T`` and the preconditioner ``M = T_p``.
    """

    def __init__(self, geom: _Geometry, cfg: _Config, rtol: float, max_iterations: int):
        self.rtol = rtol
        self.max_iterations = max_iterations
        self.rows_primary = geom.rows.size <= geom.cols.size
        tri_r = SymmetricTridiagonal.from_lines(cfg.diag_r, cfg.off_r)
        tri_c = SymmetricTridiagonal.from_lines(cfg.diag_c, cfg.off_c)
        self.tri_p, self.tri_e = (tri_r, tri_c) if self.rows_primary else (tri_c, tri_r)
        self.free_p = (cfg.free_r if self.rows_primary else cfg.free_c).reshape(-1)
        self.cfg = cfg
        self.geom = geom

    def _to_primary(self, x_e: np.ndarray) -> np.ndarray:
        """G x_e: currents into primary nodes from eliminated-side voltages."""
        cfg, geom = self.cfg, self.geom
        if self.rows_primary:
            return _couple_to_rows(cfg.g_eff, x_e, geom.rows.n_nodes)
        return _couple_to_cols(cfg.g_eff, cfg.g_eff_t, x_e, geom.cols.n_nodes)

    def _to_eliminated(self, x_p: np.ndarray) -> np.ndarray:
        """G^T x_p: currents into eliminated nodes from primary voltages."""
        cfg, geom = self.cfg, self.geom
        if self.rows_primary:
            return _couple_to_cols(cfg.g_eff, cfg.g_eff_t, x_p, geom.cols.n_nodes)
        return _couple_to_rows(cfg.g_eff, x_p, geom.rows.n_nodes)

    def _solve_primary(
        self, b_p: np.ndarray, b_e: np.ndarray, guess_p: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, int, float]:
        batch, shape_p, shape_e = b_p.shape[0], b_p.shape, b_e.shape
        last: list[np.ndarray] = []  # [x, T_e^-1 G^T x] of the latest apply_w call

        def solve_e(rhs: np.ndarray) -> np.ndarray:
            return self.tri_e.solve(rhs.reshape(batch, -1), overwrite_b=True).reshape(shape_e)

        def apply_w(x: np.ndarray) -> np.ndarray:
            y_e = solve_e(self._to_eliminated(x.reshape(shape_p)))
            last[:] = [x, y_e]
            return self._to_primary(y_e).reshape(batch, -1)

        w_e = solve_e(b_e.copy())
        b_red = b_p.reshape(batch, -1) + self._to_primary(w_e).reshape(batch, -1)
        x0 = None if guess_p is None else guess_p.reshape(batch, -1)
        x_p, iterations, residual = _pcg(
            _SplitOperator(self.tri_p.solve, self.tri_p.matvec, apply_w),
            b_red,
            x0,
            self.free_p,
            self.rtol,
            self.max_iterations,
        )
        if last and last[0] is x_p:
            x_e = w_e + last[1]  # T_e^-1 (b_e + G^T x_p) without another solve
        else:
            x_e = solve_e(b_e + self._to_eliminated(x_p.reshape(shape_p)))
        return x_p.reshape(shape_p), x_e, iterations, residual


# --------------------------------------------------------------------------- PCG


class _SplitOperator(NamedTuple):
    """An SPD operator ``S = M - W`` whose preconditioner ``M`` is cheap to solve with."""

    solve_m: Callable[[np.ndarray], np.ndarray]  # M^-1 r
    matvec_m: Callable[[np.ndarray], np.ndarray]  # M x
    apply_w: Callable[[np.ndarray], np.ndarray]  # W x


def _pcg(
    op: _SplitOperator,
    b: np.ndarray,
    x0: np.ndarray | None,
    free: np.ndarray,
    rtol: float,
    max_iterations: int,
) -> tuple[np.ndarray, int, float]:
    """Batched PCG for ``(M - W) x = b`` preconditioned by M; each batch row is a system.

    Args:
        op: the split operator. M and W must act as identity and zero on held entries.
        b: (B, N) right-hand side; on held entries (``~free``) the held values.
        x0: (B, N) starting guess, or None to start from 0 on the unknown entries.
        free: (N,) bool, unknown entries.

    Returns:
        (x, iterations, relative residual). The last ``op.apply_w`` call, if any was made
        after the last update of x, is on the returned array itself, so callers may reuse
        its by-products.

    Convergence is measured in the preconditioner's norm, sqrt(r . M^-1 r) relative to
    sqrt(b . M^-1 b). With exact line solves as M this is close to the energy norm of
    the error, so it weighs the stiff wire equations (amperes per microvolt) and the
    soft cell equations alike; the plain 2-norm is dominated by the wire equations and
    let row-voltage errors of ~1e-9 V through at rtol 1e-12.

    Since p = z + beta p_old and z = M^-1 r, ``M p`` follows the recursion
    ``M p = r + beta M p_old``, which saves the M matvec of every step. Recursions drift
    from the truth near machine precision, so convergence is confirmed on the true
    residual and CG restarts from it if needed; a restart that does not halve the true
    residual means the attainable accuracy is reached.
    """
    b_free = np.where(free, b, 0.0)
    if x0 is None:
        x = b - b_free  # held values, 0 elsewhere
        r = b_free
        z = op.solve_m(r)
        rz = _batched_dot(r, z)
        b_norm = np.sqrt(np.maximum(rz, 0.0))
    else:
        x = np.where(free, x0, b)
        b_norm = np.sqrt(np.maximum(_batched_dot(b_free, op.solve_m(b_free)), 0.0))
        r, z, rz = _true_residual(op, b, x, free)
    # A zero right-hand side has the exact solution 0 on the unknown nodes.
    zero = b_norm == 0
    if np.any(zero) and x0 is not None:
        x[zero] = np.where(free, 0.0, b[zero])
        r, z, rz = _true_residual(op, b, x, free)
    scale = np.where(zero, 1.0, b_norm)
    iterations, previous = 0, np.inf
    while True:
        relative = float((np.sqrt(np.maximum(rz, 0.0)) / scale).max())
        if relative <= rtol:
            return x, iterations, relative
        if not np.isfinite(relative):
            raise ConvergenceError(f"nodal PCG diverged to a non-finite residual ({relative})")
        if iterations >= max_iterations or relative > 0.5 * previous:
            reason = "did not converge" if iterations >= max_iterations else "stagnated"
            raise ConvergenceError(
                f"nodal PCG {reason} after {iterations} iterations: relative residual "
                f"{relative:.3e} > rtol {rtol:.1e}"
            )
        previous = relative
        steps = _pcg_steps(op, x, r, z, rz, rtol * scale, max_iterations - iterations)
        iterations += steps
        r, z, rz = _true_residual(op, b, x, free)


def _true_residual(
    op: _SplitOperator, b: np.ndarray, x: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.where(free, b - op.matvec_m(x) + op.apply_w(x), 0.0)
    z = op.solve_m(r)
    return r, z, _batched_dot(r, z)


def _pcg_steps(op: _SplitOperator, x, r, z, rz, target, max_steps) -> int:
    """CG steps from residual r (preconditioned z); updates x and r in place."""
    p = z.copy()
    m_p = r.copy()  # M p
    for step in range(1, max_steps + 1):
        q = m_p - op.apply_w(p)
        pq = _batched_dot(p, q)
        alpha = np.divide(rz, pq, out=np.zeros_like(rz), where=pq > 0)[:, None]
        x += alpha * p
        r -= alpha * q
        z = op.solve_m(r)
        rz_new = _batched_dot(r, z)
        if np.all(np.sqrt(np.maximum(rz_new, 0.0)) <= target):
            return step
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)[:, None]
        rz = rz_new
        p *= beta
        p += z
        m_p *= beta
        m_p += r
    return max_steps
