"""Source lists, sweeps and the trigger model of the simulated Keithley 2450:
``:SOURce:LIST:<f>`` (``:APPend``, ``:POINts?``), the sweeps ``:SOURce:SWEep:<f>:LINear``,
``:LINear:STEP``, ``:LOG`` and ``:LIST``, ``:TRIGger:LOAD "SimpleLoop"``,
``:INITiate`` and ``:ABORt``.

A sweep runs as the instrument's generated sweep trigger model does: it clears its
buffer, turns the output on, and per point sets the level, waits the source delay
(plus the sweep's delay), measures and stores; it stops early at a source limit when
``failAbort`` is ON (the default) and turns the output off when done.

:class:`Keithley2450Sweeps` is mixed into
:class:`~rramlab.sim.instruments.keithley2450.Keithley2450Sim`; it uses the instrument's
``tree``, ``channel``, ``level``, ``limit``, ``source_function``, ``_check_power``,
``_source_delay``, ``_sync`` and the buffers' ``_buffer``/``take_reading``, and owns
``source_list`` and ``model``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rramlab.sim.instruments.keithley2450_buffers import ReadingBuffer
from rramlab.sim.instruments.keithley2450_spec import (
    AUTO_SOURCE_DELAY_S,
    DELAY,
    FUNCTIONS,
    LEVEL,
)
from rramlab.sim.scpi import Boolean, Call, Choice, Numeric, ScpiError, Text

MAX_LIST_ARGS = 100  # values one :SOURce:LIST:<function>[:APPend] command may carry
MAX_LIST_POINTS = 2500  # a whole source configuration list, built up with :APPend


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


class Keithley2450Sweeps:
    """The 2450's source lists, sweeps and trigger model (a mixin of ``Keithley2450Sim``)."""

    source_list: dict[str, list[float]]
    model: TriggerModel | None

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
