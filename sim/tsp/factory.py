"""The 2600B factory-script functions labs call directly: KISweep and KIPulse.

- ``SweepVLinMeasureI(smu, startv, stopv, stime, points)`` and
  ``SweepVListMeasureI(smu, vlist, stime, points)`` (and the ``SweepI...MeasureV``
  current versions, plus ``SweepVLogMeasureI``): at each point the source steps, settles
  ``stime`` seconds, and the channel measures.
- ``PulseVMeasureI(smu, bias, level, ton, toff, points)`` (and ``PulseIMeasureV``):
  ``points`` pulses from ``bias`` to ``level`` for ``ton`` seconds, measured at the end
  of each pulse, then ``toff`` seconds back at ``bias``.

As the manual says, readings, source values and timestamps go to ``smuX.nvbuffer1``
(cleared first). The output is turned on for the run; afterwards the channel's source
function, level and output state are what they were before.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rramlab.sim.tsp.errors import out_of_range
from rramlab.sim.tsp.objects import (
    HostFunction,
    arg,
    arg_number,
    arg_table,
    bad_argument,
    table_numbers,
)
from rramlab.sim.tsp.smu import Smu2600
from rramlab.sim.tsp.values import LuaTable


def functions() -> dict[str, HostFunction]:
    """The factory functions by their global names."""
    out = {}
    for name, fn in (
        ("SweepVLinMeasureI", _linear("v")),
        ("SweepILinMeasureV", _linear("i")),
        ("SweepVListMeasureI", _listed("v")),
        ("SweepIListMeasureV", _listed("i")),
        ("SweepVLogMeasureI", _logarithmic("v")),
        ("SweepILogMeasureV", _logarithmic("i")),
        ("PulseVMeasureI", _pulsed("v")),
        ("PulseIMeasureV", _pulsed("i")),
    ):
        out[name] = HostFunction(name, fn)
    return out


def _smu(args: list[object], fname: str) -> Smu2600:
    smu = arg(args, 1)
    if not isinstance(smu, Smu2600):
        raise bad_argument(1, fname, "SMU (smua or smub)", smu)
    smu.bench.touch(smu.channel)  # the call is a command to the channel: it costs time
    return smu


def _points(args: list[object], index: int, fname: str, minimum: int = 2) -> int:
    points = arg_number(args, index, fname)
    if not (math.isfinite(points) and minimum <= points <= 100_000):
        raise out_of_range(f"{fname} points", points)
    return int(points)


def _linear(kind: str) -> Callable[[list[object]], None]:
    fname = f"Sweep{kind.upper()}LinMeasure{_other(kind).upper()}"

    def run(args: list[object]) -> None:
        smu = _smu(args, fname)
        start, stop = arg_number(args, 2, fname), arg_number(args, 3, fname)
        stime = _seconds(args, 4, fname)
        points = _points(args, 5, fname)
        step = (stop - start) / (points - 1)
        _sweep(smu, kind, [start + k * step for k in range(points)], stime)

    return run


def _logarithmic(kind: str) -> Callable[[list[object]], None]:
    fname = f"Sweep{kind.upper()}LogMeasure{_other(kind).upper()}"

    def run(args: list[object]) -> None:
        smu = _smu(args, fname)
        start, stop = arg_number(args, 2, fname), arg_number(args, 3, fname)
        stime = _seconds(args, 4, fname)
        points = _points(args, 5, fname)
        if start == 0 or stop == 0 or (start > 0) != (stop > 0):
            raise out_of_range(f"{fname} start/stop", start)
        sign = 1.0 if start > 0 else -1.0
        la, lb = math.log10(abs(start)), math.log10(abs(stop))
        levels = [sign * 10 ** (la + (lb - la) * k / (points - 1)) for k in range(points)]
        _sweep(smu, kind, levels, stime)

    return run


def _listed(kind: str) -> Callable[[list[object]], None]:
    fname = f"Sweep{kind.upper()}ListMeasure{_other(kind).upper()}"

    def run(args: list[object]) -> None:
        smu = _smu(args, fname)
        table: LuaTable = arg_table(args, 2, fname)
        stime = _seconds(args, 3, fname)
        points = _points(args, 4, fname)
        levels = table_numbers(table, 2, fname)
        if points > len(levels):
            raise out_of_range(f"{fname} points (more than the list holds)", float(points))
        _sweep(smu, kind, levels[:points], stime)

    return run


def _pulsed(kind: str) -> Callable[[list[object]], None]:
    fname = f"Pulse{kind.upper()}Measure{_other(kind).upper()}"

    def run(args: list[object]) -> None:
        smu = _smu(args, fname)
        bias, level = arg_number(args, 2, fname), arg_number(args, 3, fname)
        ton, toff = _seconds(args, 4, fname), _seconds(args, 5, fname)
        points = _points(args, 6, fname, minimum=1)
        _check_level(smu, kind, bias, fname)
        _check_level(smu, kind, level, fname)
        ch = smu.channel
        with _running(smu, kind, bias):
            busy = ch.integration_time_s() + smu.spec.measure_overhead_s
            on_time = max(ton, smu.spec.min_pulse_width_s)
            for _ in range(points):
                ch.source_level = level
                ch.hold(max(0.0, on_time - busy))  # the reading ends the pulse
                smu.acquire(_other(kind), [smu.nvbuffer1])
                ch.source_level = bias
                ch.hold(toff)

    return run


def _sweep(smu: Smu2600, kind: str, levels: list[float], stime: float) -> None:
    fname = "sweep"
    for level in levels:
        _check_level(smu, kind, level, fname)
    ch = smu.channel
    with _running(smu, kind, levels[0]):
        for level in levels:
            ch.source_level = level
            ch.hold(stime)
            smu.acquire(_other(kind), [smu.nvbuffer1])


class _running:
    """Prepare nvbuffer1 and the source for a factory run; restore the source after."""

    def __init__(self, smu: Smu2600, kind: str, first_level: float) -> None:
        self.smu = smu
        self.kind = kind
        self.first = first_level

    def __enter__(self) -> None:
        smu = self.smu
        buf = smu.nvbuffer1
        buf.clear()
        buf.collectsourcevalues = 1
        buf.collecttimestamps = 1
        self.saved = {k: smu.s[k] for k in ("source.func", "source.output")}
        smu.s["source.func"] = 1.0 if self.kind == "v" else 0.0
        smu.s["source.output"] = 1.0
        smu.settings_changed()
        smu.channel.source_level = self.first

    def __exit__(self, *exc: object) -> None:
        self.smu.s.update(self.saved)
        self.smu.settings_changed()


def _check_level(smu: Smu2600, kind: str, level: float, fname: str) -> None:
    top = smu.spec.max_voltage_V if kind == "v" else smu.spec.max_current_A
    if not (math.isfinite(level) and abs(level) <= top):
        raise out_of_range(f"{fname} level", level)


def _seconds(args: list[object], index: int, fname: str) -> float:
    x = arg_number(args, index, fname)
    if not (math.isfinite(x) and 0 <= x <= 1e4):
        raise out_of_range(f"{fname} time", x)
    return x


def _other(kind: str) -> str:
    return "i" if kind == "v" else "v"
