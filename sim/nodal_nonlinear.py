"""The outer fixed-point loop that adds nonlinear cell current to a linear backend.

A network with nonlinear cells, ``A v + E(v) = b``, is solved by iterating the linear
solve ``A v' = b - E(v)`` (the map Phi), reusing the backend's factorisation and
warm-starting from the current iterate. For a monotonic excess current Phi has a real,
non-positive spectrum, so the plain iteration oscillates; each batch vector's step is
relaxed by Aitken's secant factor, and steps that overflow or grow the fixed-point
residual too much are retried shorter. Also evaluates the excess current on the cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rramlab.errors import ConvergenceError
from rramlab.sim.nodal_geometry import (
    _batched_dot,
    _cell_voltages,
    _Config,
    _gather_to_cols,
    _gather_to_rows,
    _Geometry,
    _LinearResult,
)
from rramlab.sim.nodal_terminals import _Rhs
from rramlab.sim.nodal_types import ExcessCurrent

# Nonlinear loop: bounds of the relaxation factor, the largest growth of the fixed-point
# residual a step may cause before it is rejected, and the excess current treated as an
# overflow (large enough for no physical array, small enough that squares stay finite).
_RELAX_MIN, _RELAX_MAX = 1e-6, 2.0
_MAX_RESIDUAL_GROWTH = 2.0
_EXCESS_OVERFLOW_A = 1e100


def _solve_nonlinear(
    geom: _Geometry,
    cfg: _Config,
    backend: Any,
    rhs: _Rhs,
    linear: _LinearResult,
    excess_fn: ExcessCurrent,
    *,
    nonlinear_rtol: float,
    max_nonlinear_iterations: int,
) -> tuple[_LinearResult, int]:
    """Relaxed fixed point ``x <- x + w (Phi(x) - x)``, ``A Phi(x) = b - E(x)``.

    Phi reuses the linear factorisation and is warm-started from x. The map's
    spectrum is real and <= 0 for a monotonic excess, so the plain iteration
    (w = 1) oscillates and stalls or diverges once cells are strongly nonlinear.
    Each batch vector's w follows Aitken's secant rule, which damps exactly that
    mode; a step that overflows or more than doubles the fixed-point residual is
    rejected and retried with w / 4.
    """
    iterations = linear.iterations
    x_r, x_c = linear.x_r, linear.x_c
    new, finite = _fixed_point_map(geom, cfg, backend, rhs, x_r, x_c, excess_fn)
    iterations += new.iterations
    if not finite.all():
        raise ConvergenceError(
            "cell_excess_current overflows at the linear solution; the nonlinear "
            "network cannot be solved from there"
        )
    d_r, d_c = new.x_r - x_r, new.x_c - x_c
    size = _step_size(d_r, d_c)
    relax = np.ones(size.shape)
    for outer in range(1, max_nonlinear_iterations + 1):
        if np.all(size <= nonlinear_rtol * _step_size(new.x_r, new.x_c)):
            return new._replace(iterations=iterations), outer
        w = relax[:, None, None]
        try_r, try_c = x_r + w * d_r, x_c + w * d_c
        cand, finite = _fixed_point_map(geom, cfg, backend, rhs, try_r, try_c, excess_fn)
        iterations += cand.iterations
        with np.errstate(invalid="ignore", over="ignore"):
            dt_r, dt_c = cand.x_r - try_r, cand.x_c - try_c
            size_try = _step_size(dt_r, dt_c)
            good = finite & (size_try <= _MAX_RESIDUAL_GROWTH * size)
            relax = np.where(good, _aitken_relaxation(relax, (d_r, d_c), (dt_r, dt_c)), relax / 4.0)
        relax = np.clip(relax, _RELAX_MIN, _RELAX_MAX)
        keep = good[:, None, None]
        x_r, x_c = np.where(keep, try_r, x_r), np.where(keep, try_c, x_c)
        d_r, d_c = np.where(keep, dt_r, d_r), np.where(keep, dt_c, d_c)
        size = np.where(good, size_try, size)
        new = new._replace(
            x_r=np.where(keep, cand.x_r, new.x_r),
            x_c=np.where(keep, cand.x_c, new.x_c),
            relative_residual=max(new.relative_residual, cand.relative_residual),
        )
    raise ConvergenceError(
        f"nonlinear network did not converge after {max_nonlinear_iterations} "
        f"fixed-point iterations: voltage step {size.max():.3e} V > nonlinear_rtol "
        f"{nonlinear_rtol:.1e} x largest node voltage"
    )


def _fixed_point_map(
    geom: _Geometry, cfg: _Config, backend: Any, rhs: _Rhs, x_r, x_c, excess_fn: ExcessCurrent
) -> tuple[_LinearResult, np.ndarray]:
    """Phi(x): the linear network with the excess current at x injected, and a (B,)
    mask of batch vectors whose excess current is finite (others get 0 injected)."""
    excess = _excess_cells(geom, x_r, x_c, excess_fn)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.all(np.abs(excess) <= _EXCESS_OVERFLOW_A, axis=(1, 2))
    excess[~finite] = 0.0
    b_r = rhs.b_r - np.where(cfg.free_r, _gather_to_rows(excess, geom.rows.n_nodes), 0.0)
    b_c = rhs.b_c + np.where(cfg.free_c, _gather_to_cols(excess, geom.cols.n_nodes), 0.0)
    warm_r = np.where(finite[:, None, None], x_r, 0.0)
    warm_c = np.where(finite[:, None, None], x_c, 0.0)
    return backend.solve(b_r, b_c, warm_r, warm_c), finite


def _step_size(v_r: np.ndarray, v_c: np.ndarray) -> np.ndarray:
    """(B,) largest magnitude over row and column nodes (NaN and inf propagate)."""
    return np.maximum(np.abs(v_r).max(axis=(1, 2)), np.abs(v_c).max(axis=(1, 2)))


def _aitken_relaxation(
    relax: np.ndarray,
    previous: tuple[np.ndarray, np.ndarray],
    current: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Aitken's dynamic relaxation factor per batch vector, shape (B,).

    ``previous``/``current`` are the fixed-point residuals (row part, column part) of
    the last two iterates: ``w_new = -w * d_old . (d_new - d_old) / |d_new - d_old|^2``.
    """
    batch = relax.shape[0]
    num = np.zeros(batch)
    den = np.zeros(batch)
    for d_old, d_new in zip(previous, current, strict=True):
        diff = (d_new - d_old).reshape(batch, -1)
        num += _batched_dot(d_old.reshape(batch, -1), diff)
        den += _batched_dot(diff, diff)
    factor = np.divide(-num, den, out=np.ones_like(num), where=den > 0)
    return relax * factor


def _excess_cells(
    geom: _Geometry, x_r: np.ndarray, x_c: np.ndarray, excess_fn: ExcessCurrent
) -> np.ndarray:
    """(B, R, C) excess cell current at the given node voltages; 0 on open cells."""
    dv = _cell_voltages(x_r, x_c)
    dv = np.broadcast_to(dv, (dv.shape[0], *geom.g.shape))
    out = np.asarray(excess_fn(np.moveaxis(dv, 0, -1).copy()), dtype=float)
    want = (*geom.g.shape, dv.shape[0])
    if out.shape != want:
        raise ValueError(f"cell_excess_current must return shape {want}, got {out.shape}")
    return np.where(geom.g > 0, np.moveaxis(out, -1, 0), 0.0)
