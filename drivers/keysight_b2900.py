"""Keysight B2902A Precision Source/Measure Unit (SCPI, two channels).

Commands follow the Keysight B2900 SCPI command reference; channel ``c`` is addressed by
the numeric suffix (``:SOUR1:``, ``:SENS2:``) or a channel list (``(@1)``).
``KeysightB2902A(...)`` is the instrument; ``.channel(1)``/``.ch1`` and ``.ch2`` are its
channels, each a :class:`SourceMeter`, sharing one connection and error queue.

Every channel measures voltage and current (``:SENS:FUNC "VOLT","CURR"``) and the
instrument returns them as ``voltage,current`` (``:FORM:ELEM:SENS VOLT,CURR``, set at
connection and after reset), so ``:MEAS?`` and ``:FETC:ARR?`` need one round trip each.

After ``:INIT`` the B2902A turns the output on by itself (``:OUTP:ON:AUTO``, default
ON; B2900 SCPI command reference, OUTPut subsystem) and, unless ``:OUTP:OFF:AUTO`` is
ON, leaves it on when the channel returns to idle. The level it then sources is not
the user's either: after a list sweep it is the DC level set before the sweep (here
the first sweep level) or the last sweep point, depending on the front panel's
"Output after Sweep" (START/END), after a pulse the base, and the compliance and range
are the sweep's. So afterwards the driver programs the user's last
``source_voltage()``/``source_current()`` again and sets ``:OUTP`` explicitly to what
it was before (off, and its source put back, after a failure). See
:func:`rramlab.drivers.scpi.put_source_back`.

Pulses use the B2900's pulse generator (``:SOUR:FUNC:SHAP PULS``): base ``:SOUR:VOLT``,
peak ``:SOUR:VOLT:TRIG``, width ``:SOUR:PULS:WIDT`` (50 us minimum, 1 us resolution,
measured 10 % rise to 90 % fall). The current is integrated over the last fifth of the
pulse (at most 20 ms). The reported width is the one the instrument says it programmed
(``:SOUR:PULS:WIDT?``), i.e. the request rounded to its resolution.
"""

from __future__ import annotations

import numpy as np
import pyvisa
from pyvisa.resources import MessageBasedResource

