"""Cell work on the array board for the analog engine: forming and a health scan,
programming digit levels with the board's write-verify, and averaged read-backs.

All functions act on the board's currently selected tile and see the cells only
through the board's reads (docs/board-protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.drivers.array_board import ArrayBoard
from rramlab.drivers.board_link import BoardError

ADC_SATURATED = 300


@dataclass(frozen=True)
class FormingRecipe:
    """Batch forming: pulses of ``width_s`` ramping ``start_V`` .. ``stop_V`` in
    ``step_V`` steps under the word-line gate ``gate_V`` (the 1T1R compliance; 1.2 V is
    ~50 uA on the simulated chip), a read of the tile after each step. A cell reading
    at least ``formed_S`` is formed; one reading ``short_S`` or more is a short (stuck
    high: a compliance-limited filament sits near I_cc / 1 V, far below)."""

    start_V: float = 2.0
    stop_V: float = 4.0
    step_V: float = 0.1
    width_s: float = 1e-5
    gate_V: float = 1.2
    formed_S: float = 5e-6
    short_S: float = 100e-6


def read_conductance(board: ArrayBoard, v_read_V: float, repeats: int = 1) -> np.ndarray:
    """Mean apparent conductance (S) of every cell of the tile over ``repeats`` reads
    (a read that clipped at the ADC range counts at the clipped value)."""
    total = np.zeros((board.tile.rows, board.tile.cols))
    for _ in range(repeats):
        try:
            currents = board.read_tile()
        except BoardError as error:
            if error.code != ADC_SATURATED or error.block is None:
                raise
            currents = np.frombuffer(error.block, dtype="<f4").astype(float)
            currents = currents.reshape(board.tile.rows, board.tile.cols)
        total += currents
    return total / (repeats * v_read_V)


def form_and_scan(
    board: ArrayBoard, cells: np.ndarray, v_read_V: float, recipe: FormingRecipe
) -> tuple[np.ndarray, np.ndarray]:
    """Form the ``cells`` (bool mask of the tile) that do not conduct yet, by batch
    pulses; returns the masks of those that never formed (LOW) and of the shorts."""
    board.set_gate(recipe.gate_V)
    g = read_conductance(board, v_read_V)
    todo = cells & (g < recipe.formed_S)
    steps = round((recipe.stop_V - recipe.start_V) / recipe.step_V) + 1
    for v in recipe.start_V + recipe.step_V * np.arange(steps):
        if not todo.any():
            break
        board.pulse_cells(float(v), recipe.width_s, np.argwhere(todo))
        g = read_conductance(board, v_read_V)
        todo &= g < recipe.formed_S
    return cells & (g < recipe.formed_S), cells & (g >= recipe.short_S)


def program_levels(
    board: ArrayBoard,
    levels: np.ndarray,
    levels_S: np.ndarray,
    tol_levels: float,
    max_pulses: int,
) -> tuple[np.ndarray, int]:
    """Write-verify every cell with ``levels >= 0`` (an int map of the tile; -1 = leave
    alone) to ``levels_S[level]``, one ``WV`` per level so each gets a tolerance of
    ``tol_levels`` level steps (relative tolerances would be needlessly tight at the
    low levels and loose at the top). Cells outside tolerance get a second pass.
    Returns the mask of cells still outside and the number of WV commands sent."""
    step = float(levels_S[1] - levels_S[0])
    outside = np.zeros(levels.shape, dtype=bool)
    runs = 0
    for attempt in range(2):
        todo = levels >= 0 if attempt == 0 else outside
        outside = np.zeros(levels.shape, dtype=bool)
        for k in np.unique(levels[todo]):
            chosen = todo & (levels == k)
            targets = np.where(chosen, levels_S[k], np.nan)
            tol = float(np.clip(tol_levels * step / levels_S[k], 0.005, 0.2))
            result = board.write_verify(targets, tol_rel=tol, max_pulses=max_pulses)
            outside |= result.outside
            runs += 1
        if not outside.any():
            break
    return outside, runs
