"""Lua's operators on TSP values: equality, ordering and arithmetic on doubles.

Arithmetic follows IEEE doubles as C does on the instrument: division by zero gives
inf or nan, never an exception; ``%`` is Lua's floored modulo.
"""

from __future__ import annotations

import math

from rramlab.sim.tsp.errors import TspRuntimeError
from rramlab.sim.tsp.values import type_name


def lua_equal(a: object, b: object) -> bool:
    """Lua's primitive equality: same type and value; tables and functions by identity."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, str, bool)) or a is None:
        return a == b
    return a is b


def arith(op: str, x: float, y: float) -> float:
    """Lua arithmetic on doubles: division by zero gives inf/nan, never an exception."""
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        if y == 0.0:
            return _divide_by_zero(x, y)
        return x / y
    if op == "%":
        if y == 0.0:
            return float("nan")
        return x - (x // y) * y
    if op == "^":
        try:
            result = x**y
        except OverflowError:
            return float("inf")
        except ZeroDivisionError:
            return float("inf")
        return result if isinstance(result, float) else float("nan")
    raise TspRuntimeError(f"unknown operator {op}")


def _divide_by_zero(x: float, y: float) -> float:
    if x != x or x == 0.0:
        return float("nan")
    return math.copysign(1.0, x) * math.copysign(1.0, y) * float("inf")


def compare(op: str, a: object, b: object) -> bool:
    if (type(a) is float and type(b) is float) or (isinstance(a, str) and isinstance(b, str)):
        if op == "<":
            return a < b  # type: ignore[operator]
        if op == "<=":
            return a <= b  # type: ignore[operator]
        if op == ">":
            return a > b  # type: ignore[operator]
        return a >= b  # type: ignore[operator]
    ta, tb = type_name(a), type_name(b)
    if ta == tb:
        raise TspRuntimeError(f"attempt to compare two {ta} values")
    raise TspRuntimeError(f"attempt to compare {ta} with {tb}")
