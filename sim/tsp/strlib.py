"""Lua's ``string`` library for TSP: len, sub, upper, lower, rep, reverse, byte, char,
plain ``find`` and ``format`` (the C conversions, width and precision capped).

Lua patterns are not implemented: ``find`` with magic characters and no ``plain``
flag is a run-time error rather than a silently different answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from rramlab.sim.tsp.errors import TspRuntimeError
from rramlab.sim.tsp.objects import (
    HostFunction,
    arg,
    arg_number,
    arg_opt_number,
    arg_string,
    bad_argument,
)
from rramlab.sim.tsp.values import LuaTable, check_string, to_number, truthy

MAX_FORMAT_FIELD = 99  # widths and precisions in string.format
STRING_CHARS_PER_STEP = 64  # budget: one step per this many characters built


_FORMAT_SPEC = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d*))?([diouxXeEfgGqsc%])")
_MAGIC = set("^$*+?.([%-")


def string_library(tostring: Callable[[object], str], charge: Callable[[int], None]) -> LuaTable:
    """``charge`` spends instruction budget on the strings built (one step per
    ``STRING_CHARS_PER_STEP`` characters)."""
    lib = LuaTable()

    def fn(name: str, body: Callable[[list[object]], object]) -> None:
        def charged(a: list[object]) -> object:
            result = body(a)
            if isinstance(result, str):
                charge(len(result) // STRING_CHARS_PER_STEP)
            return result

        lib.set(name, HostFunction(f"string.{name}", charged))

    fn("len", lambda a: float(len(arg_string(a, 1, "len"))))
    fn("upper", lambda a: arg_string(a, 1, "upper").upper())
    fn("lower", lambda a: arg_string(a, 1, "lower").lower())
    fn("reverse", lambda a: arg_string(a, 1, "reverse")[::-1])

    def sub(a: list[object]) -> str:
        s = arg_string(a, 1, "sub")
        i = int(arg_opt_number(a, 2, "sub", 1.0))
        j = int(arg_opt_number(a, 3, "sub", -1.0))
        n = len(s)
        i = max(i + n + 1 if i < 0 else i, 1)
        j = min(j + n + 1 if j < 0 else j, n)
        return s[i - 1 : j] if i <= j else ""

    fn("sub", sub)

    def rep(a: list[object]) -> str:
        s = arg_string(a, 1, "rep")
        count = int(arg_number(a, 2, "rep"))
        if count <= 0:
            return ""
        if len(s) * count > (1 << 20):
            raise TspRuntimeError("string length overflow")
        return s * count

    fn("rep", rep)

    def byte(a: list[object]) -> tuple[object, ...]:
        s = arg_string(a, 1, "byte")
        i = int(arg_opt_number(a, 2, "byte", 1.0))
        i = i + len(s) + 1 if i < 0 else i
        return (float(ord(s[i - 1])),) if 1 <= i <= len(s) else ()

    fn("byte", byte)
    fn(
        "char",
        lambda a: "".join(chr(int(arg_number(a, k + 1, "char")) & 0xFF) for k in range(len(a))),
    )

    def find(a: list[object]) -> tuple[object, ...]:
        s = arg_string(a, 1, "find")
        pattern = arg_string(a, 2, "find")
        start = int(arg_opt_number(a, 3, "find", 1.0))
        plain = truthy(arg(a, 4))
        if not plain and _MAGIC.intersection(pattern):
            raise TspRuntimeError("Lua patterns are not supported by the simulator")
        start = max(start + len(s) + 1 if start < 0 else start, 1)
        at = s.find(pattern, start - 1)
        return (None,) if at < 0 else (float(at + 1), float(at + len(pattern)))

    fn("find", find)
    fn("format", lambda a: _format(a, tostring))
    return lib


def _format(a: list[object], tostring: Callable[[object], str]) -> str:
    template = arg_string(a, 1, "format")
    out: list[str] = []
    pos = 0
    argi = 1
    while True:
        at = template.find("%", pos)
        if at < 0:
            out.append(template[pos:])
            break
        out.append(template[pos:at])
        m = _FORMAT_SPEC.match(template, at)
        if m is None:
            raise TspRuntimeError("invalid option to `format'")
        flags, width, precision, conv = m.groups()
        pos = m.end()
        if conv == "%":
            out.append("%")
            continue
        if (width and int(width) > MAX_FORMAT_FIELD) or (
            precision and int(precision) > MAX_FORMAT_FIELD
        ):
            raise TspRuntimeError("invalid format (width or precision too long)")
        argi += 1
        spec = "%" + flags + width + ("." + precision if precision is not None else "")
        value = arg(a, argi)
        if conv in "diouxXc":
            x = to_number(value)
            if x is None or math.isnan(x) or math.isinf(x):
                raise bad_argument(argi, "format", "number", value)
            if conv == "c":
                out.append(chr(int(x) & 0xFF))
            else:
                out.append((spec + ("d" if conv in "iu" else conv)) % int(x))
        elif conv in "eEfgG":
            x = to_number(value)
            if x is None:
                raise bad_argument(argi, "format", "number", value)
            out.append((spec + conv) % x)
        elif conv == "q":
            text = arg_string(a, argi, "format")
            out.append(
                '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
            )
        else:
            out.append((spec + "s") % tostring(value))
    return check_string("".join(out))
