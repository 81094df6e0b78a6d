"""Execution of SCPI program messages: the base class of every simulated SCPI instrument.

:class:`ScpiInstrument` is a :class:`~rramlab.sim.message.MessageInstrument`. A
personality subclasses it, registers its commands on :attr:`ScpiInstrument.tree` (see
:mod:`rramlab.sim.scpi.tree`) and overrides :meth:`~ScpiInstrument.reset` (``*RST``) and
:meth:`~ScpiInstrument.before_command` (e.g. to let command time pass on its channels).

Message rules implemented (IEEE 488.2 ch. 6-7, SCPI-99 ch. 6):

- Units separated by ``;`` run in order. A header without a leading ``:`` is relative
  to the current path, the previous header minus its last mnemonic; a leading ``:``
  starts from the root; common commands (``*XXX``) leave the path alone. With
  ``lenient_paths`` (default) a relative header not found there is also tried below the
  previous header's last mnemonic, so ``:SOUR:VOLT 1;ILIM 1e-3`` reaches
  ``:SOUR:VOLT:ILIM`` (a strict parser would look for ``:SOUR:ILIM``).
- A command error (-1xx) discards the rest of the message; an execution error (-2xx)
  does not. Errors go to the error queue and set their ESR bit; nothing escapes
  :meth:`~ScpiInstrument.write`.
- The responses of one message are joined with ``;`` into one response line. A new
  message while a response is unread discards it: -410 Query INTERRUPTED.
- Messages longer than ``max_message_chars`` are dropped with -363 Input buffer overrun.
- An empty message is legal and does nothing. A newline inside a message ends it, so a
  binary block holding a newline byte cannot be sent through this str interface.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from rramlab.sim.scpi.call import Call
from rramlab.sim.scpi.common import (
    add_common_commands,
    add_status_commands,
    add_system_error_commands,
)
from rramlab.sim.scpi.errors import ErrorQueue, ScpiError, is_command_error, message_for
from rramlab.sim.scpi.lexer import Unit, parse_units
from rramlab.sim.scpi.responses import ResponseStyle
from rramlab.sim.scpi.status import StatusRegisters
from rramlab.sim.scpi.tree import Command, CommandTree

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 65536  # input buffer of the simulated instruments (64 KiB)


class _DiscardRest(Exception):
    """A command error: stop executing the current message."""


class ScpiInstrument:
    """A simulated instrument that speaks SCPI.

    ``name`` is a short human name, ``idn`` the ``*IDN?`` reply, ``style`` how numbers
    and error entries are written. ``error_queue_size`` entries fit in the error queue.
    """

    def __init__(
        self,
        name: str,
        idn: str,
        *,
        style: ResponseStyle | None = None,
        error_queue_size: int = 10,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        lenient_paths: bool = True,
    ) -> None:
        self.name = name
        self.idn = idn
        self.style = style if style is not None else ResponseStyle()
        self.max_message_chars = max_message_chars
        self.lenient_paths = lenient_paths
        self.tree = CommandTree()
        self.errors = ErrorQueue(error_queue_size)
        self.status = StatusRegisters()
        self._output: deque[str] = deque()
        self._pending: list[str] = []  # responses of the message being executed
        self._lock = threading.RLock()  # transports may serve from several threads
        add_common_commands(self)
        add_system_error_commands(self)
        add_status_commands(self)

    # ------------------------------------------------------------------ personality hooks
    def reset(self) -> None:
        """``*RST``: settings to their defaults. Personalities override this."""

    def before_command(self, call: Call) -> None:
        """Called before each command or query runs (personalities spend time here)."""

    def self_test(self) -> int:
        """``*TST?``: 0 means passed."""
        return 0

    # ------------------------------------------------------------------ MessageInstrument
    def write(self, message: str) -> None:
        """Execute one program message (terminator removed). Never raises."""
        if isinstance(message, bytes | bytearray):  # a careless transport: keep serving
            message = bytes(message).decode("latin-1")
        with self._lock:
            if self._output:  # the controller did not read the last response
                self._output.clear()
                self.push_error(-410)
            if len(message) > self.max_message_chars:
                self.push_error(-363)
                return
            # A newline terminates a message: treat each line as its own message.
            for line in message.split("\n"):
                self._execute(line)

    def read(self) -> str | None:
        """The next response line, or None when none is queued."""
        with self._lock:
            return self._output.popleft() if self._output else None

    def clear(self) -> None:
        """Device clear: drop unread responses; settings and status stay."""
        with self._lock:
            self._output.clear()

    def input_overrun(self) -> None:
        """What a transport calls when it dropped a message too long for its own input
        buffer before it reached :meth:`write`: -363 Input buffer overrun."""
        with self._lock:
            self.push_error(-363)

    def query_unterminated(self) -> None:
        """What a transport calls when the controller reads with nothing to read and
        nothing pending (a GPIB talk addressing): IEEE 488.2 -420 Query UNTERMINATED."""
        with self._lock:
            self.push_error(-420)

    # ------------------------------------------------------------------ status helpers
    def push_error(self, code: int, message: str | None = None) -> None:
        """Queue ``code`` and set its ESR bit (and the overflow's, if it did not fit)."""
        self.status.record_error(code)
        if not self.errors.push(code, message if message is not None else message_for(code)):
            self.status.record_error(-350)

    def clear_status(self) -> None:
        """``*CLS``: empty the error queue and clear the event registers."""
        self.errors.clear()
        self.status.clear_events()

    def status_byte(self) -> int:
        return self.status.status_byte(
            errors_queued=len(self.errors) > 0,
            message_available=bool(self._output) or bool(self._pending),
        )

    # ------------------------------------------------------------------ execution
    def _execute(self, message: str) -> None:
        self._pending = []
        path: tuple[str, ...] = ()
        try:
            for unit in parse_units(message):
                path = self._execute_unit(unit, path)
        except ScpiError as error:  # a syntax error found by the parser
            self.push_error(error.code, error.message)
        except _DiscardRest:
            pass
        if self._pending:
            self._output.append(";".join(self._pending))
        self._pending = []

    def _execute_unit(self, unit: Unit, path: tuple[str, ...]) -> tuple[str, ...]:
        """Run one unit; returns the current path for the next unit."""
        header = unit.header
        new_path = path
        try:
            command, suffixes, new_path = self._resolve(unit, path)
            handler = command.query if header.query else command.command
            if handler is None:
                raise ScpiError(-113, f"{unit.text}: no {'query' if header.query else 'set'}")
            lo, hi = command.query_args if header.query else command.args
            if len(unit.params) < lo:
                raise ScpiError(-109, unit.text)
            if len(unit.params) > hi:
                raise ScpiError(-108, unit.text)
            call = Call(":".join(new_path), header.query, unit.params, self.style, suffixes)
            self.before_command(call)
            response = handler(call)
            if header.query:
                self._pending.append(response if response is not None else "")
            return new_path
        except ScpiError as error:
            self.push_error(error.code, error.message)
            if is_command_error(error.code):
                raise _DiscardRest from None
            return new_path  # an execution error leaves a valid header: the path moves on
        except Exception:  # a bug in a handler must not kill the transport
            log.exception("%s: %s failed", self.name, unit.text)
            self.push_error(-200)
            return new_path

    def _resolve(
        self, unit: Unit, path: tuple[str, ...]
    ) -> tuple[Command, dict[str, int], tuple[str, ...]]:
        header = unit.header
        if header.common:
            command = self.tree.common(header.mnemonics[0])
            if command is None:
                raise ScpiError(-113, unit.text)
            return command, {}, path
        candidates = [header.mnemonics]
        if not header.absolute and path:
            candidates = [path[:-1] + header.mnemonics]
            if self.lenient_paths:
                candidates.append(path + header.mnemonics)
        for tokens in candidates:
            found = self.tree.lookup(tokens)
            if found is not None:
                return found[0], found[1], tokens
        raise ScpiError(-113, unit.text)
