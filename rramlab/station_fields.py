"""The generic part of checking a station file: :class:`_FieldChecker` collects
``(field path, message)`` problems and checks single fields (mappings, text, numbers,
choices); messages show what was found and suggest close names."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from rramlab.station_drivers import DRIVERS

_MISSING = {
    "limits": "the station's safety limits: max_voltage_V, max_current_A, max_pulse_width_s",
    "instruments": "a mapping of instrument name to driver, resource and options",
    "roles": "which instrument (and channel) protocols use as the smu, and the board",
    "driver": f"one of {', '.join(DRIVERS)}",
    "resource": "a VISA resource string (SMUs) or a pyserial URL (array_board)",
    "smu": "the SMU channel protocols use, e.g. k2636.smua",
    "max_voltage_V": "the largest |voltage| any protocol may apply, in volts",
    "max_current_A": "the largest |current| any protocol may apply, in amperes",
    "max_pulse_width_s": "the longest pulse any protocol may apply, in seconds",
}


def _got(value: Any) -> str:
    """How a found value is shown in a message."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 64:  # repr() of a huge one fails
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, (str, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def is_finite(value: int | float) -> bool:
    """``math.isfinite`` for a YAML/TOML number, false for an integer beyond any float
    (``0x`` and a thousand ``f``: ``math.isfinite`` raises on it)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(word: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _FieldChecker:
    """Collects ``(field path, message)`` problems while it builds the spec."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    # -- fields -----------------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: str,
        *,
        allowed: tuple[str, ...] | None,
        required: tuple[str, ...] = (),
        what: str = "fields",
        known: str | None = None,
    ) -> dict[str, Any] | None:
        """``value`` as a dict if it is a mapping whose keys are ``allowed`` (None: any
        string) and include ``required``; problems reported, None if not a mapping."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping of {what}, got {_got(value)}")
            return None
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.fail(_join(path, str(key)), f"expected a name (text) as key, got {key!r}")
            elif allowed is not None and key not in allowed:
                self.fail(
                    _join(path, key),
                    f"unknown field; expected {known or 'one of ' + ', '.join(allowed)}"
                    + _suggest(key, allowed),
                )
            else:
                out[key] = item
        for key in required:
            if key not in value:
                hint = _MISSING.get(key)
                self.fail(_join(path, key), "missing" + (f": {hint}" if hint else ""))
        return out

    def text(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected a non-empty text, got {_got(value)}")
            return None
        return value.strip()

    def positive(self, value: Any, path: str, unit: str = "") -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"expected a number{unit}, got {_got(value)}")
            return None
        if not is_finite(value) or value <= 0:
            self.fail(path, f"expected a finite number > 0{unit}, got {_got(value)}")
            return None
        return float(value)

    def integer(self, value: Any, path: str, minimum: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected an integer >= {minimum}, got {_got(value)}")
            return None
        if value < minimum:
            self.fail(path, f"expected an integer >= {minimum}, got {value!r}")
            return None
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.fail(
                path,
                f"expected one of {', '.join(choices)}, got {_got(value)}"
                + (_suggest(value, choices) if isinstance(value, str) else ""),
            )
            return None
        return value
