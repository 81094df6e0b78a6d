"""Errors of the TSP interpreter and the 2600B error queue they land in.

A TSP instrument never raises at its user: every problem becomes an entry in
``errorqueue`` with the code and message the Keithley 2600B reports, and the instrument
keeps serving later messages. Inside the interpreter problems travel as exceptions:

- :class:`TspSyntaxError` (-285): the chunk does not parse; nothing of it runs.
- :class:`TspRuntimeError` (-286): a Lua run-time error; the rest of the chunk (or
  script) is abandoned, as on the instrument.
- :class:`TspCommandError` (-222 and friends): an instrument command refused a value;
  the setting is unchanged and execution continues with the next statement (the 2600B
  manual: only run-time errors abort a script).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Codes and texts as the 2600B reports them (reference manual, error summary list).
SYNTAX = -285  # "TSP Syntax error at line N: ..."
RUNTIME = -286  # "TSP Runtime error at line N: ..."
DATA_OUT_OF_RANGE = -222  # "Parameter data out of range"
SETTINGS_CONFLICT = -221
ILLEGAL_VALUE = -224
QUEUE_OVERFLOW = -350
INPUT_OVERRUN = -363
QUERY_INTERRUPTED = -410

# Severity levels of errorqueue.next() (0 no error, 10 informational, 20 recoverable,
# 30 serious, 40 fatal): everything a program can cause is recoverable.
SEVERITY_NONE = 0
SEVERITY_RECOVERABLE = 20

MAX_QUEUED_ERRORS = 100  # a full queue keeps its oldest entries and ends in -350


class TspError(Exception):
    """Base of the interpreter's own exceptions (never seen outside the instrument)."""


class TspSyntaxError(TspError):
    """The source does not parse. ``line`` counts from 1 within the chunk or script."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class TspRuntimeError(TspError):
    """A Lua run-time error; the interpreter adds the line when it is known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class TspCommandError(TspError):
    """An instrument command refused its value: queued, and the script goes on."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BudgetExceeded(TspRuntimeError):
    """The per-message instruction budget ran out (a simulator guard: the real
    instrument would run on; a simulator serving a bench must not hang)."""


def out_of_range(what: str, value: object) -> TspCommandError:
    """The -222 error for a setting outside what the instrument accepts."""
    return TspCommandError(DATA_OUT_OF_RANGE, f"Parameter data out of range ({what} = {value})")


@dataclass(frozen=True)
class ErrorEntry:
    """One entry of the error queue, as ``errorqueue.next()`` returns it."""

    code: int
    message: str
    severity: int = SEVERITY_RECOVERABLE
    node: int = 1


class ErrorQueue:
    """The instrument's first-in first-out error queue."""

    def __init__(self, capacity: int = MAX_QUEUED_ERRORS, node: int = 1) -> None:
        self.capacity = capacity
        self.node = node
        self._entries: deque[ErrorEntry] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, code: int, message: str, severity: int = SEVERITY_RECOVERABLE) -> None:
        """Queue an error; a full queue replaces its newest entry with -350 overflow."""
        if len(self._entries) >= self.capacity:
            if self._entries[-1].code != QUEUE_OVERFLOW:
                self._entries[-1] = ErrorEntry(
                    QUEUE_OVERFLOW, "Queue overflow", severity, self.node
                )
            return
        self._entries.append(ErrorEntry(code, message, severity, self.node))

    def pop(self) -> ErrorEntry:
        """The oldest entry, removed; ``0, "Queue Is Empty"`` when there is none."""
        if not self._entries:
            return ErrorEntry(0, "Queue Is Empty", SEVERITY_NONE, self.node)
        return self._entries.popleft()

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> list[ErrorEntry]:
        """A copy of the queued entries, oldest first (for tests and diagnostics)."""
        return list(self._entries)
