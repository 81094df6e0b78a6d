"""Keithley 2636B System SourceMeter (TSP, two channels ``smua`` and ``smub``).

Commands follow the Series 2600B reference manual (2600BS-901-01), section 7/9. TSP is a
Lua dialect: settings are attribute assignments (``smua.source.levelv = 1``), queries
``print()`` their result (several values tab-separated; ``printbuffer`` comma-separated).
The error queue is ``errorqueue.count`` / ``errorqueue.next()``.

``Keithley2636B(...)`` is the instrument; ``.smua`` and ``.smub`` are its channels, each a
:class:`SourceMeter`, sharing one connection and one error queue.

Sweeps run on the channel's trigger model (``smua.trigger.source.listv``) and measure
current and voltage into ``nvbuffer1``/``nvbuffer2``, read back by one ``printbuffer``.

At the end of a sweep the 2600B leaves the output on (its state is never touched by the
trigger model) and, with ``smuX.trigger.endsweep.action`` at its default
``smuX.SOURCE_IDLE``, returns the source to the programmed (idle) level (2600B reference
manual, ``smuX.trigger.endsweep.action``): here the first sweep level, which the driver
programs before the sweep, with the sweep's limit and range. After a pulse the idle
level is the pulse base. So afterwards the driver programs the user's last
``source_voltage()``/``source_current()`` again and sets ``smuX.source.output``
explicitly to what it was before (off, and its source put back, after a failure). See
:func:`rramlab.drivers.scpi.put_source_back`.

Pulses are a one-line script run on the instrument: step to the level, wait
``delay(width)``, measure the current (0.001 PLC, no extra measure delay), step back to
base. The level is therefore held for the delay plus the measurement plus a few tens of
microseconds of script time; the reported width is that hold, timed by the instrument's
own ``timer`` from the step up to the step back down.
"""

from __future__ import annotations

import math

import numpy as np
import pyvisa
from pyvisa.resources import MessageBasedResource

from rramlab.drivers.scpi import (
    DEFAULT_TIMEOUT_S,
    MAX_ERRORS_PER_CHECK,
    Connection,
    InstrumentChannel,
    MultiChannelInstrument,
    confirmed_reset,
    fmt,
    fmt_list,
    parse_numbers,
    run_then_restore,
)
from rramlab.drivers.source_meter import (
    InstrumentRanges,
    Measurement,
    PulseResult,
    SweepResult,
)
from rramlab.errors import InstrumentError
from rramlab.limits import SafetyLimits

#: datasheet ranges (2636B specifications): +/-202 V, +/-1.5 A DC per channel
RANGES_2636B = InstrumentRanges(
    max_voltage_V=202.0,
    max_current_A=1.5,
    voltage_ranges_V=(0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.5),
    min_current_limit_A=100e-12,  # smuX.source.limiti: 100 pA to 1.5 A (2634B/35B/36B)
    min_voltage_limit_V=0.02,  # smuX.source.limitv: 20 mV to 200 V
    nplc_range=(0.001, 25.0),
    min_pulse_width_s=100e-6,  # the 2636B's shortest specified pulse
)

LIST_CHUNK = 100  # values per message when building a sweep list on the instrument
MAX_SWEEP_POINTS = 2500
PULSE_NPLC = 0.001
LINE_PERIOD_S = 1 / 50  # the longer mains period, for time estimates


def read_tsp_errors(conn: Connection) -> list[tuple[int, str]]:
    """Empty the TSP error queue: ``errorqueue.count`` entries of ``errorqueue.next()``,
    each printed as code, message, severity, node (tab-separated)."""
    count_cmd, next_cmd = "print(errorqueue.count)", "print(errorqueue.next())"
    count = int(conn.query_number(count_cmd))
    errors = []
    for _ in range(min(count, MAX_ERRORS_PER_CHECK)):
        fields = conn.query(next_cmd).split("\t")
        code = parse_numbers(fields[0], instrument=conn.name, command=next_cmd, count=1)[0]
        if len(fields) < 2 or not math.isfinite(code):
            raise InstrumentError(
                f"unreadable error-queue entry {fields!r}", instrument=conn.name, command=next_cmd
            )
        if int(code) != 0:
            errors.append((int(code), fields[1].strip()))
    return errors


