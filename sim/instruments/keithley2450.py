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

This module is the personality (command tree, source, sense, output, system); the
numbers are in :mod:`~rramlab.sim.instruments.keithley2450_spec`, readings and reading
buffers in :mod:`~rramlab.sim.instruments.keithley2450_buffers`, lists, sweeps and the
trigger model in :mod:`~rramlab.sim.instruments.keithley2450_sweeps`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from rramlab.clock import Clock
from rramlab.sim.instruments.keithley2450_buffers import (
    DEFAULT_BUFFER_SIZE,
    DEFAULT_BUFFERS,
    BufferEntry,
    Keithley2450Buffers,
    ReadingBuffer,
)
from rramlab.sim.instruments.keithley2450_spec import (
    AUTO_SOURCE_DELAY_S,
    DELAY,
    FUNCTIONS,
    IDN,
    LEVEL,
    LIMIT,
    LIMIT_NAME,
    LINE_FREQUENCY_HZ,
    MEASURE_OVERHEAD_S,
    NPLC,
    OUTPUT_OFF_MODES,
    POWER_I,
    POWER_V,
    RANGE_VALUE,
    RANGES,
    SHORTEST_PULSE_S,
    SPEC,
    smallest_range,
)
from rramlab.sim.instruments.keithley2450_sweeps import Keithley2450Sweeps, TriggerModel
from rramlab.sim.probe import Terminals
from rramlab.sim.scpi import Boolean, Call, Choice, Numeric, ResponseStyle, ScpiError, Text
from rramlab.sim.scpi.engine import ScpiInstrument
from rramlab.sim.scpi.values import ValueType, matches
from rramlab.sim.smu_channel import Reading, SimulatedChannel

__all__ = [  # the numbers and parts that lived here before the split stay importable
    "AUTO_SOURCE_DELAY_S",
    "IDN",
    "LINE_FREQUENCY_HZ",
    "MEASURE_OVERHEAD_S",
    "SHORTEST_PULSE_S",
    "SPEC",
    "BufferEntry",
    "Keithley2450Sim",
    "ReadingBuffer",
    "TriggerModel",
    "smallest_range",
]


class Keithley2450Sim(Keithley2450Sweeps, Keithley2450Buffers, ScpiInstrument):
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
