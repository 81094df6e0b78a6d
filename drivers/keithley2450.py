"""Keithley 2450 SourceMeter, native SCPI command set (``*LANG SCPI``).

One channel, so the instrument object is itself the :class:`SourceMeter`. Commands follow
the 2450 reference manual (2450-901-01), section 6. Sweeps and pulses run on the
instrument's trigger model (``:SOUR:SWE:VOLT:LIST``) and come back from ``defbuffer1``
in one ``:TRAC:DATA?`` round trip.

End of a sweep or pulse: a sweep command (``:SOURce:SWEep:<f>:LIST``, manual 6-85)
replaces the trigger model with a generated one that steps through a source
configuration list, and the output state is one of the settings such a list holds
(``:OUTPut[:STATe]``, manual 6-34: affected by and saved in a source configuration
list). The generated model turns the output on for the sweep; the simulated 2450 ends
it with the output off, as Keithley's trigger-model sweep examples do with a final
source-output block, and the driver relies on neither. The source is left at the last
point's level with the sweep's limit and range, not what the user set. So afterwards
the driver programs the user's last ``source_voltage()``/``source_current()`` again and
sets ``:OUTP`` explicitly to what it was before (off, with the user's source
programmed, after a failure). See :func:`rramlab.drivers.scpi.put_source_back`.

Pulses: the 2450 has no pulse generator, so a pulse is a two-point list sweep
(level, base) whose per-point delay is the requested width. The level is therefore held
for the delay *plus* one 0.01 PLC current measurement at its end *plus* trigger-model
overhead (about 1-2 ms in total on real units). The reported width is not the request
but the instrument's own clock: the difference between the relative timestamps of the
two sweep points, i.e. the time from the step to the level until the step back to base.
"""

from __future__ import annotations

import math

import numpy as np
import pyvisa
from pyvisa.resources import MessageBasedResource

from rramlab.drivers.scpi import (
    DEFAULT_TIMEOUT_S,
    Connection,
    VisaSourceMeter,
    confirmed_reset,
    fmt,
    fmt_list,
    run_then_restore,
)
from rramlab.drivers.source_meter import (
    Identity,
    InstrumentRanges,
    Measurement,
    PulseResult,
    SweepResult,
)
from rramlab.errors import InstrumentError, LimitError
from rramlab.limits import SafetyLimits

#: datasheet ranges (2450 specifications): +/-210 V, +/-1.05 A
RANGES_2450 = InstrumentRanges(
    max_voltage_V=210.0,
    max_current_A=1.05,
    voltage_ranges_V=(0.02, 0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0),
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(0.01, 10.0),
    min_pulse_width_s=1e-3,  # below this the fixed trigger-model overhead dominates
)

BUFFER = '"defbuffer1"'
LIST_CHUNK = 100  # :SOUR:LIST:VOLT[:APP] take at most 100 values per command
MAX_LIST_POINTS = 2500  # a source list holds at most 2500 values
MIN_SWEEP_DELAY_S, MAX_SWEEP_DELAY_S = 50e-6, 10e3  # the sweep delay block: 0 or this range
PULSE_NPLC = 0.01  # the shortest integration, so the end-of-pulse reading adds least
LINE_PERIOD_S = 1 / 50  # the longer of the two mains periods, for time estimates


