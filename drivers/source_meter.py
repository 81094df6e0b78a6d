"""The ``SourceMeter`` role: what protocols may ask of any source-measure channel.

Protocols talk to this interface only. A driver subclasses :class:`SourceMeter` once
per instrument model and implements the ``_``-prefixed hooks with the instrument's own
commands; the public methods here validate every value against the instrument's ranges
(:class:`InstrumentRanges`) and the station's :class:`~rramlab.limits.SafetyLimits`
*before* a hook runs, so nothing out of range ever reaches the wire.

One ``SourceMeter`` is one channel: a two-channel instrument exposes two of them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from rramlab.errors import LimitError
from rramlab.limits import SafetyLimits


@dataclass(frozen=True)
class Identity:
    """What ``*IDN?`` (or its TSP equivalent) says."""

    manufacturer: str
    model: str
    serial: str
    firmware: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse a comma-separated IEEE 488.2 identification string."""
        parts = [p.strip() for p in text.strip().split(",")]
        if len(parts) != 4 or not all(parts[:2]):
            raise ValueError(f"not an IEEE 488.2 identification string: {text!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.model} (serial {self.serial}, firmware {self.firmware})"


@dataclass(frozen=True)
class InstrumentRanges:
    """The instrument's own limits for one channel (from its datasheet). SI units."""

    max_voltage_V: float
    max_current_A: float
    voltage_ranges_V: tuple[float, ...]
    current_ranges_A: tuple[float, ...]
    min_current_limit_A: float
    min_voltage_limit_V: float
    nplc_range: tuple[float, float]
    min_pulse_width_s: float


@dataclass(frozen=True)
class Measurement:
    """One reading: volts across and amperes through the terminals."""

    voltage_V: float
    current_A: float
    in_compliance: bool  # the source was clamped at its limit


@dataclass(frozen=True)
class SweepResult:
    """An instrument-side sweep, one entry per point (numpy arrays of equal length)."""

    source_V: np.ndarray  # programmed levels
    voltage_V: np.ndarray  # measured
    current_A: np.ndarray  # measured


@dataclass(frozen=True)
class PulseResult:
    """A voltage pulse as the instrument really made it."""

    level_V: float
    width_s: float  # the width the instrument actually held the level (honest)
    current_A: float  # measured at the end of the pulse (NaN if the pulse was too short)


class SourceMeter(ABC):
    """One source-measure channel. Subclasses implement the hooks; see module docs."""

    #: the instrument's ranges; subclasses set it
    ranges: InstrumentRanges

    def __init__(self, *, limits: SafetyLimits, name: str) -> None:
        self.limits = limits
        self.name = name
        self._output_enabled = False

    # ------------------------------------------------------------------ identity
    @property
    @abstractmethod
    def identity(self) -> Identity:
        """The instrument's identification."""

    @abstractmethod
    def reset(self) -> None:
        """Return the instrument to its power-on state (output off)."""

    @abstractmethod
    def check_errors(self) -> None:
        """Read the error queue; raise :class:`rramlab.errors.InstrumentError` (with the
        instrument's code and message) if it holds an error."""

    # ------------------------------------------------------------------ configuration
    def source_voltage(
        self, level_V: float, *, current_limit_A: float, range_V: float | None = None
    ) -> None:
        """Source ``level_V`` volts with a current compliance of ``current_limit_A``.
        ``range_V`` fixes the source range (None: the smallest that holds the level)."""
        level = self._check_voltage(level_V, "source voltage")
        limit = self._check_current_limit(current_limit_A)
        chosen = self._pick_range(range_V, abs(level), self.ranges.voltage_ranges_V, "range_V")
        self._source_voltage(level, limit, chosen)

    def source_current(
        self, level_A: float, *, voltage_limit_V: float, range_A: float | None = None
    ) -> None:
        """Source ``level_A`` amperes with a voltage compliance of ``voltage_limit_V``."""
        level = self._check_current(level_A, "source current")
        limit = self._check_voltage_limit(voltage_limit_V)
        chosen = self._pick_range(range_A, abs(level), self.ranges.current_ranges_A, "range_A")
        self._source_current(level, limit, chosen)

    def configure_measurement(
        self, *, nplc: float = 1.0, current_range_A: float | None = None
    ) -> None:
        """Integration time in power-line cycles and the current measurement range
        (None: auto range)."""
        lo, hi = self.ranges.nplc_range
        nplc = _number(nplc, "nplc")
        if not lo <= nplc <= hi:
            raise LimitError(f"nplc {nplc:g} is outside the instrument's {lo:g}..{hi:g}")
        if current_range_A is not None:
            current_range_A = self._pick_range(
                current_range_A, 0.0, self.ranges.current_ranges_A, "current_range_A"
            )
        self._configure_measurement(nplc, current_range_A)

    # ------------------------------------------------------------------ output
    @property
    def output_enabled(self) -> bool:
        return self._output_enabled

    def enable_output(self) -> None:
        self._enable_output(True)
        self._output_enabled = True

    def disable_output(self) -> None:
        """Turn the output off. Safe to call at any time, also when it is already off."""
        self._enable_output(False)
        self._output_enabled = False

    @contextmanager
    def output(self) -> Iterator[SourceMeter]:
        """``with smu.output():`` the output is on inside the block and off after it,
        whatever happens in it (exceptions, Ctrl-C)."""
        try:
            self.enable_output()
            yield self
        finally:
            self.disable_output()

    # ------------------------------------------------------------------ measuring
    def measure(self) -> Measurement:
        """One reading of voltage and current, and whether the source is in compliance."""
        return self._measure()

    def sweep_voltage(
        self, levels_V: Sequence[float], *, current_limit_A: float, delay_s: float = 0.0
    ) -> SweepResult:
        """A list sweep run by the instrument: each level sourced, held ``delay_s``, then
        measured; all points come back in one round trip. The output is turned on for
        the sweep; afterwards the source setting made with :meth:`source_voltage` /
        :meth:`source_current` is programmed again and the output put back as it was.
        If the sweep fails, or no source setting was made, the output ends off."""
        levels = np.asarray(levels_V, dtype=float)
        if levels.ndim != 1 or levels.size == 0:
            raise ValueError("levels_V must be a non-empty sequence of voltages")
        for v in levels:
            self._check_voltage(v, "sweep voltage")
        limit = self._check_current_limit(current_limit_A)
        delay = _number(delay_s, "delay_s")
        if delay < 0:
            raise LimitError(f"delay_s must be >= 0, got {delay:g}")
        return self._sweep_voltage(levels, limit, delay)

    def sweep_voltage_linear(
        self,
        start_V: float,
        stop_V: float,
        points: int,
        *,
        current_limit_A: float,
        delay_s: float = 0.0,
    ) -> SweepResult:
        """A linear sweep of ``points`` levels from ``start_V`` to ``stop_V``."""
        if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
            raise ValueError(f"points must be an integer >= 2, got {points!r}")
        return self.sweep_voltage(
            np.linspace(start_V, stop_V, int(points)),
            current_limit_A=current_limit_A,
            delay_s=delay_s,
        )

    def pulse_voltage(
        self, level_V: float, width_s: float, *, current_limit_A: float, base_V: float = 0.0
    ) -> PulseResult:
        """One voltage pulse from ``base_V`` to ``level_V`` for ``width_s``. Widths
        below :attr:`min_pulse_width_s` are refused; the result reports the width the
        instrument really held. Afterwards the source and output are put back as after
        :meth:`sweep_voltage`."""
        level = self._check_voltage(level_V, "pulse level")
        base = self._check_voltage(base_V, "pulse base")
        width = self.limits.check_pulse_width(_number(width_s, "width_s"))
        if width < self.ranges.min_pulse_width_s:
            raise LimitError(
                f"{self.name} cannot make a {width:g} s pulse; its shortest is "
                f"{self.ranges.min_pulse_width_s:g} s"
            )
        limit = self._check_current_limit(current_limit_A)
        return self._pulse_voltage(level, width, limit, base)

    @property
    def min_pulse_width_s(self) -> float:
        """The shortest pulse this instrument can make (s)."""
        return self.ranges.min_pulse_width_s

    # ------------------------------------------------------------------ validation
    def _check_voltage(self, value: float, what: str) -> float:
        value = self.limits.check_voltage(_number(value, what), what)
        if abs(value) > self.ranges.max_voltage_V:
            raise LimitError(
                f"{what} {value:g} V is beyond {self.name}'s {self.ranges.max_voltage_V:g} V"
            )
        return value

    def _check_current(self, value: float, what: str) -> float:
        value = self.limits.check_current(_number(value, what), what)
        if abs(value) > self.ranges.max_current_A:
            raise LimitError(
                f"{what} {value:g} A is beyond {self.name}'s {self.ranges.max_current_A:g} A"
            )
        return value

    def _check_current_limit(self, value: float) -> float:
        value = self._check_current(value, "current limit")
        if value < self.ranges.min_current_limit_A:
            raise LimitError(
                f"current limit {value:g} A is below {self.name}'s smallest "
                f"{self.ranges.min_current_limit_A:g} A (and must be positive)"
            )
        return value

    def _check_voltage_limit(self, value: float) -> float:
        value = self._check_voltage(value, "voltage limit")
        if value < self.ranges.min_voltage_limit_V:
            raise LimitError(
                f"voltage limit {value:g} V is below {self.name}'s smallest "
                f"{self.ranges.min_voltage_limit_V:g} V (and must be positive)"
            )
        return value

    def _pick_range(
        self, requested: float | None, needed: float, ranges: tuple[float, ...], what: str
    ) -> float:
        if requested is None:
            for r in ranges:
                if needed <= r:
                    return r
            return ranges[-1]
        requested = _number(requested, what)
        for r in ranges:
            if math.isclose(requested, r, rel_tol=1e-9):
                if needed > r:
                    raise LimitError(f"{what} {r:g} cannot hold {needed:g}")
                return r
        raise LimitError(
            f"{what} {requested:g} is not one of {self.name}'s ranges "
            f"{', '.join(f'{r:g}' for r in ranges)}"
        )

    # ------------------------------------------------------------------ driver hooks
    @abstractmethod
    def _source_voltage(self, level_V: float, current_limit_A: float, range_V: float) -> None: ...

    @abstractmethod
    def _source_current(self, level_A: float, voltage_limit_V: float, range_A: float) -> None: ...

    @abstractmethod
    def _configure_measurement(self, nplc: float, current_range_A: float | None) -> None: ...

    @abstractmethod
    def _enable_output(self, on: bool) -> None: ...

    @abstractmethod
    def _measure(self) -> Measurement: ...

    @abstractmethod
    def _sweep_voltage(
        self, levels_V: np.ndarray, current_limit_A: float, delay_s: float
    ) -> SweepResult: ...

    @abstractmethod
    def _pulse_voltage(
        self, level_V: float, width_s: float, current_limit_A: float, base_V: float
    ) -> PulseResult: ...


def _number(value: float, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise LimitError(f"{what} must be finite, got {value!r}")
    return value
