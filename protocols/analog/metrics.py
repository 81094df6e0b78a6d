"""Precision measures of [PKU25]: ``precision = log2(||v*|| / ||v - v*||)`` bits."""

from __future__ import annotations

import numpy as np

MAX_BITS = 64.0  # an exact answer is reported as this many bits, not infinity


def relative_error(v: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``||v - v*|| / ||v*||`` per column ((n,) -> scalar, (n, k) -> (k,))."""
    v, ref = np.asarray(v, dtype=float), np.asarray(reference, dtype=float)
    scale = np.linalg.norm(ref, axis=0)
    diff = np.linalg.norm(v - ref, axis=0)
    return np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)


def precision_bits(v: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``log2(||v*|| / ||v - v*||)`` per column, capped at :data:`MAX_BITS`."""
    err = relative_error(v, reference)
    with np.errstate(divide="ignore"):
        return np.minimum(-np.log2(err), MAX_BITS)
