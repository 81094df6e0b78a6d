"""Mapping signed real matrices onto nonnegative conductance digits.

Conductances are nonnegative, so a signed matrix needs one of (Zuo et al. 2025 [PKU25];
Sun et al., PNAS 2019):

- **bias-column**: ``A = A+ - m J`` with ``A+ = A + m J >= 0`` (J all ones). An MVM
  subtracts ``m (1^T x)`` digitally; an inversion of ``A+`` is corrected by
  Sherman-Morrison (:func:`sherman_morrison`), which is what the augmented bias
  column of the circuit computes;
- **diagonal split**: ``A+ = Ap + n I`` with ``Ap >= 0``: the array holds ``Ap`` and
  ``n I`` is a feedback conductance on each INV op-amp, so the 3-bit levels resolve the
  off-diagonal structure instead of a large diagonal (the 4 x 4 example of [PKU25]
  used m = 0.4, n = 2);
- **differential pairs**: ``A = P - N`` with ``P, N >= 0`` on two sets of columns,
  subtracted after the read.

``quantize_levels`` rounds a nonnegative matrix to the 8 levels (the lowest standing
for 0) with the top entry on level 7.
"""

from __future__ import annotations

import numpy as np

from rramlab.protocols.analog.fixed_point import LEVELS

TOP_LEVEL = LEVELS - 1


def bias_split(a: np.ndarray, *, offdiagonal_only: bool = False) -> tuple[np.ndarray, float]:
    """``(A+, m)`` with ``A+ = A + m J >= 0`` and the smallest such ``m >= 0`` (only over
    the off-diagonal entries when ``offdiagonal_only``: a diagonal split covers the
    diagonal)."""
    a = np.asarray(a, dtype=float)
    values = a[~np.eye(*a.shape, dtype=bool)] if offdiagonal_only else a
    m = max(0.0, -float(values.min())) if values.size else 0.0
    return a + m, m


def diagonal_split(a_plus: np.ndarray) -> tuple[np.ndarray, float]:
    """``(Ap, n)`` with ``A+ = Ap + n I``, ``Ap >= 0`` and the largest such ``n >= 0``
    (the smallest diagonal entry of ``A+``)."""
    a_plus = np.asarray(a_plus, dtype=float)
    n = max(0.0, float(np.min(np.diag(a_plus))))
    return a_plus - n * np.eye(a_plus.shape[0]), n


def differential_split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P, N)``, both >= 0, with ``A = P - N``."""
    a = np.asarray(a, dtype=float)
    return np.maximum(a, 0.0), np.maximum(-a, 0.0)


def sherman_morrison(y: np.ndarray, z: np.ndarray, m: float) -> np.ndarray:
    """Solution of ``(A+ - m J) x = b`` from ``y = A+^-1 b`` ((n,) or (n, k)) and
    ``z = A+^-1 1`` ((n,)): ``x = y + m z (1^T y) / (1 - m 1^T z)``."""
    denominator = 1.0 - m * float(np.sum(z))
    if abs(denominator) < 1e-12:
        raise ZeroDivisionError("1 - m 1^T A+^-1 1 is zero: A+ - m J is singular")
    zz = z if np.ndim(y) == 1 else z[:, None]
    return y + m * zz * (np.sum(y, axis=0) / denominator)


def quantize_levels(a: np.ndarray, full_scale: float | None = None) -> tuple[np.ndarray, float]:
    """``(digits, sigma)``: ``a >= 0`` rounded to levels 0..7 with ``digits ~ sigma * a``;
    ``sigma = 7 / full_scale`` (default: the largest entry sits on level 7)."""
    a = np.asarray(a, dtype=float)
    if np.any(a < -1e-12 * max(1.0, float(np.max(np.abs(a))))):
        raise ValueError("quantize_levels needs a nonnegative matrix")
    top = float(np.max(a)) if full_scale is None else float(full_scale)
    sigma = TOP_LEVEL / top if top > 0 else 1.0
    digits = np.clip(np.rint(sigma * a), 0, TOP_LEVEL).astype(np.uint8)
    return digits, sigma
