"""program-levels: multilevel programming of an array region to a map of levels, with
the board's own write-verify.

Each cell of the region gets a level index (0 = the lowest of ``levels_S``) from a
``pattern`` (or an explicit ``level_map``), and the board programs it to that level's
conductance within ``tol_rel`` (``WV``, docs/board-protocol.md), verifying at
``v_read_V``. The cells must be formed first (forming); a cell that cannot be
programmed (unformed, stuck, worn out) is reported outside tolerance.

Patterns (``i``, ``j``: row and column inside the region, ``n``: number of levels):
``random`` (uniform, from ``seed``), ``rows`` (i mod n), ``cols`` (j mod n), ``ramp``
(the region's cells in row-major order cycle through the levels), ``checkerboard``
(lowest and highest level alternating) and ``map`` (``level_map``, from Python).

Resumable (:func:`resume`): an interrupted run goes on with the cells it had not
programmed yet.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rramlab.protocols import cells as cellcheck
from rramlab.protocols.base import ProtocolSpec, RunContext
from rramlab.protocols.read_map import RegionParams

# Eight levels evenly spaced over 0.5-35 uS: the 3-bit states of Zuo et al. 2025.
DEFAULT_LEVELS_S = tuple(round(float(g), 15) for g in np.linspace(0.5e-6, 35e-6, 8))
PATTERNS = ("random", "rows", "cols", "ramp", "checkerboard", "map")


@dataclass(frozen=True)
class ProgramLevelsParams(RegionParams):
    """program-levels: the region (default: the whole tile) programmed to ``levels_S``
    (S, > 0, increasing) laid out by ``pattern``; ``tol_rel`` (0..1), ``max_pulses``
    per cell, verify reads at ``v_read_V`` (V). ``rows_per_step``: region rows per
    write-verify command (None: all at once); smaller steps report progress and can be
    aborted between them."""

    levels_S: tuple[float, ...] = DEFAULT_LEVELS_S
    pattern: str = "random"
    seed: int = 0
    level_map: tuple[tuple[int, ...], ...] | None = None
    tol_rel: float = 0.05
    max_pulses: int = 100
    v_read_V: float = 0.2
    rows_per_step: int | None = None

    def check(self) -> None:
        super().check()
        try:
            if isinstance(self.levels_S, (str, bytes)):
                raise TypeError
            object.__setattr__(self, "levels_S", tuple(self.levels_S))
        except TypeError:
            raise ValueError(f"levels_S must be conductances (S), got {self.levels_S!r}") from None
        if not self.levels_S:
            raise ValueError("levels_S must hold at least one conductance")
        for k, g in enumerate(self.levels_S):
            cellcheck.check_number(f"levels_S[{k}]", g, positive=True)
        if any(b <= a for a, b in zip(self.levels_S, self.levels_S[1:], strict=False)):
            raise ValueError(f"levels_S must increase (level 0 lowest), got {self.levels_S}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {self.pattern!r}")
        if (self.pattern == "map") != (self.level_map is not None):
            raise ValueError("pattern='map' and level_map go together: give both or neither")
        if self.level_map is not None:
            object.__setattr__(self, "level_map", self._checked_map(self.level_map))
        cellcheck.check_count("seed", self.seed, minimum=0)
        cellcheck.check_number("tol_rel", self.tol_rel, positive=True, maximum=1 - 1e-9)
        cellcheck.check_count("max_pulses", self.max_pulses)
        cellcheck.check_number("v_read_V", self.v_read_V, nonzero=True)
        if self.rows_per_step is not None:
            cellcheck.check_count("rows_per_step", self.rows_per_step)

    def _checked_map(self, value: Any) -> tuple[tuple[int, ...], ...]:
        try:  # numpy integers too (a map built with numpy), but not floats
            rows = tuple(tuple(operator.index(level) for level in row) for row in value)
        except TypeError:
            raise ValueError("level_map must hold integer level indices") from None
        if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise ValueError("level_map must be a non-empty rectangle of level indices")
        top = len(self.levels_S) - 1
        for r, row in enumerate(rows):
            for c, level in enumerate(row):
                cellcheck.check_count(f"level_map[{r}][{c}]", level, minimum=0, maximum=top)
        return rows

    def check_station(self, station: Any) -> None:
        if station.board is None:
            raise ValueError(
                f"program-levels uses the array board's write-verify; station "
                f"{station.name!r} has no board"
            )
        super().check_station(station)
        rows, cols = self.size(station)
        if self.level_map is not None and (len(self.level_map), len(self.level_map[0])) != (
            rows,
            cols,
        ):
            raise ValueError(
                f"level_map is {len(self.level_map)} x {len(self.level_map[0])}; "
                f"the region is {rows} x {cols}"
            )
        cellcheck.check_board_write_verify(station)
        caps = station.board.capabilities
        if self.max_pulses > caps.max_write_verify_pulses:
            raise ValueError(
                f"max_pulses={self.max_pulses} is beyond the board's "
                f"{caps.max_write_verify_pulses} write-verify pulses per cell"
            )
        cellcheck.check_read_voltage(station, "board", self.v_read_V)
        # A level whose read current the ADC cannot hold cannot be verified.
        g_top = caps.adc_range_A / abs(self.v_read_V)
        if self.levels_S[-1] > g_top:
            raise ValueError(
                f"levels_S up to {self.levels_S[-1]:g} S: the board verifies at most "
                f"{g_top:g} S at v_read_V={self.v_read_V:g} V"
            )

    def levels(self, station: Any) -> np.ndarray:
        """The region's level indices, shape (rows, cols)."""
        rows, cols = self.size(station)
        n = len(self.levels_S)
        i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        if self.pattern == "random":
            return np.random.default_rng(self.seed).integers(0, n, size=(rows, cols))
        if self.pattern == "rows":
            return i % n
        if self.pattern == "cols":
            return j % n
        if self.pattern == "ramp":
            return (i * cols + j) % n
        if self.pattern == "checkerboard":
            return (i + j) % 2 * (n - 1)
        return np.array(self.level_map, dtype=int)


