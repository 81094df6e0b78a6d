"""VISA plumbing shared by the SMU drivers (SCPI and TSP alike).

A :class:`Connection` wraps one pyvisa message-based resource and knows how to

- send a configuration command and then read the instrument's error queue, raising
  :class:`~rramlab.errors.InstrumentError` with the instrument's own code and message and
  the command that caused it (:meth:`Connection.configure`);
- send a query and validate the reply: numbers that do not parse, or the wrong number
  of them, become an ``InstrumentError`` naming the instrument and the command, never a
  bare ``ValueError``/``IndexError`` (:meth:`Connection.query_numbers` and friends);
- turn pyvisa failures into ``InstrumentError``/``InstrumentTimeout``.

After a sweep or pulse every driver puts its channel back as the user left it: the
last ``source_voltage()``/``source_current()`` (a :class:`SourceSetting`) programmed
again and the output on or off as before (:func:`put_source_back`, run through
:func:`run_then_restore` so it also happens when the sweep fails).

The drivers' channels share one base, :class:`VisaSourceMeter`: a :class:`SourceMeter`
on a connection that caches the source function and range, switches the function only
with the output off, programs limit, range and level in a safe order and puts the
user's source back after sweeps and pulses; a driver supplies its own commands. A
two-channel instrument is a :class:`MultiChannelInstrument` (the connection, identity
and error queue its :class:`InstrumentChannel` channels share).

SCPI and TSP instruments differ only in how their error queue is read, so that is a
function handed to the connection (:func:`read_scpi_errors` here; the TSP reader lives
with the 2600B driver). Numbers go on the wire through :func:`fmt`, one fixed format, so
the same call always sends the same bytes (recorded pyvisa-sim dialogues rely on it).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pyvisa
from pyvisa import constants
from pyvisa import errors as visa_errors
from pyvisa.resources import MessageBasedResource

from rramlab.drivers.source_meter import Identity, SourceMeter
from rramlab.errors import InstrumentError, InstrumentTimeout, LimitError
from rramlab.limits import SafetyLimits

#: default I/O timeout (s); long operations (sweeps) pass their own
DEFAULT_TIMEOUT_S = 10.0
#: a queue that never empties (a stuck instrument, a bad recording) must not hang a check
MAX_ERRORS_PER_CHECK = 32
#: SMUs report overflow / "not a number" as 9.9e37 (Keithley) or 9.91e37 (Keysight)
_NOT_A_NUMBER = 9.9e37

T = TypeVar("T")
#: reads and empties the error queue; returns (code, message) for every real error
ErrorReader = Callable[["Connection"], list[tuple[int, str]]]


def fmt(value: float) -> str:
    """A number as sent on the wire: 9 significant digits (finer than any SMU's
    resolution) and never ``-0``, so equal values always produce equal bytes."""
    return f"{float(value) + 0.0:.9g}"


def fmt_list(values: Iterable[float]) -> str:
    """Comma-separated :func:`fmt` values (SCPI lists, Lua table bodies)."""
    return ",".join(fmt(v) for v in values)


def parse_numbers(
    text: str, *, instrument: str, command: str, count: int | None = None
) -> np.ndarray:
    """Numbers separated by commas, tabs or spaces (SCPI and TSP ``print`` output).
    Overflow markers (|x| >= 9.9e37) become NaN. Raises :class:`InstrumentError` if a
    field is not a number or there are not exactly ``count`` of them."""
    fields = [f for f in re.split(r"[,\s]+", text.strip()) if f]
    try:
        values = np.array([float(f) for f in fields], dtype=float)
    except ValueError:
        raise InstrumentError(
            f"reply is not a list of numbers: {_clip(text)!r}",
            instrument=instrument,
            command=command,
        ) from None
    if count is not None and values.size != count:
        raise InstrumentError(
            f"expected {count} numbers, got {values.size}: {_clip(text)!r}",
            instrument=instrument,
            command=command,
        )
    values[np.abs(values) >= _NOT_A_NUMBER] = np.nan
    return values


def parse_flag(text: str, *, instrument: str, command: str) -> bool:
    """A boolean reply: ``0``/``1`` (SCPI) or ``false``/``true`` (TSP ``print``)."""
    word = text.strip().lower()
    if word in ("1", "+1", "true"):
        return True
    if word in ("0", "+0", "false"):
        return False
    raise InstrumentError(
        f"expected 0/1 or true/false, got {_clip(text)!r}", instrument=instrument, command=command
    )


def parse_scpi_error(text: str, *, instrument: str, command: str) -> tuple[int, str]:
    """``-222,"Data out of range"`` -> ``(-222, "Data out of range")``. Keithley's
    ``;severity;timestamp`` tail inside the quotes (2400 graphical series) is dropped."""
    match = re.fullmatch(r'\s*([+-]?\d+)\s*,\s*"(.*)"\s*', text, flags=re.DOTALL)
    if match is None:
        raise InstrumentError(
            f"unreadable error-queue entry {_clip(text)!r}", instrument=instrument, command=command
        )
    message = re.sub(r";\d+;\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?$", "", match.group(2))
    return int(match.group(1)), message


def read_scpi_errors(conn: Connection, query: str = "SYST:ERR?") -> list[tuple[int, str]]:
    """Read ``SYST:ERR?`` until it says code 0; return the errors read (oldest first)."""
    errors: list[tuple[int, str]] = []
    for _ in range(MAX_ERRORS_PER_CHECK):
        code, message = parse_scpi_error(conn.query(query), instrument=conn.name, command=query)
        if code == 0:
            break
        errors.append((code, message))
    return errors


def order_source_commands(
    limit_cmd: str, range_cmd: str | None, level_cmd: str, *, shrinking: bool
) -> list[str]:
    """The order to program a source: the compliance first (the new level never runs
    under an older, looser limit), then range and level so that the level always fits
    the range in effect: level before range when the range shrinks, after it otherwise.
    ``range_cmd`` is None when the range does not change."""
    if range_cmd is None:
        return [limit_cmd, level_cmd]
    if shrinking:
        return [limit_cmd, level_cmd, range_cmd]
    return [limit_cmd, range_cmd, level_cmd]


def with_restore(body: Callable[[], T], restore: Callable[[], None]) -> T:
    """Run ``body`` then ``restore`` (output off, settings back). If ``body`` fails,
    ``restore`` still runs but its own failure is only noted on the original error,
    which is the one the caller needs to see."""
    return run_then_restore(body, lambda failed: restore())


def run_then_restore(body: Callable[[], T], restore: Callable[[bool], None]) -> T:
    """:func:`with_restore` whose ``restore(failed)`` learns whether ``body`` raised."""
    try:
        result = body()
    except BaseException as exc:
        try:
            restore(True)
        except Exception as cleanup:  # the body's error matters more; keep it on top
            exc.add_note(f"while restoring the instrument afterwards: {cleanup}")
        raise
    restore(False)
    return result


@dataclass(frozen=True)
class SourceSetting:
    """A source configuration as a driver sent it for ``source_voltage()`` or
    ``source_current()``: what the user asked the instrument to source."""

    function: str  # "VOLT" (voltage source, current limit) or "CURR"
    level: float  # V or A
    limit: float  # the compliance: A for a voltage source, V for a current source
    range: float  # the fixed source range, V or A


def put_source_back(
    *,
    was_on: bool,
    failed: bool,
    setting: SourceSetting | None,
    program: Callable[[SourceSetting], None],
    set_output: Callable[[bool], None],
    cleanup: Callable[[], None] | None = None,
) -> None:
    """Put a channel back after a sweep or pulse, whatever the instrument did at its end
    (some turn the output off, some leave the last or first sweep level programmed).

    ``cleanup`` undoes the sweep's own settings; then the user's ``setting`` (if any) is
    programmed again with ``program`` and the output set with ``set_output`` to how it
    was (``was_on``), explicitly, so the driver's output state is the instrument's.
    The output is turned off *before* reprogramming when it is to end off, and on only
    *after* the user's setting is back. After a failed sweep or pulse (``failed``), or
    when putting back fails, the output ends off: any exception leaves the output off.
    With no user setting to put back (none was made since connecting or ``reset()``),
    the output ends off too: the source would otherwise keep whatever level the sweep
    ended on, which nobody asked to apply.
    """
    on = was_on and not failed and setting is not None
    try:
        if not on:
            set_output(False)
        if cleanup is not None:
            cleanup()
        if setting is not None:
            program(setting)
    except BaseException as exc:
        if on:  # the source is not what the user set: do not leave it applied
            try:
                set_output(False)
            except Exception as off:
                exc.add_note(f"turning the output off afterwards failed too: {off}")
        raise
    if on:
        set_output(True)


class Connection:
    """One open instrument: writes, queries, error-queue checks. See module docs."""

    def __init__(
        self,
        resource: MessageBasedResource,
        *,
        name: str,
        read_errors: ErrorReader = read_scpi_errors,
        owns_resource: bool = False,
        resource_manager: pyvisa.ResourceManager | None = None,
    ) -> None:
        self.resource = resource
        self.name = name
        self._read_errors = read_errors
        self._owns_resource = owns_resource
        self._rm = resource_manager  # keep alive the manager we created, if any
        self._desynced = False  # a reply may still be in flight after a timeout
        self._suspect: str | None = None  # a command that failed before the queue was read

    @classmethod
    def open(
        cls,
        resource: str | MessageBasedResource,
        *,
        name: str,
        read_errors: ErrorReader = read_scpi_errors,
        resource_manager: pyvisa.ResourceManager | None = None,
        backend: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Connection:
        """Open ``resource`` (a VISA resource string, opened with ``resource_manager`` or
        a new manager for ``backend``) or adopt an open resource. Either way both
        terminations are set to LF (raw sockets time out without a read termination)
        and the timeout to ``timeout_s`` seconds."""
        rm = None
        if isinstance(resource, str):
            rm = resource_manager or (
                pyvisa.ResourceManager(backend) if backend else pyvisa.ResourceManager()
            )
            try:
                res = rm.open_resource(resource)
            except visa_errors.Error as exc:
                raise InstrumentError(f"cannot open {resource}: {exc}", instrument=name) from exc
        else:
            if resource_manager is not None or backend is not None:
                raise TypeError("resource_manager/backend only apply to a resource string")
            res = resource
        if not isinstance(res, MessageBasedResource):
            if isinstance(resource, str):
                res.close()
            raise TypeError(f"{name} needs a message-based VISA resource, got {res!r}")
        res.read_termination = "\n"
        res.write_termination = "\n"
        res.timeout = timeout_s * 1000.0
        return cls(
            res,
            name=name,
            read_errors=read_errors,
            owns_resource=isinstance(resource, str),
            resource_manager=rm if resource_manager is None else None,
        )

    # ------------------------------------------------------------------ raw I/O
    def write(self, command: str) -> None:
        """Send one message (no error check)."""
        self._resync()
        try:
            self.resource.write(command)
        except visa_errors.Error as exc:
            raise self._translate(exc, command) from exc

    def query(self, command: str, *, timeout_s: float | None = None) -> str:
        """Send ``command`` and return the reply line, stripped. ``timeout_s`` extends
        the timeout for this query only (s)."""
        self._resync()
        old = self.resource.timeout
        if timeout_s is not None:
            self.resource.timeout = max(old, timeout_s * 1000.0)
        try:
            return self.resource.query(command).strip()
        except visa_errors.Error as exc:
            raise self._translate(exc, command) from exc
        finally:
            self.resource.timeout = old

    # ------------------------------------------------------------------ checked I/O
    def configure(self, command: str) -> None:
        """Send a configuration command, then check the error queue."""
        self.write(command)
        self.check_errors(command)

    def check_errors(self, command: str = "") -> None:
        """Read the whole error queue; raise the oldest error (code and message as the
        instrument gave them, ``command`` as the culprit) if there is any."""
        suspect, self._suspect = self._suspect, None
        errors = self._read_errors(self)
        if not errors:
            return
        if suspect is not None and suspect != command:
            # e.g. output-off after a timed-out query: the error may well be the query's
            command = f"{command} (or the failed {suspect!r} before it)"
        code, message = errors[0]
        if len(errors) > 1:
            rest = "; ".join(f"{c} {m}" for c, m in errors[1:])
            message = f"{message} (then also: {rest})"
        raise InstrumentError(message, code=code, instrument=self.name, command=command)

    def query_numbers(
        self, command: str, *, count: int | None = None, timeout_s: float | None = None
    ) -> np.ndarray:
        """Query and parse a list of numbers (exactly ``count`` if given)."""
        text = self.query(command, timeout_s=timeout_s)
        return parse_numbers(text, instrument=self.name, command=command, count=count)

    def query_number(self, command: str) -> float:
        """Query one number."""
        return float(self.query_numbers(command, count=1)[0])

    def query_flag(self, command: str, *, timeout_s: float | None = None) -> bool:
        """Query a 0/1 or true/false flag."""
        text = self.query(command, timeout_s=timeout_s)
        return parse_flag(text, instrument=self.name, command=command)

    def query_identity(self, command: str = "*IDN?") -> Identity:
        """Query and parse an IEEE 488.2 identification string."""
        text = self.query(command)
        try:
            return Identity.parse(text)
        except ValueError:
            raise InstrumentError(
                f"unexpected identification {_clip(text)!r}", instrument=self.name, command=command
            ) from None

    def identify(self, *accepted_models: str) -> Identity:
        """``*IDN?``, refusing an instrument that is not one of ``accepted_models``
        (substrings of the model field); a resource opened here is closed again then."""
        try:
            identity = self.query_identity()
            model = identity.model.upper()
            if not any(m.upper() in model for m in accepted_models):
                raise InstrumentError(
                    f"this driver speaks to {' / '.join(accepted_models)}, "
                    f"but the instrument is {identity}",
                    instrument=self.name,
                    command="*IDN?",
                )
        except InstrumentError:
            self.close()
            raise
        return identity

    def close(self) -> None:
        """Close the resource if this connection opened it."""
        if self._owns_resource:
            self.resource.close()

    # ------------------------------------------------------------------ internals
    def _translate(self, exc: visa_errors.Error, command: str) -> InstrumentError:
        self._suspect = command
        if (
            isinstance(exc, visa_errors.VisaIOError)
            and exc.error_code == constants.StatusCode.error_timeout
        ):
            # the reply may still arrive and would be taken for the next one's
            self._desynced = True
            return InstrumentTimeout(
                f"no reply within {self.resource.timeout / 1000.0:g} s",
                instrument=self.name,
                command=command,
            )
        return InstrumentError(f"I/O error: {exc}", instrument=self.name, command=command)

    def _resync(self) -> None:
        """After a timeout: device-clear (aborts a pending reply) where the interface
        supports it, then discard anything that still arrives."""
        if not self._desynced:
            return
        self._desynced = False
        try:
            self.resource.clear()
        except (NotImplementedError, visa_errors.Error):
            pass  # not every interface (raw sockets, pyvisa-sim) has device clear
        old = self.resource.timeout
        self.resource.timeout = 50.0
        try:
            for _ in range(100):
                self.resource.read_raw()
        except visa_errors.Error:
            pass  # nothing (more) to discard
        finally:
            self.resource.timeout = old


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
        """Send the output on/off ``command``; ``on`` is the state from then on."""
        self._conn.write(command)
        self._output_enabled = on  # what was sent is the state, even if the check fails
        self._conn.check_errors(command)

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


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
