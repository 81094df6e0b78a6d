"""Fixed-point conversion and 3-bit slicing of matrices and input vectors.

A matrix becomes ``S`` slices of 3-bit digits (0..7, one conductance level each, the
lowest level standing for 0; Zuo et al., Nature Electronics 2025 [PKU25]):

    A_q = scale * 8^-S * (A_int - bias_int),    A_int = sum_k 8^(S-1-k) D_k

so ``A = A0 + 2^-3 A1 + 2^-6 A2 + ...`` up to the scale (24 bits -> 8 slices). ``scale``
is a power of two, so every conversion is exact in float64 and a matrix already on the
grid (entries multiples of ``scale * 8^-S``) is represented without error. Signed
matrices use the bias-column method (``bias_int``: every entry raised by ``m``, the
product corrected with ``m (1^T x)``, computed digitally and exactly) or differential
pairs (``A = P - N``, two stacks of slices, ``kind="differential"``).

Input vectors are signed fixed-point integers ``q`` (``x_q = scale * q``, scale a power
of two, ``|q| < 2^bits``) cut into bit planes ``t_p`` with entries in {-1, 0, 1}
(``x = x+ - x-``; the two never overlap at one position, so a bipolar DAC drives both
in one plane): ``q = sum_p 2^p t_p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DIGIT_BITS = 3
LEVELS = 2**DIGIT_BITS  # conductance levels per cell: 0..7
SIGNED_METHODS = ("bias", "differential")


def slices_for(bits: int) -> int:
    """Number of 3-bit slices that hold ``bits`` bits (24 -> 8)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"bits must be a positive integer, got {bits!r}")
    return math.ceil(bits / DIGIT_BITS)


def _power_of_two_above(value: float) -> float:
    """Smallest power of two strictly greater than ``value`` (> 0); 1 for 0."""
    if value <= 0:
        return 1.0
    return 2.0 ** (math.floor(math.log2(value)) + 1)


@dataclass(frozen=True)
class SlicedMatrix:
    """A matrix as stacked 3-bit digit slices (see the module docs).

    ``digits``: (n_stack, n_out, n_in) uint8, most significant slice first; for
    ``kind="differential"`` the first ``n_slices`` are P and the rest N."""

    digits: np.ndarray
    n_slices: int
    scale: float  # matrix units of one full top-slice range (a power of two)
    bias_int: int  # subtracted from every entry of A_int (bias method; 0 otherwise)
    kind: str

    @property
    def shape(self) -> tuple[int, int]:
        return self.digits.shape[1], self.digits.shape[2]

    @property
    def weights(self) -> np.ndarray:
        """Integer weight of each stacked slice in ``A_int`` (negative for N)."""
        w = np.array([LEVELS ** (self.n_slices - 1 - k) for k in range(self.n_slices)], np.int64)
        return np.concatenate([w, -w]) if self.kind == "differential" else w

    @property
    def unit(self) -> float:
        """Matrix value of one integer step of ``A_int``: ``scale * 8^-S`` (exact)."""
        return self.scale * float(LEVELS) ** -self.n_slices

    def integer(self) -> np.ndarray:
        """``A_int - bias_int`` (int64): the represented matrix in integer steps."""
        total = np.tensordot(self.weights, self.digits.astype(np.int64), axes=1)
        return total - self.bias_int

    @property
    def value(self) -> np.ndarray:
        """The represented matrix ``A_q`` (float64, exact)."""
        return self.integer().astype(float) * self.unit


def slice_matrix(a: np.ndarray, bits: int = 24, signed: str = "bias") -> SlicedMatrix:
    """Convert ``a`` (n_out, n_in) to ``bits``-bit fixed point and slice it into 3-bit
    digits. ``signed``: "bias" (one stack; entries raised by m = -min(a) when negative)
    or "differential" (P and N stacks)."""
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError("the matrix must be a non-empty 2-D array of finite numbers")
    if signed not in SIGNED_METHODS:
        raise ValueError(f"signed must be one of {SIGNED_METHODS}, got {signed!r}")
    n_slices = slices_for(bits)
    top = LEVELS**n_slices
    if signed == "differential":
        scale = _power_of_two_above(float(np.max(np.abs(a))))
        pos = np.minimum(np.rint(np.maximum(a, 0.0) / scale * top), top - 1).astype(np.int64)
        neg = np.minimum(np.rint(np.maximum(-a, 0.0) / scale * top), top - 1).astype(np.int64)
        digits = np.concatenate([_digits(pos, n_slices), _digits(neg, n_slices)])
        return SlicedMatrix(digits, n_slices, scale, 0, "differential")
    m = max(0.0, -float(np.min(a)))
    scale = _power_of_two_above(float(np.max(a)) + m)
    while True:
        bias_int = math.ceil(m / scale * top)  # on the grid, and a+ stays >= 0
        raised = np.rint(a / scale * top).astype(np.int64) + bias_int
        if raised.max() < top:
            break
        scale *= 2.0  # rounding the bias up pushed the top entry over the range
    digits = _digits(np.maximum(raised, 0), n_slices)
    return SlicedMatrix(digits, n_slices, scale, bias_int, "bias")


def _digits(values: np.ndarray, n_slices: int) -> np.ndarray:
    """Base-8 digits of nonnegative integers, most significant first: (S, *shape)."""
    powers = LEVELS ** np.arange(n_slices - 1, -1, -1, dtype=np.int64)
    return ((values[None] // powers[:, None, None]) % LEVELS).astype(np.uint8)


@dataclass(frozen=True)
class SlicedVector:
    """Signed fixed-point vectors ``x_q = scale * sum_p 2^p planes[p]``.

    ``planes``: (bits, n, k) int8 in {-1, 0, 1}, least significant first; ``scale``:
    (k,) powers of two, one per column (block floating point)."""

    planes: np.ndarray
    scale: np.ndarray

    def integer(self) -> np.ndarray:
        """``q`` (n, k) int64."""
        weights = 2 ** np.arange(self.planes.shape[0], dtype=np.int64)
        return np.tensordot(weights, self.planes.astype(np.int64), axes=1)

    @property
    def value(self) -> np.ndarray:
        """``x_q`` (n, k), exact."""
        return self.integer().astype(float) * self.scale


def slice_vector(x: np.ndarray, bits: int = 8) -> SlicedVector:
    """Round ``x`` ((n,) or (n, k), each column with its own power-of-two scale) to
    ``bits`` magnitude bits plus sign and cut it into {-1, 0, 1} bit planes."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError("x must be a finite (n,) or (n, k) array")
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 52:
        raise ValueError(f"bits must be an integer in 1..52, got {bits!r}")
    top = 2**bits - 1
    peak = np.max(np.abs(x), axis=0)
    # The smallest power of two that puts the largest entry at most at ``top``: no
    # entry rounds past the range, so every one is within half a step.
    scale = np.array([2.0 ** math.ceil(math.log2(p / top)) if p > 0 else 1.0 for p in peak])
    q = np.rint(x / scale).astype(np.int64)
    magnitude, sign = np.abs(q), np.sign(q).astype(np.int8)
    planes = np.stack([((magnitude >> p) & 1).astype(np.int8) * sign for p in range(bits)])
    return SlicedVector(planes, scale)
