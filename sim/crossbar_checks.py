"""Argument checks of the crossbar's operations: numbers that must be finite,
positive, or a voltage (V) within what the model accepts."""

from __future__ import annotations

import math

MAX_ABS_VOLTAGE_V = 50.0  # no RRAM bench applies more; larger values are mistakes


def voltage(value: float, name: str) -> float:
    """``value`` (V) as a float, refused beyond +-MAX_ABS_VOLTAGE_V."""
    value = finite(value, name)
    if abs(value) > MAX_ABS_VOLTAGE_V:
        raise ValueError(f"{name}={value!r} V is beyond the model's +-{MAX_ABS_VOLTAGE_V} V")
    return value


def finite(value: float, name: str) -> float:
    """``value`` as a finite float (its unit is the caller's), else TypeError/ValueError."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def positive(value: float, name: str) -> float:
    """``value`` as a finite float > 0 (its unit is the caller's)."""
    value = finite(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value
