"""Simulated Keithley 2636B: a two-channel 2600B SourceMeter speaking TSP.

Channels ``smua`` and ``smub`` are independent :class:`SimulatedChannel`\\ s, each on
its own probe. The TSP language, objects and timing live in :mod:`rramlab.sim.tsp`;
this module holds what is particular to the 2636B: its numbers and its identity.

Numbers (2636B datasheet, SI units):

- source/measure ranges 200 mV, 2 V, 20 V, 200 V and 100 pA ... 1 A, 1.5 A; up to
  202 V and 1.515 A (1.5 A only at low voltage on the real instrument);
- compliance limits 100 pA ... 1.5 A and 20 mV ... 200 V; NPLC 0.001 ... 25;
- low-current noise in the tens of femtoamperes (the 2636B's 100 pA range resolves
  0.1 fA), far below the 2450's.

Shortest pulse: 100 us, the datasheet's minimum programmable pulse width. A script
pulse ``smua.source.levelv = v; delay(w); smua.source.levelv = 0`` lasts ``w`` plus
one command time; the command time is 100 us so a script cannot beat the datasheet
minimum either, and trigger-model pulses are held at least that long.
"""

from __future__ import annotations

import numpy as np

from rramlab.clock import Clock
from rramlab.sim.probe import Terminals
from rramlab.sim.smu_channel import SimulatedChannel, SmuSpec
from rramlab.sim.tsp import factory
from rramlab.sim.tsp.errors import out_of_range
from rramlab.sim.tsp.interpreter import DEFAULT_MAX_STEPS
from rramlab.sim.tsp.objects import HostObject, setting_number
from rramlab.sim.tsp.panel import beeper_object, display_object
from rramlab.sim.tsp.session import TspSession
from rramlab.sim.tsp.smu import Smu2600
from rramlab.sim.tsp.status import status_object
from rramlab.sim.tsp.timing import BenchTime
from rramlab.sim.tsp.trigger import TriggerModel, Triggers

MODEL = "2636B"
SERIAL = "4308079"
FIRMWARE = "3.2.2"
IDENTITY = f"Keithley Instruments Inc., Model {MODEL}, {SERIAL}, {FIRMWARE}"

SPEC_2636B = SmuSpec(
    model=MODEL,
    voltage_ranges_V=(0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(
        100e-12,
        1e-9,
        10e-9,
        100e-9,
        1e-6,
        10e-6,
        100e-6,
        1e-3,
        10e-3,
        100e-3,
        1.0,
        1.5,
    ),
    max_voltage_V=202.0,
    max_current_A=1.515,
    min_current_limit_A=100e-12,
    min_voltage_limit_V=20e-3,
    nplc_range=(0.001, 25.0),
    min_pulse_width_s=100e-6,
    current_noise_floor_A=20e-15,  # fA class at 1 NPLC on the lowest ranges
    current_noise_of_range=5e-6,  # a few ppm of the range at 1 NPLC
    voltage_noise_V=20e-6,
    measure_overhead_s=40e-6,  # ~20k readings/s at 0.001 NPLC, as the datasheet says
    command_time_s=100e-6,  # one TSP statement that changes the source, with settling
)
CHANNELS = ("smua", "smub")


class Keithley2636BSim:
    """A simulated 2636B whose ``smua``/``smub`` drive ``probes[0]``/``probes[1]``.

    Implements :class:`~rramlab.sim.message.MessageInstrument`. ``max_steps`` is the
    interpreter's instruction budget per message.
    """

    name = "Keithley 2636B"

    def __init__(
        self,
        probes: list[Terminals],
        clock: Clock,
        rng: np.random.Generator,
        *,
        spec: SmuSpec = SPEC_2636B,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        if len(probes) < len(CHANNELS):
            raise ValueError(f"a 2636B needs {len(CHANNELS)} probes, got {len(probes)}")
        self.clock = clock
        self.channels = [SimulatedChannel(spec, probe, clock, rng) for probe in probes[:2]]
        self.session = TspSession(self.name, IDENTITY, clock, max_steps=max_steps)
        self.bench = BenchTime(self.channels, clock)
        self.session.on_statement = self.bench.statement_done
        self.triggers = Triggers()
        self.smus: list[Smu2600] = []
        for index, (name, channel) in enumerate(zip(CHANNELS, self.channels, strict=True)):
            smu = Smu2600(name, channel, self.bench)
            smu.charge = self.session.interp.charge
            TriggerModel(smu, self.triggers, event_base=1.0 + 10.0 * index)
            self.smus.append(smu)
            self.session.define(name, smu)
        self._define_globals()
        self.session.reset_hooks.append(self._reset)

    # ------------------------------------------------------------------ MessageInstrument
    def write(self, message: str) -> None:
        self.session.write(message)

    def read(self) -> str | None:
        return self.session.read()

    def clear(self) -> None:
        self.session.clear()

    def input_overrun(self) -> None:
        self.session.input_overrun()

    # ------------------------------------------------------------------ setup
    def _define_globals(self) -> None:
        s = self.session
        s.define("delay", self.bench.delay_function())
        s.define("timer", self.bench.timer_object())
        s.define("trigger", self.triggers)
        s.define("status", status_object(self.smus, s.status_byte))
        s.define("display", display_object(list(CHANNELS)))
        s.define("beeper", beeper_object())
        for name, fn in factory.functions().items():
            s.define(name, fn)
        node: HostObject = s.localnode
        node.const("model", MODEL)
        node.const("serialno", SERIAL)
        node.const("revision", FIRMWARE)
        node.const("description", f"Keithley Instruments SMU {MODEL} - {SERIAL}")
        node.attr("linefreq", lambda: self.smus[0].spec.line_frequency_Hz, self._set_linefreq)
        stored = {"showerrors": 0.0, "autolinefreq": 0.0}
        for key in stored:
            node.attr(key, lambda key=key: stored[key], _storing(stored, key))
        node.function("reset", lambda args: s.reset())

    def _set_linefreq(self, value: object) -> None:
        hz = setting_number(value, "localnode.linefreq")
        if hz not in (50.0, 60.0):
            raise out_of_range("localnode.linefreq", value)
        for smu in self.smus:
            smu.with_spec(line_frequency_Hz=hz)

    def _reset(self) -> None:
        for smu in self.smus:
            smu.reset()
        self.triggers.reset()


def _storing(store: dict[str, float], key: str):
    def set_value(value: object) -> None:
        x = setting_number(value, f"localnode.{key}")
        if x not in (0.0, 1.0):
            raise out_of_range(f"localnode.{key}", value)
        store[key] = x

    return set_value
