"""How an instrument writes response data: numbers, booleans, strings, error entries.

Personalities differ in small ways that drivers notice: Keysight writes a sign on every
number (``+1.000000E-03``, ``+0,"No error"``), Keithley's 2450 does not
(``1.000000E-03``, ``0,"No error"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NOT_A_NUMBER = 9.91e37  # SCPI's NaN, returned for data that does not exist


@dataclass(frozen=True)
class ResponseStyle:
    """Response formatting of one personality."""

    plus_sign: bool = False  # write "+" before non-negative numbers
    digits: int = 6  # digits after the decimal point of NR3 numbers

    def nr3(self, value: float) -> str:
        """A real number in exponent form (NR3), e.g. ``1.000000E-03``."""
        if not math.isfinite(value):
            value = NOT_A_NUMBER
        return f"{value:+.{self.digits}E}" if self.plus_sign else f"{value:.{self.digits}E}"

    def nr1(self, value: int) -> str:
        """An integer (NR1), e.g. ``5`` or ``+5``."""
        return f"{int(value):+d}" if self.plus_sign else f"{int(value):d}"

    def boolean(self, value: bool) -> str:
        return "1" if value else "0"

    def string(self, text: str) -> str:
        """A string response in double quotes (inner quotes doubled)."""
        return '"' + text.replace('"', '""') + '"'

    def error(self, code: int, message: str) -> str:
        """An error-queue entry: ``<code>,"<message>"``."""
        return f"{self.nr1(code)},{self.string(message)}"

    def numbers(self, values: list[float] | tuple[float, ...]) -> str:
        """Comma-separated NR3 numbers."""
        return ",".join(self.nr3(v) for v in values)
