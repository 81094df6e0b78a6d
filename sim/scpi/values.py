"""Parameter types: turn a parsed :class:`~rramlab.sim.scpi.lexer.Param` into a Python
value (or the right SCPI error) and a value back into response text.

- :class:`Numeric`: decimal numbers with an optional unit suffix (``100mV``, ``2US``),
  the keywords MINimum/MAXimum/DEFault (and UP/DOWN when a step is given), a range
  check (-222 "Data out of range") and optional rounding to integers.
- :class:`Boolean`: ON/OFF or a number (0 is false, any other integer true).
- :class:`Choice`: character data from a fixed set of mnemonics, matched by short or
  long form (``VOLT``/``VOLTAGE``), returned and written as the short form.
- :class:`Text`: a quoted string. :class:`Channels`: a channel list ``(@1,2)``.

A parameter of a kind the type does not take gives the standard "not allowed" error:
-128 numeric, -148 character, -158 string, -168 block data, -104 anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rramlab.sim.scpi.errors import ScpiError
from rramlab.sim.scpi.lexer import Kind, Param
from rramlab.sim.scpi.responses import ResponseStyle

# IEEE 488.2 7.7.3 suffix multipliers. "M" is milli and "MA" mega, except in MHZ and
# MOHM where M means mega; a multiplier must be followed by the unit.
PREFIXES = {
    "EX": 1e18,
    "PE": 1e15,
    "T": 1e12,
    "G": 1e9,
    "MA": 1e6,
    "K": 1e3,
    "M": 1e-3,
    "U": 1e-6,
    "N": 1e-9,
    "P": 1e-12,
    "F": 1e-15,
    "A": 1e-18,
}
_NOT_ALLOWED = {
    Kind.NUMBER: -128,
    Kind.CHAR: -148,
    Kind.STRING: -158,
    Kind.BLOCK: -168,
    Kind.CHANNELS: -104,
}


def short_form(mnemonic: str) -> str:
    """SCPI short form: the upper-case letters (and digits) of the long form."""
    return "".join(c for c in mnemonic if not c.islower())


def matches(token: str, mnemonic: str) -> bool:
    """``token`` (any case) is the short or the long form of ``mnemonic``."""
    token = token.upper()
    return token == short_form(mnemonic).upper() or token == mnemonic.upper()


def reject(param: Param, what: str) -> ScpiError:
    """The error for a parameter of a kind the command does not take."""
    return ScpiError(_NOT_ALLOWED[param.kind], f"{param.text!r} where {what} was expected")


class ValueType(Protocol):
    def parse(self, param: Param, current: Any = None) -> Any: ...

    def format(self, value: Any, style: ResponseStyle) -> str: ...


@dataclass(frozen=True)
class Numeric:
    """A number in ``[lo, hi]``; ``unit`` (e.g. "V", "A", "S" for seconds) is the suffix
    it accepts. MIN/MAX/DEF give ``lo``/``hi``/``default``; UP/DOWN step by ``step``."""

    lo: float
    hi: float
    default: float
    unit: str = ""
    integer: bool = False
    step: float | None = None
    keywords: bool = True  # False: character data is not allowed at all (e.g. *ESE)
    magnitude: bool = False  # the sign is dropped (limits given as magnitudes)

    def parse(self, param: Param, current: float | None = None) -> float:
        if param.kind is Kind.NUMBER:
            value = float(param.value) * self.scale(param.suffix)
        elif param.kind is Kind.CHAR and self.keywords:
            value = self.keyword(str(param.value), current)
        else:
            raise reject(param, "a number")
        if self.magnitude:
            value = abs(value)
        if self.integer:
            value = float(round(value))
        # Tolerate rounding of suffix arithmetic (1050mA) at the bounds, nothing more.
        if not self.lo - 1e-9 * abs(self.lo) <= value <= self.hi + 1e-9 * abs(self.hi):
            raise ScpiError(-222, f"{param.text} is outside [{self.lo:g}, {self.hi:g}]")
        return min(max(value, self.lo), self.hi)

    def keyword(self, word: str, current: float | None = None) -> float:
        """The value of MINimum, MAXimum, DEFault (and UP/DOWN relative to ``current``)."""
        if matches(word, "MINimum"):
            return self.lo
        if matches(word, "MAXimum"):
            return self.hi
        if matches(word, "DEFault"):
            return self.default
        if self.step is not None and current is not None:
            if word == "UP":
                return current + self.step
            if word == "DOWN":
                return current - self.step
        raise ScpiError(-141, word)

    def scale(self, suffix: str) -> float:
        """The multiplier of a unit suffix such as ``MV`` (-131/-138 if not accepted)."""
        if not suffix:
            return 1.0
        unit = self.unit.upper()
        if not unit:
            raise ScpiError(-138, suffix)
        if suffix == unit:
            return 1.0
        if unit in ("HZ", "OHM") and suffix == "M" + unit:
            return 1e6
        if suffix.endswith(unit) and suffix[: -len(unit)] in PREFIXES:
            return PREFIXES[suffix[: -len(unit)]]
        raise ScpiError(-131, suffix)

    def format(self, value: float, style: ResponseStyle) -> str:
        return style.nr1(int(value)) if self.integer else style.nr3(value)


@dataclass(frozen=True)
class Boolean:
    """ON|OFF|1|0 (any number: rounded, non-zero is true)."""

    def parse(self, param: Param, current: bool | None = None) -> bool:
        if param.kind is Kind.NUMBER:
            return round(float(param.value)) != 0
        if param.kind is Kind.CHAR:
            if param.value == "ON":
                return True
            if param.value == "OFF":
                return False
            raise ScpiError(-141, str(param.value))
        raise reject(param, "ON|OFF|1|0")

    def format(self, value: bool, style: ResponseStyle) -> str:
        return style.boolean(value)


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (SCPI mnemonics such as ``"VOLTage"``); the value is the
    option's short form in upper case (``"VOLT"``)."""

    options: tuple[str, ...]

    def parse(self, param: Param, current: str | None = None) -> str:
        if param.kind is not Kind.CHAR:
            raise reject(param, "one of " + "|".join(self.options))
        for option in self.options:
            if matches(str(param.value), option):
                return short_form(option).upper()
        raise ScpiError(-141, str(param.value))

    def format(self, value: str, style: ResponseStyle) -> str:
        return value


@dataclass(frozen=True)
class Text:
    """A quoted string of at most ``max_length`` characters."""

    max_length: int = 256

    def parse(self, param: Param, current: str | None = None) -> str:
        if param.kind is not Kind.STRING:
            raise reject(param, "a quoted string")
        if len(str(param.value)) > self.max_length:
            raise ScpiError(-151, "string too long")
        return str(param.value)

    def format(self, value: str, style: ResponseStyle) -> str:
        return style.string(value)


@dataclass(frozen=True)
class Channels:
    """A channel list whose channels are all in ``valid``."""

    valid: tuple[int, ...]

    def parse(self, param: Param, current: tuple[int, ...] | None = None) -> tuple[int, ...]:
        if param.kind is not Kind.CHANNELS:
            raise reject(param, "a channel list")
        channels = tuple(int(c) for c in param.value)  # type: ignore[union-attr]
        bad = [c for c in channels if c not in self.valid]
        if bad or not channels:
            raise ScpiError(-224, f"channels {bad} do not exist")
        return channels

    def format(self, value: tuple[int, ...], style: ResponseStyle) -> str:
        return "(@" + ",".join(str(c) for c in value) + ")"
