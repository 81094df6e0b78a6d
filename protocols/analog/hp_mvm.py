"""HP-MVM: high-precision matrix-vector products from 3-bit analog partial products.

The matrix is sliced into 3-bit digit matrices ``D_k`` (fixed_point.slice_matrix) that
all sit on the engine at once, the input into bit planes ``t_p`` in {-1, 0, 1}. Every
partial product ``D_k t_p`` is an analog MVM whose result must be an exact integer; the
digital side rounds it and combines them by shift-and-add:

    A_q x_q = unit * scale_x * (sum_k sum_p 8^(S-1-k) 2^p round(D_k t_p) - bias (1^T q))

so the product is exact (to float64 rounding) whenever every partial product rounds to
the right integer. Two checksums per slice guard that (algorithm-based fault
tolerance): the rounded products of slice ``k`` must satisfy ``sum_i p_i = (1^T D_k) t``
and ``sum_i (i+1) p_i = (w^T D_k) t``, dot products the host computes once per slice
and plane. Any single wrong rounding breaks the first, any two (their errors of +-1 at
different outputs) the pair. A vector whose checksums fail, or whose products sit
within ``MIN_MARGIN`` of a half-integer (the *rounding margin* ``0.5 - |p - round(p)|``),
is driven again with more repeats, averaged in (that removes noise); if a checksum
still fails (a static error: cells off their levels) the engine refreshes the cells
and measures once more, then :class:`IntegerRecoveryError` is raised rather than a
wrong product returned. The report gives the smallest margin accepted. Inputs
are driven at most ``engine.rows_per_mvm`` rows at a time, which bounds how many
cells' errors add up in one product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.protocols.analog.engine import AnalogEngine
from rramlab.protocols.analog.errors import IntegerRecoveryError
from rramlab.protocols.analog.fixed_point import SlicedVector, slice_matrix, slice_vector

MIN_MARGIN = 0.05  # products closer than this to a half-integer are measured again
RETRY_REPEATS = (2, 4, 8, 16)  # repeats of the extra measurements, averaged in


@dataclass(frozen=True)
class HpMvmReport:
    """How one high-precision product went: bit-level vectors driven, those driven
    again, and the smallest rounding margin among the accepted partial products (0.5
    means exact, as on the exact engine)."""

    vectors: int
    retried: int
    min_margin: float


class HighPrecisionMatrix:
    """A matrix programmed for HP-MVM: ``bits``-bit fixed point in 3-bit slices
    (``signed``: "bias" or "differential"); see the module docs."""

    def __init__(
        self, engine: AnalogEngine, a: np.ndarray, *, bits: int = 24, signed: str = "bias"
    ) -> None:
        self.engine = engine
        self.sliced = slice_matrix(a, bits, signed)
        self.array = engine.program_mvm(self.sliced.digits)
        # Checksums: plain and position-weighted sums of each slice's digits over the
        # outputs, per input: (2, n_stack, n_in).
        digits = self.sliced.digits.astype(np.int64)
        self._weights = np.stack([np.ones(digits.shape[1]), np.arange(1, digits.shape[1] + 1)])
        self._checks = np.einsum("co,soi->csi", self._weights, digits)

    @property
    def matrix(self) -> np.ndarray:
        """``A_q``: the matrix the products are exact for."""
        return self.sliced.value

    @property
    def shape(self) -> tuple[int, int]:
        return self.sliced.shape

    def multiply(self, x: SlicedVector) -> tuple[np.ndarray, HpMvmReport]:
        """``A_q x_q`` ((n_out, k) float64) for fixed-point inputs ``x`` and the report."""
        n_out, n_in = self.shape
        planes = x.planes
        if planes.ndim != 3 or planes.shape[1] != n_in:
            raise ValueError(f"x must have {n_in} rows, got planes of shape {planes.shape}")
        k = planes.shape[2]
        vectors, plane_of, column_of = self._bit_vectors(planes)
        total = np.zeros((n_out, k), dtype=np.int64)
        report = HpMvmReport(0, 0, 0.5)
        if vectors.shape[1]:
            ints, report = self._recover(vectors)
            weighted = np.tensordot(self.sliced.weights, ints, axes=(0, 0))  # (n_out, P)
            weighted = weighted << plane_of[None, :]
            np.add.at(total.T, column_of, weighted.T)
        if self.sliced.bias_int:
            total -= self.sliced.bias_int * x.integer().sum(axis=0)[None, :]
        return total.astype(float) * self.sliced.unit * x.scale[None, :], report

    def __call__(self, x: np.ndarray, bits: int = 24) -> np.ndarray:
        """``A_q x_q`` for a float vector (or (n, k) block) rounded to ``bits`` bits."""
        sliced = slice_vector(x, bits)
        y, _ = self.multiply(sliced)
        return y[:, 0] if np.ndim(x) == 1 else y

    def _bit_vectors(self, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero (plane, row group, column) input vectors, as columns of an
        (n_in, P) array, with the plane and the input column each came from."""
        n_in = planes.shape[1]
        group = max(1, int(self.engine.rows_per_mvm(self.array)))
        starts = range(0, n_in, group)
        masks = np.zeros((len(starts), n_in, 1), dtype=np.int8)
        for g, start in enumerate(starts):
            masks[g, start : start + group] = 1
        # (bits, groups, n_in, k): each plane restricted to each row group.
        split = planes[:, None, :, :] * masks[None, :, :, :]
        nonzero = np.any(split != 0, axis=2)  # (bits, groups, k)
        p_idx, _, c_idx = np.nonzero(nonzero)
        chosen = split.transpose(0, 1, 3, 2)[nonzero]  # (P, n_in)
        return chosen.T.astype(float), p_idx.astype(np.int64), c_idx

    def _recover(self, vectors: np.ndarray) -> tuple[np.ndarray, HpMvmReport]:
        """Integer partial products (n_stack, n_out, P) of the bit vectors, checked:
        vectors failing a checksum or with an ambiguous product are driven again
        (averaged in); then a checksum still failing calls for a refresh of the cells
        and one fresh measurement; the checksums have the last word."""
        raw = self.engine.mvm_digits(self.array, vectors)
        weight = np.ones(vectors.shape[1])
        expected = self._checks @ vectors  # (2, n_stack, P)
        retried = np.zeros(vectors.shape[1], dtype=bool)
        for repeats in RETRY_REPEATS:
            ints, margin, sums_ok = _check(raw, expected, self._weights)
            again = ~sums_ok | (margin < MIN_MARGIN)
            if not again.any():
                break
            retried |= again
            more = self.engine.mvm_digits(self.array, vectors[:, again], repeats=repeats)
            w = weight[again]
            raw[:, :, again] = (raw[:, :, again] * w + more * repeats) / (w + repeats)
            weight[again] = w + repeats
        ints, margin, sums_ok = _check(raw, expected, self._weights)
        if not sums_ok.all():
            # Averaging cannot remove a static error: re-verify the cells, measure again.
            self.engine.refresh(self.array)
            failing = ~sums_ok
            raw[:, :, failing] = self.engine.mvm_digits(
                self.array, vectors[:, failing], repeats=RETRY_REPEATS[-1]
            )
            ints, margin, sums_ok = _check(raw, expected, self._weights)
            if not sums_ok.all():
                raise IntegerRecoveryError(
                    f"{int((~sums_ok).sum())} bit-level product vector(s) failed their "
                    f"checksums after {sum(RETRY_REPEATS)} extra drives and a refresh of "
                    "the cells; the programmed slices are off their levels"
                )
        report = HpMvmReport(vectors.shape[1], int(retried.sum()), float(margin.min()))
        return ints, report


def _check(
    raw: np.ndarray, expected: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rounded products, each vector's smallest rounding margin, and whether its
    checksums hold."""
    ints = np.rint(raw).astype(np.int64)
    margin = (0.5 - np.abs(raw - ints)).min(axis=(0, 1))
    sums = np.einsum("co,sop->csp", weights, ints)
    return ints, margin, np.all(sums == expected, axis=(0, 1))