class Keithley2636B(MultiChannelInstrument):
    """A Keithley 2636B: ``.smua`` and ``.smub`` are its two channels.

    ``resource`` is an open pyvisa message-based resource or a VISA resource string
    (opened with ``resource_manager`` or a new manager for ``backend``); ``limits`` apply
    to both channels; ``timeout_s`` is the I/O timeout in seconds.
    """

    def __init__(
        self,
        resource: str | MessageBasedResource,
        *,
        limits: SafetyLimits,
        resource_manager: pyvisa.ResourceManager | None = None,
        backend: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str = "Keithley 2636B",
    ) -> None:
        super().__init__(
            resource,
            name=name,
            models=("2636B",),
            read_errors=read_tsp_errors,
            resource_manager=resource_manager,
            backend=backend,
            timeout_s=timeout_s,
        )
        # prompts or echoed errors would interleave with replies and shift every read
        self.connection.configure("localnode.prompts = 0 localnode.showerrors = 0")
        self.smua = Keithley2636BChannel(self, "a", limits)
        self.smub = Keithley2636BChannel(self, "b", limits)

    def channel(self, name: str) -> Keithley2636BChannel:
        """``"a"``/``"smua"`` or ``"b"``/``"smub"``."""
        key = name.lower().removeprefix("smu")
        if key not in ("a", "b"):
            raise ValueError(f"the 2636B has channels 'a' and 'b', not {name!r}")
        return self.smua if key == "a" else self.smub


