"""Indexing the crossbar's (R, C) per-cell arrays: by flat cell index, by selected
block, and split into the row groups one physical operation can address."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rramlab.sim.selection import Selection, select


def gather(array: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    """Values of an (R, C) array at flat ``index`` (a flat view when ``index`` is None)."""
    return array.ravel() if index is None else array.ravel()[index]


def scatter(array: np.ndarray, index: np.ndarray | None, values: np.ndarray) -> None:
    """Write values at flat ``index`` of an (R, C) array (everything when None)."""
    if index is None:
        array[...] = np.reshape(values, array.shape)
    else:
        np.put(array, index, values)


def block(array: np.ndarray, sel: Selection) -> np.ndarray:
    """The selected block of an (R, C) array (the array itself when all is selected)."""
    if sel.is_everything_in_order:
        return array
    return array[np.ix_(sel.rows, sel.cols)]


def set_block(array: np.ndarray, sel: Selection, values: np.ndarray) -> None:
    """Write values into the selected block of an (R, C) array."""
    if sel.is_everything_in_order:
        array[...] = values
    else:
        array[np.ix_(sel.rows, sel.cols)] = values


def row_groups(sel: Selection, *, one_shot: bool) -> Iterator[Selection]:
    """Split a selection into the groups one physical operation can address: a block
    at once (``one_shot``), or a single row at a time (reads, and any mask)."""
    if sel.is_block and one_shot:
        yield sel
        return
    for r in sel.rows:
        cols = sel.cols if sel.is_block else np.flatnonzero(sel.mask[r])
        yield select(sel.shape, [int(r)], cols)