def run(ctx: RunContext, p: ProgramLevelsParams) -> None:
    """One row per cell: row, col, level, g_target_S, g_S (the board's final verify
    read), pulses, inside_tolerance."""
    levels = p.levels(ctx.station)
    _program(ctx, p, levels, np.ones(levels.shape, dtype=bool))


def resume(ctx: RunContext, p: ProgramLevelsParams, previous: pd.DataFrame) -> None:
    """Continue an interrupted run: program the region's cells that have no row yet,
    in the same steps; a cell with a row (inside tolerance or not: it had its
    ``max_pulses``) keeps it, so the run ends with one row per cell, as an uninterrupted
    one. A cell an interrupted step had already programmed, its row lost, is verified
    by the board's write-verify before any pulse: inside tolerance, it gets none."""
    levels = p.levels(ctx.station)
    todo = np.ones(levels.shape, dtype=bool)
    if len(previous) and {"row", "col"} <= set(previous.columns):
        r = previous["row"].to_numpy(dtype=int) - p.row0
        c = previous["col"].to_numpy(dtype=int) - p.col0
        inside = (r >= 0) & (r < levels.shape[0]) & (c >= 0) & (c < levels.shape[1])
        todo[r[inside], c[inside]] = False
    _program(ctx, p, levels, todo)


def _program(ctx: RunContext, p: ProgramLevelsParams, levels: np.ndarray, todo: np.ndarray) -> None:
    """Write-verify the cells of the region where ``todo`` is true, ``rows_per_step``
    region rows per command (steps with nothing to do are skipped), logging a row per
    cell programmed."""
    board = ctx.station.board
    n_rows, n_cols = levels.shape
    step = p.rows_per_step or n_rows
    if todo.any():
        board.set_read_voltage(p.v_read_V)  # write-verify reads at the board's VREAD
    for first in range(0, n_rows, step):
        block = levels[first : first + step]
        wanted = todo[first : first + step]
        done = first + block.shape[0]
        if not wanted.any():
            ctx.progress(done / n_rows, f"{done} of {n_rows} rows programmed")
            continue
        ctx.check_abort()
        rows = np.arange(p.row0 + first, p.row0 + first + block.shape[0])
        cols = np.arange(p.col0, p.col0 + n_cols)
        targets = np.full((board.tile.rows, board.tile.cols), np.nan)
        targets[np.ix_(rows, cols)] = np.where(wanted, np.asarray(p.levels_S)[block], np.nan)
        result = board.write_verify(targets, tol_rel=p.tol_rel, max_pulses=p.max_pulses)
        r, c = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        keep = wanted.ravel()
        r, c = r[keep], c[keep]
        ctx.log(
            pd.DataFrame(
                {
                    "row": r,
                    "col": c,
                    "level": block.ravel()[keep],
                    "g_target_S": targets[r, c],
                    "g_S": result.g_S[r, c],
                    "pulses": result.pulses[r, c],
                    "inside_tolerance": ~result.outside[r, c],
                }
            )
        )
        ctx.progress(done / n_rows, f"{done} of {n_rows} rows programmed")


SPEC = ProtocolSpec(
    name="program-levels",
    params=ProgramLevelsParams,
    run=run,
    summary="multilevel programming of a region to a map of levels (board write-verify)",
    resume=resume,
)
