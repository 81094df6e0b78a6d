"""Test problems: random linear systems of a given size and condition number."""

from __future__ import annotations

import numpy as np


def random_problem(
    n: int, kappa: float = 8.0, *, seed: int = 0, grid_bits: int | None = 20, skew: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)``: ``A`` (n x n) with a positive definite symmetric part (the class the
    INV circuit's loop can invert: Q diag(geomspace(1, kappa)) Q^T with Haar-random Q,
    plus ``skew`` times a random antisymmetric matrix of the same norm, which keeps the
    symmetric part), scaled so max|a_ij| = 1, and ``b`` standard normal.

    ``grid_bits``: round ``A`` to multiples of 2^-grid_bits, so the 24-bit fixed point
    of HP-MVM holds it exactly and the double-precision reference is the answer to the
    very problem the hardware solves (None: no rounding). The condition number is
    ``kappa`` to within the rounding (exactly so for ``skew=0``, before rounding)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not kappa >= 1:
        raise ValueError(f"kappa must be >= 1, got {kappa!r}")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))  # Haar-distributed
    a = q @ np.diag(np.geomspace(1.0, kappa, n)) @ q.T
    if skew:
        k = rng.standard_normal((n, n))
        k = k - k.T
        a = a + skew * np.linalg.norm(a, 2) / np.linalg.norm(k, 2) * k
    a = a / np.max(np.abs(a))
    if grid_bits is not None:
        a = np.rint(a * 2.0**grid_bits) / 2.0**grid_bits
    return a, rng.standard_normal(n)
