"""How protocols touch one cell: through the SMU (routed to the cell by the board's
switch matrix, or the probed device of a station without a board) or through the
board's own pulse generator and converters.

Both give the same three operations, so a single-cell protocol is written once and runs
``via="smu"`` (any station; pulses as short as the SMU allows) or ``via="board"``
(stations with an array board; pulses down to the board's minimum, reads through its
ADCs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

VIA = ("smu", "board")


@dataclass(frozen=True)
class CellReading:
    """A read of one cell: the read voltage (V), the current (A) and the apparent
    conductance I/V (S)."""

    v_V: float
    i_A: float

    @property
    def g_S(self) -> float:
        return self.i_A / self.v_V if self.v_V else math.nan


@dataclass(frozen=True)
class CellPulse:
    """A pulse as applied: amplitude (V), the width really held (s), its current limit
    (A; NaN when the limit is a 1T1R gate) and the current at its end (A)."""

    v_V: float
    width_s: float
    i_limit_A: float
    i_A: float


class CellAccess(Protocol):
    def read(self, row: int, col: int, v_read_V: float) -> CellReading: ...

    def pulse(
        self, row: int, col: int, v_V: float, width_s: float, i_limit_A: float
    ) -> CellPulse: ...

    def finish(self) -> None: ...


class SmuAccess:
    """Cells through the station's SMU: routed by the board if there is one. Reads
    source the read voltage under ``read_limit_A`` and measure; pulses use the SMU's
    own pulse (its width is what the instrument reports)."""

    def __init__(self, station: Any, *, nplc: float = 1.0, read_limit_A: float = 1e-3) -> None:
        if station.smu is None:
            raise ValueError(f"station {station.name!r} has no SMU")
        self.station = station
        self.smu = station.smu
        self.read_limit_A = min(read_limit_A, station.limits.max_current_A)
        self.smu.configure_measurement(nplc=nplc)
        self._cell: tuple[int, int] | None = None

    def _connect(self, row: int, col: int) -> None:
        if self._cell != (row, col):
            self.smu.disable_output()  # never switch a relay matrix under bias
            self.station.connect_smu_to(row, col)
            self._cell = (row, col)

    def read(self, row: int, col: int, v_read_V: float) -> CellReading:
        self._connect(row, col)
        self.smu.source_voltage(v_read_V, current_limit_A=self.read_limit_A)
        with self.smu.output():
            m = self.smu.measure()
        return CellReading(m.voltage_V if m.voltage_V else v_read_V, m.current_A)

    def pulse(self, row: int, col: int, v_V: float, width_s: float, i_limit_A: float) -> CellPulse:
        self._connect(row, col)
        result = self.smu.pulse_voltage(v_V, width_s, current_limit_A=i_limit_A)
        return CellPulse(v_V, result.width_s, i_limit_A, result.current_A)

    def finish(self) -> None:
        self.smu.disable_output()


class BoardAccess:
    """Cells through the board: its pulse generator (a SET's current limit set by the
    word-line gate, from the 1T1R transistor: pass ``i_limit_A`` and the gate is chosen
    with ``gate_for``) and its ADC reads."""

    def __init__(self, station: Any, *, gate_for: Any = None) -> None:
        if station.board is None:
            raise ValueError(f"station {station.name!r} has no array board (use via='smu')")
        self.board = station.board
        self.gate_for = gate_for
        self._v_read: float | None = None
        self._gate: float | None = None

    def read(self, row: int, col: int, v_read_V: float) -> CellReading:
        if self._v_read != v_read_V:
            self.board.set_read_voltage(v_read_V)
            self._v_read = v_read_V
        return CellReading(v_read_V, self.board.read(row, col))

    def pulse(self, row: int, col: int, v_V: float, width_s: float, i_limit_A: float) -> CellPulse:
        if v_V > 0 and self.gate_for is not None:
            gate = float(self.gate_for(i_limit_A))
            if gate != self._gate:
                self.board.set_gate(gate)
                self._gate = gate
        current = self.board.pulse(v_V, width_s, row, col)
        limit = i_limit_A if self.gate_for is not None and v_V > 0 else math.nan
        return CellPulse(v_V, width_s, limit, current)

    def finish(self) -> None:
        pass


def square_law_gate(
    i_limit_A: float, *, v_th_V: float = 0.5, k_A_per_V2: float = 200e-6, v_max_V: float = 3.3
) -> float:
    """Gate voltage (V) whose square-law transistor saturation current is ``i_limit_A``
    (a calibration of the board's access transistors; defaults match the simulated
    chip). Clipped to ``v_max_V``."""
    return float(np.clip(v_th_V + math.sqrt(2 * max(i_limit_A, 0.0) / k_A_per_V2), 0, v_max_V))


def square_law_current(
    v_gate_V: float, *, v_th_V: float = 0.5, k_A_per_V2: float = 200e-6
) -> float:
    """Saturation current (A) of the board's square-law access transistor at gate
    voltage ``v_gate_V`` (the inverse of :func:`square_law_gate`, same calibration)."""
    return 0.5 * k_A_per_V2 * max(float(v_gate_V) - v_th_V, 0.0) ** 2


def cell_access(station: Any, via: str, *, nplc: float = 1.0) -> CellAccess:
    """The access path ``via`` ("smu" or "board") on ``station``."""
    if via == "smu":
        return SmuAccess(station, nplc=nplc)
    if via == "board":
        return BoardAccess(station, gate_for=square_law_gate)
    raise ValueError(f"via must be one of {', '.join(VIA)}, got {via!r}")
