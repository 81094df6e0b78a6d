"""Simulated Keysight B2902A precision source/measure unit: two channels, B2900 SCPI.

Commands follow the B2900 SCPI command reference. ``[c]`` is the channel suffix (1 or
2, default 1); ``SOURce`` and ``SENSe`` are optional roots as in the manual, so
``:VOLT 1`` is ``:SOUR1:VOLT 1`` and ``:CURR:PROT 1e-3`` is ``:SENS1:CURR:PROT 1e-3``.
What is modelled:

- Source ``[:SOURce[c]]``: ``:FUNCtion:MODE VOLT|CURR``, ``:FUNCtion:SHAPe DC|PULSe``,
  per function ``[:LEVel][:IMMediate][:AMPLitude]``, ``[:LEVel]:TRIGgered[:AMPLitude]``
  (the pulse peak; follows the immediate level until set), ``:MODE FIXed|SWEep|LIST``,
  ``:STARt``, ``:STOP``, ``:POINts``, ``:RANGe``, ``:RANGe:AUTO``, ``:LIST:<f>``
  (``:POINts?``), ``:SWEep:POINts|SPACing|DIRection``, ``:PULSe:DELay``, ``:PULSe:WIDTh``.
- Sense ``[:SENSe[c]]``: ``:FUNCtion[:ON] "CURR","VOLT","RES"``, ``:FUNCtion:OFF``,
  ``[:ON]:ALL``, ``:OFF:ALL``; per function ``:PROTection[:LEVel][:BOTH]`` (compliance),
  ``:PROTection:TRIPped?``, ``:NPLCycles``, ``:APERture``, ``:RANGe[:UPPer]``,
  ``:RANGe:AUTO``.
- ``:OUTPut[c][:STATe]``, ``:OUTPut[c]:ON:AUTO``, ``:OUTPut[c]:OFF:AUTO``.
- Trigger ``:TRIGger[c][:ALL|:ACQuire|:TRANsient]:COUNt|DELay|SOURce[:SIGNal]|TIMer``
  (sources AINT and TIMer run; BUS, INTn, LAN, EXTn are accepted and -221 at INIT),
  ``:INITiate[:IMMediate][:ALL|:ACQuire|:TRANsient] [(@list)]``, ``:ABORt``.
- Data: ``:FETCh[:SCALar]?``, ``:FETCh:ARRay?``, ``:READ...?`` (INIT then FETCh),
  ``:MEASure?`` (spot measurement), each also per element ``:<CURRent|VOLTage|
  RESistance|TIME|STATus|SOURce>?``, with a channel list; ``:FORMat:ELEMents:SENSe``;
  ``:FORMat[:DATA] ASCii``; ``:SYSTem:LFRequency?``.

Anything else answers -113 Undefined header.

Timing of ``:INITiate`` (per trigger, per channel): the transient action starts after
``:TRIG:TRAN:DEL``; a DC point steps the output to the point's level, a pulse point
keeps the base (immediate) level and applies the peak after ``:PULS:DEL`` for exactly
``:PULS:WIDT`` (>= 50 us, the B2900's shortest pulse). The acquire action integrates
for the aperture (NPLC/50 Hz) from ``:TRIG:ACQ:DEL`` on, then converts for 200 us; an
integration window that would straddle a level change is refused (-221). After the run
the output returns to the immediate level. Two channels addressed together run one
after the other on the bench clock (the real instrument runs them in parallel), and a
channel's cell is biased only while that channel acts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from rramlab.clock import Clock
from rramlab.sim.probe import Terminals
from rramlab.sim.scpi import (
    Boolean,
    Call,
    Channels,
    Choice,
    Numeric,
    ResponseStyle,
    ScpiError,
    Text,
)
from rramlab.sim.scpi.engine import ScpiInstrument
from rramlab.sim.scpi.responses import NOT_A_NUMBER
from rramlab.sim.scpi.values import ValueType, matches
from rramlab.sim.smu_channel import Reading, SimulatedChannel, SmuSpec

IDN = "Keysight Technologies,B2902A,MY51143745,3.4.2011.5100"
LINE_FREQUENCY_HZ = 50.0
MEASURE_OVERHEAD_S = 200e-6
MIN_PULSE_WIDTH_S = 50e-6  # B2900 user's guide: pulse width 50 us to 100 ks

SPEC = SmuSpec(
    model="B2902A",
    voltage_ranges_V=(0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.5, 3.0),
    max_voltage_V=210.0,
    max_current_A=3.03,  # 3 A ranges are pulse-only; DC stops at 1.5 A
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(4e-4, 100.0),
    min_pulse_width_s=MIN_PULSE_WIDTH_S,
    current_noise_floor_A=0.5e-12,  # [assume] sub-pA floor of a precision SMU
    current_noise_of_range=5e-6,  # [assume]
    voltage_noise_V=5e-6,  # [assume]
    measure_overhead_s=MEASURE_OVERHEAD_S,
    line_frequency_Hz=LINE_FREQUENCY_HZ,
)

CHANNELS = (1, 2)
FUNCTIONS = {"VOLT": "VOLTage", "CURR": "CURRent"}
LEVEL = {"VOLT": Numeric(-210.0, 210.0, 0.0, unit="V"), "CURR": Numeric(-3.03, 3.03, 0.0, unit="A")}
# :SENS:CURR:PROT is the current compliance of a voltage source and vice versa.
PROTECTION = {
    "CURR": Numeric(1e-9, 3.03, 1e-4, unit="A", magnitude=True),
    "VOLT": Numeric(0.02, 210.0, 2.0, unit="V", magnitude=True),
}
RANGES = {"VOLT": SPEC.voltage_ranges_V, "CURR": SPEC.current_ranges_A}
NPLC = Numeric(4e-4, 100.0, 1.0)
APERTURE = Numeric(4e-4 / LINE_FREQUENCY_HZ, 100.0 / LINE_FREQUENCY_HZ, 0.02, unit="S")
RANGE_VALUE = {
    "VOLT": Numeric(-210.0, 210.0, 2.0, unit="V"),
    "CURR": Numeric(-3.03, 3.03, 1e-4, unit="A"),
}
PULSE_DELAY = Numeric(0.0, 99_999.9, 0.0, unit="S")
PULSE_WIDTH = Numeric(MIN_PULSE_WIDTH_S, 100_000.0, 1e-4, unit="S")
POINTS = Numeric(1, 2500, 1, integer=True)
COUNT = Numeric(1, 100_000, 1, integer=True)
TRIGGER_DELAY = Numeric(0.0, 100.0, 0.0, unit="S")
TIMER = Numeric(1e-5, 1e5, 1e-5, unit="S")
TRIGGER_SOURCES = Choice(
    ("AINT", "BUS", "TIMer", "INT1", "INT2", "LAN", *(f"EXT{n}" for n in range(1, 15)))
)
ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT", "SOUR")  # fixed response order
ELEMENT_NAMES = ("VOLTage", "CURRent", "RESistance", "TIME", "STATus", "SOURce")
SENSE_NAMES = {"VOLT": "VOLTage", "CURR": "CURRent", "RES": "RESistance"}
MAX_LIST_POINTS = 2500
STATUS_COMPLIANCE = 8  # [assume] status word bit reported for a limited reading


@dataclass
class Trigger:
    """One trigger layer (acquire or transient) of one channel."""

    count: int = 1
    delay_s: float = 0.0
    source: str = "AINT"
    timer_s: float = 1e-5


@dataclass(frozen=True)
class Point:
    """One acquired point: what FETCh returns."""

    voltage_V: float
    current_A: float
    time_s: float
    status: int
    source: float


@dataclass
class ChannelState:
    """Settings of one B2902A channel beyond what :class:`SimulatedChannel` holds."""

    channel: SimulatedChannel
    function: str = "VOLT"
    shape: str = "DC"
    level: dict[str, float] = field(default_factory=lambda: {"VOLT": 0.0, "CURR": 0.0})
    triggered: dict[str, float | None] = field(default_factory=lambda: {"VOLT": None, "CURR": None})
    mode: dict[str, str] = field(default_factory=lambda: {"VOLT": "FIX", "CURR": "FIX"})
    start: dict[str, float] = field(default_factory=lambda: {"VOLT": 0.0, "CURR": 0.0})
    stop: dict[str, float] = field(default_factory=lambda: {"VOLT": 0.0, "CURR": 0.0})
    points: float = 1  # an integer count (numeric parameters arrive as floats)
    spacing: str = "LIN"
    direction: str = "UP"
    lists: dict[str, list[float]] = field(default_factory=lambda: {"VOLT": [], "CURR": []})
    source_range: dict[str, float | None] = field(
        default_factory=lambda: {"VOLT": None, "CURR": None}
    )
    pulse_delay_s: float = 0.0
    pulse_width_s: float = 1e-4
    protection: dict[str, float] = field(
        default_factory=lambda: {f: PROTECTION[f].default for f in PROTECTION}
    )
    sense_on: set[str] = field(default_factory=lambda: {"VOLT", "CURR"})
    nplc: float = 1.0
    sense_range: dict[str, float | None] = field(
        default_factory=lambda: {"VOLT": None, "CURR": None}
    )
    on_auto: bool = True
    off_auto: bool = False
    trigger: dict[str, Trigger] = field(
        default_factory=lambda: {"ACQ": Trigger(), "TRAN": Trigger()}
    )
    data: list[Point] = field(default_factory=list)

    def sync(self) -> None:
        """Copy the settings the physics needs onto the channel."""
        ch = self.channel
        ch.source_function = self.function
        ch.source_level = self.level[self.function]
        ch.current_limit_A = self.protection["CURR"]
        ch.voltage_limit_V = self.protection["VOLT"]
        ch.nplc = self.nplc
        ch.current_range_A = self.sense_range["CURR"]
        ch.voltage_range_V = self.sense_range["VOLT"]

    def trigger_level(self) -> float:
        value = self.triggered[self.function]
        return self.level[self.function] if value is None else value


def smallest_range(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range holding ``|value|`` (ranges reach 101 %), else -222."""
    for r in ranges:
        if abs(value) <= r * 1.01 * (1 + 1e-12):
            return r
    raise ScpiError(-222, f"{value:g} exceeds the largest range")


