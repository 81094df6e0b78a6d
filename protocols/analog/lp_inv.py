"""LP-INV: one low-precision analog inversion, ``x ~ A0^-1 b`` with ``A0`` the 3-bit
matrix of :mod:`~rramlab.protocols.analog.inv_mapping`, on one INV block.

:func:`low_precision_inverse` picks the implementation: a single block when ``A`` fits
the engine's INV blocks (or ``tile``), BlockAMC (:mod:`block_amc`) otherwise. Every
implementation offers ``solve(b)``, ``operator_estimate()`` (the inverse it really
applies, estimated from what the engine reads back: what the convergence check of
HP-INV uses) and ``inv_ops`` / ``mvm_ops`` (analog operations per solve).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rramlab.protocols.analog.engine import AnalogEngine
from rramlab.protocols.analog.inv_mapping import map_for_inv


class LowPrecisionInverse(Protocol):
    n: int
    inv_ops: int  # INV operations per solve (per right-hand side)
    mvm_ops: int  # analog MVM operations per solve
    stages: int  # BlockAMC stages (0: one block)

    def solve(self, b: np.ndarray) -> np.ndarray: ...

    def operator_estimate(self) -> np.ndarray: ...


class TileInverse:
    """``A0^-1`` on one INV block (``feedback``: use the diagonal split when the engine
    can; ``search``/``rounding``: see :func:`map_for_inv`)."""

    inv_ops = 1
    mvm_ops = 0
    stages = 0

    def __init__(
        self,
        engine: AnalogEngine,
        a: np.ndarray,
        *,
        feedback: bool = True,
        search: bool = True,
        rounding: str = "nearest",
    ) -> None:
        self.engine = engine
        self.n = int(np.shape(a)[0])
        use_feedback = feedback and engine.supports_feedback
        self.mapping = map_for_inv(a, feedback=use_feedback, search=search, rounding=rounding)
        m = self.mapping
        self.array = engine.program_inv(m.digits, diagonal=m.diagonal, bias=m.bias)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``A0^-1 b`` for (n,) or (n, k) ``b``: ``K y = b`` on the block, ``x = sigma y``."""
        return self.mapping.sigma * self.engine.inv(self.array, b)

    def operator_estimate(self) -> np.ndarray:
        """``A0^-1`` as programmed (from the engine's read-back of ``K``)."""
        return self.mapping.sigma * np.linalg.inv(self.engine.read_back(self.array))


def low_precision_inverse(
    engine: AnalogEngine,
    a: np.ndarray,
    *,
    tile: int | None = None,
    schur: str = "m4",
    feedback: bool = True,
    search: bool = True,
    rounding: str = "nearest",
) -> LowPrecisionInverse:
    """One INV block when ``A`` (n x n) fits ``tile`` (default: the engine's largest INV
    block), else BlockAMC with ``schur`` ("m4" or "exact") down to ``tile``."""
    from rramlab.protocols.analog.block_amc import BlockInverse

    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"A must be a non-empty square matrix, got shape {a.shape}")
    limit = tile if tile is not None else engine.max_inv_size
    if limit is not None and engine.max_inv_size is not None and limit > engine.max_inv_size:
        raise ValueError(f"tile {limit} is larger than the engine's INV blocks")
    options = dict(feedback=feedback, search=search, rounding=rounding)
    if limit is None or a.shape[0] <= limit:
        return TileInverse(engine, a, **options)
    return BlockInverse(engine, a, tile=limit, schur=schur, **options)
