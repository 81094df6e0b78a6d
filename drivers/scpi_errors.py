"""Reading an instrument's error queue: SCPI ``SYST:ERR?`` entries parsed
(:func:`parse_scpi_error`) and the queue emptied (:func:`read_scpi_errors`). SCPI and
TSP instruments differ only in how their queue is read, so the reader is a function
handed to the :class:`~rramlab.drivers.visa_connection.Connection` (the TSP reader lives
with the 2600B driver)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from rramlab.drivers.scpi_replies import clip
from rramlab.errors import InstrumentError

if TYPE_CHECKING:
    from rramlab.drivers.visa_connection import Connection

#: a queue that never empties (a stuck instrument, a bad recording) must not hang a check
MAX_ERRORS_PER_CHECK = 32
#: reads and empties the error queue; returns (code, message) for every real error
ErrorReader = Callable[["Connection"], list[tuple[int, str]]]


def parse_scpi_error(text: str, *, instrument: str, command: str) -> tuple[int, str]:
    """``-222,"Data out of range"`` -> ``(-222, "Data out of range")``. Keithley's
    ``;severity;timestamp`` tail inside the quotes (2400 graphical series) is dropped."""
    match = re.fullmatch(r'\s*([+-]?\d+)\s*,\s*"(.*)"\s*', text, flags=re.DOTALL)
    if match is None:
        raise InstrumentError(
            f"unreadable error-queue entry {clip(text)!r}", instrument=instrument, command=command
        )
    message = re.sub(r";\d+;\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?$", "", match.group(2))
    return int(match.group(1)), message


def read_scpi_errors(conn: Connection, query: str = "SYST:ERR?") -> list[tuple[int, str]]:
    """Read ``SYST:ERR?`` until it says code 0; return the errors read (oldest first)."""
    errors: list[tuple[int, str]] = []
    for _ in range(MAX_ERRORS_PER_CHECK):
        code, message = parse_scpi_error(conn.query(query), instrument=conn.name, command=query)
        if code == 0:
            break
        errors.append((code, message))
    return errors
