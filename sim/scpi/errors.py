"""SCPI error codes, the exception that carries one, and the bounded error queue.

Codes and messages are the standard ones of SCPI-99 (Vol. 1, ch. 21) and IEEE 488.2:
negative codes by class (-1xx command, -2xx execution, -3xx device-specific, -4xx
query errors). Each class sets its own bit of the standard event status register.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Standard event status register (ESR) bits, IEEE 488.2 11.5.1.
ESR_OPC = 1  # operation complete
ESR_RQC = 2  # request control (never set here)
ESR_QYE = 4  # query error
ESR_DDE = 8  # device-dependent error
ESR_EXE = 16  # execution error
ESR_CME = 32  # command error
ESR_URQ = 64  # user request (never set here)
ESR_PON = 128  # power on

MESSAGES: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -111: "Header separator error",
    -112: "Program mnemonic too long",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -120: "Numeric data error",
    -121: "Invalid character in number",
    -128: "Numeric data not allowed",
    -131: "Invalid suffix",
    -138: "Suffix not allowed",
    -141: "Invalid character data",
    -144: "Character data too long",
    -148: "Character data not allowed",
    -151: "Invalid string data",
    -158: "String data not allowed",
    -161: "Invalid block data",
    -168: "Block data not allowed",
    -178: "Expression data not allowed",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -223: "Too much data",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
}


def message_for(code: int) -> str:
    """The standard message of ``code`` (the class's generic one if it has none)."""
    if code in MESSAGES:
        return MESSAGES[code]
    if -199 <= code <= -100:
        return MESSAGES[-100]
    if -299 <= code <= -200:
        return MESSAGES[-200]
    if -499 <= code <= -400:
        return "Query error"
    return "Device-specific error"


def esr_bit(code: int) -> int:
    """The ESR bit an error of ``code`` sets (positive codes are device-dependent)."""
    if -199 <= code <= -100:
        return ESR_CME
    if -299 <= code <= -200:
        return ESR_EXE
    if -499 <= code <= -400:
        return ESR_QYE
    return ESR_DDE if code != 0 else 0


def is_command_error(code: int) -> bool:
    """Command errors (-1xx) are parse errors: the rest of the message is discarded."""
    return -199 <= code <= -100


class ScpiError(Exception):
    """Raised by the parser or a command handler to queue ``code`` (message standard
    unless given). ``detail`` is for humans reading logs; it is not sent."""

    def __init__(self, code: int, detail: str = "", message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else message_for(code)
        self.detail = detail
        super().__init__(f"{code},{self.message}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class QueuedError:
    code: int
    message: str


class ErrorQueue:
    """First-in first-out error queue of ``capacity`` entries (SCPI-99 21.8).

    When it is full, the newest entry is replaced by -350 "Queue overflow" and later
    errors are lost until the queue is read, as SCPI requires.
    """

    def __init__(self, capacity: int = 10) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, got {capacity}")
        self.capacity = capacity
        self._entries: deque[QueuedError] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, code: int, message: str | None = None) -> bool:
        """Queue an error; False if it was lost to an overflow."""
        entry = QueuedError(code, message if message is not None else message_for(code))
        if len(self._entries) < self.capacity:
            self._entries.append(entry)
            return True
        if self._entries[-1].code != -350:
            self._entries[-1] = QueuedError(-350, MESSAGES[-350])
        return False

    def pop(self) -> QueuedError:
        """The oldest error, or code 0 "No error" when the queue is empty."""
        return self._entries.popleft() if self._entries else QueuedError(0, MESSAGES[0])

    def clear(self) -> None:
        self._entries.clear()
