"""The 2600B trigger model, enough for list, linear and log sweeps and pulse trains.

``smua.trigger`` configures a sweep (``source.listv``/``linearv``/``logv`` and the
current versions), what each point measures (``measure.i(buf)``, ``.v``, ``.iv``,
``.r``, ``.p``), the counts and the end-of-pulse / end-of-sweep actions;
``smua.trigger.initiate()`` runs it. ``trigger.timer[N]`` timers pace pulses.

The simulator runs a sweep to completion inside ``initiate()`` (``waitcomplete()``
has nothing left to wait for), with this timing per point (SI units):

1. the source steps to the point's level (the sweep's limit applies, if set);
2. the source delay passes (``smua.source.delay`` > 0);
3. if measuring: when ``measure.stimulus`` is a timer, the measurement starts that
   timer's delay after the source step; then the measure delay and the integration;
4. with ``endpulse.action = SOURCE_IDLE`` (pulse mode) the level is held until the
   ``endpulse.stimulus`` timer's delay after the source step (if a timer is set), and
   at least the instrument's shortest pulse (``SmuSpec.min_pulse_width_s``), then the
   source returns to its idle (programmed) level;
5. when ``source.stimulus`` is a timer, the next point starts that timer's delay after
   this one started (the period), the time in between at the idle or held level.

Event IDs are symbolic constants here; only their identity matters to a script.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rramlab.sim.tsp.buffers import ReadingBuffer
from rramlab.sim.tsp.errors import out_of_range
from rramlab.sim.tsp.objects import (
    HostObject,
    arg,
    arg_number,
    arg_opt_number,
    arg_table,
    bad_argument,
    setting_number,
    table_numbers,
)
from rramlab.sim.tsp.smu import Smu2600

EVENTS = (
    "SWEEPING_EVENT_ID",
    "ARMED_EVENT_ID",
    "SOURCE_COMPLETE_EVENT_ID",
    "MEASURE_COMPLETE_EVENT_ID",
    "PULSE_COMPLETE_EVENT_ID",
    "SWEEP_COMPLETE_EVENT_ID",
    "IDLE_EVENT_ID",
)
N_TIMERS = 8
TIMER_EVENT_BASE = 100.0  # trigger.timer[N].EVENT_ID = 100 + N
COMMAND_EVENT_ID = 99.0  # trigger.EVENT_ID (*TRG and friends)
MAX_SWEEP_POINTS = 100_000


class Timer(HostObject):
    """``trigger.timer[N]``: only its delay (s) matters to the simulated sweeps."""

    def __init__(self, index: int) -> None:
        super().__init__(f"trigger.timer[{index}]")
        self.event_id = TIMER_EVENT_BASE + index
        self.const("EVENT_ID", self.event_id)
        self.reset()
        self.attr("delay", lambda: self.delay, self._set_delay)
        self.attr("count", lambda: self.count, self._set_number("count", 0.0, 1e9))
        self.attr("stimulus", lambda: self.stimulus, self._set_number("stimulus", 0.0, 1e9))
        self.attr("passthrough", lambda: self.passthrough, self._set_passthrough)
        self.function("reset", lambda args: self.reset())
        self.function("clear", lambda args: None)
        self.function("wait", lambda args: True)

    def reset(self) -> None:
        self.delay = 10e-6
        self.count = 1.0
        self.stimulus = 0.0
        self.passthrough = False

    def _set_delay(self, value: object) -> None:
        x = setting_number(value, f"{self.path}.delay")
        if not (math.isfinite(x) and 0 <= x <= 1e5):
            raise out_of_range(f"{self.path}.delay", value)
        self.delay = x

    def _set_number(self, name: str, lo: float, hi: float) -> Callable[[object], None]:
        def set_value(value: object) -> None:
            x = setting_number(value, f"{self.path}.{name}")
            if not lo <= x <= hi:
                raise out_of_range(f"{self.path}.{name}", value)
            if name == "count":
                self.count = x
            else:
                self.stimulus = x

        return set_value

    def _set_passthrough(self, value: object) -> None:
        self.passthrough = bool(value) and value != 0.0


class Triggers(HostObject):
    """The global ``trigger`` object: timers, the command trigger, wait/clear."""

    def __init__(self) -> None:
        super().__init__("trigger")
        self.timers = [Timer(i) for i in range(1, N_TIMERS + 1)]
        table = _TimerTable(self.timers)
        self.const("timer", table)
        self.const("EVENT_ID", COMMAND_EVENT_ID)
        self.function("wait", lambda args: False)  # no trigger arrives while a script waits
        self.function("clear", lambda args: None)

    def timer_for(self, event_id: float) -> Timer | None:
        for timer in self.timers:
            if timer.event_id == event_id:
                return timer
        return None

    def reset(self) -> None:
        for timer in self.timers:
            timer.reset()


class _TimerTable(HostObject):
    def __init__(self, timers: list[Timer]) -> None:
        super().__init__("trigger.timer")
        self.timers = timers

    def tsp_index(self, key: object) -> object:
        if isinstance(key, float) and key == int(key) and 1 <= key <= len(self.timers):
            return self.timers[int(key) - 1]
        return super().tsp_index(key)

    def tsp_len(self) -> int:
        return len(self.timers)


class TriggerModel(HostObject):
    """``smua.trigger``: sweep configuration and ``initiate()``."""

    def __init__(self, smu: Smu2600, triggers: Triggers, event_base: float) -> None:
        super().__init__(f"{smu.path}.trigger")
        self.smu = smu
        self.triggers = triggers
        for i, name in enumerate(EVENTS):
            self.const(name, event_base + i)
        self.arm = self.child("arm", HostObject(f"{self.path}.arm"))
        self.source = self.child("source", HostObject(f"{self.path}.source"))
        self.measure = self.child("measure", HostObject(f"{self.path}.measure"))
        self.endpulse = self.child("endpulse", HostObject(f"{self.path}.endpulse"))
        self.endsweep = self.child("endsweep", HostObject(f"{self.path}.endsweep"))
        self.reset()
        t = smu._touching_get
        s = smu._touching_set
        self._setting(self, "count", 0, MAX_SWEEP_POINTS, t, s)
        self._setting(self, "autoclear", 0, 1, t, s)
        self._setting(self.arm, "count", 0, MAX_SWEEP_POINTS, t, s)
        self._setting(self.arm, "stimulus", 0, 1e9, t, s)
        self._setting(self.source, "action", 0, 1, t, s)
        self._setting(self.source, "stimulus", 0, 1e9, t, s)
        self._setting(self.source, "limitv", 0, smu.spec.max_voltage_V, t, s)
        self._setting(self.source, "limiti", 0, smu.spec.max_current_A, t, s)
        self._setting(self.measure, "action", 0, 2, t, s)
        self._setting(self.measure, "stimulus", 0, 1e9, t, s)
        self._setting(self.endpulse, "action", 0, 1, t, s)
        self._setting(self.endpulse, "stimulus", 0, 1e9, t, s)
        self._setting(self.endsweep, "action", 0, 1, t, s)
        for kind in ("v", "i"):
            self.source.function(f"list{kind}", smu._touching(self._list(kind)))
            self.source.function(f"linear{kind}", smu._touching(self._linear(kind)))
            self.source.function(f"log{kind}", smu._touching(self._log(kind)))
        for kind in ("i", "v", "iv", "r", "p"):
            self.measure.function(kind, smu._touching(self._measure_into(kind)))
        self.function("initiate", smu._touching(lambda args: self.initiate()))
        self.function("abort", smu._touching(lambda args: None))
        smu.trigger_model = self
        smu.child("trigger", self)

    def reset(self) -> None:
        """Trigger-model defaults (``smua.reset()``)."""
        self.s = {
            "count": 1.0,
            "autoclear": 0.0,
            "arm.count": 1.0,
            "arm.stimulus": 0.0,
            "source.action": 0.0,
            "source.stimulus": 0.0,
            "source.limitv": 0.0,  # 0: smua.LIMIT_AUTO, the normal source limit
            "source.limiti": 0.0,
            "measure.action": 0.0,
            "measure.stimulus": 0.0,
            "endpulse.action": 1.0,  # SOURCE_HOLD
            "endpulse.stimulus": 0.0,
            "endsweep.action": 0.0,  # SOURCE_IDLE
        }
        self.sweep_kind = "v"
        self.sweep_values: list[float] = []
        self.measure_kind = ""
        self.measure_buffers: list[ReadingBuffer] = []

    def _setting(self, obj: HostObject, name: str, lo: float, hi: float, t, s) -> None:
        key = name if obj is self else f"{obj.path.rsplit('.', 1)[1]}.{name}"
        path = f"{obj.path}.{name}"

        def set_value(value: object) -> None:
            x = setting_number(value, path)
            if not (math.isfinite(x) and lo <= x <= hi):
                raise out_of_range(path, value)
            self.s[key] = x

        obj.attr(name, t(lambda: self.s[key]), s(set_value))

    # ------------------------------------------------------------------ configuring
    def _check_levels(self, kind: str, values: list[float]) -> list[float]:
        spec = self.smu.spec
        top = spec.max_voltage_V if kind == "v" else spec.max_current_A
        if not 1 <= len(values) <= MAX_SWEEP_POINTS:
            raise out_of_range(f"{self.path}.source sweep points", float(len(values)))
        for x in values:
            if not (math.isfinite(x) and abs(x) <= top):
                raise out_of_range(f"{self.path}.source sweep level", x)
        return values

    def _list(self, kind: str) -> Callable[[list[object]], None]:
        fname = f"{self.path}.source.list{kind}"

        def configure(args: list[object]) -> None:
            values = table_numbers(arg_table(args, 1, fname), 1, fname)
            self.sweep_values = self._check_levels(kind, values)
            self.sweep_kind = kind

        return configure

    def _linear(self, kind: str) -> Callable[[list[object]], None]:
        fname = f"{self.path}.source.linear{kind}"

        def configure(args: list[object]) -> None:
            start = arg_number(args, 1, fname)
            stop = arg_number(args, 2, fname)
            points = int(arg_number(args, 3, fname))
            if not 1 <= points <= MAX_SWEEP_POINTS:
                raise out_of_range(f"{fname} points", float(points))
            step = (stop - start) / (points - 1) if points > 1 else 0.0
            values = [start + k * step for k in range(points)]
            self.sweep_values = self._check_levels(kind, values)
            self.sweep_kind = kind

        return configure

    def _log(self, kind: str) -> Callable[[list[object]], None]:
        fname = f"{self.path}.source.log{kind}"

        def configure(args: list[object]) -> None:
            start = arg_number(args, 1, fname)
            stop = arg_number(args, 2, fname)
            points = int(arg_number(args, 3, fname))
            asymptote = arg_opt_number(args, 4, fname, 0.0)
            a, b = start - asymptote, stop - asymptote
            if a == 0 or b == 0 or (a > 0) != (b > 0) or not 2 <= points <= MAX_SWEEP_POINTS:
                raise out_of_range(f"{fname} arguments", start)
            sign = 1.0 if a > 0 else -1.0
            la, lb = math.log10(abs(a)), math.log10(abs(b))
            values = [
                asymptote + sign * 10 ** (la + (lb - la) * k / (points - 1)) for k in range(points)
            ]
            self.sweep_values = self._check_levels(kind, values)
            self.sweep_kind = kind

        return configure

    def _measure_into(self, kind: str) -> Callable[[list[object]], None]:
        fname = f"{self.path}.measure.{kind}"

        def configure(args: list[object]) -> None:
            wanted = 2 if kind == "iv" else 1
            buffers = []
            for i in range(wanted):
                buf = arg(args, i + 1)
                if not isinstance(buf, ReadingBuffer):
                    raise bad_argument(i + 1, fname, "reading buffer", buf)
                buffers.append(buf)
            self.measure_kind = kind
            self.measure_buffers = buffers

        return configure

    # ------------------------------------------------------------------ running
    def initiate(self) -> None:
        """Run the configured sweep to its end (see the module docstring)."""
        s, smu = self.s, self.smu
        count, arm_count = int(s["count"]), int(s["arm.count"])
        if count < 1 or arm_count < 1:
            raise out_of_range(f"{self.path}.count (an endless sweep cannot be simulated)", 0.0)
        sourcing = s["source.action"] == 1.0 and bool(self.sweep_values)
        measuring = s["measure.action"] != 0.0 and bool(self.measure_kind)
        pulsed = s["endpulse.action"] == 0.0
        period = self._timer_delay("source.stimulus")
        width = self._timer_delay("endpulse.stimulus")
        measure_at = self._timer_delay("measure.stimulus")
        if measuring:
            for buf in self.measure_buffers:
                buf.begin()
        ch = smu.channel
        kind = self.sweep_kind
        try:
            for _ in range(arm_count):
                for k in range(count):
                    smu.charge(1)
                    t0 = ch.clock.now()
                    if sourcing:
                        self._source(kind, self.sweep_values[k % len(self.sweep_values)])
                    if smu.s["source.delay"] > 0:
                        ch.hold(smu.s["source.delay"])
                    if measuring:
                        if measure_at is not None:
                            ch.hold(max(0.0, measure_at - (ch.clock.now() - t0)))
                        smu.acquire(self.measure_kind, self.measure_buffers)
                    if pulsed and sourcing:
                        on_time = max(width or 0.0, smu.spec.min_pulse_width_s)
                        ch.hold(max(0.0, on_time - (ch.clock.now() - t0)))
                        self._idle(kind)
                    if period is not None:
                        ch.hold(max(0.0, period - (ch.clock.now() - t0)))
        finally:
            hold_last = s["endsweep.action"] == 1.0 and sourcing and not pulsed
            level = ch.source_level
            smu.settings_changed()  # back to the programmed source, limits and function
            if hold_last:
                ch.source_function = "VOLT" if kind == "v" else "CURR"
                ch.source_level = level

    def _timer_delay(self, key: str) -> float | None:
        timer = self.triggers.timer_for(self.s[key])
        return None if timer is None else timer.delay

    def _source(self, kind: str, level: float) -> None:
        ch, s = self.smu.channel, self.s
        ch.source_function = "VOLT" if kind == "v" else "CURR"
        ch.source_level = level
        if kind == "v" and s["source.limiti"] > 0:
            ch.current_limit_A = s["source.limiti"]
        if kind == "i" and s["source.limitv"] > 0:
            ch.voltage_limit_V = s["source.limitv"]

    def _idle(self, kind: str) -> None:
        """Back to the programmed (idle) level of the swept function."""
        self.smu.channel.source_level = self.smu.s[f"source.level{kind}"]
