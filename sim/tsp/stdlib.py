"""The Lua standard functions a TSP script can use: ``tostring``, ``tonumber``,
``type``, ``pairs``/``ipairs``/``next``, ``unpack``, ``select``, ``error``, ``assert``,
``pcall``, and the ``math``, ``string``, ``table`` and ``os`` libraries (the parts
instrument scripts use). Each is a host function over TSP values; none reaches Python.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

from rramlab.clock import Clock
from rramlab.sim.tsp.errors import BudgetExceeded, TspRuntimeError
from rramlab.sim.tsp.interpreter import HostIterator, Interpreter
from rramlab.sim.tsp.objects import (
    HostFunction,
    arg,
    arg_number,
    arg_opt_number,
    arg_string,
    arg_table,
    bad_argument,
)
from rramlab.sim.tsp.strlib import string_library
from rramlab.sim.tsp.values import (
    LuaTable,
    check_string,
    number_to_string,
    to_number,
    truthy,
    type_name,
)

EPOCH_S = 1_704_067_200.0  # os.time() at bench time 0 (2024-01-01 UTC): reproducible


def install(
    globals_table: LuaTable,
    interp: Interpreter,
    clock: Clock,
    describe: Callable[[object], str],
) -> None:
    """Define the standard functions in ``globals_table``. ``describe`` names a
    table or function the way ``print`` does ("table: 0x00010000")."""

    def tostring(v: object) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, float):
            return number_to_string(v)
        if v is None:
            return "nil"
        if isinstance(v, bool):
            return "true" if v else "false"
        return describe(v)

    def fn(name: str, body: Callable[[list[object]], object]) -> None:
        globals_table.set(name, HostFunction(name, body))

    fn("tostring", lambda a: tostring(arg(a, 1)))
    fn("tonumber", _tonumber)
    fn("type", lambda a: type_name(arg(a, 1)) if a else _missing(1, "type"))
    fn("unpack", lambda a: tuple(arg_table(a, 1, "unpack").array()))
    fn("select", _select)
    fn("error", lambda a: _raise(tostring(arg(a, 1))))
    fn("assert", _assert)

    def pcall(a: list[object]) -> tuple[object, ...]:
        if not a:
            raise bad_argument(1, "pcall", "value", None)
        try:
            return (True, *interp.call(a[0], a[1:]))
        except BudgetExceeded:
            raise  # the guard must not be catchable
        except TspRuntimeError as e:
            return (False, e.message)

    fn("pcall", pcall)
    globals_table.set("next", HostFunction("next", _next))
    pairs_iter = HostIterator("next", _next, _iterate_pairs)
    ipairs_iter = HostIterator("ipairs_iterator", _ipairs_step, _iterate_ipairs)
    fn("pairs", lambda a: (pairs_iter, arg_table(a, 1, "pairs"), None))
    fn("ipairs", lambda a: (ipairs_iter, arg_table(a, 1, "ipairs"), 0.0))
    globals_table.set("math", _math_library())
    globals_table.set("string", string_library(tostring, interp.charge))
    globals_table.set("table", _table_library(tostring))
    os_lib = LuaTable()
    os_lib.set("time", HostFunction("os.time", lambda a: float(math.floor(EPOCH_S + clock.now()))))
    os_lib.set("clock", HostFunction("os.clock", lambda a: clock.now()))
    globals_table.set("os", os_lib)


def _missing(index: int, fname: str) -> object:
    raise bad_argument(index, fname, "value", None)


def _raise(message: str) -> object:
    raise TspRuntimeError(message)


def _assert(a: list[object]) -> tuple[object, ...]:
    if not a or not truthy(a[0]):
        message = a[1] if len(a) > 1 and isinstance(a[1], str) else "assertion failed!"
        raise TspRuntimeError(message)
    return tuple(a)


def _tonumber(a: list[object]) -> object:
    value = arg(a, 1)
    base = arg(a, 2)
    if base is None or base == 10.0:
        return to_number(value)
    b = int(arg_number(a, 2, "tonumber"))
    if not 2 <= b <= 36:
        raise TspRuntimeError("bad argument #2 to `tonumber' (base out of range)")
    try:
        return float(int(arg_string(a, 1, "tonumber").strip(), b))
    except ValueError:
        return None


def _select(a: list[object]) -> object:
    which = arg(a, 1)
    if which == "#":
        return float(len(a) - 1)
    x = arg_number(a, 1, "select")
    if not math.isfinite(x) or x < 1:
        raise TspRuntimeError("bad argument #1 to `select' (index out of range)")
    return tuple(a[int(x) :])


def _next(a: list[object]) -> tuple[object, ...]:
    table = arg_table(a, 1, "next")
    key = arg(a, 2)
    items = table.items()
    if key is None:
        return items[0] if items else (None,)
    for i, (k, _) in enumerate(items):
        if type(k) is type(key) and k == key:
            return items[i + 1] if i + 1 < len(items) else (None,)
    raise TspRuntimeError("invalid key to `next'")


def _iterate_pairs(state: object, control: object) -> Iterator[list[object]]:
    if not isinstance(state, LuaTable):
        raise bad_argument(1, "next", "table", state)
    for k, v in state.items():  # a snapshot: the loop body may change the table
        yield [k, v]


def _ipairs_step(a: list[object]) -> tuple[object, ...]:
    table = arg_table(a, 1, "ipairs")
    i = arg_number(a, 2, "ipairs") + 1.0
    value = table.get(i)
    return (None,) if value is None else (i, value)


def _iterate_ipairs(state: object, control: object) -> Iterator[list[object]]:
    if not isinstance(state, LuaTable):
        raise bad_argument(1, "ipairs", "table", state)
    i = (to_number(control) or 0.0) + 1.0
    while True:
        value = state.get(i)
        if value is None:
            return
        yield [i, value]
        i += 1.0


# ---------------------------------------------------------------------- math
def _safe(f: Callable[..., float]) -> Callable[..., float]:
    """A math function that returns nan/inf instead of raising, as C's libm does."""

    def wrapped(*xs: float) -> float:
        try:
            return float(f(*xs))
        except ValueError:
            return float("nan")
        except OverflowError:
            return float("inf")

    return wrapped


