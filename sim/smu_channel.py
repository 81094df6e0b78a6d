"""One source-measure channel of a simulated SMU, independent of its command language.

A personality (the Keithley 2450's SCPI, the 2636B's TSP, the B2902A's SCPI) binds its
commands to a :class:`SimulatedChannel`: settings are plain attributes, and the channel
turns them into physics on its :class:`~rramlab.sim.probe.Terminals`.

Behaviour that every modelled SMU shares:

- A voltage source with a current limit clamps at the limit: the terminals then carry
  the limit and the voltage drops to what drives it; the reading's trip flag is set.
  A current source with a voltage limit does the same the other way round.
- Time passes on the bench clock for everything the channel does: each measurement
  integrates for ``nplc / line_frequency`` seconds plus a fixed overhead, each command
  costs a little time, and while the output is on the terminals stay biased at the
  source level all that time.
- Measurements carry instrument noise that shrinks as 1/sqrt(NPLC): a floor plus a
  fraction of the measurement range (auto-ranged unless a fixed range is set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rramlab.clock import Clock
from rramlab.sim.probe import TerminalReading, Terminals


@dataclass(frozen=True)
class SmuSpec:
    """The numbers of one SMU model (one channel). Units SI."""

    model: str
    voltage_ranges_V: tuple[float, ...]  # source and measure ranges, ascending
    current_ranges_A: tuple[float, ...]
    max_voltage_V: float  # largest |voltage| the channel can source
    max_current_A: float  # largest |current| (at low voltage)
    min_current_limit_A: float  # smallest current compliance
    min_voltage_limit_V: float  # smallest voltage compliance
    nplc_range: tuple[float, float]
    min_pulse_width_s: float  # shortest pulse the instrument can make
    current_noise_floor_A: float  # rms at 1 NPLC
    current_noise_of_range: float  # rms at 1 NPLC, as a fraction of the range
    voltage_noise_V: float  # rms at 1 NPLC
    measure_overhead_s: float = 200e-6  # conversion and bookkeeping per reading
    command_time_s: float = 50e-6  # time a command takes to execute
    line_frequency_Hz: float = 50.0


@dataclass(frozen=True)
class Reading:
    """One measurement: what the channel's meter reports."""

    voltage_V: float
    current_A: float
    tripped: bool  # the source was in compliance (clamped at its limit)
    time_s: float  # bench time at the end of the measurement
    source_V_or_A: float  # the programmed source level


class SimulatedChannel:
    """Settings and physics of one channel; personalities read and write the settings."""

    def __init__(
        self, spec: SmuSpec, terminals: Terminals, clock: Clock, rng: np.random.Generator
    ) -> None:
        self.spec = spec
        self.terminals = terminals
        self.clock = clock
        self.rng = rng
        #: A stuck output (fault injection, :mod:`rramlab.sim.faults`): it stays on when
        #: turned off or reset, and reports that it is on.
        self.stuck_on = False
        self.output_on = False
        self.reset()

    def reset(self) -> None:
        """Power-on defaults: output off (unless stuck on), 0 V source, 100 uA limit (as
        the 2450's *RST)."""
        self.output_on = self.output_on and self.stuck_on
        self.source_function = "VOLT"  # or "CURR"
        self.source_level = 0.0
        self.current_limit_A = 100e-6
        self.voltage_limit_V = 2.0
        self.nplc = 1.0
        self.current_range_A: float | None = None  # None = auto range
        self.voltage_range_V: float | None = None
        self.tripped = False

    # ------------------------------------------------------------------ time and bias
    def hold(self, duration_s: float) -> TerminalReading | None:
        """Let ``duration_s`` pass with the output as it is (biased if on)."""
        if duration_s <= 0:
            return None
        if not self.output_on:
            self.terminals.rest(duration_s)
            return None
        if self.source_function == "VOLT":
            reading = self.terminals.force_voltage(
                self.source_level, duration_s, self.current_limit_A
            )
        else:
            reading = self.terminals.force_current(
                self.source_level, duration_s, self.voltage_limit_V
            )
        self.tripped = reading.limited
        return reading

    def command(self) -> None:
        """The time one command takes, with the output as it is."""
        self.hold(self.spec.command_time_s)

    def integration_time_s(self) -> float:
        return self.nplc / self.spec.line_frequency_Hz

    # ------------------------------------------------------------------ measurement
    def measure(self, duration_s: float | None = None) -> Reading:
        """Integrate for NPLC line cycles (plus overhead) and report V, I and the trip.

        ``duration_s`` replaces that time when a personality schedules the conversion
        itself (e.g. a reading inside a pulse); the noise still follows the NPLC."""
        if duration_s is None:
            duration = self.integration_time_s() + self.spec.measure_overhead_s
        else:
            duration = duration_s
        reading = self.hold(duration)
        if reading is None:
            v_true, i_true, tripped = 0.0, 0.0, False
        else:
            v_true, i_true, tripped = reading.voltage_V, reading.current_A, reading.limited
        scale = 1.0 / math.sqrt(self.nplc)
        i_range = self.current_range_A or _auto_range(abs(i_true), self.spec.current_ranges_A)
        i_sigma = self.spec.current_noise_floor_A + self.spec.current_noise_of_range * i_range
        v_sigma = self.spec.voltage_noise_V
        noise_i, noise_v = self.rng.standard_normal(2)
        current = i_true + i_sigma * scale * noise_i
        voltage = v_true + v_sigma * scale * noise_v
        if self.current_range_A is not None:  # a fixed range overflows like the real meter
            current = float(np.clip(current, -1.05 * i_range, 1.05 * i_range))
        return Reading(voltage, current, tripped, self.clock.now(), self.source_level)

    def set_output(self, on: bool) -> None:
        """Turn the output on or off; a stuck output stays on."""
        if not on and self.stuck_on and self.output_on:
            return
        self.output_on = bool(on)
        if not on:
            self.tripped = False


def _auto_range(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range that holds ``value`` (the largest if none does)."""
    for r in ranges:
        if value <= r:
            return r
    return ranges[-1]
