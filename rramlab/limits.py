"""Safety limits of a station: what no protocol parameter may exceed.

A lab sets them once per station (the largest voltage its devices tolerate, the
largest current, the longest pulse). Every driver checks each value against them, and
against the instrument's own ranges, before a byte is sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rramlab.errors import LimitError


@dataclass(frozen=True)
class SafetyLimits:
    """Largest |voltage| (V), |current| (A) and pulse width (s) a station may apply."""

    max_voltage_V: float = 5.0
    max_current_A: float = 10e-3
    max_pulse_width_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_voltage_V", "max_current_A", "max_pulse_width_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"SafetyLimits.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"SafetyLimits.{name} must be a finite number > 0, got {value!r}")

    def check_voltage(self, value_V: float, what: str = "voltage") -> float:
        """``value_V`` if |value| is within the voltage limit, else :class:`LimitError`."""
        return _check(value_V, self.max_voltage_V, what, "V", "max_voltage_V")

    def check_current(self, value_A: float, what: str = "current") -> float:
        """``value_A`` if |value| is within the current limit, else :class:`LimitError`."""
        return _check(value_A, self.max_current_A, what, "A", "max_current_A")

    def check_pulse_width(self, value_s: float, what: str = "pulse width") -> float:
        """``value_s`` if it is positive and within the width limit, else :class:`LimitError`."""
        value = _check(value_s, self.max_pulse_width_s, what, "s", "max_pulse_width_s")
        if value <= 0:
            raise LimitError(f"{what} must be > 0 s, got {value!r}")
        return value


def _check(value: float, limit: float, what: str, unit: str, field: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise LimitError(f"{what} must be finite, got {value!r}")
    if abs(value) > limit:
        raise LimitError(
            f"{what} {value:g} {unit} exceeds the station's safety limit {field}={limit:g} {unit}"
        )
    return value
