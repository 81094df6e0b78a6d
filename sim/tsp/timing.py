"""Bench time of a TSP instrument: command time per statement, ``delay()``, ``timer``.

Every statement that touches an SMU channel costs that channel's command time
(``SmuSpec.command_time_s``) once the statement is done, with the output held as the
statement left it: ``smua.source.levelv = 1`` is followed by the command time at 1 V.
``delay(s)`` lets ``s`` seconds pass with every output as it is, so a script pulse
``levelv = v; delay(w); levelv = 0`` holds ``v`` for ``w`` plus one command time.

Limitation: the probe layer advances the shared bench clock for every hold, so when
both channels' outputs are on, ``delay(s)`` holds each channel for ``s`` in turn and
the clock advances by ``2 s`` (each cell still sees its full bias time).
"""

from __future__ import annotations

import math

from rramlab.clock import Clock
from rramlab.sim.smu_channel import SimulatedChannel
from rramlab.sim.tsp.errors import TspRuntimeError
from rramlab.sim.tsp.objects import HostFunction, HostObject, arg_number

MAX_DELAY_S = 1e6  # one delay() call; longer is almost certainly a unit mistake


class BenchTime:
    """Charges TSP statements and delays to the channels of one instrument."""

    def __init__(self, channels: list[SimulatedChannel], clock: Clock) -> None:
        self.channels = channels
        self.clock = clock
        self._touched: list[SimulatedChannel] = []
        self._timer_zero = clock.now()

    def touch(self, channel: SimulatedChannel) -> None:
        """The statement being run gave ``channel`` a command."""
        if channel not in self._touched:
            self._touched.append(channel)

    def statement_done(self) -> None:
        """Charge the command time of every channel the statement touched."""
        if not self._touched:
            return
        touched, self._touched = self._touched, []
        for channel in touched:
            channel.command()

    def delay(self, seconds: float) -> None:
        """Let ``seconds`` pass with every output as it is."""
        if seconds <= 0:
            return
        on = [ch for ch in self.channels if ch.output_on]
        for channel in on or self.channels[:1]:
            channel.hold(seconds)

    # ------------------------------------------------------------------ TSP objects
    def delay_function(self) -> HostFunction:
        def delay(args: list[object]) -> None:
            seconds = arg_number(args, 1, "delay")
            if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DELAY_S:
                raise TspRuntimeError(f"bad argument #1 to `delay' ({seconds!r} s)")
            self.delay(seconds)

        return HostFunction("delay", delay)

    def timer_object(self) -> HostObject:
        """``timer.reset()`` and ``timer.measure.t()`` (seconds since the reset)."""
        timer = HostObject("timer")
        measure = HostObject("timer.measure")
        measure.function("t", lambda args: self.clock.now() - self._timer_zero)
        timer.child("measure", measure)
        timer.function("reset", lambda args: self._reset_timer())
        return timer

    def _reset_timer(self) -> None:
        self._timer_zero = self.clock.now()