class Keithley2636BChannel(InstrumentChannel):
    """One 2636B channel (``smua`` or ``smub``) as a :class:`SourceMeter`."""

    ranges = RANGES_2636B

    def __init__(self, instrument: Keithley2636B, letter: str, limits: SafetyLimits) -> None:
        super().__init__(instrument, f"smu{letter}", limits)
        self.smu = f"smu{letter}"

    def reset(self) -> None:
        """``smuX.reset()``: this channel only, output off, default settings."""
        confirmed_reset([self], lambda: self._conn.configure(f"{self.smu}.reset()"), mode="VOLT")

    # ------------------------------------------------------------------ hooks
    def _configure_measurement(self, nplc: float, current_range_A: float | None) -> None:
        s = self.smu
        commands = [f"{s}.measure.nplc = {fmt(nplc)}"]
        if current_range_A is None:
            commands.append(f"{s}.measure.autorangei = {s}.AUTORANGE_ON")
        else:  # a fixed range turns autorange off
            commands.append(f"{s}.measure.rangei = {fmt(current_range_A)}")
        self._send(commands)
        self._nplc = nplc

    def _enable_output(self, on: bool) -> None:
        self._set_output(
            f"{self.smu}.source.output = {self.smu}.OUTPUT_{'ON' if on else 'OFF'}", on
        )

    def _measure(self) -> Measurement:
        command = f"print({self.smu}.measure.iv())"
        current, voltage = self._conn.query_numbers(command, count=2)  # iv() returns i, v
        compliance = self._conn.query_flag(f"print({self.smu}.source.compliance)")
        self._conn.check_errors(command)
        return Measurement(voltage_V=voltage, current_A=current, in_compliance=compliance)

    def _sweep_voltage(
        self, levels_V: np.ndarray, current_limit_A: float, delay_s: float
    ) -> SweepResult:
        n, s = levels_V.size, self.smu
        self._check_sweep_points(n, MAX_SWEEP_POINTS)
        self._select_mode("VOLT")  # refused unsent if the output is on in current mode
        table = f"rramlab_{s}_levels"  # the list is built in chunks: keep messages short
        commands = [f"{table} = {{{fmt_list(levels_V[:LIST_CHUNK])}}}"]
        for start in range(LIST_CHUNK, n, LIST_CHUNK):
            chunk = fmt_list(levels_V[start : start + LIST_CHUNK])
            commands.append(f"for _, v in ipairs({{{chunk}}}) do table.insert({table}, v) end")
        commands += [
            f"{s}.trigger.source.listv({table})",
            f"{s}.trigger.source.action = {s}.ENABLE",
            f"{s}.trigger.measure.iv({s}.nvbuffer1, {s}.nvbuffer2)",
            f"{s}.trigger.measure.action = {s}.ENABLE",
            f"{s}.trigger.count = {n}",
            f"{s}.measure.delay = {fmt(delay_s)}",  # the hold before each measurement
            f"{s}.nvbuffer1.clear() {s}.nvbuffer2.clear()",
        ]
        was_on = self.output_enabled
        fetch = (
            f"waitcomplete() printbuffer(1, {n}, {s}.nvbuffer1.readings, {s}.nvbuffer2.readings)"
        )
        seconds = n * (delay_s + 2 * self._nplc * LINE_PERIOD_S + 5e-3)  # iv(): two readings

        def run() -> np.ndarray:
            self._program_source(current_limit_A, self._range_for(levels_V), float(levels_V[0]))
            self._send(commands)
            if not was_on:
                self.enable_output()
            self._conn.configure(f"{s}.trigger.initiate()")
            data = self._conn.query_numbers(fetch, count=2 * n, timeout_s=2 * seconds + 10)
            self._conn.check_errors(fetch)
            return data.reshape(n, 2)

        def auto_delay() -> None:
            self._send([f"{s}.measure.delay = {s}.DELAY_AUTO"])

        data = run_then_restore(run, lambda failed: self._put_back(was_on, failed, auto_delay))
        return SweepResult(source_V=levels_V.copy(), voltage_V=data[:, 1], current_A=data[:, 0])

    def _pulse_voltage(
        self, level_V: float, width_s: float, current_limit_A: float, base_V: float
    ) -> PulseResult:
        s = self.smu
        self._select_mode("VOLT")
        # one message, so no bus latency inside the pulse; settings are put back in-script
        script = (
            f"rramlab_n = {s}.measure.nplc rramlab_d = {s}.measure.delay "
            f"{s}.measure.nplc = {fmt(PULSE_NPLC)} {s}.measure.delay = 0 "
            f"{s}.source.levelv = {fmt(level_V)} timer.reset() delay({fmt(width_s)}) "
            f"rramlab_i = {s}.measure.i() {s}.source.levelv = {fmt(base_V)} "
            f"rramlab_t = timer.measure.t() "
            f"{s}.measure.nplc = rramlab_n {s}.measure.delay = rramlab_d "
            f"print(rramlab_i, rramlab_t)"
        )
        was_on = self.output_enabled

        def run() -> np.ndarray:
            self._program_source(current_limit_A, self._range_for([level_V, base_V]), base_V)
            if not was_on:
                self.enable_output()
            data = self._conn.query_numbers(script, count=2, timeout_s=width_s + 10)
            self._conn.check_errors(script)
            return data

        current, width = run_then_restore(run, lambda failed: self._put_back(was_on, failed))
        if not (math.isfinite(width) and width > 0):
            raise InstrumentError(
                f"pulse timer reading makes no sense: {width!r}",
                instrument=self.name,
                command=script,
            )
        return PulseResult(level_V=level_V, width_s=float(width), current_A=float(current))

    # ------------------------------------------------------------------ internals
    def _mode_commands(self, mode: str) -> list[str]:
        func = "OUTPUT_DCVOLTS" if mode == "VOLT" else "OUTPUT_DCAMPS"
        return [f"{self.smu}.source.func = {self.smu}.{func}"]

    def _program_source(self, limit: float, rng: float, level: float) -> None:
        """Limit, range and level of the present source function (see
        :meth:`_send_source`); a fixed range turns source autorange off."""
        s = self.smu
        y, x = ("v", "i") if self._mode == "VOLT" else ("i", "v")  # sourced, limited
        self._send_source(
            f"{s}.source.limit{x} = {fmt(limit)}",
            f"{s}.source.range{y} =",
            rng,
            f"{s}.source.level{y} = {fmt(level)}",
        )