class Keithley2450(VisaSourceMeter):
    """A Keithley 2450 SourceMeter (one channel).

    ``resource`` is an open pyvisa message-based resource or a VISA resource string
    (opened with ``resource_manager``, or a new manager for ``backend``, e.g.
    ``"@py"``). ``timeout_s`` is the I/O timeout in seconds.
    """

    ranges = RANGES_2450

    def __init__(
        self,
        resource: str | MessageBasedResource,
        *,
        limits: SafetyLimits,
        resource_manager: pyvisa.ResourceManager | None = None,
        backend: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str = "Keithley 2450",
    ) -> None:
        self.connection = Connection.open(
            resource,
            name=name,
            resource_manager=resource_manager,
            backend=backend,
            timeout_s=timeout_s,
        )
        super().__init__(limits=limits, name=name, connection=self.connection)
        self._identity = self.connection.identify("2450")
        language = self.connection.query("*LANG?")
        if language.upper() != "SCPI":
            self.connection.close()
            raise InstrumentError(
                f"the 2450 runs the {language} command set; switch it to SCPI "
                "(MENU > System > Settings > Command Set) and power-cycle it",
                instrument=name,
                command="*LANG?",
            )

    # ------------------------------------------------------------------ identity
    @property
    def identity(self) -> Identity:
        return self._identity

    def reset(self) -> None:
        """``*RST``: output off, source voltage / sense current, autoranges, 1 PLC."""
        confirmed_reset([self], lambda: self.connection.configure("*RST"), mode="VOLT")

    def close(self) -> None:
        """Close the VISA resource if this driver opened it (the output is left as is)."""
        self.connection.close()

    # ------------------------------------------------------------------ hooks
    def _configure_measurement(self, nplc: float, current_range_A: float | None) -> None:
        commands = [f":SENS:CURR:NPLC {fmt(nplc)}"]
        if current_range_A is None:
            commands.append(":SENS:CURR:RANG:AUTO ON")
        else:
            commands.append(f":SENS:CURR:RANG {fmt(current_range_A)}")  # turns autorange off
        if self._mode == "CURR":  # sensing voltage: its integration time must follow too
            commands.append(f":SENS:VOLT:NPLC {fmt(nplc)}")
        self._send(commands)
        self._nplc = nplc

    def _enable_output(self, on: bool) -> None:
        self._set_output(":OUTP ON" if on else ":OUTP OFF", on)

    def _measure(self) -> Measurement:
        if self._mode is None:
            raise InstrumentError(
                "source function unknown: call reset(), source_voltage() or "
                "source_current() before measure()",
                instrument=self.name,
            )
        command = f":READ? {BUFFER}, READ, SOUR"
        reading, source = self.connection.query_numbers(command, count=2)
        trip = ":SOUR:VOLT:ILIM:TRIP?" if self._mode == "VOLT" else ":SOUR:CURR:VLIM:TRIP?"
        tripped = self.connection.query_flag(trip)
        self.connection.check_errors(command)
        # readback is on (the *RST default): SOUR is the measured source value
        if self._mode == "VOLT":
            return Measurement(voltage_V=source, current_A=reading, in_compliance=tripped)
        return Measurement(voltage_V=reading, current_A=source, in_compliance=tripped)

    def _sweep_voltage(
        self, levels_V: np.ndarray, current_limit_A: float, delay_s: float
    ) -> SweepResult:
        n = levels_V.size
        self._check_sweep_points(n, MAX_LIST_POINTS)
        if not (delay_s == 0 or MIN_SWEEP_DELAY_S <= delay_s <= MAX_SWEEP_DELAY_S):
            raise LimitError(
                f"{self.name} sweep delays are 0 or {MIN_SWEEP_DELAY_S:g}..{MAX_SWEEP_DELAY_S:g}"
                f" s, got {delay_s:g}"
            )
        seconds = n * (delay_s + 2 * self._nplc * LINE_PERIOD_S + 5e-3)
        was_on = self.output_enabled
        self._select_mode("VOLT")  # refused unsent if the output is on in current mode

        def run() -> np.ndarray:
            self._prepare_list(levels_V, current_limit_A, delay_s, float(levels_V[0]))
            return self._run_list(n, "READ, SOUR", seconds)

        data = run_then_restore(run, lambda failed: self._put_back(was_on, failed))
        return SweepResult(source_V=levels_V.copy(), voltage_V=data[:, 1], current_A=data[:, 0])

    def _pulse_voltage(
        self, level_V: float, width_s: float, current_limit_A: float, base_V: float
    ) -> PulseResult:
        nplc, was_on = self._nplc, self.output_enabled
        self._select_mode("VOLT")

        def run() -> np.ndarray:
            # no source auto-delay and no readback measurement: the shortest hold the
            # trigger model can make; the sweep's own delay block then holds the level
            fast = [":SOUR:VOLT:DEL 0", ":SOUR:VOLT:READ:BACK OFF"]
            self._send([*fast, f":SENS:CURR:NPLC {fmt(PULSE_NPLC)}"])
            self._prepare_list(np.array([level_V, base_V]), current_limit_A, width_s, base_V)
            return self._run_list(2, "READ, REL", 2 * width_s + 0.1)

        def slow() -> None:
            back = [":SOUR:VOLT:READ:BACK ON", ":SOUR:VOLT:DEL:AUTO ON"]
            self._send([f":SENS:CURR:NPLC {fmt(nplc)}", *back])

        data = run_then_restore(run, lambda failed: self._put_back(was_on, failed, slow))
        width = float(data[1, 1] - data[0, 1])  # step to the level until step back to base
        if not (math.isfinite(width) and width > 0):
            raise InstrumentError(
                f"pulse timestamps make no sense: {data[:, 1].tolist()}",
                instrument=self.name,
                command=":TRAC:DATA?",
            )
        return PulseResult(level_V=level_V, width_s=width, current_A=float(data[0, 0]))

    # ------------------------------------------------------------------ internals
    def _mode_commands(self, mode: str) -> list[str]:
        """The source function and the matching sense function."""
        if mode == "VOLT":
            return [":SOUR:FUNC VOLT", ':SENS:FUNC "CURR"']
        return [
            ":SOUR:FUNC CURR",
            ':SENS:FUNC "VOLT"',
            f":SENS:VOLT:NPLC {fmt(self._nplc)}",
            ":SENS:VOLT:RANG:AUTO ON",
        ]

    def _program_source(self, limit: float, rng: float, level: float) -> None:
        f = self._mode
        self._send_source(
            f":SOUR:{f}:{'ILIM' if f == 'VOLT' else 'VLIM'} {fmt(limit)}",
            f":SOUR:{f}:RANG",
            rng,
            f":SOUR:{f} {fmt(level)}",
        )

    def _prepare_list(
        self, levels_V: np.ndarray, current_limit_A: float, delay_s: float, start_V: float
    ) -> None:
        """Program compliance, range and the ``start_V`` level (the configuration list
        captures the source settings in effect), then the list sweep itself."""
        self._select_mode("VOLT")
        self._program_source(current_limit_A, self._range_for(levels_V), start_V)
        commands = []
        for start in range(0, levels_V.size, LIST_CHUNK):
            head = ":SOUR:LIST:VOLT" if start == 0 else ":SOUR:LIST:VOLT:APP"
            commands.append(f"{head} {fmt_list(levels_V[start : start + LIST_CHUNK])}")
        commands += [
            f":SOUR:SWE:VOLT:LIST 1, {fmt(delay_s)}, 1, OFF, {BUFFER}",
            f":TRAC:CLE {BUFFER}",
        ]
        self._send(commands)

    def _run_list(self, n: int, elements: str, seconds: float) -> np.ndarray:
        """Run the prepared sweep with the output on; return an (n, 2) array of the
        two buffer ``elements``. The caller puts the output and source back."""
        command = f":TRAC:DATA? 1, {n}, {BUFFER}, {elements}"
        if not self.output_enabled:
            self.enable_output()
        self.connection.configure(":INIT")
        self.connection.write("*WAI")  # the next query waits for the sweep to end
        data = self.connection.query_numbers(command, count=2 * n, timeout_s=2 * seconds + 10)
        self.connection.check_errors(command)
        return data.reshape(n, 2)
