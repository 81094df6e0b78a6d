"""Checks for numeric instrument settings: each takes the number assigned and returns
the value to store, or raises ValueError (which the SMU turns into -222)."""

from __future__ import annotations

import math
from collections.abc import Callable

RANGE_SLACK = 1.01  # a range accepts values up to 101 % of its full scale


def covering_range(value: float, ranges: tuple[float, ...]) -> float | None:
    """The smallest range holding ``|value|`` (with 1 % slack), None if none does."""
    value = abs(value)
    for r in ranges:
        if value <= r * RANGE_SLACK:
            return r
    return None


def choice(*allowed: float) -> Callable[[float], float]:
    def check(x: float) -> float:
        if x not in allowed:
            raise ValueError
        return x

    return check


def between(lo: float, hi: float, magnitude: bool = False) -> Callable[[float], float]:
    """Accept ``lo <= x <= hi`` (``magnitude``: of |x|, storing |x|, as limits are)."""

    def check(x: float) -> float:
        value = abs(x) if magnitude else x
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError
        return value

    return check


def whole(lo: int, hi: int) -> Callable[[float], float]:
    def check(x: float) -> float:
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError
        return float(int(x))

    return check


def range_value(ranges: tuple[float, ...]) -> Callable[[float], float]:
    def check(x: float) -> float:
        chosen = covering_range(x, ranges)
        if chosen is None:
            raise ValueError
        return chosen

    return check


def delay_value(x: float) -> float:
    """A source or measure delay: DELAY_AUTO (-1), off (0) or seconds up to 1e3."""
    if x == -1.0 or (math.isfinite(x) and 0.0 <= x <= 1e3):
        return x
    raise ValueError