def _math_library() -> LuaTable:
    lib = LuaTable()
    rng = random.Random(0)  # reproducible: the same script gives the same numbers

    def unary(name: str, f: Callable[[float], float]) -> None:
        g = _safe(f)
        lib.set(name, HostFunction(f"math.{name}", lambda a: g(arg_number(a, 1, name))))

    def binary(name: str, f: Callable[[float, float], float]) -> None:
        g = _safe(f)
        lib.set(
            name,
            HostFunction(
                f"math.{name}", lambda a: g(arg_number(a, 1, name), arg_number(a, 2, name))
            ),
        )

    unary("abs", abs)
    unary("floor", math.floor)
    unary("ceil", math.ceil)
    unary("sqrt", math.sqrt)
    unary("exp", math.exp)
    unary("log", math.log)
    unary("log10", math.log10)
    unary("sin", math.sin)
    unary("cos", math.cos)
    unary("tan", math.tan)
    unary("asin", math.asin)
    unary("acos", math.acos)
    unary("atan", math.atan)
    unary("deg", math.degrees)
    unary("rad", math.radians)
    binary("atan2", math.atan2)
    binary("pow", math.pow)
    binary("fmod", math.fmod)
    binary("mod", math.fmod)  # Lua 5.0's name

    def extreme(name: str, pick: Callable[..., float]) -> None:
        def f(a: list[object]) -> float:
            xs = [arg_number(a, i + 1, name) for i in range(max(len(a), 1))]
            return pick(xs)

        lib.set(name, HostFunction(f"math.{name}", f))

    extreme("min", min)
    extreme("max", max)

    def rand(a: list[object]) -> float:
        if not a:
            return rng.random()
        lo, hi = (
            (1.0, arg_number(a, 1, "random"))
            if len(a) == 1
            else (
                arg_number(a, 1, "random"),
                arg_number(a, 2, "random"),
            )
        )
        if lo > hi:
            raise TspRuntimeError("bad argument #1 to `random' (interval is empty)")
        return float(rng.randint(int(lo), int(hi)))

    lib.set("random", HostFunction("math.random", rand))
    lib.set(
        "randomseed",
        HostFunction("math.randomseed", lambda a: rng.seed(arg_number(a, 1, "randomseed"))),
    )
    lib.set("pi", math.pi)
    lib.set("huge", float("inf"))
    return lib


# ---------------------------------------------------------------------- table
def _table_library(tostring: Callable[[object], str]) -> LuaTable:
    lib = LuaTable()

    def insert(a: list[object]) -> None:
        t = arg_table(a, 1, "insert")
        n = t.length()
        if len(a) == 2:
            t.set(float(n + 1), a[1])
            return
        pos = int(arg_number(a, 2, "insert"))
        if not 1 <= pos <= n + 1:
            raise TspRuntimeError("bad argument #2 to `insert' (position out of bounds)")
        for i in range(n, pos - 1, -1):
            t.set(float(i + 1), t.get(float(i)))
        t.set(float(pos), arg(a, 3))

    def remove(a: list[object]) -> object:
        t = arg_table(a, 1, "remove")
        n = t.length()
        if n == 0:
            return None
        pos = int(arg_opt_number(a, 2, "remove", float(n)))
        value = t.get(float(pos))
        for i in range(pos, n):
            t.set(float(i), t.get(float(i + 1)))
        t.set(float(n), None)
        return value

    def concat(a: list[object]) -> str:
        t = arg_table(a, 1, "concat")
        sep = arg_string(a, 2, "concat") if arg(a, 2) is not None else ""
        values = t.array()
        i = int(arg_opt_number(a, 3, "concat", 1.0))
        j = int(arg_opt_number(a, 4, "concat", float(len(values))))
        parts = []
        for v in values[i - 1 : j]:
            if not isinstance(v, (str, float)):
                raise TspRuntimeError("invalid value (at index) in table for `concat'")
            parts.append(tostring(v))
        return check_string(sep.join(parts))

    lib.set("insert", HostFunction("table.insert", insert))
    lib.set("remove", HostFunction("table.remove", remove))
    lib.set("concat", HostFunction("table.concat", concat))
    lib.set("getn", HostFunction("table.getn", lambda a: float(arg_table(a, 1, "getn").length())))
    return lib
