"""A quick forming recipe for the simulated chip: every cell of a board tile formed by
row pulses under a gate-limited compliance.

Tests, benchmarks and examples need a formed array before anything else; the forming
protocol (``rramlab run forming``) does it cell by cell with verification, which is the
right tool in the lab but slow for setting up a simulated bench. Voltages suit the
simulated chip's forming thresholds (sim/params.py); a real chip needs its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FORMING_STEPS_V = (3.6, 4.0, 4.4)  # escalating row-pulse amplitudes (V)
FORMING_WIDTH_S = 1e-4  # pulse width (s)
FORMING_GATE_V = 1.2  # word-line gate voltage (V): ~50 uA SET compliance


def form_every_cell(
    board: Any,
    *,
    steps_V: Sequence[float] = FORMING_STEPS_V,
    width_s: float = FORMING_WIDTH_S,
    gate_V: float = FORMING_GATE_V,
) -> None:
    """Pulse every row of ``board``'s selected tile at each of ``steps_V`` (V) for
    ``width_s`` (s) with the gate at ``gate_V`` (V); the gate stays at ``gate_V``."""
    board.set_gate(gate_V)
    for v in steps_V:
        for row in range(board.tile.rows):
            board.pulse_row(v, width_s, row)
