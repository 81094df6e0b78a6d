"""Where arrays go on the board's tiles: regions, cell health and a first-fit search.

A region is a block of rows of one tile and a list of its columns. Cell health is
UNKNOWN (not scanned yet), GOOD, LOW (conducts next to nothing: never formed or stuck
low) or BAD (a short: stuck high). MVM regions avoid BAD cells by skipping their
columns (a skipped column's current is simply not read), so their columns need not be
adjacent, and accept LOW cells, whose known level (about -0.1) the engine corrects
digitally; INV regions are contiguous squares of GOOD cells, since the loop closes over
every cell of the block. Regions never share a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN, GOOD, LOW, BAD = 0, 1, 2, 3


@dataclass(frozen=True)
class Region:
    """Rows ``row0 .. row0 + n_rows - 1`` of ``tile`` and the columns ``cols`` (in the
    order the array's logical columns use them)."""

    tile: int
    row0: int
    n_rows: int
    cols: tuple[int, ...]

    @property
    def rows(self) -> slice:
        return slice(self.row0, self.row0 + self.n_rows)

    @property
    def col0(self) -> int:
        return min(self.cols)

    @property
    def col_span(self) -> int:
        """Columns an operation must read to see all of ours (first to last)."""
        return max(self.cols) - min(self.cols) + 1

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """(rows, cols) bool of the region's cells on a tile of ``shape``."""
        out = np.zeros(shape, dtype=bool)
        out[self.rows, list(self.cols)] = True
        return out


class TileLayout:
    """Health (UNKNOWN, GOOD, LOW, BAD) and use of every cell of one tile."""

    def __init__(self, tile: int, rows: int, cols: int) -> None:
        self.tile = tile
        self.shape = (rows, cols)
        self.health = np.full(self.shape, UNKNOWN, dtype=np.int8)
        self.used = np.zeros(self.shape, dtype=bool)

    def find(
        self, n_rows: int, n_cols: int, *, contiguous: bool, allow_low: bool = False
    ) -> Region | None:
        """The first region of ``n_rows`` x ``n_cols`` free cells not known to be BAD
        (nor LOW, for a ``contiguous`` one unless ``allow_low``), top to bottom, left to
        right; or None."""
        rows, cols = self.shape
        if n_rows > rows or n_cols > cols:
            return None
        free = ~self.used & (self.health != BAD)
        if contiguous and not allow_low:
            free &= self.health != LOW
        for r0 in range(rows - n_rows + 1):
            usable = np.flatnonzero(free[r0 : r0 + n_rows].all(axis=0))
            if usable.size < n_cols:
                continue
            if not contiguous:
                return Region(self.tile, r0, n_rows, tuple(int(c) for c in usable[:n_cols]))
            start = _first_run(usable, n_cols)
            if start is not None:
                return Region(self.tile, r0, n_rows, tuple(range(start, start + n_cols)))
        return None

    def claim(self, region: Region) -> None:
        self.used |= region.mask(self.shape)

    def release(self, region: Region) -> None:
        self.used &= ~region.mask(self.shape)


def _first_run(sorted_cols: np.ndarray, length: int) -> int | None:
    """Start of the first run of ``length`` consecutive integers in ``sorted_cols``."""
    run_start, run = None, 0
    previous = None
    for c in sorted_cols:
        if previous is not None and c == previous + 1:
            run += 1
        else:
            run_start, run = int(c), 1
        if run >= length:
            return run_start
        previous = c
    return None
