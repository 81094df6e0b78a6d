"""read-map: the conductance map of a block of cells, read through the board's ADCs or
cell by cell through the SMU.

Also home of what the array protocols (program-levels, retention, endurance,
read-disturb, variability) share: :class:`RegionParams` (a block of cells, settable
from the command line), :class:`ReadParams` (cells read at one voltage along one access
path; the block, or an explicit ``cells`` list from Python) and :class:`RegionReader`
(the reads themselves). Value checks come from :mod:`rramlab.protocols.cells`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rramlab.drivers.board_link import BoardError
from rramlab.protocols import cells as cellcheck
from rramlab.protocols.access import SmuAccess
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext

DEFAULT_NPLC = 1.0  # SMU integration time when a protocol does not set one
ADC_SATURATED = 300  # board error: a current beyond the ADC range (docs/board-protocol.md)
REGION_FIELDS = ("row0", "col0", "rows", "cols")


@dataclass(frozen=True)
class RegionParams(ProtocolParams):
    """A block of cells: rows ``row0 .. row0+rows-1``, columns ``col0 .. col0+cols-1``
    of the array the station reaches (the board's tile; cell (0, 0) without a board).
    ``rows``/``cols`` None: to the end of the array (see :meth:`default_size`)."""

    row0: int = 0
    col0: int = 0
    rows: int | None = None
    cols: int | None = None

    def check(self) -> None:
        super().check()
        cellcheck.check_count("row0", self.row0, minimum=0)
        cellcheck.check_count("col0", self.col0, minimum=0)
        for name in ("rows", "cols"):
            if getattr(self, name) is not None:
                cellcheck.check_count(name, getattr(self, name), minimum=1)

    def check_station(self, station: Any) -> None:
        super().check_station(station)
        self.size(station)

    def default_size(self, station: Any) -> tuple[int, int]:
        """Rows and columns of the block when ``rows``/``cols`` are None."""
        n_rows, n_cols = station.array_shape
        return n_rows - self.row0, n_cols - self.col0

    def size(self, station: Any) -> tuple[int, int]:
        """(rows, cols) of the block; ValueError if it does not fit the array."""
        n_rows, n_cols = station.array_shape
        default = self.default_size(station)
        rows = self.rows if self.rows is not None else default[0]
        cols = self.cols if self.cols is not None else default[1]
        if rows < 1 or cols < 1 or self.row0 + rows > n_rows or self.col0 + cols > n_cols:
            raise ValueError(
                f"the region rows {self.row0}..{self.row0 + rows - 1} x cols "
                f"{self.col0}..{self.col0 + cols - 1} does not fit station "
                f"{station.name!r}'s {n_rows} x {n_cols} array"
            )
        return rows, cols

    def block_cells(self, station: Any) -> np.ndarray:
        """The block's cells as an (n, 2) integer array of (row, col), row-major."""
        rows, cols = self.size(station)
        r, c = np.meshgrid(
            np.arange(self.row0, self.row0 + rows),
            np.arange(self.col0, self.col0 + cols),
            indexing="ij",
        )
        return np.stack([r.ravel(), c.ravel()], axis=1)

    def region_given(self) -> bool:
        """Whether any region field differs from its default."""
        return any(
            getattr(self, f.name) != f.default
            for f in dataclasses.fields(self)
            if f.name in REGION_FIELDS
        )


@dataclass(frozen=True)
class ReadParams(RegionParams):
    """Cells read at ``v_read_V`` (V, not 0) ``via`` "board" (its ADCs) or "smu".

    ``cells``: an explicit list of (row, col) (from Python, or text ``"0,0; 1,2"``)
    instead of the region; give one or the other. ``nplc``: the SMU's integration time
    per read in power-line cycles (None: 1 PLC); the board's reads have a fixed width,
    so it must stay None with ``via="board"``.
    """

    cells: tuple[tuple[int, int], ...] | None = None
    via: str = "board"
    v_read_V: float = 0.2
    nplc: float | None = None

    def check(self) -> None:
        super().check()
        if self.cells is not None:
            object.__setattr__(self, "cells", cellcheck.normalize_cells(self.cells))
            if self.region_given():
                raise ValueError("give cells or a region (row0, col0, rows, cols), not both")
        cellcheck.check_via(self.via)
        cellcheck.check_number("v_read_V", self.v_read_V, nonzero=True)
        if self.nplc is not None:
            cellcheck.check_number("nplc", self.nplc, positive=True)
            if self.via == "board":
                raise ValueError("nplc sets the SMU's read width: it needs via='smu'")

    def check_station(self, station: Any) -> None:
        cellcheck.check_via_station(self.via, station)
        if self.cells is None:
            super().check_station(station)
        else:
            cellcheck.check_cells_fit(self.cells, station)
        cellcheck.check_read_voltage(station, self.via, self.v_read_V)
        if self.via == "smu":
            lo, hi = station.smu.ranges.nplc_range
            if not lo <= self.smu_nplc <= hi:
                raise ValueError(f"nplc={self.smu_nplc:g} is outside the SMU's {lo:g}..{hi:g}")

    def selected(self, station: Any) -> np.ndarray:
        """The cells to work on, an (n, 2) integer array of (row, col)."""
        if self.cells is not None:
            return np.array(self.cells, dtype=int).reshape(-1, 2)
        return self.block_cells(station)

    @property
    def smu_nplc(self) -> float:
        return DEFAULT_NPLC if self.nplc is None else float(self.nplc)


class RegionReader:
    """Reads of a fixed list of cells (an (n, 2) array of (row, col)).

    Through the board the rows holding the cells are read (a row's columns convert at
    once: one command per row, or one READ TILE for the whole tile), or with
    ``cellwise`` each cell on its own (only the cells asked for are biased, and only
    their currents can saturate the ADC). Through the SMU each cell is routed and read
    in turn, integrating ``nplc`` power-line cycles.
    """

    def __init__(
        self,
        station: Any,
        via: str,
        cells: np.ndarray,
        *,
        nplc: float = DEFAULT_NPLC,
        cellwise: bool = False,
    ) -> None:
        self.station = station
        self.via = via
        self.cells = np.asarray(cells, dtype=int).reshape(-1, 2)
        self.cellwise = cellwise
        self._smu = SmuAccess(station, nplc=nplc) if via == "smu" else None
        self._v_board: float | None = None

    def read(
        self, v_read_V: float, which: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Voltage (V) and current (A) of each cell (of those where ``which`` is true).
        A board conversion that saturated gives NaN: the current is beyond the ADC's
        range (``capabilities.adc_range_A``), its value unknown."""
        cells = self.cells if which is None else self.cells[np.asarray(which, dtype=bool)]
        if self._smu is not None:
            readings = [self._smu.read(int(r), int(c), v_read_V) for r, c in cells]
            return (
                np.array([x.v_V for x in readings], dtype=float),
                np.array([x.i_A for x in readings], dtype=float),
            )
        board = self.station.board
        if self._v_board != v_read_V:
            board.set_read_voltage(v_read_V)
            self._v_board = v_read_V
        v = np.full(len(cells), float(v_read_V))
        if self.cellwise:
            return v, np.array([_unclipped(board, board.read, r, c) for r, c in cells])
        shape = (board.tile.rows, board.tile.cols)
        rows = np.unique(cells[:, 0])
        if rows.size == shape[0]:
            currents = _unclipped(board, board.read_tile).reshape(shape)
        else:
            # Only the rows asked for: a raised read voltage disturbs no other row.
            currents = np.full(shape, np.nan)
            for row in rows:
                currents[row] = _unclipped(board, board.read_row, row)
        return v, currents[cells[:, 0], cells[:, 1]]

    def finish(self) -> None:
        """The SMU's output off (the board's lines idle by themselves)."""
        if self._smu is not None:
            self._smu.finish()


def _unclipped(board: Any, read: Any, *args: Any) -> np.ndarray:
    """``read(*args)`` (a board read, A) with saturated conversions as NaN. The board
    refuses to call a clipped value a reading (ERR 300) but sends the block anyway, so
    one shorted cell does not cost the rest of its row or tile."""
    try:
        return np.asarray(read(*(int(a) for a in args)), dtype=float)
    except BoardError as error:
        if error.code != ADC_SATURATED:
            raise
        if error.block is None:  # a single cell's read: that cell is the clipped one
            return np.asarray(np.nan)
        values = np.frombuffer(error.block, dtype="<f4").astype(float)
        full_scale = board.capabilities.adc_range_A
        return np.where(np.abs(values) >= full_scale * (1 - 1e-6), np.nan, values)


# ---------------------------------------------------------------------------- read-map


@dataclass(frozen=True)
class ReadMapParams(ReadParams):
    """read-map: ``n_reads`` reads (>= 1) of every cell of the region at ``v_read_V``.
    Default: the whole array through the board at 0.2 V, once."""

    n_reads: int = 1

    def check(self) -> None:
        super().check()
        cellcheck.check_count("n_reads", self.n_reads)


def run(ctx: RunContext, p: ReadMapParams) -> None:
    """One row per (read, cell): read, row, col, v_read_V, i_A, g_S (= i_A / v_read_V)."""
    cells = p.selected(ctx.station)
    reader = RegionReader(ctx.station, p.via, cells, nplc=p.smu_nplc)
    try:
        for k in range(p.n_reads):
            ctx.check_abort()
            v, i = reader.read(p.v_read_V)
            ctx.log(
                pd.DataFrame(
                    {
                        "read": np.full(len(cells), k),
                        "row": cells[:, 0],
                        "col": cells[:, 1],
                        "v_read_V": v,
                        "i_A": i,
                        "g_S": i / v,
                    }
                )
            )
            ctx.progress((k + 1) / p.n_reads, f"read {k + 1} of {p.n_reads}")
    finally:
        reader.finish()


SPEC = ProtocolSpec(
    name="read-map",
    params=ReadMapParams,
    run=run,
    summary="conductance map of a block of cells (board ADCs or SMU), optionally n reads",
)
