"""Placing arrays on the board: regions, forming, programming, read-backs, refreshes.

:class:`Placement` keeps what the engine knows of the cells: every tile's health and
use (board_layout), the last read-back of each tile (``snapshot``, conductances in S)
and when it was verified. Level ``d`` is programmed as ``g_low + d step``.

Cells that cannot hold their level are handled by kind: a short (BAD) retires the MVM
column it sits in, or moves the INV block; a cell that conducts next to nothing (LOW),
or an MVM cell write-verify left more than ``off_levels`` off, keeps a *known* level,
read back, and the engine subtracts ``(actual - digit) t`` digitally for the few such
cells (a sparse correction, as defect-aware mappings do) rather than give up hundreds of
good cells to move a large region.
"""

from __future__ import annotations

import math

import numpy as np

from rramlab.clock import Clock
from rramlab.drivers.array_board import ArrayBoard
from rramlab.protocols.analog import board_cells
from rramlab.protocols.analog.board_config import BoardEngineConfig
from rramlab.protocols.analog.board_layout import BAD, GOOD, LOW, UNKNOWN, Region, TileLayout
from rramlab.protocols.analog.engine import EngineStats, InvArray, MvmArray
from rramlab.protocols.analog.errors import AllocationError
from rramlab.protocols.analog.fixed_point import LEVELS

Array = MvmArray | InvArray


def spread_levels(array: InvArray, low: np.ndarray) -> np.ndarray | None:
    """Levels per cell (n, width) of an INV block whose ``low`` cells (same shape)
    cannot be programmed: every entry's total (per side of a differential block)
    spread as evenly as possible over its other copies (LOW cells get 0); None when an
    entry needs more than they hold."""
    n, k = array.n, array.copies
    sides = []
    for side, total in enumerate(array.side_totals):
        usable = ~low[:, side * k * n : (side + 1) * k * n].reshape(n, k, n)  # row, copy, col
        count = usable.sum(axis=1)
        if np.any(total > (LEVELS - 1) * count):
            return None
        base, extra = np.divmod(total, np.maximum(count, 1))
        rank = np.cumsum(usable, axis=1) - 1  # the copy's position among the usable ones
        cells = np.where(usable, base[:, None, :] + (rank < extra[:, None, :]), 0)
        sides.append(cells.reshape(n, k * n))
    return np.concatenate(sides, axis=1).astype(np.uint8)


