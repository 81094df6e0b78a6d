"""The simulated bench an analog computation needs: how large a tile must be to hold a
problem's arrays, found by placing them as the board engine would.

:class:`~rramlab.protocols.analog.board_engine.BoardEngine` places every array it is
asked to store on the board's tiles first fit (INV blocks first, as contiguous squares;
an INV block of ``k`` cells per entry takes ``n`` rows x ``k n`` columns; then each
MVM stack as ``n_in`` rows x ``n_stack n_out`` columns). :func:`tile_size`
records what :class:`~rramlab.protocols.analog.hp_inv.HpInvSolver` stores for an
``n`` x ``n`` problem (a dry run on the exact engine: shapes depend only on ``n``, the
INV tile and the slicing), packs it the same way on a tile of all-good cells and adds
room for the cells a real chip loses (shorts, cells that never form: ~1% on the
simulated chip; an INV block must move off any of them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rramlab.protocols.analog.board_layout import GOOD, TileLayout
from rramlab.protocols.analog.engine import InvArray, MvmArray
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver
from rramlab.protocols.analog.problems import random_problem

SPARE_COLS = 0.25  # extra columns, as a fraction: MVM columns retired by a short
SPARE_ROWS = 0.5  # extra rows, as a fraction (at least MIN_SPARE_ROWS): INV blocks moved
MIN_SPARE_ROWS = 4
ROUND_TO = 8  # tile sides are rounded up to a multiple of this


class _Recorder(ExactEngine):
    """An exact engine that remembers every array it was asked to store."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.arrays: list[MvmArray | InvArray] = []

    def program_mvm(self, digits: np.ndarray, *, analog: bool = False) -> MvmArray:
        array = super().program_mvm(digits, analog=analog)
        self.arrays.append(array)
        return array

    def program_inv(self, digits: np.ndarray, **options: Any) -> InvArray:
        array = super().program_inv(digits, **options)
        self.arrays.append(array)
        return array


def stored_arrays(n: int, tile: int | None = None, **solver_options: Any) -> list[Any]:
    """The arrays :class:`HpInvSolver` stores for an ``n`` x ``n`` matrix with INV
    blocks of at most ``tile`` (None: one block), in the order it stores them."""
    a, _ = random_problem(n, 2.0, seed=0)
    recorder = _Recorder()
    HpInvSolver(recorder, a, tile=tile, check=False, **solver_options)
    return recorder.arrays


def tile_size(n: int, tile: int | None = None, **solver_options: Any) -> tuple[int, int]:
    """(rows, cols) of a simulated tile that holds HP-INV for an ``n`` x ``n`` matrix
    (INV blocks of at most ``tile``; ``solver_options`` as for :class:`HpInvSolver`,
    e.g. ``matrix_bits``) with spare cells; both sides multiples of 8."""
    arrays = stored_arrays(n, tile, **solver_options)
    widest_mvm = max(
        (a.shape[0] * a.shape[1] for a in arrays if isinstance(a, MvmArray)), default=0
    )
    widest_inv = max((a.width for a in arrays if isinstance(a, InvArray)), default=0)
    cols = _round_up((1 + SPARE_COLS) * (widest_mvm + widest_inv))
    used = _rows_used(arrays, cols)
    rows = _round_up(used + max(MIN_SPARE_ROWS, SPARE_ROWS * used))
    return rows, cols


def _rows_used(arrays: list[Any], cols: int) -> int:
    """Rows the arrays take when placed first fit (INV blocks first) on a tile of
    ``cols`` columns of good cells."""
    height = sum(a.n if isinstance(a, InvArray) else a.shape[2] for a in arrays)
    layout = TileLayout(0, height, cols)
    layout.health[:] = GOOD
    bottom = 0
    for array in sorted(arrays, key=lambda a: not isinstance(a, InvArray)):
        if isinstance(array, InvArray):
            region = layout.find(array.n, array.width, contiguous=True)
        else:
            n_stack, n_out, n_in = array.shape
            region = layout.find(n_in, n_stack * n_out, contiguous=False)
        if region is None:  # cannot happen: the tile is as tall as all arrays stacked
            raise RuntimeError(f"no room for {array!r} on a {height} x {cols} tile")
        layout.claim(region)
        bottom = max(bottom, region.row0 + region.n_rows)
    return bottom


def _round_up(value: float) -> int:
    return ROUND_TO * math.ceil(value / ROUND_TO)
