"""Checking values before a byte goes to the array board: cell and block coordinates
against the selected tile, pulse amplitude (V) and width (s), DAC voltages (V), against
the board's capabilities and the station's safety limits. Mixed into
:class:`rramlab.drivers.array_board.ArrayBoard`."""

from __future__ import annotations

import numpy as np

from rramlab.errors import LimitError


class ChecksMixin:
    """Value checks (uses ``tile``, ``capabilities`` and ``limits`` of the board)."""

    def _cell(self, row: int, col: int) -> tuple[int, int]:
        for what, value, n in (("row", row, self.tile.rows), ("col", col, self.tile.cols)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{what} must be an integer, got {value!r}")
            if not 0 <= value < n:
                raise LimitError(f"{what} {value} is outside tile {self.tile.id} (0..{n - 1})")
        return int(row), int(col)

    def _pulse_values(self, v_V: float, width_s: float) -> tuple[float, float]:
        v = self.limits.check_voltage(v_V, "pulse amplitude")
        width = self.limits.check_pulse_width(width_s)
        caps = self.capabilities
        if abs(v) > caps.pulse_amplitude_V:
            raise LimitError(
                f"pulse amplitude {v:g} V is beyond the board's {caps.pulse_amplitude_V:g} V"
            )
        lo, hi = caps.pulse_width_s
        if not lo <= width <= hi:
            raise LimitError(f"pulse width {width:g} s is outside the board's {lo:g}..{hi:g} s")
        return v, width

    def _dac_values(self, v_V: np.ndarray, what: str) -> np.ndarray:
        v = np.asarray(v_V, dtype=float)
        if not np.all(np.isfinite(v)):
            raise LimitError(f"{what} must be finite")
        peak = float(np.max(np.abs(v))) if v.size else 0.0
        self.limits.check_voltage(peak, what)
        if peak > self.capabilities.dac_range_V:
            raise LimitError(
                f"{what} {peak:g} V is beyond the DACs' +-{self.capabilities.dac_range_V:g} V"
            )
        return v

    def _block_bounds(self, row0: int, col0: int, n_rows: int, n_cols: int) -> None:
        self._cell(row0, col0)
        if (
            n_rows < 1
            or n_cols < 1
            or row0 + n_rows > self.tile.rows
            or col0 + n_cols > self.tile.cols
        ):
            raise LimitError(
                f"a {n_rows}x{n_cols} block at ({row0}, {col0}) does not fit "
                f"the {self.tile.rows}x{self.tile.cols} tile"
            )
