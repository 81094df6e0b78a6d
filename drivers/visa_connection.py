"""One open VISA instrument: :class:`Connection` wraps a pyvisa message-based resource
and knows how to

- send a configuration command and then read the instrument's error queue, raising
  :class:`~rramlab.errors.InstrumentError` with the instrument's own code and message and
  the command that caused it (:meth:`Connection.configure`);
- send a query and validate the reply (:meth:`Connection.query_numbers` and friends;
  :mod:`rramlab.drivers.scpi_replies`);
- turn pyvisa failures into ``InstrumentError``/``InstrumentTimeout``/``ConnectionLost``,
  naming the instrument and the command;
- survive a flaky link without ever doing something twice: a query that only reads
  state (:mod:`rramlab.drivers.idempotent`) is sent again, at most
  :data:`~rramlab.drivers.idempotent.QUERY_RETRIES` more times, when its reply is lost,
  late or unreadable, after a resynchronisation (device clear, flush, stale replies
  drained); anything else (a setting, a measurement, a destructive read such as
  ``SYST:ERR?``) is sent once, and a failure around it raises an error that says
  whether it may have taken effect (docs/faults.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pyvisa
from pyvisa import constants
from pyvisa import errors as visa_errors
from pyvisa.resources import MessageBasedResource

from rramlab import instrument_lock
from rramlab.drivers.idempotent import QUERY_RETRIES, is_idempotent
from rramlab.drivers.scpi_errors import ErrorReader, read_scpi_errors
from rramlab.drivers.scpi_replies import clip, parse_flag, parse_numbers
from rramlab.drivers.source_meter import Identity
from rramlab.errors import ConnectionLost, InstrumentError, InstrumentTimeout

log = logging.getLogger(__name__)

#: default I/O timeout (s); long operations (sweeps) pass their own
DEFAULT_TIMEOUT_S = 10.0
#: while resynchronising, how long (s, at most the I/O timeout) to wait for a late reply
RESYNC_WAIT_S = 0.25

T = TypeVar("T")


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
                    f"unexpected identification {clip(text)!r}",
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


def _lock_instrument(
    resource: str, rm: pyvisa.ResourceManager, name: str
) -> instrument_lock.InstrumentLock | None:
    """Lock ``resource`` for this process before it is opened (rramlab.instrument_lock):
    a second process gets InstrumentInUseError; in-process simulations need no lock."""
    return instrument_lock.lock_visa_resource(resource, rm, instrument=name)
