"""Decoding the array board's replies: float32 data blocks, one-number replies,
readbacks of a setting compared with the value sent, and the INV settling-time line (s).
Anything that does not decode raises :class:`~rramlab.errors.InstrumentError`."""

from __future__ import annotations

import math

import numpy as np

from rramlab.drivers.board_link import Reply
from rramlab.errors import InstrumentError


def as_floats(block: bytes, count: int, name: str, command: str) -> np.ndarray:
    """A data block of ``count`` little-endian float32 values, as float64 (in the
    command's units)."""
    if len(block) != 4 * count:
        raise InstrumentError(
            f"data block of {len(block)} bytes, expected {4 * count}",
            instrument=name,
            command=command,
        )
    return np.frombuffer(block, dtype="<f4").astype(float)


def near(fields: list[str], value: float) -> bool:
    """Whether a readback (one number) is ``value``, to a DAC step or so."""
    try:
        (text,) = fields
        return math.isclose(float(text), value, rel_tol=1e-3, abs_tol=1e-3)
    except ValueError:
        return False


def number(reply: Reply, name: str, command: str) -> float:
    """The one number a reply carries (in the command's units)."""
    try:
        (value,) = reply.fields
        return float(value)
    except ValueError:
        raise InstrumentError(
            f"expected one number, got {reply.fields}", instrument=name, command=command
        ) from None


def settling_time(line: str, name: str, command: str) -> float:
    """The settling time (s) from the ``OK <seconds>`` line that follows an INV reply."""
    parts = line.split()
    try:
        if parts[0] != "OK":
            raise ValueError
        return float(parts[1])
    except (IndexError, ValueError):
        raise InstrumentError(
            f"expected 'OK <settling time>', got {line!r}", instrument=name, command=command
        ) from None
