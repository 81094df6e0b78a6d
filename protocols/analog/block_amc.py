"""BlockAMC: low-precision inversion of a matrix larger than the INV blocks.

Partition ``A = [M1 M2; M3 M4]`` and solve ``A x = b`` with analog steps only:

1. ``y1 = INV(M1) b1``;
2. ``x2 = INV(S) (b2 - MVM(M3) y1)``;
3. ``x1 = INV(M1) (b1 - MVM(M2) x2)``.

``S`` is the Schur complement ``M4 - M3 M1^-1 M2``. Inside HP-INV it may be
approximated by ``M4`` (``schur="m4"``, the default [PKU25]): LP-INV only has to be a
contraction, and the refinement removes the rest (slower for strongly coupled blocks).
``schur="exact"`` computes ``S`` digitally once, when the matrix is mapped (an
O(n^3) preprocessing), and programs its 3-bit version instead. ``INV(M1)`` and
``INV(S)`` recurse until the blocks fit the tile, so each stage halves the size: LP-INV
operations per solve grow as 3^stages ~ (N/N0)^log2(3), and MVMs (``M2``, ``M3``,
programmed as 3-bit differential pairs, driven with real-valued inputs) as 2 per
block per stage.
"""

from __future__ import annotations

import math

import numpy as np

from rramlab.protocols.analog.engine import AnalogEngine
from rramlab.protocols.analog.lp_inv import TileInverse
from rramlab.protocols.analog.mapping import differential_split, quantize_levels

SCHUR_CHOICES = ("m4", "exact")


class AnalogMatrix:
    """A signed matrix for low-precision analog MVM: 3-bit differential pair P - N
    (one stack of two), scale shared so the largest |entry| sits on level 7."""

    def __init__(self, engine: AnalogEngine, m: np.ndarray) -> None:
        self.engine = engine
        pos, neg = differential_split(m)
        top = float(np.max(np.abs(m)))
        d_pos, self.sigma = quantize_levels(pos, top if top > 0 else None)
        d_neg, _ = quantize_levels(neg, top if top > 0 else None)
        self.array = engine.program_mvm(np.stack([d_pos, d_neg]), analog=True)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``M x`` (low precision) for (n_in,) or (n_in, k) ``x``."""
        out = self.engine.mvm_analog(self.array, x)
        return (out[0] - out[1]) / self.sigma

    def estimate(self) -> np.ndarray:
        levels = self.engine.read_back(self.array)
        return (levels[0] - levels[1]) / self.sigma


class BlockInverse:
    """BlockAMC low-precision inverse (see the module docs)."""

    def __init__(
        self,
        engine: AnalogEngine,
        a: np.ndarray,
        *,
        tile: int,
        schur: str = "m4",
        **tile_options: object,
    ) -> None:
        if schur not in SCHUR_CHOICES:
            raise ValueError(f"schur must be one of {SCHUR_CHOICES}, got {schur!r}")
        if tile < 1:
            raise ValueError(f"tile must be >= 1, got {tile!r}")
        self.n = n = a.shape[0]
        # Split on a multiple of the tile so the leaves fill whole blocks.
        self.h = h = tile * math.ceil(math.ceil(n / tile) / 2)
        m1, m2, m3, m4 = a[:h, :h], a[:h, h:], a[h:, :h], a[h:, h:]
        s = m4 if schur == "m4" else m4 - m3 @ np.linalg.solve(m1, m2)
        self.p1 = _inverse(engine, m1, tile, schur, tile_options)
        self.p4 = _inverse(engine, s, tile, schur, tile_options)
        self.m2 = AnalogMatrix(engine, m2)
        self.m3 = AnalogMatrix(engine, m3)
        self.inv_ops = 2 * self.p1.inv_ops + self.p4.inv_ops
        self.mvm_ops = 2 + 2 * self.p1.mvm_ops + self.p4.mvm_ops
        self.stages = 1 + max(self.p1.stages, self.p4.stages)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """Low-precision ``A^-1 b`` for (n,) or (n, k) ``b``."""
        b = np.asarray(b, dtype=float)
        b1, b2 = b[: self.h], b[self.h :]
        y1 = self.p1.solve(b1)
        x2 = self.p4.solve(b2 - self.m3.apply(y1))
        x1 = self.p1.solve(b1 - self.m2.apply(x2))
        return np.concatenate([x1, x2])

    def operator_estimate(self) -> np.ndarray:
        """The linear map :meth:`solve` applies, composed from the blocks' read-backs."""
        p1, p4 = self.p1.operator_estimate(), self.p4.operator_estimate()
        q2, q3 = self.m2.estimate(), self.m3.estimate()
        top = np.hstack([p1 + p1 @ q2 @ p4 @ q3 @ p1, -p1 @ q2 @ p4])
        bottom = np.hstack([-p4 @ q3 @ p1, p4])
        return np.vstack([top, bottom])


def _inverse(
    engine: AnalogEngine, m: np.ndarray, tile: int, schur: str, options: dict
) -> TileInverse | BlockInverse:
    if m.shape[0] <= tile:
        return TileInverse(engine, m, **options)
    return BlockInverse(engine, m, tile=tile, schur=schur, **options)
