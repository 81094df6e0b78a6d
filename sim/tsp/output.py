"""What TSP code writes to the output queue: ``print``, ``printnumber``,
``printbuffer`` and the ``format`` settings that shape them.

As on the 2600B: ``print`` separates its arguments with tabs and writes numbers with
``format.asciiprecision`` significant digits in exponent form (default 6:
``1.00000e-06``); ``printnumber`` and ``printbuffer`` separate values with ", ".
Binary data formats (``format.REAL32``/``REAL64``) are refused: the simulated
transports carry text replies only.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from rramlab.sim.tsp.errors import SETTINGS_CONFLICT, TspCommandError, out_of_range
from rramlab.sim.tsp.objects import (
    HostFunction,
    HostObject,
    arg,
    arg_number,
    bad_argument,
    setting_number,
)
from rramlab.sim.tsp.values import LuaTable, format_number_ascii, to_integer, type_name

ASCII, REAL32, REAL64 = 1.0, 2.0, 3.0
NORMAL, SWAPPED = 0.0, 1.0  # byte orders (big-endian, little-endian)


class FormatSettings(HostObject):
    """The ``format`` object: asciiprecision, data and byteorder."""

    def __init__(self) -> None:
        super().__init__("format")
        self.reset()
        for name, value in (
            ("ASCII", ASCII),
            ("SREAL", REAL32),
            ("REAL32", REAL32),
            ("REAL", REAL64),
            ("REAL64", REAL64),
            ("DREAL", REAL64),
            ("NORMAL", NORMAL),
            ("BIGENDIAN", NORMAL),
            ("NETWORK", NORMAL),
            ("SWAPPED", SWAPPED),
            ("LITTLEENDIAN", SWAPPED),
        ):
            self.const(name, value)
        self.attr("asciiprecision", lambda: float(self.precision), self._set_precision)
        self.attr("data", lambda: self.data, self._set_data)
        self.attr("byteorder", lambda: self.byteorder, self._set_byteorder)

    def reset(self) -> None:
        """Defaults after ``reset()``: ASCII, 6 digits, little-endian."""
        self.precision = 6
        self.data = ASCII
        self.byteorder = SWAPPED

    def number(self, x: float) -> str:
        return format_number_ascii(x, self.precision)

    def _set_precision(self, value: object) -> None:
        x = setting_number(value, "format.asciiprecision")
        if not 0 <= x <= 16:
            raise out_of_range("format.asciiprecision", value)
        self.precision = int(x)

    def _set_data(self, value: object) -> None:
        x = setting_number(value, "format.data")
        if x not in (ASCII, REAL32, REAL64):
            raise out_of_range("format.data", value)
        if x != ASCII:
            raise TspCommandError(
                SETTINGS_CONFLICT,
                "Settings conflict (binary data formats are not simulated; use format.ASCII)",
            )
        self.data = x

    def _set_byteorder(self, value: object) -> None:
        x = setting_number(value, "format.byteorder")
        if x not in (NORMAL, SWAPPED):
            raise out_of_range("format.byteorder", value)
        self.byteorder = x


class Printer:
    """Turns TSP values into output messages and hands them to ``emit``."""

    def __init__(self, fmt: FormatSettings, emit: Callable[[str], None]) -> None:
        self.format = fmt
        self.emit = emit
        # Lua prints tables as "table: 0x...". Addresses are numbered in order of first
        # print, not taken from id(), so the same session prints the same bytes.
        self._addresses: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
        self._next_address = 0x10000

    def text(self, value: object) -> str:
        """How ``print`` writes one value."""
        if isinstance(value, str):
            return value
        if isinstance(value, float):
            return self.format.number(value)
        if value is None:
            return "nil"
        if value is True:
            return "true"
        if value is False:
            return "false"
        return f"{type_name(value)}: 0x{self._address(value):08x}"

    def _address(self, value: object) -> int:
        address = self._addresses.get(value)
        if address is None:
            address = self._next_address
            self._next_address += 0x40
            self._addresses[value] = address
        return address

    # ------------------------------------------------------------------ builtins
    def print_(self, args: list[object]) -> None:
        self.emit("\t".join(self.text(v) for v in args))

    def printnumber(self, args: list[object]) -> None:
        numbers = [arg_number(args, i + 1, "printnumber") for i in range(len(args))]
        self.emit(", ".join(self.format.number(x) for x in numbers))

    def printbuffer(self, args: list[object]) -> None:
        start = to_integer(arg_number(args, 1, "printbuffer"), "startIndex")
        end = to_integer(arg_number(args, 2, "printbuffer"), "endIndex")
        if len(args) < 3:
            raise bad_argument(3, "printbuffer", "table", arg(args, 3))
        columns = [_sequence(args[i], i + 1) for i in range(2, len(args))]
        start = max(start, 1)
        end = min(end, *(len(c) for c in columns))
        items = []
        for i in range(start - 1, end):
            for column in columns:
                value = column[i]
                items.append(
                    self.format.number(value) if isinstance(value, float) else self.text(value)
                )
        self.emit(", ".join(items))

    def functions(self) -> dict[str, HostFunction]:
        return {
            "print": HostFunction("print", self.print_),
            "printnumber": HostFunction("printnumber", self.printnumber),
            "printbuffer": HostFunction("printbuffer", self.printbuffer),
        }


def _sequence(value: object, index: int) -> list[object]:
    """The values a printbuffer argument stands for: a table's array part, a buffer
    subtable, or a reading buffer (its readings)."""
    if isinstance(value, LuaTable):
        return value.array()
    values = sequence_values(value)
    if values is None:
        raise bad_argument(index, "printbuffer", "table", value)
    return values


def sequence_values(value: object) -> list[object] | None:
    """Values of a host object that is a sequence (buffer or buffer column)."""
    from rramlab.sim.tsp.buffers import BufferColumn, ReadingBuffer

    if isinstance(value, (BufferColumn, ReadingBuffer)):
        return value.values()
    return None
