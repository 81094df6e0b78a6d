"""The drivers' channels: :class:`VisaSourceMeter`, a :class:`SourceMeter` on a
:class:`~rramlab.drivers.visa_connection.Connection` that caches the source function
and range, switches the function only with the output off, programs limit, range and
level in a safe order, puts the user's source back after sweeps and pulses
(:mod:`rramlab.drivers.source_restore`) and, after turning an output off, asks the
instrument whether it really is off (:class:`~rramlab.errors.OutputStuckError` if
not); a driver supplies its own commands. A two-channel instrument is a
:class:`MultiChannelInstrument` (the connection, identity and error queue its
:class:`InstrumentChannel` channels share). A reset marks outputs off only once the
instrument confirmed it (:func:`confirmed_reset`)."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Iterable

import numpy as np
import pyvisa
from pyvisa.resources import MessageBasedResource

from rramlab.drivers.scpi_errors import ErrorReader, read_scpi_errors
from rramlab.drivers.scpi_replies import fmt
from rramlab.drivers.source_meter import Identity, SourceMeter
from rramlab.drivers.source_restore import SourceSetting, order_source_commands, put_source_back
from rramlab.drivers.visa_connection import DEFAULT_TIMEOUT_S, Connection
from rramlab.errors import ConnectionLost, InstrumentError, LimitError, OutputStuckError
from rramlab.limits import SafetyLimits

log = logging.getLogger(__name__)


def output_state_query(off_command: str) -> str:
    """The query that reads the output state a command sets: ``:OUTP1 OFF`` ->
    ``:OUTP1?``; TSP ``smua.source.output = smua.OUTPUT_OFF`` ->
    ``print(smua.source.output)``."""
    if "=" in off_command:
        return f"print({off_command.split('=', 1)[0].strip()})"
    return off_command.split()[0] + "?"


class VisaSourceMeter(SourceMeter):
    """A :class:`SourceMeter` channel driven over a :class:`Connection` (see module docs).

    It caches the source function (``_mode``: "VOLT" or "CURR", None if unknown), the
    fixed source range and the integration time, and remembers the user's last source
    setting. A driver implements :meth:`_mode_commands` and :meth:`_program_source` with
    its own commands, besides the :class:`SourceMeter` hooks.
    """

    def __init__(self, *, limits: SafetyLimits, name: str, connection: Connection) -> None:
        super().__init__(limits=limits, name=name)
        self._conn = connection
        self._mode: str | None = None  # the source function, None if unknown
        self._source_range: float | None = None  # present fixed source range, None if unknown
        self._nplc = 1.0  # the reset default, for time estimates
        self._user_source: SourceSetting | None = None  # put back after sweeps and pulses

    def check_errors(self) -> None:
        self._conn.check_errors()

    # ------------------------------------------------------------------ hooks
    def _source_voltage(self, level_V: float, current_limit_A: float, range_V: float) -> None:
        self._apply_source(SourceSetting("VOLT", level_V, current_limit_A, range_V))

    def _source_current(self, level_A: float, voltage_limit_V: float, range_A: float) -> None:
        self._apply_source(SourceSetting("CURR", level_A, voltage_limit_V, range_A))

    @abstractmethod
    def _mode_commands(self, mode: str) -> list[str]:
        """The commands that switch the source function to ``mode`` ("VOLT" or "CURR")."""

    @abstractmethod
    def _program_source(self, limit: float, rng: float, level: float) -> None:
        """Limit, range and level of the present source function (with
        :meth:`_send_source`)."""

    # ------------------------------------------------------------------ shared steps
    def _apply_source(self, setting: SourceSetting) -> None:
        """Source function, then limit, range and level of ``setting``; remembered as the
        user's source, to put back after sweeps and pulses."""
        self._select_mode(setting.function)
        self._user_source = setting
        self._program_source(setting.limit, setting.range, setting.level)

    def _set_output(self, command: str, on: bool) -> None:
        """Send the output on/off ``command``.

        On: the driver believes the output is on as soon as the command may have left,
        so a failure never hides a live output. Off: the driver then asks the
        instrument (:meth:`output_query`) and believes the answer; still on raises
        :class:`~rramlab.errors.OutputStuckError`. If the off command or its error check
        fails, the answer sets the belief (unreadable: on) and the failure is raised,
        unless it was only the link's (a lost or garbled reply, not an error the
        instrument reported) and the output is off: then the off took effect, and that
        is logged and accepted.
        """
        if on:
            self._output_enabled = True
            self._conn.write(command)
            self._conn.check_errors(command)
            return
        query = self.output_query(command)
        try:
            self._conn.write(command)
            self._conn.check_errors(command)
        except InstrumentError as failure:
            if query is None or isinstance(failure, ConnectionLost):
                raise  # the belief stays as it was: on, if it was on
            try:
                still_on = self._output_is_on(query)
            except InstrumentError as unreadable:
                self._output_enabled = True  # unknown: assume the worst
                failure.add_note(f"the output state could not be read back: {unreadable}")
                raise failure from None
            self._output_enabled = still_on
            if still_on:
                failure.add_note(f"{query} says the output is still on")
                raise
            if failure.code is not None:  # the instrument reported an error: tell
                raise
            log.warning("%s; %s says the output is off", failure, query)
            return
        if query is None:
            self._output_enabled = False
            return
        self._output_enabled = self._output_is_on(query)
        if self._output_enabled:
            raise OutputStuckError(
                f"the output is still on ({query} says so); "
                "check the instrument before touching the device",
                instrument=self.name,
                command=command,
            )

    def output_query(self, off_command: str) -> str | None:
        """The query that reads back the output state after ``off_command`` (None: the
        instrument cannot tell, and the state is not verified)."""
        return output_state_query(off_command)

    def _output_is_on(self, query: str) -> bool:
        """Ask the instrument whether the output is on (retried: a state query)."""
        value = self._conn.query_numbers(query, count=1, retry=True)[0]
        if not np.isfinite(value):
            raise InstrumentError(
                f"output state reply {value!r} is not 0 or 1", instrument=self.name, command=query
            )
        return bool(value != 0)

    def _select_mode(self, mode: str) -> None:
        """Switch the source function to ``mode`` if needed; refused, unsent, while the
        output is on in the other function."""
        if self._mode == mode:
            return
        if self._mode is not None and self._output_enabled:
            # the instrument might drop the output; a V source silently becoming an I
            # source is not something to do to a device under test anyway
            raise LimitError(f"{self.name}: turn the output off before switching V/I source")
        self._send(self._mode_commands(mode))
        self._mode, self._source_range = mode, None

    def _send_source(self, limit_cmd: str, range_head: str, rng: float, level_cmd: str) -> None:
        """Send compliance ``limit_cmd``, range ``rng`` (``range_head`` and the value, only
        if it changes) and ``level_cmd``, ordered by :func:`order_source_commands`."""
        old = self._source_range
        range_cmd = None if old == rng else f"{range_head} {fmt(rng)}"
        shrinking = old is not None and rng < old
        self._send(order_source_commands(limit_cmd, range_cmd, level_cmd, shrinking=shrinking))
        self._source_range = rng

    def _range_for(self, levels_V) -> float:
        """The smallest voltage range that holds the largest of ``levels_V`` (V)."""
        peak = float(np.max(np.abs(levels_V)))
        return self._pick_range(None, peak, self.ranges.voltage_ranges_V, "range")

    def _check_sweep_points(self, n: int, most: int) -> None:
        """Refuse a sweep of ``n`` points when the instrument takes at most ``most``."""
        if n > most:
            raise LimitError(f"{self.name} sweeps at most {most} points, got {n}")

    def _put_back(
        self, was_on: bool, failed: bool, cleanup: Callable[[], None] | None = None
    ) -> None:
        """After a sweep or pulse: see :func:`put_source_back`."""
        put_source_back(
            was_on=was_on,
            failed=failed,
            setting=self._user_source,
            program=self._apply_source,
            set_output=self._enable_output,
            cleanup=cleanup,
        )

    def _send(self, commands: list[str]) -> None:
        """Configure command by command; after a failure the cached state is unknown."""
        try:
            for command in commands:
                self._conn.configure(command)
        except InstrumentError:
            self._mode, self._source_range = None, None
            raise


