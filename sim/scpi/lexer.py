"""Split an IEEE 488.2 program message into program message units.

A message is ``unit[;unit]...``; a unit is a header (``:SOUR1:VOLT``, ``*IDN``, with
``?`` for a query) and parameters separated by commas: decimal numbers with optional
exponent and unit suffix (``1.5e-3``, ``100mV``), non-decimal numbers (``#H1F``),
character data (``ON``, ``VOLT``, ``MAX``), strings in single or double quotes (a
doubled quote stands for one), channel lists (``(@1,2)``, ``(@1:2)``) and arbitrary
blocks (``#<n><length><bytes>`` or ``#0<bytes to the end>``).

:func:`parse_units` is a generator: it yields each unit as soon as it is parsed, so the
engine executes the units before a syntax error and the error discards the rest of the
message, as IEEE 488.2 prescribes. Syntax errors raise :class:`ScpiError` with the
standard code; characters outside printable ASCII (controls, undecodable bytes) give
-101 wherever they appear outside block data.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from rramlab.sim.scpi.errors import ScpiError

MAX_MNEMONIC = 12  # SCPI-99 7.2: a long-form mnemonic has at most 12 characters
MAX_CHANNELS = 4096  # a channel list expanding to more is refused (-224), not built
_CHANNEL_DIGITS = 6  # channel numbers have at most this many digits
_WHITESPACE = " \t\r"
_LETTERS = frozenset(string.ascii_letters)
_DIGITS = frozenset(string.digits)
_NAME_CHARS = _LETTERS | _DIGITS | {"_"}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SUFFIX_CHARS = _LETTERS | _DIGITS | {"/"}


class Kind(Enum):
    """What kind of program data a parameter is."""

    NUMBER = "number"  # decimal or non-decimal numeric; value is a float
    CHAR = "character data"  # value is the upper-cased text
    STRING = "string"  # value is the unquoted text
    BLOCK = "block"  # value is bytes
    CHANNELS = "channel list"  # value is a tuple of channel numbers


@dataclass(frozen=True)
class Param:
    kind: Kind
    text: str  # as sent
    value: float | str | bytes | tuple[int, ...]
    suffix: str = ""  # a number's unit suffix, upper-cased ("" when none)


@dataclass(frozen=True)
class Header:
    mnemonics: tuple[str, ...]  # as sent, e.g. ("SOUR1", "VOLT"); ("IDN",) for *IDN
    absolute: bool  # began with ":" (or is a common command)
    common: bool  # an IEEE 488.2 common command (*XXX)
    query: bool


@dataclass(frozen=True)
class Unit:
    header: Header
    params: tuple[Param, ...]
    text: str  # the unit as sent, for logs


def is_valid_char(c: str) -> bool:
    """Printable 7-bit ASCII or program-message white space."""
    return " " <= c <= "~" or c in "\t\r"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, ahead: int = 0) -> str:
        i = self.pos + ahead
        return self.text[i] if i < len(self.text) else ""

    @property
    def at_end_of_unit(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] == ";"

    def accept(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def skip_whitespace(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def take(self, allowed: frozenset[str]) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in allowed:
            self.pos += 1
        return self.text[start : self.pos]

    def error(self, code: int, detail: str = "") -> ScpiError:
        """``code``, unless the offending character is not valid at all (-101)."""
        c = self.peek()
        if c and not is_valid_char(c):
            return ScpiError(-101, f"character {ord(c):#x} at {self.pos}")
        return ScpiError(code, detail or f"at column {self.pos}")


def parse_units(message: str) -> Iterator[Unit]:
    """Yield the units of one program message (terminator already removed)."""
    s = _Scanner(message)
    while True:
        s.skip_whitespace()
        if s.pos >= len(message):
            return
        if s.accept(";"):  # an empty unit (e.g. a trailing ";") does nothing
            continue
        start = s.pos
        header = _header(s)
        params = _params(s)
        text = message[start : s.pos].strip()
        s.accept(";")
        yield Unit(header, params, text)


# ------------------------------------------------------------------------ headers
def _header(s: _Scanner) -> Header:
    if s.accept("*"):
        name = s.take(_LETTERS)
        if not name:
            raise s.error(-102, "'*' without a common command name")
        query = s.accept("?")
        _end_of_header(s)
        return Header((name.upper(),), absolute=True, common=True, query=query)
    absolute = s.accept(":")
    mnemonics: list[str] = []
    while True:
        if s.peek() not in _LETTERS:
            # A unit that does not even start like a header is a generic command error.
            raise s.error(-102 if absolute or mnemonics else -100, "header expected")
        mnemonic = s.take(_NAME_CHARS)
        if len(mnemonic.rstrip(string.digits)) > MAX_MNEMONIC:
            raise ScpiError(-112, mnemonic)
        mnemonics.append(mnemonic)
        if not s.accept(":"):
            break
    query = s.accept("?")
    _end_of_header(s)
    return Header(tuple(mnemonics), absolute=absolute, common=False, query=query)


def _end_of_header(s: _Scanner) -> None:
    c = s.peek()
    if c and c not in _WHITESPACE and c != ";":
        raise s.error(-111, f"{c!r} after the header")


# ------------------------------------------------------------------------ parameters
def _params(s: _Scanner) -> tuple[Param, ...]:
    s.skip_whitespace()
    if s.at_end_of_unit:
        return ()
    params: list[Param] = []
    while True:
        params.append(_param(s))
        s.skip_whitespace()
        if s.at_end_of_unit:
            return tuple(params)
        if not s.accept(","):
            raise s.error(-103, f"{s.peek()!r} where ',' or ';' was expected")
        s.skip_whitespace()
        if s.at_end_of_unit or s.peek() == ",":
            raise s.error(-102, "empty parameter")


def _param(s: _Scanner) -> Param:
    c = s.peek()
    if c in ('"', "'"):
        return _string(s)
    if c == "#":
        return _hash(s)
    if c == "(":
        return _parenthesis(s)
    if c in _DIGITS or c in ("+", "-", "."):
        return _number(s)
    if c in _LETTERS:
        start = s.pos
        text = s.take(_NAME_CHARS)
        if len(text) > MAX_MNEMONIC:
            raise ScpiError(-144, text)
        if s.peek() and s.peek() not in _WHITESPACE and s.peek() not in ",;":
            raise s.error(-141, f"{s.text[start : s.pos + 1]!r}")
        return Param(Kind.CHAR, text, text.upper())
    raise s.error(-102, f"{c!r} cannot start a parameter")


def _string(s: _Scanner) -> Param:
    quote = s.peek()
    start = s.pos
    s.pos += 1
    chars: list[str] = []
    while True:
        c = s.peek()
        if not c:
            raise ScpiError(-151, "unterminated string")
        if not is_valid_char(c):
            raise s.error(-151)
        s.pos += 1
        if c == quote:
            if s.peek() != quote:
                break
            s.pos += 1  # a doubled quote stands for one
        chars.append(c)
    return Param(Kind.STRING, s.text[start : s.pos], "".join(chars))


def _number(s: _Scanner) -> Param:
    start = s.pos
    match = _NUMBER.match(s.text, s.pos)
    if match is None:
        raise s.error(-121, "no digits")
    s.pos = match.end()
    c = s.peek()
    if c in ("e", "E") and (s.peek(1) in _DIGITS or s.peek(1) in ("+", "-", "")):
        raise s.error(-121, "exponent without digits")
    if c == "." or c in _DIGITS:
        raise s.error(-121, f"{c!r} in a number")
    value = float(match.group())
    if not math.isfinite(value):
        raise ScpiError(-120, f"{match.group()} overflows")
    # IEEE 488.2 allows white space between a number and its suffix.
    mark = s.pos
    s.skip_whitespace()
    suffix = s.take(_SUFFIX_CHARS) if s.peek() in _LETTERS or s.peek() == "/" else ""
    if not suffix:
        s.pos = mark
    c = s.peek()
    if c and c not in _WHITESPACE and c not in ",;":
        raise s.error(-131 if suffix else -121, f"{c!r} after a number")
    return Param(Kind.NUMBER, s.text[start : s.pos].strip(), value, suffix.upper())


def _hash(s: _Scanner) -> Param:
    start = s.pos
    kind = s.peek(1).upper()
    if kind and kind in "HQB":
        s.pos += 2
        digits = s.take(_NAME_CHARS)
        base = {"H": 16, "Q": 8, "B": 2}[kind]
        try:
            value = float(int(digits, base))
        except ValueError:
            raise ScpiError(-121, f"#{kind}{digits[:20]}") from None
        except OverflowError:  # beyond any float: not a number an instrument holds
            raise ScpiError(-120, f"#{kind} number of {len(digits)} digits") from None
        c = s.peek()
        if c and c not in _WHITESPACE and c not in ",;":
            raise s.error(-121)
        return Param(Kind.NUMBER, s.text[start : s.pos], value)
    if kind not in _DIGITS or not kind:
        raise s.error(-161, "'#' must start a block or a non-decimal number")
    n = int(kind)
    s.pos += 2
    if n == 0:  # indefinite-length block: everything up to the terminator
        data = s.text[s.pos :]
        s.pos = len(s.text)
    else:
        length_text = s.text[s.pos : s.pos + n]
        if len(length_text) < n or not all(c in _DIGITS for c in length_text):
            raise ScpiError(-161, "bad block length")
        length = int(length_text)
        s.pos += n
        data = s.text[s.pos : s.pos + length]
        if len(data) < length:
            raise ScpiError(-161, f"block announced {length} bytes, got {len(data)}")
        s.pos += length
    raw = data.encode("latin-1", errors="replace")
    return Param(Kind.BLOCK, s.text[start : s.pos], raw)


def _parenthesis(s: _Scanner) -> Param:
    if s.peek(1) != "@":
        raise ScpiError(-178, "expressions are not supported")
    close = s.text.find(")", s.pos)
    if close < 0:
        raise ScpiError(-102, "channel list without ')'")
    text = s.text[s.pos : close + 1]
    bad = next((c for c in text if not is_valid_char(c)), None)
    if bad is not None:
        raise ScpiError(-101, f"character {ord(bad):#x} in a channel list")
    channels: list[int] = []
    for item in s.text[s.pos + 2 : close].split(","):
        channels.extend(_channel_range(item.strip(), MAX_CHANNELS - len(channels)))
    s.pos = close + 1
    return Param(Kind.CHANNELS, text, tuple(channels))


def _channel_range(item: str, room: int) -> list[int]:
    """The channels of one list entry (``n`` or ``first:last``); -224 when the list
    would hold more than ``room`` more channels (a range is counted, not built)."""
    parts = [p.strip() for p in item.split(":")]
    if not 1 <= len(parts) <= 2 or not all(p and set(p) <= _DIGITS for p in parts):
        raise ScpiError(-102, f"bad channel list entry {item[:40]!r}")
    if any(len(p.lstrip("0")) > _CHANNEL_DIGITS for p in parts):
        raise ScpiError(-224, f"channel number {item[:20]!r}... does not exist")
    first, last = (int(p.lstrip("0") or "0") for p in (parts[0], parts[-1]))
    if abs(last - first) + 1 > room:
        raise ScpiError(-224, f"channel list longer than {MAX_CHANNELS} channels")
    step = 1 if last >= first else -1
    return list(range(first, last + step, step))
