"""Which cells an array operation touches: a block of rows x columns, or a mask."""

from __future__ import annotations

from functools import cached_property

import numpy as np

Lines = int | slice | list[int] | tuple[int, ...] | np.ndarray | None


class Selection:
    """Selected cells of an (R, C) array.

    ``rows``/``cols`` list the lines that take part; ``mask`` marks the selected cells;
    ``flat`` are their row-major flat indices; results come back in ``out_shape``
    (``(len(rows), len(cols))`` for a block, ``(n,)`` for a mask, in row-major order).
    ``mask`` and ``flat`` are built on first use: a whole-array MVM needs neither.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        rows: np.ndarray,
        cols: np.ndarray,
        mask: np.ndarray | None = None,
    ) -> None:
        self.shape = shape
        self.rows = rows
        self.cols = cols
        self.is_block = mask is None
        if mask is not None:
            self.__dict__["mask"] = mask

    @cached_property
    def mask(self) -> np.ndarray:
        block = np.zeros(self.shape, dtype=bool)
        block[np.ix_(self.rows, self.cols)] = True
        return block

    @cached_property
    def flat(self) -> np.ndarray:
        if self.is_block:
            return (self.rows[:, None] * self.shape[1] + self.cols[None, :]).ravel()
        return np.flatnonzero(self.mask)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.rows.size, self.cols.size) if self.is_block else (self.size,)

    @property
    def size(self) -> int:
        return self.rows.size * self.cols.size if self.is_block else int(self.flat.size)

    @property
    def is_everything_in_order(self) -> bool:
        """Every row and column, in natural order (whole-array fast paths)."""
        return (
            self.is_block
            and self.rows.size == self.shape[0]
            and self.cols.size == self.shape[1]
            and bool(np.all(np.diff(self.rows) > 0) and np.all(np.diff(self.cols) > 0))
        )

    def row_mask(self) -> np.ndarray:
        """(R,) bool: lines carrying at least one selected cell."""
        lines = np.zeros(self.shape[0], dtype=bool)
        lines[self.rows] = True
        return lines

    def col_mask(self) -> np.ndarray:
        """(C,) bool."""
        lines = np.zeros(self.shape[1], dtype=bool)
        lines[self.cols] = True
        return lines


def _lines(which: Lines, n: int, name: str) -> np.ndarray:
    if which is None:
        return np.arange(n)
    if isinstance(which, slice):
        return np.arange(n)[which]
    if isinstance(which, (bool, np.bool_)):
        raise TypeError(f"{name} must be an index, a slice or a sequence of indices, not a bool")
    arr = np.atleast_1d(np.asarray(which))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.intp)
    bad = (arr < 0) | (arr >= n)
    if np.any(bad):
        raise IndexError(f"{name} index {int(arr[bad][0])} is outside 0..{n - 1}")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} lists a line twice: {arr.tolist()}")
    return arr


def select(
    shape: tuple[int, int], rows: Lines = None, cols: Lines = None, mask: np.ndarray | None = None
) -> Selection:
    """Normalise a selection. ``rows``/``cols`` (index, slice, sequence; None = all)
    choose a block; ``mask`` (an (R, C) bool array) chooses any set of cells instead."""
    n_rows, n_cols = shape
    if mask is not None:
        if rows is not None or cols is not None:
            raise ValueError("give either rows/cols or mask, not both")
        mask = np.asarray(mask)
        if mask.shape != shape or mask.dtype != bool:
            raise ValueError(
                f"mask must be a bool array of shape {shape}, got {mask.dtype} {mask.shape}"
            )
        if not mask.any():
            raise ValueError("mask selects no cell")
        return Selection(
            shape,
            np.flatnonzero(mask.any(axis=1)),
            np.flatnonzero(mask.any(axis=0)),
            mask.copy(),
        )
    r = _lines(rows, n_rows, "rows")
    c = _lines(cols, n_cols, "cols")
    if r.size == 0 or c.size == 0:
        raise ValueError("the selection is empty (no rows or no columns)")
    return Selection(shape, r, c)
