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

Timing: ``:INITiate`` runs each addressed channel's trigger plan to its end on the bench
clock (see :mod:`~rramlab.sim.instruments.keysight_b2902a_trigger`); after the run the
output returns to the immediate level.

This module is the personality (command tree, source, sense, output); the numbers and
the per-channel settings are in :mod:`~rramlab.sim.instruments.keysight_b2902a_state`,
the trigger system in :mod:`~rramlab.sim.instruments.keysight_b2902a_trigger`, fetch,
read and measure in :mod:`~rramlab.sim.instruments.keysight_b2902a_readings`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from rramlab.clock import Clock
from rramlab.sim.instruments.keysight_b2902a_readings import ELEMENTS, KeysightB2902AReadings
from rramlab.sim.instruments.keysight_b2902a_state import (
    APERTURE,
    CHANNELS,
    FUNCTIONS,
    IDN,
    LEVEL,
    LINE_FREQUENCY_HZ,
    MAX_LIST_POINTS,
    MEASURE_OVERHEAD_S,
    MIN_PULSE_WIDTH_S,
    NPLC,
    POINTS,
    PROTECTION,
    PULSE_DELAY,
    PULSE_WIDTH,
    RANGE_VALUE,
    RANGES,
    SENSE_NAMES,
    SPEC,
    ChannelState,
    Point,
    Trigger,
    max_current,
    smallest_range,
)
from rramlab.sim.instruments.keysight_b2902a_trigger import KeysightB2902ATrigger
from rramlab.sim.probe import Terminals
from rramlab.sim.scpi import Boolean, Call, Channels, Choice, ResponseStyle, ScpiError, Text
from rramlab.sim.scpi.engine import ScpiInstrument
from rramlab.sim.scpi.values import ValueType, matches
from rramlab.sim.smu_channel import SimulatedChannel

__all__ = [  # the numbers and parts that lived here before the split stay importable
    "IDN",
    "LINE_FREQUENCY_HZ",
    "MEASURE_OVERHEAD_S",
    "MIN_PULSE_WIDTH_S",
    "SPEC",
    "ChannelState",
    "KeysightB2902ASim",
    "Point",
    "Trigger",
    "max_current",
    "smallest_range",
]


class KeysightB2902ASim(KeysightB2902ATrigger, KeysightB2902AReadings, ScpiInstrument):
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
        self._register_output()
        self._register_trigger()
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

    def _channels(self, call: Call, index: int = 0) -> tuple[int, ...]:
        return call.arg(index, Channels(CHANNELS), (1,))

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

    # ------------------------------------------------------------------ output
    def _register_output(self) -> None:
        self._setting(
            ":OUTPut<1-2>[:STATe]",
            Boolean(),
            lambda s: s.channel.output_on,
            lambda s, on: s.channel.set_output(on),
        )
        self._setting(":OUTPut<1-2>:ON:AUTO", Boolean(), *self._field("on_auto"))
        self._setting(":OUTPut<1-2>:OFF:AUTO", Boolean(), *self._field("off_auto"))