class MultiChannelInstrument:
    """An instrument whose channels share one connection, identity and error queue.

    ``resource`` is an open pyvisa message-based resource or a VISA resource string
    (opened with ``resource_manager`` or a new manager for ``backend``); ``timeout_s`` is
    the I/O timeout in seconds. An instrument that is not one of ``models`` is refused.
    """

    def __init__(
        self,
        resource: str | MessageBasedResource,
        *,
        name: str,
        models: tuple[str, ...],
        read_errors: ErrorReader = read_scpi_errors,
        resource_manager: pyvisa.ResourceManager | None = None,
        backend: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.connection = Connection.open(
            resource,
            name=name,
            read_errors=read_errors,
            resource_manager=resource_manager,
            backend=backend,
            timeout_s=timeout_s,
        )
        self.identity = self.connection.identify(*models)

    def check_errors(self) -> None:
        self.connection.check_errors()

    def close(self) -> None:
        """Close the VISA resource if this driver opened it (outputs are left as they are)."""
        self.connection.close()


class InstrumentChannel(VisaSourceMeter):
    """One channel of a :class:`MultiChannelInstrument`, named ``"<instrument> <label>"``."""

    def __init__(
        self, instrument: MultiChannelInstrument, label: str, limits: SafetyLimits
    ) -> None:
        name = f"{instrument.name} {label}"
        super().__init__(limits=limits, name=name, connection=instrument.connection)
        self.instrument = instrument

    @property
    def identity(self) -> Identity:
        return self.instrument.identity


def confirmed_reset(
    channels: Iterable[VisaSourceMeter], send: Callable[[], None], *, mode: str | None
) -> None:
    """Reset ``channels`` with ``send()`` (a checked ``*RST`` or ``smuX.reset()``) and
    only once it is confirmed believe their outputs off and their settings the reset's
    (source function ``mode``, None: unknown). If ``send`` fails, whether the reset ran
    is unknown (a hang may have swallowed it, a stuck output outlives it): an output
    believed on stays believed on, and the cached function and range are forgotten.
    Either way the reset's defaults are nobody's source setting: nothing is put back
    after a later sweep."""
    channels = list(channels)
    for ch in channels:
        ch._user_source = None
    try:
        send()
    except InstrumentError:
        for ch in channels:
            ch._mode, ch._source_range = None, None
        raise
    for ch in channels:
        ch._output_enabled = False
        ch._mode, ch._source_range, ch._nplc = mode, None, 1.0
