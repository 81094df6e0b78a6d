"""Simulated Keithley 2450 SourceMeter: its native SCPI command set on one channel.

Commands follow the 2450 reference manual (2450-901-01, section 6). What is modelled:

- Source: ``:SOURce[1]:FUNCtion[:MODE] VOLT|CURR``; per function the level
  ``:SOURce:<f>[:LEVel][:IMMediate][:AMPLitude]``, ``:RANGe``, ``:RANGe:AUTO``, the
  limit ``:SOURce:VOLTage:ILIMit[:LEVel]`` / ``:SOURce:CURRent:VLIMit[:LEVel]`` with
  ``...:TRIPped?``, ``:DELay``, ``:DELay:AUTO``, ``:READ:BACK``, the custom list
  ``:SOURce:LIST:<f>`` (``:APPend``, ``:POINts?``) and the sweeps
  ``:SOURce:SWEep:<f>:LINear``, ``:LINear:STEP``, ``:LOG`` and ``:LIST``.
- Sense: ``:SENSe[1]:FUNCtion[:ON] "CURR"|"VOLT"``, per function ``:RANGe[:UPPer]``,
  ``:RANGe:AUTO``, ``:NPLCycles``, ``:RSENse``; ``:SENSe:COUNt``.
- ``:OUTPut[1][:STATe]``, ``:OUTPut:<f>:SMODe``, ``:ROUTe:TERMinals``.
- Readings: ``:READ?``, ``:MEASure[:<f>[:DC]]?``, ``:FETCh?`` (optional buffer name and
  buffer elements READ, SOUR, REL, SEC, FRAC, TST, DATE, TIME, STAT, SOURSTAT, UNIT,
  SOURUNIT) and the reading buffers ``:TRACe:MAKE/DELete/POINts/ACTual[:STARt|:END]?/
  CLEar/FILL:MODE/DATA?/TRIGger/STATistics:<AVERage|MINimum|MAXimum|PK2Pk|STDDev>?``.
- Trigger model: a sweep command (or ``:TRIGger:LOAD "SimpleLoop"``) loads it,
  ``:INITiate[:IMMediate]`` runs it to completion in bench time, ``:ABORt``.
- ``*LANG?`` (SCPI), ``:SYSTem:LFRequency?`` and the engine's common commands.

Anything else answers -113 Undefined header.

Timing: each command costs ``command_time_s`` with the output as it is; a reading
integrates NPLC/50 Hz plus 200 us of conversion. A sweep point is: set the level, wait
the source delay (plus the sweep's delay), measure, store. As in the instrument's
generated sweep trigger model, the sweep clears its buffer, turns the output on, and
turns it off when done; it stops early at a source limit when ``failAbort`` is ON (the
default). The shortest pulse a list sweep can make is therefore one point at
``:SOURce:<f>:DELay 0``, sweep delay 0 and 0.01 NPLC: 0.01/50 Hz + 200 us = 400 us.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np

from rramlab.clock import Clock
from rramlab.sim.probe import Terminals
from rramlab.sim.scpi import Boolean, Call, Choice, Numeric, ResponseStyle, ScpiError, Text
from rramlab.sim.scpi.engine import ScpiInstrument
from rramlab.sim.scpi.values import ValueType, matches
from rramlab.sim.smu_channel import Reading, SimulatedChannel, SmuSpec

IDN = "KEITHLEY INSTRUMENTS,MODEL 2450,04365704,1.6.4c"
LINE_FREQUENCY_HZ = 50.0
MEASURE_OVERHEAD_S = 200e-6
AUTO_SOURCE_DELAY_S = 1e-3  # [assume] the auto source delay, for every range
SHORTEST_PULSE_S = 0.01 / LINE_FREQUENCY_HZ + MEASURE_OVERHEAD_S  # one list-sweep point

SPEC = SmuSpec(
    model="2450",
    voltage_ranges_V=(0.02, 0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0),
    max_voltage_V=210.0,
    max_current_A=1.05,
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(0.01, 10.0),
    min_pulse_width_s=SHORTEST_PULSE_S,
    current_noise_floor_A=2e-12,  # [assume] below the 10 nA range's 50 pA accuracy term
    current_noise_of_range=1e-5,  # [assume] 10 ppm of range rms at 1 NPLC
    voltage_noise_V=1e-5,  # [assume]
    measure_overhead_s=MEASURE_OVERHEAD_S,
    line_frequency_Hz=LINE_FREQUENCY_HZ,
)

FUNCTIONS = {"VOLT": "VOLTage", "CURR": "CURRent"}
LEVEL = {"VOLT": Numeric(-210.0, 210.0, 0.0, unit="V"), "CURR": Numeric(-1.05, 1.05, 0.0, unit="A")}
# The limit of a voltage source is a current and the other way round (magnitudes).
LIMIT = {
    "VOLT": Numeric(1e-9, 1.05, 105e-6, unit="A", magnitude=True),
    "CURR": Numeric(0.02, 210.0, 21.0, unit="V", magnitude=True),
}
LIMIT_NAME = {"VOLT": "ILIMit", "CURR": "VLIMit"}
RANGES = {"VOLT": SPEC.voltage_ranges_V, "CURR": SPEC.current_ranges_A}
RANGE_VALUE = {
    "VOLT": Numeric(-210.0, 210.0, 0.2, unit="V"),
    "CURR": Numeric(-1.05, 1.05, 1e-4, unit="A"),
}
POWER_V, POWER_I = 21.0, 0.105  # 20 W envelope: above 105 mA only up to 21 V
NPLC = Numeric(0.01, 10.0, 1.0)
DELAY = Numeric(0.0, 10_000.0, 0.0, unit="S")
UNITS = {"VOLT": "Volt DC", "CURR": "Amp DC"}
OUTPUT_OFF_MODES = Choice(("NORMal", "HIMPedance", "ZERO", "GUARd"))
ELEMENTS = Choice(
    (
        "READing",
        "SOURce",
        "RELative",
        "SEConds",
        "FRACtional",
        "TSTamp",
        "DATE",
        "TIME",
        "STATus",
        "SOURSTATus",
        "UNIT",
        "SOURUNIT",
    )
)
MAX_ARGS = 2 + len(ELEMENTS.options)
DEFAULT_BUFFERS = ("defbuffer1", "defbuffer2")
DEFAULT_BUFFER_SIZE = 100_000
MAX_LIST_ARGS = 100  # values one :SOURce:LIST:<function>[:APPend] command may carry
MAX_LIST_POINTS = 2500  # a whole source configuration list, built up with :APPend
# Source status bits of a buffer entry (SOURSTATus).
SRC_READBACK, SRC_LIMITED, SRC_OUTPUT_ON = 0x02, 0x08, 0x20
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # bench time 0 in buffer time stamps


@dataclass(frozen=True)
class BufferEntry:
    reading: float  # of the sense function (A or V)
    source: float  # read back or programmed source level
    time_s: float  # bench time at the end of the reading
    source_status: int
    function: str  # sense function, "CURR" or "VOLT"
    source_function: str


class ReadingBuffer:
    """A 2450 reading buffer: ``capacity`` entries, filled continuously (oldest dropped)
    or once (full buffer ignores new readings)."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.fill_once = False
        self.resize(capacity)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: deque[BufferEntry] = deque(maxlen=capacity)

    def add(self, entry: BufferEntry) -> None:
        if not (self.fill_once and len(self.entries) == self.capacity):
            self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

    def readings(self) -> list[float]:
        return [e.reading for e in self.entries]


