"""TSP values and their conversions.

Lua values map to Python as: nil -> ``None``, booleans -> ``bool``, numbers -> ``float``
(every TSP number is a double; integers never appear), strings -> ``str``, tables ->
:class:`LuaTable`, Lua functions -> :class:`LuaFunction`. Host objects and host
functions live in :mod:`rramlab.sim.tsp.objects`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rramlab.sim.tsp.errors import TspRuntimeError
from rramlab.sim.tsp.lexer import parse_number

if TYPE_CHECKING:
    from rramlab.sim.tsp.nodes import Function

MAX_TABLE_ENTRIES = 200_000  # per table; a guard against runaway scripts
MAX_STRING_CHARS = 1 << 20  # 1 MiB per string


class _BoolKey:
    """Stands in for true/false as a dict key: Python would merge True with 1.0."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value


_BOOL_KEYS = {True: _BoolKey(True), False: _BoolKey(False)}


class LuaTable:
    """A Lua table: one dict for every key, plus a border hint so ``#t`` and
    ``t[#t + 1] = v`` stay O(1) when the table is used as an array."""

    __slots__ = ("__weakref__", "border", "data")

    def __init__(self) -> None:
        self.data: dict[object, object] = {}
        self.border = 0  # t[1..border] are all non-nil

    def get(self, key: object) -> object:
        if isinstance(key, bool):
            key = _BOOL_KEYS[key]
        return self.data.get(key)

    def set(self, key: object, value: object) -> None:
        if key is None:
            raise TspRuntimeError("table index is nil")
        if isinstance(key, float) and math.isnan(key):
            raise TspRuntimeError("table index is NaN")
        if isinstance(key, bool):
            key = _BOOL_KEYS[key]
        data = self.data
        if value is None:
            if data.pop(key, None) is not None and isinstance(key, float):
                if 1 <= key <= self.border and key == int(key):
                    self.border = int(key) - 1
            return
        if key not in data and len(data) >= MAX_TABLE_ENTRIES:
            raise TspRuntimeError("table overflow")
        data[key] = value
        if key == self.border + 1 and isinstance(key, float):
            b = self.border + 1
            while float(b + 1) in data:
                b += 1
            self.border = b

    def length(self) -> int:
        return self.border

    def items(self) -> list[tuple[object, object]]:
        """(key, value) pairs, keys as Lua sees them (a snapshot: safe to modify)."""
        return [(k.value if isinstance(k, _BoolKey) else k, v) for k, v in self.data.items()]

    def array(self) -> list[object]:
        """t[1], t[2], ... up to the border."""
        return [self.data[float(i)] for i in range(1, self.border + 1)]

    @classmethod
    def from_list(cls, values: list[object]) -> LuaTable:
        t = cls()
        for i, v in enumerate(values, start=1):
            t.set(float(i), v)
        return t


class LuaFunction:
    """A closure: a function of the script and the scope it was created in."""

    __slots__ = ("__weakref__", "func", "scope")

    def __init__(self, func: Function, scope: object) -> None:
        self.func = func
        self.scope = scope

    @property
    def name(self) -> str:
        return self.func.name


# ---------------------------------------------------------------------- conversions
def type_name(value: object) -> str:
    """What Lua's ``type()`` says of ``value`` (host objects are tables, as on the
    2600B, where ``type(smua)`` is "table")."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, LuaFunction):
        return "function"
    from rramlab.sim.tsp.objects import HostFunction

    if isinstance(value, HostFunction):
        return "function"
    return "table"


def truthy(value: object) -> bool:
    """Lua truth: only nil and false are false (0 and "" are true)."""
    return value is not None and value is not False


def number_to_string(x: float) -> str:
    """Lua's number-to-string conversion (``%.14g``), used by tostring and ``..``."""
    if math.isnan(x):
        return "nan" if math.copysign(1.0, x) > 0 else "-nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.14g}"


def to_number(value: object) -> float | None:
    """A number, or a string that reads as one (Lua's arithmetic coercion), else None."""
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return parse_number(value)
    return None


def to_integer(value: object, what: str) -> int:
    """A whole number argument (counts, indices); fractional values are truncated as
    the instrument does."""
    x = to_number(value)
    if x is None or math.isnan(x) or math.isinf(x):
        raise TspRuntimeError(f"bad argument ({what}: number expected, got {type_name(value)})")
    return int(x)


def format_number_ascii(x: float, precision: int) -> str:
    """A number as ``print``/``printbuffer`` write it on the 2600B: ``precision``
    significant digits in exponent form (6 -> ``1.00000e-06``); 0 means automatic."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if precision <= 0:
        return f"{x:.14g}"
    return f"{x:.{precision - 1}e}"


def check_string(text: str) -> str:
    if len(text) > MAX_STRING_CHARS:
        raise TspRuntimeError("string length overflow")
    return text
