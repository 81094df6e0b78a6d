"""The trigger system of the simulated Keysight B2902A: ``:TRIGger[c][:ALL|:ACQuire|
:TRANsient]:COUNt|DELay|SOURce|TIMer``, ``:INITiate`` and ``:ABORt``, and the timeline of
a run (DC steps, list and staircase sweeps, pulses, acquisitions).

Timing of ``:INITiate`` (per trigger, per channel): the transient action starts after
``:TRIG:TRAN:DEL``; a DC point steps the output to the point's level, a pulse point
keeps the base (immediate) level and applies the peak after ``:PULS:DEL`` for exactly
``:PULS:WIDT``. The acquire action integrates for the aperture (NPLC/50 Hz) from
``:TRIG:ACQ:DEL`` on, then converts for 200 us; an integration window that would
straddle a level change is refused (-221). After the run the output returns to the
immediate level (and goes off if ``:OUTP:OFF:AUTO`` is ON). Two channels addressed
together run one after the other on the bench clock (the real instrument runs them in
parallel), and a channel's cell is biased only while that channel acts.

:class:`KeysightB2902ATrigger` is mixed into
:class:`~rramlab.sim.instruments.keysight_b2902a.KeysightB2902ASim`; it uses the
instrument's ``tree``, ``states``, ``_setting``, ``_channels``, ``_check_envelope`` and
the readings' ``_point``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from rramlab.sim.instruments.keysight_b2902a_state import (
    LINE_FREQUENCY_HZ,
    MEASURE_OVERHEAD_S,
    ChannelState,
)
from rramlab.sim.scpi import Call, Choice, Numeric, ScpiError

COUNT = Numeric(1, 100_000, 1, integer=True)
TRIGGER_DELAY = Numeric(0.0, 100.0, 0.0, unit="S")
TIMER = Numeric(1e-5, 1e5, 1e-5, unit="S")
TRIGGER_SOURCES = Choice(
    ("AINT", "BUS", "TIMer", "INT1", "INT2", "LAN", *(f"EXT{n}" for n in range(1, 15)))
)


class KeysightB2902ATrigger:
    """The B2902A's trigger system (a mixin of ``KeysightB2902ASim``)."""

    states: list[ChannelState]

    def _register_trigger(self) -> None:
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
