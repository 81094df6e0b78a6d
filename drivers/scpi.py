"""VISA plumbing shared by the SMU drivers (SCPI and TSP alike).

A :class:`Connection` wraps one pyvisa message-based resource and knows how to

- send a configuration command and then read the instrument's error queue, raising
  :class:`~rramlab.errors.InstrumentError` with the instrument's own code and message and
  the command that caused it (:meth:`Connection.configure`);
- send a query and validate the reply: numbers that do not parse, or the wrong number
  of them, become an ``InstrumentError`` naming the instrument and the command, never a
  bare ``ValueError``/``IndexError`` (:meth:`Connection.query_numbers` and friends);
- turn pyvisa failures into ``InstrumentError``/``InstrumentTimeout``/``ConnectionLost``,
  naming the instrument and the command;
- survive a flaky link without ever doing something twice: a query that only reads
  state (:data:`IDEMPOTENT_QUERIES`) is sent again, at most :data:`QUERY_RETRIES` more
  times, when its reply is lost, late or unreadable, after a resynchronisation (device
  clear, flush, stale replies drained); anything else (a setting, a measurement, a
  destructive read such as ``SYST:ERR?``) is sent once, and a failure around it raises
  an error that says whether it may have taken effect (docs/faults.md).

After a sweep or pulse every driver puts its channel back as the user left it: the
last ``source_voltage()``/``source_current()`` (a :class:`SourceSetting`) programmed
again and the output on or off as before (:func:`put_source_back`, run through
:func:`run_then_restore` so it also happens when the sweep fails).

The drivers' channels share one base, :class:`VisaSourceMeter`: a :class:`SourceMeter`
on a connection that caches the source function and range, switches the function only
with the output off, programs limit, range and level in a safe order, puts the
user's source back after sweeps and pulses and, after turning an output off, asks the
instrument whether it really is off (:class:`~rramlab.errors.OutputStuckError` if
not); a driver supplies its own commands. A
two-channel instrument is a :class:`MultiChannelInstrument` (the connection, identity
and error queue its :class:`InstrumentChannel` channels share).

SCPI and TSP instruments differ only in how their error queue is read, so that is a
function handed to the connection (:func:`read_scpi_errors` here; the TSP reader lives
with the 2600B driver). Numbers go on the wire through :func:`fmt`, one fixed format, so
the same call always sends the same bytes (recorded pyvisa-sim dialogues rely on it).
"""

from __future__ import annotations

import contextlib
import logging
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

from rramlab import instrument_lock
from rramlab.drivers.source_meter import Identity, SourceMeter
from rramlab.errors import (
    ConnectionLost,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    OutputStuckError,
)
from rramlab.limits import SafetyLimits

log = logging.getLogger(__name__)

#: default I/O timeout (s); long operations (sweeps) pass their own
DEFAULT_TIMEOUT_S = 10.0
#: a queue that never empties (a stuck instrument, a bad recording) must not hang a check
MAX_ERRORS_PER_CHECK = 32
#: SMUs report overflow / "not a number" as 9.9e37 (Keithley) or 9.91e37 (Keysight)
_NOT_A_NUMBER = 9.9e37
#: an idempotent query is sent at most this many more times after a failed attempt
QUERY_RETRIES = 2
#: while resynchronising, how long (s, at most the I/O timeout) to wait for a late reply
RESYNC_WAIT_S = 0.25

#: Queries that only read state, so sending one again after its reply was lost, late or
#: unreadable changes nothing. Matched (case-insensitive) against the whole message.
#: Not here, on purpose: measurements (``:READ?``, ``:MEAS?``, ``smuX.measure.iv()``:
#: each one holds the source on the device for another integration time), destructive
#: reads (``SYST:ERR?``, ``errorqueue.next()``: a lost reply takes its entry with it),
#: ``*OPC?`` (it waits for an operation; a timeout there is a real problem) and
#: anything with ``;`` or a setting in it. See docs/faults.md.
IDEMPOTENT_QUERIES: tuple[str, ...] = (
    r"\*IDN\?",
    r"\*LANG\?",
    r"\*STB\?",
    r":?SYST(EM)?:ERR(OR)?:COUN(T)?\?",
    r":?OUTP(UT)?[12]?(:STAT(E)?)?\?",
    r":?SOUR(CE)?[12]?:FUNC(TION)?(:MODE)?\?",
    r":?SOUR(CE)?[12]?:PULS(E)?:WIDT(H)?\?",
    r":?SOUR(CE)?[12]?:(VOLT|CURR)(AGE|ENT)?:(ILIM|VLIM)(IT)?:TRIP(PED)?\?",
    r":?SENS(E)?[12]?:(VOLT|CURR)(AGE|ENT)?:PROT(ECTION)?:TRIP(PED)?\?",
    r":?TRAC(E)?:DATA\?[^;]*",  # reading a buffer leaves it as it is
    r":?FETC(H)?(:ARR(AY)?)?\?[^;]*",  # the last acquisition, again
    r"print\((errorqueue\.count|smu[ab]\.source\.(compliance|output))\)",
    r"waitcomplete\(\) printbuffer\([^;]*\)",
)
_IDEMPOTENT = re.compile("|".join(f"(?:{q})" for q in IDEMPOTENT_QUERIES), re.IGNORECASE)