class Placement:
    """Cells, regions and programming of the engine's tiles (see the module docs)."""

    def __init__(
        self,
        board: ArrayBoard,
        config: BoardEngineConfig,
        stats: EngineStats,
        clock: Clock | None,
        tiles: list[int],
    ) -> None:
        self.board, self.config, self.stats, self.clock = board, config, stats, clock
        known = {t.id: t for t in board.capabilities.tiles}
        self.layouts = {t: TileLayout(t, known[t].rows, known[t].cols) for t in tiles}
        self.snapshot: dict[int, np.ndarray] = {}  # tile -> read-back conductances (S)
        self.verified_at: dict[int, float] = {}
        self.verify_s: dict[int, float] = {}  # tile -> longest write-verify (bench s)
        self._tile: int | None = None

    def select(self, tile: int) -> None:
        if self._tile != tile:
            self.board.select_tile(tile)
            self._tile = tile

    def now(self) -> float:
        return self.clock.now() if self.clock is not None else 0.0

    # ------------------------------------------------------------------ regions
    def allocate(self, array: Array) -> None:
        """Give ``array`` its regions: ``state["parts"]`` = [(region, first, count)]."""
        if isinstance(array, InvArray):
            region = self._find(array.n, array.width, True, inv=array)
            array.state["parts"] = [(region, 0, 1)]
            return
        n_stack, n_out, n_in = array.shape
        for n_parts in range(1, n_stack + 1):  # one region if it fits, else split the stack
            per = math.ceil(n_stack / n_parts)
            parts = []
            try:
                for first in range(0, n_stack, per):
                    count = min(per, n_stack - first)
                    parts.append((self._find(n_in, count * n_out, False), first, count))
            except AllocationError:
                for region, _, _ in parts:
                    self.layouts[region.tile].release(region)
                continue
            array.state["parts"] = parts
            return
        raise AllocationError(
            f"no room on tiles {sorted(self.layouts)} for a {n_stack} x {n_out} x {n_in} stack"
        )

    def release(self, array: Array) -> None:
        for region, _, _ in array.state.pop("parts", []):
            self.layouts[region.tile].release(region)
        array.state.pop("calibrated", None)
        array.state.pop("cells", None)

    def _find(
        self, n_rows: int, n_cols: int, contiguous: bool, inv: InvArray | None = None
    ) -> Region:
        """A free region (forming and scanning candidate cells as needed). An INV block
        with parallel copies may hold LOW cells if the other copies of every entry can
        carry its level (``inv.state["cells"]`` then gets the levels per cell)."""
        spread = inv is not None and inv.copies > 1
        for tile, layout in self.layouts.items():
            while (
                region := layout.find(n_rows, n_cols, contiguous=contiguous, allow_low=spread)
            ) is not None:
                cells = region.mask(layout.shape)
                unknown = cells & (layout.health == UNKNOWN)
                if unknown.any():
                    self.select(tile)
                    low, short = board_cells.form_and_scan(
                        self.board, unknown, self.config.v_read_V, self.config.forming
                    )
                    health = np.where(short, BAD, np.where(low, LOW, GOOD))
                    layout.health[unknown] = health[unknown]
                refused = (BAD, LOW) if contiguous and not spread else (BAD,)
                if spread and not np.isin(layout.health[cells], refused).any():
                    low = layout.health[region.rows, list(region.cols)] == LOW
                    levels = spread_levels(inv, low)
                    if levels is None:
                        # Too many LOW cells under large entries: keep INV blocks off
                        # them (MVM regions then skip them too).
                        layout.health[cells & (layout.health == LOW)] = BAD
                        continue
                    inv.state["cells"] = levels
                    layout.claim(region)
                    return region
                if not np.isin(layout.health[cells], refused).any():
                    layout.claim(region)
                    return region
        raise AllocationError(
            f"no room: no free {n_rows} x {n_cols} region of usable cells on tiles "
            f"{sorted(self.layouts)}"
        )

    @staticmethod
    def level_map(array: Array, first: int, count: int) -> np.ndarray:
        """The digits as the region's cells hold them: (region rows, region columns)."""
        if isinstance(array, InvArray):
            return array.state.get("cells", array.cell_digits)
        block = array.digits[first : first + count]  # (count, n_out, n_in)
        return block.transpose(2, 0, 1).reshape(block.shape[2], -1)

    def _tile_levels(self, tile: int, arrays: list[Array]) -> np.ndarray:
        """Target level of every cell of ``tile`` the arrays hold (-1 elsewhere and on
        LOW cells, which write-verify cannot move)."""
        layout = self.layouts[tile]
        levels = np.full(layout.shape, -1, dtype=np.int64)
        for array in arrays:
            for region, first, count in array.state["parts"]:
                if region.tile == tile:
                    levels[region.rows, list(region.cols)] = self.level_map(array, first, count)
        levels[layout.health == LOW] = -1
        return levels

    # ------------------------------------------------------------------ programming
    def program(self, arrays: list[Array]) -> list[Array]:
        """Write-verify the arrays' cells, tile by tile; returns the arrays that must
        move: INV blocks with a cell write-verify could not program, MVM regions with a
        cell that turned out shorted (both now marked BAD)."""
        moved: list[Array] = []
        for tile in sorted({r.tile for a in arrays for r, _, _ in a.state["parts"]}):
            layout = self.layouts[tile]
            outside = self._write_verify(tile, self._tile_levels(tile, arrays))
            shorted = self.snapshot[tile] >= self.config.forming.short_S
            for array in arrays:
                for region, _, _ in array.state["parts"]:
                    if region.tile != tile:
                        continue
                    cells = region.mask(layout.shape)
                    lost = cells & (outside if isinstance(array, InvArray) else shorted)
                    if lost.any():
                        layout.health[lost] = BAD
                        if array not in moved:
                            moved.append(array)
        return moved

    def _write_verify(self, tile: int, levels: np.ndarray) -> np.ndarray:
        """Program ``levels`` (-1: leave alone) on ``tile``, then read the tile back."""
        self.select(tile)
        c = self.config
        start = self.now()
        outside, runs = board_cells.program_levels(
            self.board, levels, c.levels_S, c.tol_levels, c.max_pulses
        )
        self.verify_s[tile] = max(self.verify_s.get(tile, 0.0), self.now() - start)
        self.stats.write_verify_runs += runs
        self.read_back_tile(tile)
        return outside

    def read_back_tile(self, tile: int) -> np.ndarray:
        self.select(tile)
        c = self.config
        self.snapshot[tile] = board_cells.read_conductance(
            self.board, c.v_read_V, c.readback_repeats
        )
        self.verified_at[tile] = self.now()
        return self.snapshot[tile]

    def refresh(self, tile: int, arrays: list[Array]) -> None:
        """Read ``tile`` back and write-verify again the cells of ``arrays`` that have
        left the tolerance band (cells that still miss it are corrected digitally)."""
        c = self.config
        levels = self._tile_levels(tile, arrays)
        g = self.read_back_tile(tile)
        target = c.levels_S[np.maximum(levels, 0)]
        drifted = (levels >= 0) & (np.abs(g - target) > c.tol_levels * c.step_S)
        if drifted.any():
            self._write_verify(tile, np.where(drifted, levels, -1))
        self.stats.refreshes += 1

    def rows_per_drive(self, array: MvmArray) -> int:
        """Rows a bit-level MVM of ``array`` drives at once: ``config.rows_per_mvm``, or
        (None) 2 while the longest write-verify of its tiles took at most
        ``paired_drive_max_verify_s`` of bench time, else 1. Cells relax with log time
        after their verify, so a long write-verify leaves its first cells well spread
        by the read-back, and the refreshes that follow take as long again: two such
        cells' errors in one product no longer round safely (docs/analog.md)."""
        c = self.config
        if c.rows_per_mvm is not None:
            return c.rows_per_mvm
        tiles = {region.tile for region, _, _ in array.state.get("parts", [])}
        longest = max((self.verify_s.get(t, 0.0) for t in tiles), default=0.0)
        return 2 if longest <= c.paired_drive_max_verify_s else 1

    # ------------------------------------------------------------------ what is there
    def levels_read(self, region: Region) -> np.ndarray:
        """The region's cells as read back, in levels: (rows, columns)."""
        c = self.config
        g = self.snapshot[region.tile][region.rows, list(region.cols)]
        return (g - c.g_low_S) / c.step_S

    def corrections(self, array: MvmArray, part: tuple) -> tuple[np.ndarray, ...]:
        """``(rows, columns, delta)`` of the part's cells known to be off their digit
        (LOW cells and cells more than ``off_levels`` away), with ``delta`` = read-back
        level - digit; indices are the region's."""
        region, first, count = part
        digits = self.level_map(array, first, count)
        delta = self.levels_read(region) - digits
        low = self.layouts[region.tile].health[region.rows, list(region.cols)] == LOW
        rows, cols = np.nonzero(low | (np.abs(delta) > self.config.off_levels))
        return rows, cols, delta[rows, cols]
