"""The host object model: how Python-side instrument objects appear in TSP.

Only what is registered by name is reachable. A :class:`HostObject` holds a dict of
members (constants, attributes with getter/setter, functions, child objects) keyed by
their TSP names; the interpreter asks it ``tsp_get(key)`` / ``tsp_set(key, value)`` and
nothing else. There is no ``getattr`` on Python objects anywhere on the TSP side, so
``smua.__class__`` or ``smua.__dict__`` are just unknown names: TSP run-time errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rramlab.sim.tsp.errors import TspRuntimeError
from rramlab.sim.tsp.lexer import near
from rramlab.sim.tsp.values import LuaTable, to_number, type_name

HostResult = Any  # None (no values), a tuple (several values) or one value


class HostFunction:
    """A function implemented in Python. ``fn(args)`` gets the argument list and
    returns None (no values), a tuple (several values) or a single value.

    ``owner``: the object the function belongs to, so both ``obj.f()`` and the method
    form ``obj:f()`` work (the owner passed as first argument is dropped).
    """

    __slots__ = ("__weakref__", "fn", "name", "owner")

    def __init__(
        self, name: str, fn: Callable[[list[object]], HostResult], owner: object = None
    ) -> None:
        self.name = name
        self.fn = fn
        self.owner = owner

    def call(self, args: list[object]) -> list[object]:
        if self.owner is not None and args and args[0] is self.owner:
            args = args[1:]
        result = self.fn(args)
        if result is None:
            return []
        if isinstance(result, tuple):
            return list(result)
        return [result]


class _Member:
    __slots__ = ("getter", "setter")

    def __init__(self, getter: Callable[[], object], setter: Callable[[object], None] | None):
        self.getter = getter
        self.setter = setter


class HostObject:
    """A TSP table-like object whose members are declared in Python.

    ``path`` is the object's TSP name ("smua.source") for error messages. A subclass
    that sets ``callable`` can be called from TSP (``name()``) through ``tsp_call``.
    """

    callable = False

    def __init__(self, path: str) -> None:
        self.path = path
        self._members: dict[str, _Member] = {}

    # ------------------------------------------------------------------ declaring
    def const(self, name: str, value: object) -> None:
        """A read-only member with a fixed value (a constant, a child object)."""
        self._members[name] = _Member(lambda: value, None)

    def attr(
        self,
        name: str,
        getter: Callable[[], object],
        setter: Callable[[object], None] | None = None,
    ) -> None:
        """A member read through ``getter`` and, unless read-only, written through
        ``setter`` (which validates and may raise TspCommandError)."""
        self._members[name] = _Member(getter, setter)

    def function(self, name: str, fn: Callable[[list[object]], HostResult]) -> HostFunction:
        """A function member ``path.name(...)``."""
        f = HostFunction(f"{self.path}.{name}", fn, owner=self)
        self.const(name, f)
        return f

    def child(self, name: str, obj: HostObject) -> HostObject:
        self.const(name, obj)
        return obj

    def member_names(self) -> list[str]:
        return sorted(self._members)

    # ------------------------------------------------------------------ TSP access
    def tsp_get(self, key: object) -> object:
        if isinstance(key, str):
            member = self._members.get(key)
            if member is not None:
                return member.getter()
        return self.tsp_index(key)

    def tsp_set(self, key: object, value: object) -> None:
        if isinstance(key, str):
            member = self._members.get(key)
            if member is not None:
                if member.setter is None:
                    raise TspRuntimeError(f"attribute {near(key)} of {self.path} is read-only")
                member.setter(value)
                return
        self.tsp_set_index(key, value)

    def tsp_index(self, key: object) -> object:
        """Reading a key that is not a member (override for array-like objects)."""
        raise TspRuntimeError(f"{self.path} has no member {near(_describe(key))}")

    def tsp_set_index(self, key: object, value: object) -> None:
        raise TspRuntimeError(f"cannot create member {near(_describe(key))} in {self.path}")

    def tsp_len(self) -> int:
        raise TspRuntimeError(f"attempt to get length of {self.path}")

    def tsp_call(self, args: list[object]) -> list[object]:
        raise TspRuntimeError(f"attempt to call {self.path}")


def _describe(key: object) -> str:
    return key if isinstance(key, str) else type_name(key)


# ---------------------------------------------------------------------- arguments
def bad_argument(index: int, fname: str, expected: str, got: object) -> TspRuntimeError:
    """Lua's message for a wrong argument: bad argument #1 to `f' (number expected,
    got nil)."""
    return TspRuntimeError(
        f"bad argument #{index} to {near(fname)} ({expected} expected, got {type_name(got)})"
    )


def arg(args: list[object], index: int) -> object:
    """Argument ``index`` (1-based), nil when absent."""
    return args[index - 1] if len(args) >= index else None


def arg_number(args: list[object], index: int, fname: str) -> float:
    value = arg(args, index)
    x = to_number(value)
    if x is None:
        raise bad_argument(index, fname, "number", value)
    return x


def arg_opt_number(args: list[object], index: int, fname: str, default: float) -> float:
    if arg(args, index) is None:
        return default
    return arg_number(args, index, fname)


def arg_string(args: list[object], index: int, fname: str) -> str:
    value = arg(args, index)
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        from rramlab.sim.tsp.values import number_to_string

        return number_to_string(value)
    raise bad_argument(index, fname, "string", value)


def arg_table(args: list[object], index: int, fname: str) -> LuaTable:
    value = arg(args, index)
    if not isinstance(value, LuaTable):
        raise bad_argument(index, fname, "table", value)
    return value


def table_numbers(table: LuaTable, index: int, fname: str) -> list[float]:
    """The array part of ``table`` (argument ``index``) as numbers, numeric strings
    coerced; any other item is a bad argument."""
    values = []
    for item in table.array():
        x = to_number(item)
        if x is None:
            raise bad_argument(index, fname, "table of numbers", item)
        values.append(x)
    return values


def setting_number(value: object, path: str) -> float:
    """A number assigned to an instrument attribute (a numeric string is coerced, as
    Lua does); anything else is a run-time error."""
    x = to_number(value)
    if x is None:
        raise TspRuntimeError(f"bad value for {path} (number expected, got {type_name(value)})")
    return x
