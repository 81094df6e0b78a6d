"""What an instrument's terminals reach on the simulated bench.

A simulated SMU does not know about arrays: it drives its terminals. A
:class:`CellProbe` connects those terminals to one cell of a crossbar (a single-device
probe station); the array board (a later issue) moves the probe to any cell. Voltages
and durations are applied to the cell through the crossbar model, so everything the
instrument does ages, disturbs and programs the cell exactly as the model says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rramlab.sim.cell import voltage_for_current
from rramlab.sim.crossbar import Crossbar


@dataclass(frozen=True)
class TerminalReading:
    """Voltage across and current through the terminals at the end of a bias."""

    voltage_V: float
    current_A: float
    limited: bool  # the current limit held: the source could not reach its level


class Terminals(Protocol):
    """The device under test, as the source sees it."""

    def force_voltage(self, v_V: float, duration_s: float, i_limit_A: float) -> TerminalReading:
        """Hold ``v_V`` for ``duration_s`` unless the current would pass ``i_limit_A``."""
        ...

    def force_current(self, i_A: float, duration_s: float, v_limit_V: float) -> TerminalReading:
        """Drive ``i_A`` for ``duration_s`` unless the voltage would pass ``v_limit_V``."""
        ...

    def rest(self, duration_s: float) -> None:
        """Let ``duration_s`` pass with the terminals unbiased."""
        ...


class CellProbe:
    """Terminals on cell ``(row, col)`` of ``array``: the positive terminal on the
    cell's row line, so a positive voltage SETs. The array's clock advances by every
    duration the source holds."""

    def __init__(self, array: Crossbar, row: int = 0, col: int = 0) -> None:
        self.array = array
        self.move_to(row, col)

    def move_to(self, row: int, col: int) -> None:
        """Connect the terminals to cell ``(row, col)``."""
        if not (0 <= row < self.array.n_rows and 0 <= col < self.array.n_cols):
            raise IndexError(f"cell ({row}, {col}) is outside the {self.array.shape} array")
        self.row, self.col = int(row), int(col)
        self.connected = True

    def disconnect(self) -> None:
        """Open the terminals (a switch matrix with nothing routed): an open circuit."""
        self.connected = False

    def force_voltage(self, v_V: float, duration_s: float, i_limit_A: float) -> TerminalReading:
        if not self.connected:
            self.array.clock.sleep(duration_s)
            return TerminalReading(v_V, 0.0, False)
        current = float(
            self.array.pulse(v_V, duration_s, rows=self.row, cols=self.col, compliance_A=i_limit_A)[
                0, 0
            ]
        )
        self.array.clock.sleep(duration_s)
        limited = abs(current) >= i_limit_A * (1 - 1e-9)
        voltage = v_V
        if limited:
            g = self.array.conductance_S[self.row, self.col]
            voltage = float(voltage_for_current(current, g, self.array.params))
        return TerminalReading(voltage, current, limited)

    def force_current(self, i_A: float, duration_s: float, v_limit_V: float) -> TerminalReading:
        if not self.connected:  # no current can flow: the source rises to its limit
            self.array.clock.sleep(duration_s)
            return TerminalReading(float(np.sign(i_A)) * v_limit_V, 0.0, i_A != 0)
        g = self.array.conductance_S[self.row, self.col]
        needed = float(voltage_for_current(i_A, g, self.array.params))
        if abs(needed) <= v_limit_V:
            reading = self.force_voltage(needed, duration_s, abs(i_A) * (1 + 1e-6) + 1e-15)
            return TerminalReading(reading.voltage_V, i_A, False)
        reading = self.force_voltage(np.sign(i_A) * v_limit_V, duration_s, abs(i_A))
        return TerminalReading(reading.voltage_V, reading.current_A, True)

    def rest(self, duration_s: float) -> None:
        self.array.clock.sleep(duration_s)