def is_idempotent(command: str) -> bool:
    """Whether ``command`` is a query that may be sent again (:data:`IDEMPOTENT_QUERIES`)."""
    return _IDEMPOTENT.fullmatch(command.strip()) is not None


def output_state_query(off_command: str) -> str:
    """The query that reads the output state a command sets: ``:OUTP1 OFF`` ->
    ``:OUTP1?``; TSP ``smua.source.output = smua.OUTPUT_OFF`` ->
    ``print(smua.source.output)``."""
    if "=" in off_command:
        return f"print({off_command.split('=', 1)[0].strip()})"
    return off_command.split()[0] + "?"


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
        self._lost: str | None = None  # why the link is gone, once it is
        self.retries = QUERY_RETRIES
        #: how often an idempotent query was sent again, and how often that rescued it
        self.stats = {"retried": 0, "recovered": 0, "resynced": 0, "timeouts": 0}

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
            lock = _lock_instrument(resource, rm, name)  # InstrumentInUseError if taken
            try:
                res = rm.open_resource(resource)
            except visa_errors.Error as exc:
                instrument_lock.release(lock)
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
        conn = cls(
            res,
            name=name,
            read_errors=read_errors,
            owns_resource=isinstance(resource, str),
            resource_manager=rm if resource_manager is None else None,
        )
        conn.instrument_lock = lock if isinstance(resource, str) else None
        return conn

    # ------------------------------------------------------------------ raw I/O
    def write(self, command: str) -> None:
        """Send one message (no error check). Never repeated: if it fails, whether it
        reached the instrument is unknown."""
        self._check_link(command)
        self._resync(command)
        try:
            self.resource.write(command)
        except (visa_errors.Error, OSError) as exc:
            raise self._translate(exc, command) from exc

    def query(
        self, command: str, *, timeout_s: float | None = None, retry: bool | None = None
    ) -> str:
        """Send ``command`` and return the reply line, stripped. ``timeout_s`` extends
        the timeout for this query only (s). ``retry`` (default: :func:`is_idempotent`)
        sends it again, after a resynchronisation, when the reply is lost, late or not
        ASCII."""
        return self._ask(command, lambda text: text, timeout_s=timeout_s, retry=retry)

    # ------------------------------------------------------------------ checked I/O
    def configure(self, command: str) -> None:
        """Send a configuration command, then check the error queue."""
        self.write(command)
        self.check_errors(command)

    def check_errors(self, command: str = "") -> None:
        """Read the whole error queue; raise the oldest error (code and message as the
        instrument gave them, ``command`` as the culprit) if there is any. If the queue
        cannot be read (a lost or garbled reply), raise that, naming ``command``: whether
        it took effect is then unknown."""
        suspect, self._suspect = self._suspect, None
        timeouts = self.stats["timeouts"]
        try:
            errors = self._read_errors(self)
        except InstrumentError as exc:
            if not command:
                raise
            self._suspect = command  # the next check may still find its error
            raise type(exc)(
                f"the error queue could not be read ({exc.message}, {exc.command!r}), so "
                "whether it took effect is unknown",
                instrument=self.name,
                command=command,
            ) from exc
        if command and not errors and self.stats["timeouts"] > timeouts:
            # A reply went missing around the command (a hang may have swallowed it, too):
            # an empty queue read afterwards does not prove that it arrived.
            self._suspect = command
            raise InstrumentTimeout(
                "a reply was lost while the error queue was read, so whether it took "
                "effect is unknown",
                instrument=self.name,
                command=command,
            )
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
        self,
        command: str,
        *,
        count: int | None = None,
        timeout_s: float | None = None,
        retry: bool | None = None,
    ) -> np.ndarray:
        """Query and parse a list of numbers (exactly ``count`` if given). An
        idempotent query (``retry``, see :meth:`query`) is also sent again when the
        reply does not parse."""

        def parse(text: str) -> np.ndarray:
            return parse_numbers(text, instrument=self.name, command=command, count=count)

        return self._ask(command, parse, timeout_s=timeout_s, retry=retry)

    def query_number(self, command: str, *, retry: bool | None = None) -> float:
        """Query one number."""
        return float(self.query_numbers(command, count=1, retry=retry)[0])

    def query_flag(
        self, command: str, *, timeout_s: float | None = None, retry: bool | None = None
    ) -> bool:
        """Query a 0/1 or true/false flag."""

        def parse(text: str) -> bool:
            return parse_flag(text, instrument=self.name, command=command)

        return self._ask(command, parse, timeout_s=timeout_s, retry=retry)

    def query_identity(self, command: str = "*IDN?") -> Identity:
        """Query and parse an IEEE 488.2 identification string."""

        def parse(text: str) -> Identity:
            try:
                return Identity.parse(text)
            except ValueError:
                raise InstrumentError(
                    f"unexpected identification {_clip(text)!r}",
                    instrument=self.name,
                    command=command,
                ) from None

        return self._ask(command, parse, timeout_s=None, retry=None)

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
        """Close the resource if this connection opened it (and release its lock)."""
        try:
            if self._owns_resource:
                self.resource.close()
        finally:
            instrument_lock.release(getattr(self, "instrument_lock", None))

    # ------------------------------------------------------------------ internals
    def _ask(self, command: str, parse: Callable[[str], T], *, timeout_s, retry) -> T:
        """Query and parse; an idempotent query is sent again (after a resync) while
        its reply is lost, late or does not parse, at most :attr:`retries` times."""
        if retry is None:
            retry = is_idempotent(command)
        attempts = 1 + (self.retries if retry else 0)
        suspect = self._suspect
        for attempt in range(attempts):
            try:
                result = parse(self._query_once(command, timeout_s))
            except ConnectionLost:
                raise
            except InstrumentError as exc:
                # the reply was late, cut or garbled: the rest may still be on its way
                self._desynced = True
                if attempt + 1 < attempts:
                    self.stats["retried"] += 1
                    log.info("%s: %s; sending %r again", self.name, exc.message, command)
                    continue
                if attempt:
                    exc.add_note(f"sent {attempts} times, resynchronising in between")
                raise
            if attempt:
                self._suspect = suspect  # the failed attempts queued no error
                self.stats["recovered"] += 1
            return result
        raise AssertionError("unreachable")

    def _query_once(self, command: str, timeout_s: float | None) -> str:
        self._check_link(command)
        self._resync(command)
        old = self.resource.timeout
        if timeout_s is not None:
            self.resource.timeout = max(old, timeout_s * 1000.0)
        try:
            return self.resource.query(command).strip()
        except (visa_errors.Error, OSError) as exc:
            raise self._translate(exc, command) from exc
        except UnicodeDecodeError as exc:  # line noise: bytes no reply of ours contains
            raise InstrumentError(
                f"garbled reply (not ASCII: {exc.object[:40]!r})",
                instrument=self.name,
                command=command,
            ) from None
        finally:
            with contextlib.suppress(visa_errors.Error, OSError):
                self.resource.timeout = old

    def _check_link(self, command: str) -> None:
        if self._lost is not None:
            raise ConnectionLost(
                f"the connection was lost earlier ({self._lost}); open the instrument again",
                instrument=self.name,
                command=command,
            )

    def _translate(self, exc: Exception, command: str) -> InstrumentError:
        self._suspect = command
        code = getattr(exc, "error_code", None)
        if code == constants.StatusCode.error_timeout:
            # the reply may still arrive and would be taken for the next one's
            self._desynced = True
            self.stats["timeouts"] += 1
            return InstrumentTimeout(
                f"no reply within {self.resource.timeout / 1000.0:g} s",
                instrument=self.name,
                command=command,
            )
        if code == constants.StatusCode.error_connection_lost or not isinstance(
            exc, visa_errors.Error
        ):
            self._lost = str(exc) or type(exc).__name__
            return ConnectionLost(
                f"connection lost: {self._lost}", instrument=self.name, command=command
            )
        return InstrumentError(f"I/O error: {exc}", instrument=self.name, command=command)

    def _resync(self, command: str = "") -> None:
        """After a failed exchange: device clear (aborts a pending reply and ends a
        hang, where the interface has it), flush the read buffer, then discard
        whatever still arrives within :data:`RESYNC_WAIT_S`."""
        if not self._desynced:
            return
        self._desynced = False
        self.stats["resynced"] += 1
        # Raw sockets have no device clear; pyvisa-py's stand-in drains the socket and
        # never returns once the peer has closed it, so it is skipped there.
        socket = str(getattr(self.resource, "resource_name", "")).upper().endswith("::SOCKET")
        for step in (self._flush_reads,) if socket else (self.resource.clear, self._flush_reads):
            try:
                step()
            except OSError as exc:
                raise self._translate(exc, command) from exc
            except (NotImplementedError, visa_errors.Error) as exc:
                if getattr(exc, "error_code", None) == constants.StatusCode.error_connection_lost:
                    raise self._translate(exc, command) from exc
                # not every interface (pyvisa-sim) has device clear or flush
        old = self.resource.timeout
        self.resource.timeout = min(old, RESYNC_WAIT_S * 1000.0)
        try:
            for _ in range(100):
                self.resource.read_raw()
        except visa_errors.Error:
            pass  # nothing (more) to discard
        except OSError as exc:
            raise self._translate(exc, command) from exc
        finally:
            self.resource.timeout = old

    def _flush_reads(self) -> None:
        self.resource.flush(constants.BufferOperation.discard_read_buffer)


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


def _lock_instrument(
    resource: str, rm: pyvisa.ResourceManager, name: str
) -> instrument_lock.InstrumentLock | None:
    """Lock ``resource`` for this process before it is opened (rramlab.instrument_lock):
    a second process gets InstrumentInUseError; in-process simulations need no lock."""
    return instrument_lock.lock_visa_resource(resource, rm, instrument=name)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