@dataclass(frozen=True)
class TriggerModel:
    """What ``:INITiate`` runs: a sweep over ``levels`` or a simple measure loop."""

    kind: str  # "sweep" or "loop"
    function: str
    levels: tuple[float, ...]
    delay_s: float  # sweep delay; -1 = source autodelay
    count: int
    fail_abort: bool
    buffer: str


class SweepAborted(Exception):
    """A source limit was hit in a sweep with failAbort ON."""


def smallest_range(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range holding ``|value|`` (ranges reach 105 %), else -222."""
    for r in ranges:
        if abs(value) <= r * 1.05 * (1 + 1e-12):
            return r
    raise ScpiError(-222, f"{value:g} exceeds the largest range")


class Keithley2450Sim(ScpiInstrument):
    """A Keithley 2450 whose terminals drive ``probe``; time runs on ``clock``."""

    def __init__(self, probe: Terminals, clock: Clock, rng: np.random.Generator) -> None:
        super().__init__("Keithley 2450", IDN, style=ResponseStyle(plus_sign=False))
        self.clock = clock
        self.channel = SimulatedChannel(SPEC, probe, clock, rng)
        self._register_source()
        self._register_sense()
        self._register_readings()
        self._register_buffers()
        self._register_trigger()
        self._register_system()
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """``*RST``: output off, 0 V source with 105 uA limit, current sense at 1 NPLC,
        auto ranges, default buffers emptied and user buffers deleted."""
        self.channel.reset()
        self.source_function = "VOLT"
        self.level = {"VOLT": 0.0, "CURR": 0.0}
        self.limit = {f: LIMIT[f].default for f in FUNCTIONS}
        self.source_range: dict[str, float | None] = {"VOLT": None, "CURR": None}
        self.delay = {"VOLT": 0.0, "CURR": 0.0}
        self.delay_auto = {"VOLT": True, "CURR": True}
        self.readback = {"VOLT": True, "CURR": True}
        self.output_off_mode = {"VOLT": "NORM", "CURR": "NORM"}
        self.source_list: dict[str, list[float]] = {"VOLT": [], "CURR": []}
        self.sense_function = "CURR"
        self.nplc = {"VOLT": 1.0, "CURR": 1.0}
        self.sense_range: dict[str, float | None] = {"VOLT": None, "CURR": None}
        self.remote_sense = {"VOLT": False, "CURR": False}
        self.count = 1
        self.terminals = "FRON"
        self.model: TriggerModel | None = None
        self.buffers = {n: ReadingBuffer(n, DEFAULT_BUFFER_SIZE) for n in DEFAULT_BUFFERS}
        self.last: Reading | None = None
        self._sync()

    def _sync(self) -> None:
        """Copy the settings the physics needs onto the channel."""
        ch = self.channel
        ch.source_function = self.source_function
        ch.source_level = self.level[self.source_function]
        ch.current_limit_A = self.limit["VOLT"]
        ch.voltage_limit_V = self.limit["CURR"]
        ch.nplc = self.nplc[self.sense_function]
        ch.current_range_A = self.sense_range["CURR"]
        ch.voltage_range_V = self.sense_range["VOLT"]

    def before_command(self, call: Call) -> None:
        self._sync()
        self.channel.command()

    # ------------------------------------------------------------------ registration helpers
    def _setting(
        self, pattern: str, kind: ValueType, get: Callable[[], Any], put: Callable[[Any], None]
    ) -> None:
        """A one-parameter setting of this single-channel instrument."""
        self.tree.setting(pattern, kind, get=lambda call: get(), put=lambda call, v: put(v))

    def _item(self, table: str, key: str) -> tuple[Callable[[], Any], Callable[[Any], None]]:
        """Getter and setter of ``self.<table>[key]`` (*RST rebuilds the tables)."""
        return (
            lambda: getattr(self, table)[key],
            lambda value: getattr(self, table).__setitem__(key, value),
        )

    # ------------------------------------------------------------------ source
    def _register_source(self) -> None:
        self._setting(
            ":SOURce<1>:FUNCtion[:MODE]",
            Choice(tuple(FUNCTIONS.values())),
            lambda: self.source_function,
            self._set_source_function,
        )
        for f, name in FUNCTIONS.items():
            src = f":SOURce<1>:{name}"
            limit = f"{src}:{LIMIT_NAME[f]}[:LEVel]"
            for pattern, kind, get, put in (
                (
                    f"{src}[:LEVel][:IMMediate][:AMPLitude]",
                    LEVEL[f],
                    self._item("level", f)[0],
                    partial(self._set_level, f),
                ),
                (
                    f"{src}:RANGe",
                    RANGE_VALUE[f],
                    partial(self._source_range, f),
                    partial(self._set_source_range, f),
                ),
                (
                    f"{src}:RANGe:AUTO",
                    Boolean(),
                    lambda f=f: self.source_range[f] is None,
                    partial(self._set_source_range_auto, f),
                ),
                (limit, LIMIT[f], self._item("limit", f)[0], partial(self._set_limit, f)),
                (
                    f"{src}:DELay",
                    DELAY,
                    partial(self._source_delay, f),
                    partial(self._set_delay, f),
                ),
                (f"{src}:DELay:AUTO", Boolean(), *self._item("delay_auto", f)),
                (f"{src}:READ:BACK", Boolean(), *self._item("readback", f)),
            ):
                self._setting(pattern, kind, get, put)
            self.tree.add(f"{limit}:TRIPped", query=self._tripped_query(f))
            self._register_lists(f, name)

    def _set_source_function(self, f: str) -> None:
        if f != self.source_function:
            self.channel.set_output(False)  # the 2450 turns the output off to switch
        self.source_function = f

    def _check_power(self, f: str, level: float, limit: float) -> None:
        v, i = (abs(level), limit) if f == "VOLT" else (limit, abs(level))
        if v > POWER_V and i > POWER_I:
            raise ScpiError(-221, f"{v:g} V with {i:g} A is outside the 20 W envelope")

    def _set_level(self, f: str, value: float) -> None:
        fixed = self.source_range[f]
        if fixed is not None and abs(value) > fixed * 1.05:
            raise ScpiError(-222, f"{value:g} exceeds the fixed {fixed:g} range")
        self._check_power(f, value, self.limit[f])
        self.level[f] = value

    def _set_limit(self, f: str, value: float) -> None:
        self._check_power(f, self.level[f], value)
        self.limit[f] = value

    def _source_range(self, f: str) -> float:
        fixed = self.source_range[f]
        return fixed if fixed is not None else smallest_range(self.level[f], RANGES[f])

    def _set_source_range(self, f: str, value: float) -> None:
        chosen = smallest_range(value, RANGES[f])
        if abs(self.level[f]) > chosen * 1.05:
            raise ScpiError(-221, f"the level {self.level[f]:g} does not fit the {chosen:g} range")
        self.source_range[f] = chosen

    def _set_source_range_auto(self, f: str, on: bool) -> None:
        self.source_range[f] = None if on else self._source_range(f)

    def _source_delay(self, f: str) -> float:
        return AUTO_SOURCE_DELAY_S if self.delay_auto[f] else self.delay[f]

    def _set_delay(self, f: str, value: float) -> None:
        self.delay[f], self.delay_auto[f] = value, False  # a delay turns auto delay off

    def _tripped_query(self, f: str):
        def query(call: Call) -> str:
            return call.style.boolean(self.source_function == f and self.channel.tripped)

        return query

    # ------------------------------------------------------------------ lists and sweeps
    def _register_lists(self, f: str, name: str) -> None:
        tree = self.tree

        def set_list(call: Call, append: bool = False) -> None:
            values = [call.arg(i, LEVEL[f]) for i in range(len(call.params))]
            new = ([*self.source_list[f]] if append else []) + values
            if len(new) > MAX_LIST_POINTS:
                raise ScpiError(-223, f"more than {MAX_LIST_POINTS} list points")
            self.source_list[f] = new

        def get_list(call: Call) -> str:
            return call.style.numbers(self.source_list[f])

        tree.add(
            f":SOURce<1>:LIST:{name}",
            command=set_list,
            query=get_list,
            args=(1, MAX_LIST_ARGS),
        )
        tree.add(
            f":SOURce<1>:LIST:{name}:APPend",
            command=lambda call: set_list(call, append=True),
            args=(1, MAX_LIST_ARGS),
        )
        tree.add(
            f":SOURce<1>:LIST:{name}:POINts",
            query=lambda call: call.style.nr1(len(self.source_list[f])),
        )
        sweep = f":SOURce<1>:SWEep:{name}"
        tree.add(f"{sweep}:LINear", command=lambda c: self._linear(c, f, False), args=(3, 9))
        tree.add(f"{sweep}:LINear:STEP", command=lambda c: self._linear(c, f, True), args=(3, 9))
        tree.add(f"{sweep}:LOG", command=lambda c: self._log(c, f), args=(3, 10))
        tree.add(f"{sweep}:LIST", command=lambda c: self._list_sweep(c, f), args=(1, 5))

    def _linear(self, call: Call, f: str, by_step: bool) -> None:
        start, stop = call.arg(0, LEVEL[f]), call.arg(1, LEVEL[f])
        if by_step:
            step = abs(call.arg(2, Numeric(-420.0, 420.0, 0.0)))
            if step == 0:
                raise ScpiError(-222, "step must not be 0")
            points = math.floor(abs(stop - start) / step + 1e-9) + 1
            levels = start + np.sign(stop - start) * step * np.arange(points)
        else:
            points = int(call.arg(2, Numeric(2, 1e6, 2, integer=True)))
            levels = np.linspace(start, stop, points)
        self._load_sweep(call, f, levels, first_option=3)

    def _log(self, call: Call, f: str) -> None:
        start, stop = call.arg(0, LEVEL[f]), call.arg(1, LEVEL[f])
        points = int(call.arg(2, Numeric(2, 1e6, 2, integer=True)))
        asymptote = call.arg(9, LEVEL[f], 0.0)
        a, b = start - asymptote, stop - asymptote
        if a == 0 or b == 0 or (a > 0) != (b > 0):
            raise ScpiError(-221, "a log sweep needs start and stop on one side of the asymptote")
        levels = asymptote + np.sign(a) * np.geomspace(abs(a), abs(b), points)
        self._load_sweep(call, f, levels, first_option=3)

    def _list_sweep(self, call: Call, f: str) -> None:
        values = self.source_list[f]
        if not values:
            raise ScpiError(-221, f"no :SOURce:LIST:{FUNCTIONS[f]} values")
        start = int(call.arg(0, Numeric(1, len(values), 1, integer=True)))
        delay = self._sweep_delay(call.arg(1, Numeric(-1, 10_000, 0, unit="S"), 0.0))
        count = self._sweep_count(call.arg(2, Numeric(0, 268_435_455, 1, integer=True), 1))
        fail_abort = call.arg(3, Boolean(), True)
        buffer = self._buffer(call.arg(4, Text(), "defbuffer1")).name
        levels = tuple(values[start - 1 :])
        self.model = TriggerModel("sweep", f, levels, delay, count, fail_abort, buffer)

    def _load_sweep(self, call: Call, f: str, levels: np.ndarray, first_option: int) -> None:
        """Options after start, stop, points: delay, count, rangeType, failAbort, dual,
        buffer name. Nothing changes unless all of them are valid."""
        i = first_option
        delay = self._sweep_delay(call.arg(i, Numeric(-1, 10_000, -1, unit="S"), -1.0))
        count = self._sweep_count(call.arg(i + 1, Numeric(0, 268_435_455, 1, integer=True), 1))
        call.arg(i + 2, Choice(("AUTO", "BEST", "FIXed")), "BEST")  # ranges do not matter here
        fail_abort = call.arg(i + 3, Boolean(), True)
        dual = call.arg(i + 4, Boolean(), False)
        buffer = self._buffer(call.arg(i + 5, Text(), "defbuffer1")).name
        points = [float(v) for v in levels]
        for v in points:
            if not LEVEL[f].lo <= v <= LEVEL[f].hi:
                raise ScpiError(-222, f"sweep level {v:g} out of range")
            self._check_power(f, v, self.limit[f])
        if dual:
            points += points[::-1]
        self.model = TriggerModel("sweep", f, tuple(points), delay, count, fail_abort, buffer)

    @staticmethod
    def _sweep_delay(delay: float) -> float:
        if delay not in (-1.0, 0.0) and not 50e-6 <= delay <= 10_000:
            raise ScpiError(-222, "a sweep delay is -1 (auto), 0 or 50 us to 10 ks")
        return delay

    @staticmethod
    def _sweep_count(count: float) -> int:
        if count == 0:
            raise ScpiError(-224, "infinite sweeps (count 0) are not simulated")
        return int(count)

    # ------------------------------------------------------------------ sense and output
    def _register_sense(self) -> None:
        self.tree.add(
            ":SENSe<1>:FUNCtion[:ON]",
            command=self._set_sense_function,
            query=lambda call: call.style.string(f"{self.sense_function}:DC"),
            args=(1, 1),
        )
        for f, name in FUNCTIONS.items():
            sense = f":SENSe<1>:{name}[:DC]"
            for pattern, kind, get, put in (
                (
                    f"{sense}:RANGe[:UPPer]",
                    RANGE_VALUE[f],
                    partial(self._sense_range, f),
                    lambda v, f=f: self.sense_range.__setitem__(f, smallest_range(v, RANGES[f])),
                ),
                (
                    f"{sense}:RANGe:AUTO",
                    Boolean(),
                    lambda f=f: self.sense_range[f] is None,
                    lambda on, f=f: self.sense_range.__setitem__(
                        f, None if on else self._sense_range(f)
                    ),
                ),
                (f"{sense}:NPLCycles", NPLC, *self._item("nplc", f)),
                (f"{sense}:RSENse", Boolean(), *self._item("remote_sense", f)),
                (f":OUTPut<1>:{name}:SMODe", OUTPUT_OFF_MODES, *self._item("output_off_mode", f)),
            ):
                self._setting(pattern, kind, get, put)
        self._setting(
            ":SENSe<1>:COUNt",
            Numeric(1, 300_000, 1, integer=True),
            lambda: self.count,
            lambda n: setattr(self, "count", int(n)),
        )
        self._setting(
            ":OUTPut<1>[:STATe]", Boolean(), lambda: self.channel.output_on, self.channel.set_output
        )
        self._setting(
            ":ROUTe:TERMinals",
            Choice(("FRONt", "REAR")),
            lambda: self.terminals,
            lambda t: setattr(self, "terminals", t),
        )

    def _set_sense_function(self, call: Call) -> None:
        text = call.arg(0, Text())
        parts = text.strip().upper().split(":")
        for f, name in FUNCTIONS.items():
            if matches(parts[0], name) and (len(parts) == 1 or parts[1:] == ["DC"]):
                self.sense_function = f
                return
        raise ScpiError(-224, f"measure function {text!r} is not simulated")

    def _sense_range(self, f: str) -> float:
        fixed = self.sense_range[f]
        if fixed is not None:
            return fixed
        if self.last is None:
            return RANGE_VALUE[f].default
        value = self.last.current_A if f == "CURR" else self.last.voltage_V
        return smallest_range(min(abs(value), RANGES[f][-1]), RANGES[f])

    # ------------------------------------------------------------------ readings
    def _register_readings(self) -> None:
        tree = self.tree
        tree.add(":READ", query=lambda call: self._read(call, None), query_args=(0, MAX_ARGS))
        tree.add(":MEASure", query=lambda call: self._read(call, None), query_args=(0, MAX_ARGS))
        for f, name in FUNCTIONS.items():
            tree.add(
                f":MEASure:{name}[:DC]",
                query=lambda call, f=f: self._read(call, f),
                query_args=(0, MAX_ARGS),
            )
        tree.add(":FETCh", query=self._fetch, query_args=(0, MAX_ARGS))

    def _read(self, call: Call, function: str | None) -> str:
        buffer, elements = self._buffer_and_elements(call, 0)
        if function is not None:
            self.sense_function = function
        entry = None
        for _ in range(self.count):
            entry = self.take_reading(buffer)
        assert entry is not None
        return self._format(call, [entry], elements, buffer)

    def _fetch(self, call: Call) -> str:
        buffer, elements = self._buffer_and_elements(call, 0)
        if not buffer.entries:
            raise ScpiError(-230, f"{buffer.name} is empty")
        return self._format(call, [buffer.entries[-1]], elements, buffer)

    def take_reading(self, buffer: ReadingBuffer) -> BufferEntry:
        """Measure once with the present settings and store the reading in ``buffer``."""
        self._sync()
        reading = self.channel.measure()
        self.last = reading
        f = self.source_function
        if self.readback[f]:
            source = reading.voltage_V if f == "VOLT" else reading.current_A
        else:
            source = self.level[f]
        status = (
            (SRC_READBACK if self.readback[f] else 0)
            | (SRC_LIMITED if reading.tripped else 0)
            | (SRC_OUTPUT_ON if self.channel.output_on else 0)
        )
        value = reading.current_A if self.sense_function == "CURR" else reading.voltage_V
        entry = BufferEntry(value, source, reading.time_s, status, self.sense_function, f)
        buffer.add(entry)
        return entry

    def _buffer(self, name: str) -> ReadingBuffer:
        if name not in self.buffers:
            raise ScpiError(-224, f"no reading buffer {name!r}")
        return self.buffers[name]

    def _buffer_and_elements(self, call: Call, index: int) -> tuple[ReadingBuffer, list[str]]:
        buffer = self._buffer(call.arg(index, Text(), "defbuffer1"))
        elements = [call.arg(i, ELEMENTS) for i in range(index + 1, len(call.params))]
        return buffer, elements or ["READ"]

    def _format(
        self, call: Call, entries: list[BufferEntry], elements: list[str], buffer: ReadingBuffer
    ) -> str:
        first = buffer.entries[0].time_s if buffer.entries else 0.0
        return ",".join(
            self._element(call, entry, element, first) for entry in entries for element in elements
        )

    @staticmethod
    def _element(call: Call, e: BufferEntry, element: str, first_time_s: float) -> str:
        style = call.style
        stamp = EPOCH + timedelta(seconds=e.time_s)
        seconds = (EPOCH - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() + e.time_s
        fraction = seconds - math.floor(seconds)
        if element == "READ":
            return style.nr3(e.reading)
        if element == "SOUR":
            return style.nr3(e.source)
        if element == "REL":
            return style.nr3(e.time_s - first_time_s)
        if element == "SEC":
            return style.nr1(math.floor(seconds))
        if element == "FRAC":
            return style.nr3(fraction)
        nanoseconds = f".{min(int(fraction * 1e9), 999_999_999):09d}"
        if element == "TST":
            return stamp.strftime("%m/%d/%Y %H:%M:%S") + nanoseconds
        if element == "DATE":
            return stamp.strftime("%m/%d/%Y")
        if element == "TIME":
            return stamp.strftime("%H:%M:%S") + nanoseconds
        if element == "STAT":
            return style.nr1(0)
        if element == "SOURSTAT":
            return style.nr1(e.source_status)
        if element == "UNIT":
            return UNITS[e.function]
        return UNITS[e.source_function]  # SOURUNIT

    # ------------------------------------------------------------------ buffers
    def _register_buffers(self) -> None:
        tree = self.tree
        size = Numeric(1, 5_000_000, DEFAULT_BUFFER_SIZE, integer=True)

        def make(call: Call) -> None:
            name, capacity = call.arg(0, Text(31)), int(call.arg(1, size))
            call.arg(2, Choice(("STANdard", "FULL", "COMPact", "WRITable", "FULLWRITable")), "")
            if not name or name in self.buffers:
                raise ScpiError(-221, f"buffer {name!r} exists or is unnamed")
            self.buffers[name] = ReadingBuffer(name, capacity)

        def delete(call: Call) -> None:
            name = self._buffer(call.arg(0, Text())).name
            if name in DEFAULT_BUFFERS:
                raise ScpiError(-221, "default buffers cannot be deleted")
            del self.buffers[name]

        def points(call: Call) -> None:
            capacity = int(call.arg(0, size))
            self._buffer(call.arg(1, Text(), "defbuffer1")).resize(capacity)  # clears it

        def named(call: Call, index: int = 0) -> ReadingBuffer:
            return self._buffer(call.arg(index, Text(), "defbuffer1"))

        tree.add(":TRACe:MAKE", command=make, args=(2, 3))
        tree.add(":TRACe:DELete", command=delete, args=(1, 1))
        tree.add(
            ":TRACe:POINts",
            command=points,
            query=lambda call: call.style.nr1(named(call).capacity),
            args=(1, 2),
            query_args=(0, 1),
        )
        tree.add(
            ":TRACe:ACTual",
            query=lambda call: call.style.nr1(len(named(call).entries)),
            query_args=(0, 1),
        )
        tree.add(
            ":TRACe:ACTual:STARt",
            query=lambda call: call.style.nr1(1 if named(call).entries else 0),
            query_args=(0, 1),
        )
        tree.add(
            ":TRACe:ACTual:END",
            query=lambda call: call.style.nr1(len(named(call).entries)),
            query_args=(0, 1),
        )
        tree.add(":TRACe:CLEar", command=lambda call: named(call).clear(), args=(0, 1))
        tree.add(
            ":TRACe:FILL:MODE",
            command=lambda call: setattr(
                named(call, 1), "fill_once", call.arg(0, Choice(("CONTinuous", "ONCE"))) == "ONCE"
            ),
            query=lambda call: "ONCE" if named(call).fill_once else "CONT",
            args=(1, 2),
            query_args=(0, 1),
        )
        tree.add(":TRACe:DATA", query=self._trace_data, query_args=(2, MAX_ARGS + 1))
        tree.add(
            ":TRACe:TRIGger",
            command=lambda call: self._trace_trigger(named(call)),
            args=(0, 1),
        )
        for mnemonic, statistic in (
            ("AVERage", statistics.fmean),
            ("MINimum", min),
            ("MAXimum", max),
            ("PK2Pk", lambda x: max(x) - min(x)),
            ("STDDev", lambda x: statistics.stdev(x) if len(x) > 1 else 0.0),
        ):
            tree.add(
                f":TRACe:STATistics:{mnemonic}",
                query=lambda call, fn=statistic: self._statistic(call, named(call), fn),
                query_args=(0, 1),
            )

    def _trace_trigger(self, buffer: ReadingBuffer) -> None:
        for _ in range(self.count):
            self.take_reading(buffer)

    def _trace_data(self, call: Call) -> str:
        start = int(call.arg(0, Numeric(1, 1e9, 1, integer=True)))
        end = int(call.arg(1, Numeric(1, 1e9, 1, integer=True)))
        buffer, elements = self._buffer_and_elements(call, 2)
        if not start <= end <= len(buffer.entries):
            raise ScpiError(-222, f"{start}..{end} outside 1..{len(buffer.entries)}")
        entries = list(buffer.entries)[start - 1 : end]
        return self._format(call, entries, elements, buffer)

    @staticmethod
    def _statistic(call: Call, buffer: ReadingBuffer, fn) -> str:
        values = buffer.readings()
        if not values:
            raise ScpiError(-230, f"{buffer.name} is empty")
        return call.style.nr3(float(fn(values)))

    # ------------------------------------------------------------------ trigger model
    def _register_trigger(self) -> None:
        tree = self.tree
        tree.add(":INITiate[:IMMediate]", command=lambda call: self.initiate())
        tree.add(":ABORt", command=lambda call: None)  # every run has finished already
        tree.add(":TRIGger:LOAD", command=self._load_model, args=(1, 4))

    def _load_model(self, call: Call) -> None:
        name = call.arg(0, Text())
        if name.upper() == "EMPTY":
            self.model = None
            return
        if name.upper() != "SIMPLELOOP":
            raise ScpiError(-224, f"trigger model template {name!r} is not simulated")
        count = self._sweep_count(call.arg(1, Numeric(0, 268_435_455, 1, integer=True)))
        delay = call.arg(2, DELAY, 0.0)
        buffer = self._buffer(call.arg(3, Text(), "defbuffer1")).name
        f = self.source_function
        self.model = TriggerModel("loop", f, (), delay, count, False, buffer)

    def initiate(self) -> None:
        """Run the loaded trigger model to the end (an empty model does nothing)."""
        model = self.model
        if model is None:
            return
        buffer = self._buffer(model.buffer)
        if model.kind == "loop":
            for _ in range(model.count):
                self._sync()
                self.channel.hold(model.delay_s)
                self.take_reading(buffer)
            return
        buffer.clear()
        f = model.function
        self.source_function = f
        self.channel.set_output(True)
        try:
            for _ in range(model.count):
                for level in model.levels:
                    self._sweep_point(f, level, model, buffer)
        except SweepAborted:
            pass
        finally:
            self.channel.set_output(False)

    def _sweep_point(
        self, f: str, level: float, model: TriggerModel, buffer: ReadingBuffer
    ) -> None:
        self.level[f] = level
        self._sync()
        if model.delay_s < 0:
            delay = AUTO_SOURCE_DELAY_S
        else:
            delay = self._source_delay(f) + model.delay_s
        self.channel.hold(delay)
        self.take_reading(buffer)
        if model.fail_abort and self.last is not None and self.last.tripped:
            raise SweepAborted

    # ------------------------------------------------------------------ system
    def _register_system(self) -> None:
        tree = self.tree
        languages = Choice(("SCPI", "TSP", "SCPI2400"))
        tree.add(
            "*LANG",
            command=lambda call: call.arg(0, languages),  # takes effect after a power cycle
            query=lambda call: "SCPI",
            args=(1, 1),
        )
        tree.add(
            ":SYSTem:LFRequency",
            query=lambda call: call.style.nr1(int(LINE_FREQUENCY_HZ)),
        )