def max_current(voltage_V: float, pulsed: bool) -> float:
    """B2902A output envelope: 1.5 A to 6 V (3 A pulsed), 1 A to 21 V, 0.1 A above."""
    v = abs(voltage_V)
    if v <= 6.0 * 1.01:
        return 3.03 if pulsed else 1.515
    return 1.05 if v <= 21.0 * 1.01 else 0.105


class KeysightB2902ASim(ScpiInstrument):
    """A B2902A whose channel n drives ``probes[n - 1]``; time runs on ``clock``."""

    def __init__(self, probes: list[Terminals], clock: Clock, rng: np.random.Generator) -> None:
        if len(probes) != 2:
            raise ValueError(f"a B2902A has 2 channels; got {len(probes)} probes")
        super().__init__("Keysight B2902A", IDN, style=ResponseStyle(plus_sign=True))
        self.clock = clock
        self._t0 = clock.now()
        self.states = [ChannelState(SimulatedChannel(SPEC, p, clock, rng)) for p in probes]
        self._register_source()
        self._register_sense()
        self._register_output_and_trigger()
        self._register_data()
        self.reset()

    def reset(self) -> None:
        """``*RST``: both channels to defaults (output off, 0 V DC, 100 uA compliance)."""
        channels = [s.channel for s in self.states]
        for ch in channels:
            ch.reset()
        self.states = [ChannelState(ch) for ch in channels]
        self.elements = list(ELEMENTS)
        for s in self.states:
            s.sync()

    def before_command(self, call: Call) -> None:
        for s in self.states:
            s.sync()
        self.state(call).channel.command()

    def state(self, call: Call) -> ChannelState:
        return self.states[call.channel - 1]

    # ------------------------------------------------------------------ registration helpers
    def _setting(
        self,
        pattern: str,
        kind: ValueType,
        get: Callable[[ChannelState], Any],
        put: Callable[[ChannelState, Any], None],
    ) -> None:
        """A one-parameter setting of the channel the header's suffix names."""
        self.tree.setting(
            pattern,
            kind,
            get=lambda call: get(self.state(call)),
            put=lambda call, value: put(self.state(call), value),
        )

    @staticmethod
    def _field(name: str, key: str | None = None) -> tuple[Callable, Callable]:
        """Getter and setter of a :class:`ChannelState` field (or of one key of it)."""
        if key is None:
            return (lambda s: getattr(s, name), lambda s, v: setattr(s, name, v))
        return (lambda s: getattr(s, name)[key], lambda s, v: getattr(s, name).__setitem__(key, v))

    # ------------------------------------------------------------------ source
    def _register_source(self) -> None:
        src, field_ = "[:SOURce<1-2>]", self._field
        for pattern, kind, get, put in (
            (f"{src}:FUNCtion:MODE", Choice(tuple(FUNCTIONS.values())), *field_("function")),
            (f"{src}:FUNCtion:SHAPe", Choice(("PULSe", "DC")), *field_("shape")),
            (f"{src}:PULSe:DELay", PULSE_DELAY, *field_("pulse_delay_s")),
            (f"{src}:PULSe:WIDTh", PULSE_WIDTH, *field_("pulse_width_s")),
            (f"{src}:SWEep:POINts", POINTS, *field_("points")),
            (f"{src}:SWEep:SPACing", Choice(("LINear", "LOGarithmic")), *field_("spacing")),
            (f"{src}:SWEep:DIRection", Choice(("UP", "DOWN")), *field_("direction")),
        ):
            self._setting(pattern, kind, get, put)
        for f, name in FUNCTIONS.items():
            base = f"{src}:{name}"
            for pattern, kind, get, put in (
                (
                    f"{base}[:LEVel][:IMMediate][:AMPLitude]",
                    LEVEL[f],
                    field_("level", f)[0],
                    partial(self._set_level, f),
                ),
                (
                    f"{base}[:LEVel]:TRIGgered[:AMPLitude]",
                    LEVEL[f],
                    partial(self._triggered, f),
                    partial(self._set_triggered, f),
                ),
                (f"{base}:MODE", Choice(("FIXed", "SWEep", "LIST")), *field_("mode", f)),
                (f"{base}:STARt", LEVEL[f], *field_("start", f)),
                (f"{base}:STOP", LEVEL[f], *field_("stop", f)),
                (f"{base}:POINts", POINTS, *field_("points")),
                (
                    f"{base}:RANGe",
                    RANGE_VALUE[f],
                    partial(self._range, "source_range", f),
                    partial(self._set_range, "source_range", f),
                ),
                (
                    f"{base}:RANGe:AUTO",
                    Boolean(),
                    lambda s, f=f: s.source_range[f] is None,
                    partial(self._set_auto_range, "source_range", f),
                ),
            ):
                self._setting(pattern, kind, get, put)
            self.tree.add(
                f"{src}:LIST:{name}",
                command=partial(self._set_list, f),
                query=lambda call, f=f: call.style.numbers(self.state(call).lists[f]),
                args=(1, MAX_LIST_POINTS),
            )
            self.tree.add(
                f"{src}:LIST:{name}:POINts",
                query=lambda call, f=f: call.style.nr1(len(self.state(call).lists[f])),
            )

    def _set_list(self, f: str, call: Call) -> None:
        values = [call.arg(i, LEVEL[f]) for i in range(len(call.params))]
        self.state(call).lists[f] = values

    def _check_envelope(self, s: ChannelState, f: str, level: float) -> None:
        v, i = (level, s.protection["CURR"]) if f == "VOLT" else (s.protection["VOLT"], level)
        if abs(i) > max_current(v, s.shape == "PULS") * (1 + 1e-9):
            raise ScpiError(-221, f"{v:g} V with {abs(i):g} A is outside the output envelope")

    def _set_level(self, f: str, s: ChannelState, value: float) -> None:
        fixed = s.source_range[f]
        if fixed is not None and abs(value) > fixed * 1.01:
            raise ScpiError(-222, f"{value:g} exceeds the fixed {fixed:g} range")
        self._check_envelope(s, f, value)
        s.level[f] = value

    @staticmethod
    def _triggered(f: str, s: ChannelState) -> float:
        value = s.triggered[f]
        return s.level[f] if value is None else value

    def _set_triggered(self, f: str, s: ChannelState, value: float) -> None:
        self._check_envelope(s, f, value)
        s.triggered[f] = value

    @staticmethod
    def _range(table: str, f: str, s: ChannelState) -> float:
        """A source or sense range: the fixed one, or what auto ranging picks now."""
        fixed = getattr(s, table)[f]
        if fixed is not None:
            return fixed
        if table == "source_range":
            value = s.level[f]
        elif s.data:
            value = s.data[-1].current_A if f == "CURR" else s.data[-1].voltage_V
        else:
            return RANGE_VALUE[f].default
        return smallest_range(min(abs(value), RANGES[f][-1]), RANGES[f])

    @staticmethod
    def _set_range(table: str, f: str, s: ChannelState, value: float) -> None:
        getattr(s, table)[f] = smallest_range(value, RANGES[f])

    def _set_auto_range(self, table: str, f: str, s: ChannelState, on: bool) -> None:
        getattr(s, table)[f] = None if on else self._range(table, f, s)

    # ------------------------------------------------------------------ sense
    def _register_sense(self) -> None:
        tree, sense, field_ = self.tree, "[:SENSe<1-2>]", self._field
        tree.add(
            f"{sense}:FUNCtion[:ON]",
            command=lambda call: self._switch_functions(call, True),
            query=lambda call: self._functions(call, True),
            args=(1, 3),
        )
        tree.add(
            f"{sense}:FUNCtion:OFF",
            command=lambda call: self._switch_functions(call, False),
            query=lambda call: self._functions(call, False),
            args=(1, 3),
        )
        tree.add(
            f"{sense}:FUNCtion[:ON]:ALL",
            command=lambda call: self.state(call).sense_on.update(SENSE_NAMES),
        )
        tree.add(
            f"{sense}:FUNCtion:OFF:ALL", command=lambda call: self.state(call).sense_on.clear()
        )
        for f, name in FUNCTIONS.items():
            base = f"{sense}:{name}[:DC]"
            for pattern, kind, get, put in (
                # :SENS:CURR:PROT is the current compliance of the voltage source.
                (
                    f"{base}:PROTection[:LEVel][:BOTH]",
                    PROTECTION[f],
                    field_("protection", f)[0],
                    partial(self._set_protection, f),
                ),
                (f"{base}:NPLCycles", NPLC, *field_("nplc")),  # one ADC: shared setting
                (
                    f"{base}:APERture",
                    APERTURE,
                    lambda s: s.nplc / LINE_FREQUENCY_HZ,
                    lambda s, v: setattr(s, "nplc", v * LINE_FREQUENCY_HZ),
                ),
                (
                    f"{base}:RANGe[:UPPer]",
                    RANGE_VALUE[f],
                    partial(self._range, "sense_range", f),
                    partial(self._set_range, "sense_range", f),
                ),
                (
                    f"{base}:RANGe:AUTO",
                    Boolean(),
                    lambda s, f=f: s.sense_range[f] is None,
                    partial(self._set_auto_range, "sense_range", f),
                ),
            ):
                self._setting(pattern, kind, get, put)
            tree.add(f"{base}:PROTection:TRIPped", query=self._tripped_query(f))

    def _switch_functions(self, call: Call, on: bool) -> None:
        chosen = set()
        for i in range(len(call.params)):
            text = call.arg(i, Text()).strip().upper()
            name = text[:-3] if text.endswith(":DC") else text
            match = [key for key, long in SENSE_NAMES.items() if matches(name, long)]
            if not match:
                raise ScpiError(-224, f"measure function {text!r}")
            chosen.add(match[0])
        s = self.state(call)
        s.sense_on = (s.sense_on | chosen) if on else (s.sense_on - chosen)

    def _functions(self, call: Call, on: bool) -> str:
        names = [k for k in SENSE_NAMES if (k in self.state(call).sense_on) == on]
        return ",".join(call.style.string(k) for k in names)

    def _set_protection(self, f: str, s: ChannelState, value: float) -> None:
        source = "VOLT" if f == "CURR" else "CURR"
        old = s.protection[f]
        s.protection[f] = value
        try:
            self._check_envelope(s, source, s.level[source])
        except ScpiError:
            s.protection[f] = old
            raise

    def _tripped_query(self, f: str):
        def query(call: Call) -> str:
            s = self.state(call)
            limits_this = (s.function == "VOLT") == (f == "CURR")
            return call.style.boolean(limits_this and s.channel.tripped)

        return query

    # ------------------------------------------------------------------ output, trigger
    def _register_output_and_trigger(self) -> None:
        self._setting(
            ":OUTPut<1-2>[:STATe]",
            Boolean(),
            lambda s: s.channel.output_on,
            lambda s, on: s.channel.set_output(on),
        )
        self._setting(":OUTPut<1-2>:ON:AUTO", Boolean(), *self._field("on_auto"))
        self._setting(":OUTPut<1-2>:OFF:AUTO", Boolean(), *self._field("off_auto"))
        for layer, actions in (
            ("[:ALL]", ("ACQ", "TRAN")),
            (":ACQuire", ("ACQ",)),
            (":TRANsient", ("TRAN",)),
        ):
            for name, kind, attr in (
                ("COUNt", COUNT, "count"),
                ("DELay", TRIGGER_DELAY, "delay_s"),
                ("SOURce[:SIGNal]", TRIGGER_SOURCES, "source"),
                ("TIMer", TIMER, "timer_s"),
            ):
                self._setting(
                    f":TRIGger<1-2>{layer}:{name}",
                    kind,
                    lambda s, a=actions, attr=attr: getattr(s.trigger[a[0]], attr),
                    partial(self._set_trigger, actions, attr),
                )
        for layer, (acquire, transient) in (
            ("[:ALL]", (True, True)),
            (":ACQuire", (True, False)),
            (":TRANsient", (False, True)),
        ):
            self.tree.add(
                f":INITiate[:IMMediate]{layer}",
                command=partial(self._initiate, acquire=acquire, transient=transient),
                args=(0, 1),
            )
            self.tree.add(f":ABORt{layer}", command=lambda call: None, args=(0, 1))

    @staticmethod
    def _set_trigger(actions: tuple[str, ...], attr: str, s: ChannelState, value: Any) -> None:
        for action in actions:
            setattr(s.trigger[action], attr, int(value) if attr == "count" else value)

    def _channels(self, call: Call, index: int = 0) -> tuple[int, ...]:
        return call.arg(index, Channels(CHANNELS), (1,))

    def _initiate(self, call: Call, acquire: bool = True, transient: bool = True) -> None:
        channels = self._channels(call)
        plans = [self._plan(self.states[c - 1], acquire, transient) for c in channels]
        for c, plan in zip(channels, plans, strict=True):  # all checked before any runs
            self._run(self.states[c - 1], plan)

    # ------------------------------------------------------------------ the trigger system
    def _plan(self, s: ChannelState, acquire: bool, transient: bool) -> list[tuple[list, float]]:
        """Each trigger's events ``(time_s, what, value)`` and its length; -221 if the
        settings cannot run."""
        acq, tran = s.trigger["ACQ"], s.trigger["TRAN"]
        acquire = acquire and bool(s.sense_on)  # nothing to acquire with every function off
        n_acq = acq.count if acquire else 0
        n_tran = tran.count if transient else 0
        pacing = acq if acquire else tran
        if pacing.source not in ("AINT", "TIM"):
            raise ScpiError(-221, f"trigger source {pacing.source} is not simulated")
        period = pacing.timer_s if pacing.source == "TIM" else 0.0
        levels = self._levels(s, n_tran)
        base = s.level[s.function]
        aperture = s.nplc / LINE_FREQUENCY_HZ
        plan = []
        for k in range(max(n_acq, n_tran)):
            events: list[tuple[float, int, float]] = []  # (time, 0 level / 1 measure, value)
            end = 0.0
            if k < n_tran:
                t = tran.delay_s
                if s.shape == "PULS":
                    on = t + s.pulse_delay_s
                    events += [(on, 0, levels[k]), (on + s.pulse_width_s, 0, base)]
                    end = on + s.pulse_width_s
                else:
                    events.append((t, 0, levels[k]))
                    end = t
            if k < n_acq:
                m0, m1 = acq.delay_s, acq.delay_s + aperture
                # A window that ends exactly at the pulse's end (delay = width - aperture,
                # as drivers compute it) must not fail on the last bit of rounding.
                tol = 1e-9 * m1 + 1e-15
                if any(m0 + tol < t < m1 - tol for t, _, _ in events):
                    raise ScpiError(-221, "the measurement would straddle a level change")
                events.append((m0, 1, 0.0))
                end = max(end, m1 + MEASURE_OVERHEAD_S)
            events.sort(key=lambda e: (e[0], e[1]))
            plan.append((events, max(end, period)))
        return plan

    def _levels(self, s: ChannelState, n: int) -> list[float]:
        f = s.function
        mode = s.mode[f]
        if mode == "FIX":
            values = [s.trigger_level()]
        elif mode == "LIST":
            values = s.lists[f]
            if not values:
                raise ScpiError(-221, "the source list is empty")
        else:
            values = self._sweep_values(s, f)
        levels = [values[k % len(values)] for k in range(n)]
        for v in levels:
            self._check_envelope(s, f, v)
        return levels

    @staticmethod
    def _sweep_values(s: ChannelState, f: str) -> list[float]:
        start, stop, n = s.start[f], s.stop[f], int(s.points)
        if s.spacing == "LOG":
            if start == 0 or stop == 0 or (start > 0) != (stop > 0):
                raise ScpiError(-221, "a log sweep needs start and stop of one sign")
            values = np.sign(start) * np.geomspace(abs(start), abs(stop), n)
        else:
            values = np.linspace(start, stop, n)
        values = [float(v) for v in values]
        return values[::-1] if s.direction == "DOWN" else values

    def _run(self, s: ChannelState, plan: list[tuple[list, float]]) -> None:
        ch = s.channel
        s.sync()
        if not ch.output_on and s.on_auto:
            ch.set_output(True)
        base = ch.source_level
        aperture = s.nplc / LINE_FREQUENCY_HZ
        s.data = []
        for events, length in plan:
            t = 0.0
            for when, what, value in events:
                ch.hold(max(when - t, 0.0))
                t = max(when, t)
                if what == 0:
                    ch.source_level = value
                else:
                    s.data.append(self._point(s, ch.measure(duration_s=aperture)))
                    t += aperture
            ch.hold(max(length - t, 0.0))
        ch.source_level = base  # the output returns to the immediate level
        if s.off_auto:
            ch.set_output(False)

    def _point(self, s: ChannelState, r: Reading) -> Point:
        status = STATUS_COMPLIANCE if r.tripped else 0
        return Point(r.voltage_V, r.current_A, r.time_s - self._t0, status, r.source_V_or_A)

    # ------------------------------------------------------------------ data
    def _register_data(self) -> None:
        tree = self.tree
        variants = [("", None)] + [
            (f":{n}", e) for n, e in zip(ELEMENT_NAMES, ELEMENTS, strict=True)
        ]
        for suffix, element in variants:
            el = (element,) if element else None
            tree.add(
                f":FETCh:ARRay{suffix}",
                query=lambda c, el=el: self._fetch(c, el, True),
                query_args=(0, 1),
            )
            tree.add(
                f":FETCh[:SCALar]{suffix}",
                query=lambda c, el=el: self._fetch(c, el, False),
                query_args=(0, 1),
            )
            tree.add(
                f":READ:ARRay{suffix}",
                query=lambda c, el=el: self._read(c, el, True),
                query_args=(0, 1),
            )
            tree.add(
                f":READ[:SCALar]{suffix}",
                query=lambda c, el=el: self._read(c, el, False),
                query_args=(0, 1),
            )
        tree.add(":MEASure", query=lambda c: self._measure(c, None), query_args=(0, 1))
        for name, element in (
            ("CURRent[:DC]", "CURR"),
            ("VOLTage[:DC]", "VOLT"),
            ("RESistance", "RES"),
        ):
            tree.add(
                f":MEASure:{name}",
                query=lambda c, e=element: self._measure(c, (e,)),
                query_args=(0, 1),
            )
        tree.add(
            ":FORMat:ELEMents:SENSe",
            command=self._set_elements,
            query=lambda call: ",".join(self.elements),
            args=(1, len(ELEMENTS)),
        )
        tree.setting(
            ":FORMat[:DATA]", Choice(("ASCii",)), get=lambda call: "ASC", put=lambda call, v: None
        )
        tree.add(":SYSTem:LFRequency", query=lambda c: c.style.nr1(int(LINE_FREQUENCY_HZ)))

    def _set_elements(self, call: Call) -> None:
        chosen = {call.arg(i, Choice(ELEMENT_NAMES)) for i in range(len(call.params))}
        self.elements = [e for e in ELEMENTS if e in chosen]

    def _fetch(self, call: Call, elements: tuple[str, ...] | None, array: bool) -> str:
        parts = []
        for c in self._channels(call):
            s = self.states[c - 1]
            points = s.data if array else s.data[-1:]
            if not points:  # no data: SCPI's NaN
                points = [None]
            parts += [self._format(call, s, p, elements) for p in points]
        return ",".join(parts)

    def _read(self, call: Call, elements: tuple[str, ...] | None, array: bool) -> str:
        self._initiate(call)
        return self._fetch(call, elements, array)

    def _measure(self, call: Call, elements: tuple[str, ...] | None) -> str:
        """A spot measurement on each channel at its present output."""
        parts = []
        for c in self._channels(call):
            s = self.states[c - 1]
            s.sync()
            if not s.channel.output_on and s.on_auto:
                s.channel.set_output(True)
            point = self._point(s, s.channel.measure())
            s.data = [point]
            # :MEASure:<f>? measures <f> whether or not its function is on.
            parts.append(self._format(call, s, point, elements, forced=elements is not None))
        return ",".join(parts)

    def _format(
        self,
        call: Call,
        s: ChannelState,
        p: Point | None,
        elements: tuple[str, ...] | None,
        forced: bool = False,
    ) -> str:
        chosen = elements if elements is not None else tuple(self.elements)
        return ",".join(call.style.nr3(self._value(s, p, e, forced)) for e in chosen)

    @staticmethod
    def _value(s: ChannelState, p: Point | None, element: str, forced: bool) -> float:
        if p is None:
            return NOT_A_NUMBER
        if element in SENSE_NAMES and not forced and element not in s.sense_on:
            return NOT_A_NUMBER  # the measurement function is off
        if element == "VOLT":
            return p.voltage_V
        if element == "CURR":
            return p.current_A
        if element == "RES":
            return p.voltage_V / p.current_A if p.current_A != 0 else NOT_A_NUMBER
        if element == "TIME":
            return p.time_s
        if element == "STAT":
            return float(p.status)
        return p.source
