"""Endurance: the switching window shrinks with use, then the cell fails stuck."""

from __future__ import annotations

import numpy as np

from rramlab.sim.params import CrossbarParams


def life_used(cycles: np.ndarray, endurance_cycles: np.ndarray) -> np.ndarray:
    """Fraction of its life (0..1) a cell has used after ``cycles`` full SET/RESET cycles."""
    return np.clip(cycles / endurance_cycles, 0.0, 1.0)


def worn_window(
    g_floor_S: np.ndarray,
    g_ceiling_S: np.ndarray,
    cycles: np.ndarray,
    endurance_cycles: np.ndarray,
    p: CrossbarParams,
) -> tuple[np.ndarray, np.ndarray]:
    """The reachable ``(floor, ceiling)`` in siemens after ``cycles``: both ends close in
    on each other in ln g, by ``endurance_window_loss`` of the window at end of life."""
    half_loss = (
        0.5
        * p.endurance_window_loss
        * life_used(cycles, endurance_cycles)
        * np.log(g_ceiling_S / g_floor_S)
    )
    return g_floor_S * np.exp(half_loss), g_ceiling_S * np.exp(-half_loss)


def cycles_from_switching(
    switched_ln: np.ndarray, g_floor_S: np.ndarray, g_ceiling_S: np.ndarray
) -> np.ndarray:
    """Cycles of wear caused by a change of ``switched_ln`` in ln g: a full SET plus a
    full RESET across the whole window count as one cycle."""
    return 0.5 * switched_ln / np.log(g_ceiling_S / g_floor_S)
