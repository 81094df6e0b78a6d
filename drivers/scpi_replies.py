"""SCPI/TSP values on the wire: numbers formatted for sending (:func:`fmt`, one fixed
format, so the same call always sends the same bytes: recorded pyvisa-sim dialogues
rely on it) and replies parsed back (:func:`parse_numbers`, :func:`parse_flag`), any
reply that does not parse an :class:`~rramlab.errors.InstrumentError` naming the
instrument and the command, never a bare ``ValueError``/``IndexError``."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from rramlab.errors import InstrumentError

#: SMUs report overflow / "not a number" as 9.9e37 (Keithley) or 9.91e37 (Keysight)
_NOT_A_NUMBER = 9.9e37


def fmt(value: float) -> str:
    """A number as sent on the wire: 9 significant digits (finer than any SMU's
    resolution) and never ``-0``, so equal values always produce equal bytes."""
    return f"{float(value) + 0.0:.9g}"


def fmt_list(values: Iterable[float]) -> str:
    """Comma-separated :func:`fmt` values (SCPI lists, Lua table bodies)."""
    return ",".join(fmt(v) for v in values)


def parse_numbers(
    text: str, *, instrument: str, command: str, count: int | None = None
) -> np.ndarray:
    """Numbers separated by commas, tabs or spaces (SCPI and TSP ``print`` output).
    Overflow markers (|x| >= 9.9e37) become NaN. Raises :class:`InstrumentError` if a
    field is not a number or there are not exactly ``count`` of them."""
    fields = [f for f in re.split(r"[,\s]+", text.strip()) if f]
    try:
        values = np.array([float(f) for f in fields], dtype=float)
    except ValueError:
        raise InstrumentError(
            f"reply is not a list of numbers: {clip(text)!r}",
            instrument=instrument,
            command=command,
        ) from None
    if count is not None and values.size != count:
        raise InstrumentError(
            f"expected {count} numbers, got {values.size}: {clip(text)!r}",
            instrument=instrument,
            command=command,
        )
    values[np.abs(values) >= _NOT_A_NUMBER] = np.nan
    return values


def parse_flag(text: str, *, instrument: str, command: str) -> bool:
    """A boolean reply: ``0``/``1`` (SCPI) or ``false``/``true`` (TSP ``print``)."""
    word = text.strip().lower()
    if word in ("1", "+1", "true"):
        return True
    if word in ("0", "+0", "false"):
        return False
    raise InstrumentError(
        f"expected 0/1 or true/false, got {clip(text)!r}", instrument=instrument, command=command
    )


def clip(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters (for error messages)."""
    return text if len(text) <= limit else text[:limit] + "..."
