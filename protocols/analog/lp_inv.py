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
from rramlab.protocols.analog.inv_mapping import balance_scaling, map_for_inv

SCALINGS = ("none", "balance")


class LowPrecisionInverse(Protocol):
    n: int
    inv_ops: int  # INV operations per solve (per right-hand side)
    mvm_ops: int  # analog MVM operations per solve
    stages: int  # BlockAMC stages (0: one block)

    def solve(self, b: np.ndarray) -> np.ndarray: ...

    def operator_estimate(self) -> np.ndarray: ...


class TileInverse:
    """``A0^-1`` on one INV block (``feedback``: use the diagonal split when the engine
    can; ``search``/``rounding``: see :func:`map_for_inv`; ``scaling="balance"``: map
    ``D A D`` with the diagonal ``D`` of :func:`balance_scaling` and apply ``D`` to the
    input and the output digitally, so ``A0^-1 = D A0_s^-1 D``; ``copies``: cells in
    parallel per entry, digits 0..7 ``copies``, when the engine allows;
    ``differential``: signed digits on cell pairs instead of a bias column, None: when
    the engine has them)."""

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
        scaling: str = "none",
        copies: int = 1,
        differential: bool | None = None,
    ) -> None:
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
        self.engine = engine
        a = np.asarray(a, dtype=float)
        self.n = int(a.shape[0])
        use_feedback = feedback and engine.supports_feedback
        use_differential = _differential(engine, differential)
        shape = dict(feedback=use_feedback, rounding=rounding, copies=copies)
        try:
            self.scale, self.mapping = _map(
                a, scaling, search, differential=use_differential, **shape
            )
        except np.linalg.LinAlgError:
            if not (use_differential and differential is None):
                raise
            # No pair mapping keeps the loop stable: the bias column's block settles.
            use_differential = False
            self.scale, self.mapping = _map(a, scaling, search, differential=False, **shape)
        m = self.mapping
        # Only the options in use, so engines without copies or pairs are served too.
        extra: dict = {"copies": int(copies)} if copies != 1 else {}
        extra |= {"differential": True} if use_differential else {}
        self.array = engine.program_inv(m.digits, diagonal=m.diagonal, bias=m.bias, **extra)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``A0^-1 b`` for (n,) or (n, k) ``b``: ``K y = D b`` on the block, ``x = sigma D
        y``."""
        d = self.scale if np.ndim(b) == 1 else self.scale[:, None]
        return self.mapping.sigma * d * self.engine.inv(self.array, d * np.asarray(b, float))

    def operator_estimate(self) -> np.ndarray:
        """``A0^-1`` as programmed (from the engine's read-back of ``K``)."""
        inverse = np.linalg.inv(self.engine.read_back(self.array))
        return self.mapping.sigma * inverse * np.outer(self.scale, self.scale)


def _differential(engine: AnalogEngine, wanted: bool | None) -> bool:
    """Whether to map onto cell pairs: ``wanted``, or (None) when the engine has them."""
    available = bool(getattr(engine, "supports_differential", False))
    if wanted is None:
        return available
    if wanted and not available:
        raise ValueError(f"the {engine.name} engine has no differential INV blocks")
    return bool(wanted)


def _map(a: np.ndarray, scaling: str, search: bool, **shape: object) -> tuple:
    """``(d, mapping)``: the INV mapping of ``a``, or with ``scaling="balance"`` of
    ``D A D`` when that inverts better (``d``: the diagonal of ``D``)."""
    unscaled = (np.ones(a.shape[0]), map_for_inv(a, search=search, **shape))
    if scaling != "balance":
        return unscaled
    # The searched scaling was scored without the digit descent: keep it only if the
    # finished mapping beats the unscaled one.
    d = balance_scaling(a, **shape)
    try:
        scaled = (d, map_for_inv(a * np.outer(d, d), search=search, **shape))
    except np.linalg.LinAlgError:
        return unscaled
    return min(unscaled, scaled, key=lambda pair: _three_cycles(a, pair[1], pair[0]))


def _three_cycles(a: np.ndarray, mapping, d: np.ndarray) -> float:
    """``||(I - M A)^3||_2`` with ``M = D A0_s^-1 D`` (inf when singular)."""
    try:
        m = np.linalg.inv(mapping.matrix) * np.outer(d, d)
    except np.linalg.LinAlgError:
        return np.inf
    return float(np.linalg.norm(np.linalg.matrix_power(np.eye(len(a)) - m @ a, 3), 2))


def low_precision_inverse(
    engine: AnalogEngine,
    a: np.ndarray,
    *,
    tile: int | None = None,
    schur: str = "m4",
    feedback: bool = True,
    search: bool = True,
    rounding: str = "nearest",
    scaling: str = "none",
    copies: int = 1,
    differential: bool | None = None,
) -> LowPrecisionInverse:
    """One INV block when ``A`` (n x n) fits ``tile`` (default: the engine's largest INV
    block), else BlockAMC with ``schur`` ("m4" or "exact") down to ``tile``
    (``scaling`` applies to a single block only; ``copies`` and ``differential`` to
    every INV block)."""
    from rramlab.protocols.analog.block_amc import BlockInverse

    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"A must be a non-empty square matrix, got shape {a.shape}")
    limit = tile if tile is not None else engine.max_inv_size
    if limit is not None and engine.max_inv_size is not None and limit > engine.max_inv_size:
        raise ValueError(f"tile {limit} is larger than the engine's INV blocks")
    options = dict(
        feedback=feedback,
        search=search,
        rounding=rounding,
        copies=copies,
        differential=differential,
    )
    if limit is None or a.shape[0] <= limit:
        return TileInverse(engine, a, scaling=scaling, **options)
    return BlockInverse(engine, a, tile=limit, schur=schur, **options)