from rramlab.drivers.scpi import (
    DEFAULT_TIMEOUT_S,
    InstrumentChannel,
    MultiChannelInstrument,
    confirmed_reset,
    fmt,
    fmt_list,
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

#: datasheet ranges (B2900A series data sheet): +/-210 V, +/-3 A DC. The 10 nA range
#: exists on the B2911A/B2912A only; the B2901A/B2902A start at 100 nA.
RANGES_B2902A = InstrumentRanges(
    max_voltage_V=210.0,
    max_current_A=3.0,
    voltage_ranges_V=(0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.5, 3.0),
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(4e-4, 100.0),
    min_pulse_width_s=50e-6,
)

MAX_LIST_POINTS = 2500  # list length of the B2900A firmware (newer firmware takes more)
LINE_PERIOD_S = 1 / 50  # the longer mains period, for time estimates
MAX_PULSE_APERTURE_S = 20e-3


class KeysightB2902A(MultiChannelInstrument):
    """A Keysight B2902A: ``.ch1``/``.ch2`` (or ``.channel(n)``) are its channels.

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
        name: str = "Keysight B2902A",
    ) -> None:
        super().__init__(
            resource,
            name=name,
            models=("B2902",),
            resource_manager=resource_manager,
            backend=backend,
            timeout_s=timeout_s,
        )
        self.connection.configure(":FORM:ELEM:SENS VOLT,CURR")
        self.ch1 = KeysightB2902AChannel(self, 1, limits)
        self.ch2 = KeysightB2902AChannel(self, 2, limits)

    def channel(self, number: int) -> KeysightB2902AChannel:
        """Channel 1 or 2."""
        if number not in (1, 2):
            raise ValueError(f"the B2902A has channels 1 and 2, not {number!r}")
        return self.ch1 if number == 1 else self.ch2

    def reset(self) -> None:
        """``*RST`` (both channels: the B2900 has no per-channel reset): outputs off."""
        # mode None: the next source_*() sets the function up again (sense functions too)
        confirmed_reset((self.ch1, self.ch2), lambda: self.connection.configure("*RST"), mode=None)
        self.connection.configure(":FORM:ELEM:SENS VOLT,CURR")


class KeysightB2902AChannel(InstrumentChannel):
    """One B2902A channel as a :class:`SourceMeter`."""

    ranges = RANGES_B2902A

    def __init__(self, instrument: KeysightB2902A, number: int, limits: SafetyLimits) -> None:
        super().__init__(instrument, f"ch{number}", limits)
        self.number = number

    def reset(self) -> None:
        """Resets the whole instrument (both channels); see :meth:`KeysightB2902A.reset`."""
        self.instrument.reset()

    # ------------------------------------------------------------------ hooks
    def _configure_measurement(self, nplc: float, current_range_A: float | None) -> None:
        c = self.number
        commands = [f":SENS{c}:CURR:NPLC {fmt(nplc)}"]
        if current_range_A is None:
            commands.append(f":SENS{c}:CURR:RANG:AUTO ON")
        else:
            commands += [
                f":SENS{c}:CURR:RANG:AUTO OFF",
                f":SENS{c}:CURR:RANG {fmt(current_range_A)}",
            ]
        self._send(commands)
        self._nplc = nplc

    def _enable_output(self, on: bool) -> None:
        self._set_output(f":OUTP{self.number} {'ON' if on else 'OFF'}", on)

    def _measure(self) -> Measurement:
        c = self.number
        if self._mode is None:  # the reply does not depend on it, the compliance query does
            self._mode = self._query_mode()
        command = f":MEAS? (@{c})"
        voltage, current = self._conn.query_numbers(command, count=2)
        limit = "CURR" if self._mode == "VOLT" else "VOLT"
        tripped = self._conn.query_flag(f":SENS{c}:{limit}:PROT:TRIP?")
        self._conn.check_errors(command)
        return Measurement(voltage_V=voltage, current_A=current, in_compliance=tripped)

    def _sweep_voltage(
        self, levels_V: np.ndarray, current_limit_A: float, delay_s: float
    ) -> SweepResult:
        n, c = levels_V.size, self.number
        self._check_sweep_points(n, MAX_LIST_POINTS)
        self._select_mode("VOLT")  # refused unsent if the output is on in current mode
        source = (current_limit_A, self._range_for(levels_V), float(levels_V[0]))
        commands = [
            f":SOUR{c}:VOLT:MODE LIST",
            f":SOUR{c}:LIST:VOLT {fmt_list(levels_V)}",
            f":TRIG{c}:SOUR AINT",
            f":TRIG{c}:COUN {n}",
            f":TRIG{c}:ACQ:DEL {fmt(delay_s)}",  # source step to start of measurement
        ]
        seconds = n * (delay_s + self._nplc * LINE_PERIOD_S + 1e-3)
        data = self._run(source, commands, n, seconds)
        return SweepResult(source_V=levels_V.copy(), voltage_V=data[:, 0], current_A=data[:, 1])

    def _pulse_voltage(
        self, level_V: float, width_s: float, current_limit_A: float, base_V: float
    ) -> PulseResult:
        c = self.number
        self._select_mode("VOLT")
        source = (current_limit_A, self._range_for([level_V, base_V]), base_V)
        aperture = min(width_s / 5, MAX_PULSE_APERTURE_S)
        commands = [
            f":SOUR{c}:FUNC:SHAP PULS",
            f":SOUR{c}:VOLT:TRIG {fmt(level_V)}",
            f":SOUR{c}:PULS:DEL 0",
            f":SOUR{c}:PULS:WIDT {fmt(width_s)}",
            f":SENS{c}:CURR:APER {fmt(aperture)}",
            f":TRIG{c}:SOUR AINT",
            f":TRIG{c}:COUN 1",
            f":TRIG{c}:ACQ:DEL {fmt(width_s - aperture)}",  # integrate over the pulse's end
        ]
        data = self._run(source, commands, 1, width_s + 0.1)
        width = self._conn.query_number(f":SOUR{c}:PULS:WIDT?")
        return PulseResult(level_V=level_V, width_s=width, current_A=float(data[0, 1]))

    # ------------------------------------------------------------------ internals
    def _run(
        self, source: tuple[float, float, float], commands: list[str], n: int, seconds: float
    ) -> np.ndarray:
        """Program the ``source`` (limit, range, level) and ``commands``, run one
        triggered acquisition of ``n`` points with the output on, fetch ``voltage,
        current`` pairs, and put the channel back: a DC source again, the user's source
        setting and the output as it was."""
        c, was_on = self.number, self.output_enabled
        fetch = f":FETC:ARR? (@{c})"

        def run() -> np.ndarray:
            self._program_source(*source)
            self._send(commands)
            if not was_on:
                self.enable_output()
            self._conn.configure(f":INIT (@{c})")
            # *OPC? answers when the acquisition is done, so it is the query that waits
            self._conn.query_flag("*OPC?", timeout_s=2 * seconds + 10)
            data = self._conn.query_numbers(fetch, count=2 * n)
            self._conn.check_errors(fetch)
            return data.reshape(n, 2)

        def dc() -> None:
            self._send(
                [
                    f":SOUR{c}:FUNC:SHAP DC",
                    f":SOUR{c}:VOLT:MODE FIX",
                    f":TRIG{c}:COUN 1",
                    f":TRIG{c}:ACQ:DEL 0",
                    f":SENS{c}:CURR:NPLC {fmt(self._nplc)}",
                ]
            )

        return run_then_restore(run, lambda failed: self._put_back(was_on, failed, dc))

    def _query_mode(self) -> str:
        command = f":SOUR{self.number}:FUNC:MODE?"
        reply = self._conn.query(command).upper()
        if reply not in ("VOLT", "CURR"):
            raise InstrumentError(
                f"unknown source function {reply!r}", instrument=self.name, command=command
            )
        return reply

    def _mode_commands(self, mode: str) -> list[str]:
        c = self.number
        return [
            f":SOUR{c}:FUNC:MODE {mode}",
            f":SOUR{c}:{mode}:RANG:AUTO OFF",
            f':SENS{c}:FUNC "VOLT","CURR"',
        ]

    def _program_source(self, limit: float, rng: float, level: float) -> None:
        """Compliance (``:SENS:<other>:PROT``), range and level of the present source
        function, ordered by :meth:`_send_source`."""
        c, mode = self.number, self._mode
        other = "CURR" if mode == "VOLT" else "VOLT"
        self._send_source(
            f":SENS{c}:{other}:PROT {fmt(limit)}",
            f":SOUR{c}:{mode}:RANG",
            rng,
            f":SOUR{c}:{mode} {fmt(level)}",
        )
