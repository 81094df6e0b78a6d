"""Square QAM with Gray mapping and unit average energy (4, 16, 64, 256-QAM).

Each symbol carries ``log2 M`` bits: the first half pick the in-phase level, the
second half the quadrature level, each through a Gray code over ``sqrt(M)`` PAM levels
``-(L-1), ..., -1, 1, ..., L-1``, so neighbouring levels differ in one bit. The
constellation is scaled by ``sqrt(2 (M - 1) / 3)`` to unit average energy.
"""

from __future__ import annotations

import math

import numpy as np

ORDERS = (4, 16, 64, 256)


def bits_per_symbol(order: int) -> int:
    if order not in ORDERS:
        raise ValueError(f"QAM order must be one of {ORDERS}, got {order!r}")
    return int(math.log2(order))


def _levels(order: int) -> tuple[np.ndarray, np.ndarray, float]:
    """PAM levels by Gray label (index = the label's value), their level index, and
    the energy normalisation."""
    side = math.isqrt(order)
    index = np.arange(side)
    gray = index ^ (index >> 1)  # Gray label of the level at position index
    by_label = np.empty(side, dtype=int)
    by_label[gray] = index
    pam = 2.0 * by_label - (side - 1)
    return pam, gray, math.sqrt(2.0 * (order - 1) / 3.0)


def modulate(bits: np.ndarray, order: int) -> np.ndarray:
    """Symbols (complex, unit average energy) for ``bits`` of shape (..., log2 M)."""
    k = bits_per_symbol(order)
    bits = np.asarray(bits, dtype=np.int64)
    if bits.shape[-1] != k or np.any((bits != 0) & (bits != 1)):
        raise ValueError(f"bits must be 0/1 with a last axis of {k} for {order}-QAM")
    half = k // 2
    weights = 2 ** np.arange(half - 1, -1, -1)
    pam, _, norm = _levels(order)
    i_label = bits[..., :half] @ weights
    q_label = bits[..., half:] @ weights
    return (pam[i_label] + 1j * pam[q_label]) / norm


def demodulate(symbols: np.ndarray, order: int) -> np.ndarray:
    """Hard decisions: the bits (..., log2 M) of the nearest constellation point."""
    k = bits_per_symbol(order)
    half = k // 2
    side = math.isqrt(order)
    _, gray, norm = _levels(order)
    s = np.asarray(symbols) * norm
    out = []
    for component in (s.real, s.imag):
        position = np.clip(np.rint((component + side - 1) / 2.0), 0, side - 1).astype(int)
        label = gray[position]
        out.append((label[..., None] >> np.arange(half - 1, -1, -1)) & 1)
    return np.concatenate(out, axis=-1)
