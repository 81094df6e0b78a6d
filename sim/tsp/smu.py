"""A 2600B source-measure channel as TSP sees it: ``smua`` / ``smub``.

:class:`Smu2600` binds the 2600B attributes (``smua.source.levelv``,
``smua.measure.nplc``, ...) and functions (``smua.measure.i()``, ``smua.reset()``, ...)
to a :class:`~rramlab.sim.smu_channel.SimulatedChannel`. Settings are validated
against the model's :class:`~rramlab.sim.smu_channel.SmuSpec`: a refused value queues
-222 and leaves the setting unchanged. Every access to a setting or function marks the
channel as touched, so the statement costs the channel's command time.

Units are SI throughout: volts, amperes, seconds; NPLC in power-line cycles.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from rramlab.sim.smu_channel import Reading, SimulatedChannel
from rramlab.sim.tsp.buffers import ReadingBuffer
from rramlab.sim.tsp.errors import out_of_range
from rramlab.sim.tsp.objects import HostObject, arg, arg_number, bad_argument, setting_number
from rramlab.sim.tsp.timing import BenchTime
from rramlab.sim.tsp.validators import (
    RANGE_SLACK,
    between,
    choice,
    covering_range,
    delay_value,
    range_value,
    whole,
)

OVERFLOW = 9.91e37  # what a 2600B reports for a reading beyond its fixed range

# Constants every smuX carries (name -> value), as in the 2600B reference manual.
CONSTANTS = {
    "OUTPUT_DCAMPS": 0.0,
    "OUTPUT_DCVOLTS": 1.0,
    "OUTPUT_OFF": 0.0,
    "OUTPUT_ON": 1.0,
    "OUTPUT_NORMAL": 0.0,
    "OUTPUT_ZERO": 1.0,
    "OUTPUT_HIGH_Z": 2.0,
    "AUTORANGE_OFF": 0.0,
    "AUTORANGE_ON": 1.0,
    "AUTORANGE_FOLLOW_LIMIT": 2.0,
    "DISABLE": 0.0,
    "ENABLE": 1.0,
    "ASYNC": 2.0,
    "SOURCE_IDLE": 0.0,
    "SOURCE_HOLD": 1.0,
    "DELAY_OFF": 0.0,
    "DELAY_AUTO": -1.0,
    "SENSE_LOCAL": 0.0,
    "SENSE_REMOTE": 1.0,
    "SENSE_CALA": 3.0,
    "AUTOZERO_OFF": 0.0,
    "AUTOZERO_ONCE": 1.0,
    "AUTOZERO_AUTO": 2.0,
    "FILTER_OFF": 0.0,
    "FILTER_ON": 1.0,
    "FILTER_MOVING_AVG": 0.0,
    "FILTER_REPEAT_AVG": 1.0,
    "FILTER_MEDIAN": 2.0,
    "SETTLE_SMOOTH": 0.0,
    "SETTLE_FAST_RANGE": 1.0,
    "SETTLE_FAST_POLARITY": 2.0,
    "SETTLE_DIRECT_IRANGE": 3.0,
    "SETTLE_SMOOTH_100NA": 4.0,
    "SETTLE_FAST_ALL": 128.0,
    "LIMIT_AUTO": 0.0,
}


class Smu2600(HostObject):
    """One 2600B SMU channel (``smua``) on a simulated channel."""

    def __init__(self, path: str, channel: SimulatedChannel, bench: BenchTime) -> None:
        super().__init__(path)
        self.channel = channel
        self.bench = bench
        self.spec = channel.spec
        self.charge: Callable[[int], None] = lambda steps: None  # the interpreter's budget
        self.trigger_model: HostObject | None = None  # attached by the trigger module
        self._last_current = 0.0  # A, of the last reading: what autoranging settled on
        self.s: dict[str, float] = {}
        for name, value in CONSTANTS.items():
            self.const(name, value)
        self.nvbuffer1 = self.child("nvbuffer1", ReadingBuffer(f"{path}.nvbuffer1"))
        self.nvbuffer2 = self.child("nvbuffer2", ReadingBuffer(f"{path}.nvbuffer2"))
        assert isinstance(self.nvbuffer1, ReadingBuffer) and isinstance(
            self.nvbuffer2, ReadingBuffer
        )
        self.source = self.child("source", HostObject(f"{path}.source"))
        self.measure = self.child("measure", HostObject(f"{path}.measure"))
        self._declare_source()
        self._declare_measure()
        self._number(self, "sense", choice(0.0, 1.0, 3.0))
        self.function("reset", self._touching(lambda args: self.reset()))
        self.function("abort", self._touching(lambda args: None))  # sweeps run to the end
        self.function("makebuffer", self._makebuffer)
        self.reset()

    # ------------------------------------------------------------------ declarations
    def _declare_source(self) -> None:
        spec, src = self.spec, self.source
        v_top, i_top = spec.voltage_ranges_V[-1], spec.current_ranges_A[-1]
        self._number(src, "func", choice(0.0, 1.0))
        self._number(src, "levelv", lambda x: self._check_level(x, "v"))
        self._number(src, "leveli", lambda x: self._check_level(x, "i"))
        self._number(src, "limitv", between(spec.min_voltage_limit_V, spec.max_voltage_V, True))
        self._number(src, "limiti", between(spec.min_current_limit_A, spec.max_current_A, True))
        self._number(src, "limitp", between(0.0, spec.max_voltage_V * spec.max_current_A))
        self._range(src, "source", "v", spec.voltage_ranges_V)
        self._range(src, "source", "i", spec.current_ranges_A)
        self._number(src, "autorangev", choice(0.0, 1.0))
        self._number(src, "autorangei", choice(0.0, 1.0))
        self._number(src, "lowrangev", range_value(spec.voltage_ranges_V))
        self._number(src, "lowrangei", range_value(spec.current_ranges_A))
        self._number(src, "output", choice(0.0, 1.0))
        self._number(src, "offmode", choice(0.0, 1.0, 2.0))
        self._number(src, "offfunc", choice(0.0, 1.0))
        self._number(src, "offlimiti", between(spec.min_current_limit_A, i_top, True))
        self._number(src, "offlimitv", between(spec.min_voltage_limit_V, v_top, True))
        self._number(src, "delay", delay_value)
        self._number(src, "settling", between(0.0, 255.0))
        self._number(src, "highc", choice(0.0, 1.0))
        self._number(src, "sink", choice(0.0, 1.0))
        src.attr("compliance", self._touching_get(lambda: self.in_compliance()))

    def _declare_measure(self) -> None:
        spec, meas = self.spec, self.measure
        self._number(meas, "nplc", between(*spec.nplc_range))
        self._range(meas, "measure", "v", spec.voltage_ranges_V)
        self._range(meas, "measure", "i", spec.current_ranges_A)
        self._number(meas, "autorangev", choice(0.0, 1.0))
        self._number(meas, "autorangei", choice(0.0, 1.0, 2.0))
        self._number(meas, "lowrangev", range_value(spec.voltage_ranges_V))
        self._number(meas, "lowrangei", range_value(spec.current_ranges_A))
        self._number(meas, "delay", delay_value)
        self._number(meas, "delayfactor", between(0.0, 1000.0))
        self._number(meas, "count", whole(1, self.nvbuffer1.capacity))
        self._number(meas, "interval", between(0.0, 1.0))
        self._number(meas, "autozero", choice(0.0, 1.0, 2.0))
        filt = meas.child("filter", HostObject(f"{self.path}.measure.filter"))
        self._number(filt, "enable", choice(0.0, 1.0), key="measure.filter.enable")
        self._number(filt, "count", whole(1, 100), key="measure.filter.count")
        self._number(filt, "type", choice(0.0, 1.0, 2.0), key="measure.filter.type")
        for kind in ("i", "v", "iv", "r", "p"):
            meas.function(kind, self._touching(self._measure_function(kind)))
        for kind in ("i", "v", "iv"):
            meas.function(f"overlapped{kind}", self._touching(self._measure_function(kind)))

    def _number(
        self,
        obj: HostObject,
        name: str,
        check: Callable[[float], float],
        key: str | None = None,
    ) -> None:
        """A numeric setting ``obj.name`` stored in ``self.s[key]``; ``check`` returns
        the value to store or raises ValueError for a refused one."""
        if key is None:  # "smua.source" + "levelv" -> "source.levelv"; "smua" -> "sense"
            key = name if obj is self else f"{obj.path.split('.', 1)[1]}.{name}"
        path = f"{obj.path}.{name}"

        def set_value(value: object) -> None:
            x = setting_number(value, path)
            try:
                stored = check(x)
            except ValueError:
                raise out_of_range(path, value) from None
            self.s[key] = stored
            self.settings_changed()

        obj.attr(name, self._touching_get(lambda: self.s[key]), self._touching_set(set_value))

    def _range(self, obj: HostObject, part: str, kind: str, ranges: tuple[float, ...]) -> None:
        """``rangev``/``rangei``: setting one picks the smallest range that holds the
        value and turns autoranging off, as the 2600B does."""
        key = f"{part}.range{kind}"
        path = f"{obj.path}.range{kind}"

        def get() -> float:
            if self.s[f"{part}.autorange{kind}"]:
                return self.auto_range(part, kind)
            return self.s[key]

        def set_value(value: object) -> None:
            chosen = covering_range(setting_number(value, path), ranges)
            if chosen is None:
                raise out_of_range(path, value)
            self.s[key] = chosen
            self.s[f"{part}.autorange{kind}"] = 0.0
            self.settings_changed()

        obj.attr(f"range{kind}", self._touching_get(get), self._touching_set(set_value))

    def _touching(self, f: Callable[[list[object]], object]) -> Callable[[list[object]], object]:
        def touched(args: list[object]) -> object:
            self.bench.touch(self.channel)
            return f(args)

        return touched

    def _touching_get(self, f: Callable[[], object]) -> Callable[[], object]:
        def touched() -> object:
            self.bench.touch(self.channel)
            return f()

        return touched

    def _touching_set(self, f: Callable[[object], None]) -> Callable[[object], None]:
        def touched(value: object) -> None:
            self.bench.touch(self.channel)
            f(value)

        return touched

    # ------------------------------------------------------------------ settings
    def reset(self) -> None:
        """Factory defaults of the channel (``smua.reset()``, ``reset()``, ``*RST``)."""
        spec = self.spec
        v_low, i_low = spec.voltage_ranges_V[0], spec.current_ranges_A[0]
        self.s = {
            "sense": 0.0,
            "source.func": 1.0,
            "source.levelv": 0.0,
            "source.leveli": 0.0,
            "source.limitv": min(20.0, spec.max_voltage_V),
            "source.limiti": min(0.1, spec.max_current_A),
            "source.limitp": 0.0,
            "source.rangev": v_low,
            "source.rangei": i_low,
            "source.autorangev": 1.0,
            "source.autorangei": 1.0,
            "source.lowrangev": v_low,
            "source.lowrangei": i_low,
            "source.output": 0.0,
            "source.offmode": 0.0,
            "source.offfunc": 1.0,
            "source.offlimiti": min(1e-3, spec.max_current_A),
            "source.offlimitv": min(40.0, spec.max_voltage_V),
            "source.delay": 0.0,
            "source.settling": 0.0,
            "source.highc": 0.0,
            "source.sink": 0.0,
            "measure.nplc": 1.0,
            "measure.rangev": v_low,
            "measure.rangei": i_low,
            "measure.autorangev": 1.0,
            "measure.autorangei": 1.0,
            "measure.lowrangev": v_low,
            "measure.lowrangei": i_low,
            "measure.delay": -1.0,
            "measure.delayfactor": 1.0,
            "measure.count": 1.0,
            "measure.interval": 0.0,
            "measure.autozero": 2.0,
            "measure.filter.enable": 0.0,
            "measure.filter.count": 1.0,
            "measure.filter.type": 1.0,
        }
        self.nvbuffer1.clear()
        self.nvbuffer2.clear()
        if self.trigger_model is not None:
            self.trigger_model.reset()  # type: ignore[attr-defined]
        self.settings_changed()

    def settings_changed(self) -> None:
        """Push the settings to the simulated channel (the source follows at once)."""
        s, ch = self.s, self.channel
        volts = s["source.func"] == 1.0
        ch.source_function = "VOLT" if volts else "CURR"
        ch.source_level = s["source.levelv"] if volts else s["source.leveli"]
        ch.current_limit_A = s["source.limiti"]
        ch.voltage_limit_V = s["source.limitv"]
        ch.nplc = s["measure.nplc"]
        ch.current_range_A = None if s["measure.autorangei"] else s["measure.rangei"]
        ch.voltage_range_V = None if s["measure.autorangev"] else s["measure.rangev"]
        on = s["source.output"] == 1.0
        if on != ch.output_on:
            ch.set_output(on)
            s["source.output"] = 1.0 if ch.output_on else 0.0  # a stuck output stays on

    def _check_level(self, x: float, kind: str) -> float:
        spec = self.spec
        top = spec.max_voltage_V if kind == "v" else spec.max_current_A
        if not math.isfinite(x) or abs(x) > top:
            raise ValueError
        if (
            not self.s[f"source.autorange{kind}"]
            and abs(x) > self.s[f"source.range{kind}"] * RANGE_SLACK
        ):
            raise ValueError  # beyond the fixed source range
        return x

    def auto_range(self, part: str, kind: str) -> float:
        """The range autoranging uses now: the source range covering the level; the
        measure range covering the last reading's size (the level when sourcing it)."""
        ranges = self.spec.voltage_ranges_V if kind == "v" else self.spec.current_ranges_A
        level = self.s[f"source.level{kind}"]
        if part == "measure" and kind == "i" and self.s["source.func"] == 1.0:
            level = self._last_current
        return covering_range(level, ranges) or ranges[-1]

    def in_compliance(self) -> bool:
        """``smua.source.compliance``: the output is on and clamped at its limit."""
        return bool(self.channel.output_on and self.channel.tripped)

    def status_bits(self) -> float:
        """``status.measurement.instrument.smua.condition``: VLMT 1, ILMT 2, BAV 256."""
        bits = 0
        if self.in_compliance():
            bits |= 2 if self.channel.source_function == "VOLT" else 1
        if self.nvbuffer1.n or self.nvbuffer2.n:
            bits |= 256
        return float(bits)

    # ------------------------------------------------------------------ measuring
    def _measure_function(self, kind: str) -> Callable[[list[object]], object]:
        fname = f"{self.path}.measure.{kind}"

        def measure(args: list[object]) -> object:
            buffers = []
            for i in range(len(args)):
                buf = arg(args, i + 1)
                if buf is None:
                    continue
                if not isinstance(buf, ReadingBuffer):
                    raise bad_argument(i + 1, fname, "reading buffer", buf)
                buffers.append(buf)
            for buf in buffers:
                buf.begin()
            count = int(self.s["measure.count"])
            result: object = None
            for k in range(count):
                if k:
                    self.channel.hold(self._interval_wait())
                result = self.acquire(kind, buffers)
            return result

        return measure

    def _interval_wait(self) -> float:
        """Idle time between readings of a count: the interval is start to start."""
        busy = self.channel.integration_time_s() + self.spec.measure_overhead_s
        return max(0.0, self.s["measure.interval"] - busy)

    def acquire(self, kind: str, buffers: list[ReadingBuffer]) -> object:
        """One measurement of ``kind`` ("i", "v", "iv", "r", "p") after the measure
        delay, stored into ``buffers`` (for "iv": currents, then voltages)."""
        self.charge(1)
        delay = self.s["measure.delay"]
        if delay > 0:
            self.channel.hold(delay)
        reading = self.channel.measure()
        current, voltage = self._reported(reading)
        self._last_current = reading.current_A
        if kind == "iv":
            values: tuple[float, ...] = (current, voltage)
        elif kind == "i":
            values = (current,)
        elif kind == "v":
            values = (voltage,)
        elif kind == "r":
            values = (voltage / current if current else OVERFLOW,)
        else:
            values = (voltage * current,)
        functions = {"i": "Current", "v": "Voltage", "r": "Resistance", "p": "Power"}
        for index, buf in enumerate(buffers[: len(values)]):
            measured = kind[index] if kind == "iv" else kind
            buf.store(
                values[index],
                source_value=reading.source_V_or_A,
                time_s=reading.time_s,
                measure_range=self._range_of(measured, reading),
                measure_function=functions[measured],
                source_function="Voltage" if self.channel.source_function == "VOLT" else "Current",
            )
        return values if kind == "iv" else values[0]

    def _reported(self, reading: Reading) -> tuple[float, float]:
        """Current and voltage as the meter reports them: past a fixed current range
        the 2600B reports the overflow value 9.91e37."""
        current = reading.current_A
        fixed = self.channel.current_range_A
        if fixed is not None and abs(current) >= 1.05 * fixed * (1 - 1e-9):
            current = math.copysign(OVERFLOW, current)
        return current, reading.voltage_V

    def _range_of(self, kind: str, reading: Reading) -> float:
        if kind == "v":
            fixed = self.channel.voltage_range_V
            return fixed or (covering_range(reading.voltage_V, self.spec.voltage_ranges_V) or 0.0)
        fixed = self.channel.current_range_A
        return fixed or (covering_range(reading.current_A, self.spec.current_ranges_A) or 0.0)

    def _makebuffer(self, args: list[object]) -> ReadingBuffer:
        n = arg_number(args, 1, f"{self.path}.makebuffer")
        if not 1 <= n <= 1_000_000:
            raise out_of_range(f"{self.path}.makebuffer size", n)
        return ReadingBuffer("buffer", capacity=int(n))

    def with_spec(self, **changes: float) -> None:
        """Change numbers of the channel's spec (``localnode.linefreq``)."""
        self.spec = dataclasses.replace(self.spec, **changes)
        self.channel.spec = self.spec
