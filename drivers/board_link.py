"""The host side of the array-board link (docs/board-protocol.md, sections 1-3):
command lines, reply lines, CRC-checked binary blocks, retransmission and
resynchronisation.

:class:`BoardLink` knows the framing and nothing of what the commands mean. It works on
any pyserial port object (a real serial port, ``socket://`` or ``rramsim://``).

What it does when the link misbehaves (docs/faults.md):

- ``ERR 201`` from the board (our block arrived corrupted; the board changed nothing):
  the command and block are sent again, whatever the command, up to
  :data:`RETRANSMISSIONS` times.
- A reply that is lost (timeout), cut short, garbled (not ASCII, malformed) or whose
  block fails its CRC: the command may or may not have run. The link first
  resynchronises (:meth:`BoardLink.resync`); then a command marked repeatable
  (``retry=True``: queries and reads) is sent again, up to :data:`RETRANSMISSIONS`
  times, and any other (pulses, write-verify, settings) raises, saying so.
- The port fails (a USB serial adapter unplugged, a socket closed): every call raises
  :class:`~rramlab.errors.ConnectionLost` naming the board, until the port is opened
  again (``ArrayBoard.reconnect()``).
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from dataclasses import dataclass

import numpy as np

from rramlab.errors import ConnectionLost, InstrumentError, InstrumentTimeout

MAX_LINE_BYTES = 4096  # the protocol's limit for a command line (and our reply limit)
RETRANSMISSIONS = 3  # resends after a checksum mismatch or a lost reply before giving up
CRC_MISMATCH = 201
#: stale reply lines a resynchronisation reads past at most before giving up
MAX_STALE_LINES = 64

_BLOCK_TAIL = re.compile(r"\bBLOCK (\d+) ([0-9a-f]{8})$")

log = logging.getLogger(__name__)


class BoardError(InstrumentError):
    """The board answered ``ERR <code> <message>``. ``block`` holds the binary block that
    came with the error reply, if any (e.g. clamped INV outputs)."""

    def __init__(
        self, message: str, *, code: int, instrument: str, command: str, block: bytes | None = None
    ) -> None:
        super().__init__(message, code=code, instrument=instrument, command=command)
        self.block = block


class ReplyCorruptedError(InstrumentError):
    """A reply block from the board failed its CRC: the command did run, its data is
    lost. Raised to the caller for commands that are never re-sent (pulses,
    write-verify); idempotent reads are retried instead."""


@dataclass(frozen=True)
class Reply:
    """A reply line without its ``OK`` and block announcement, and the block if any."""

    fields: list[str]
    block: bytes | None


def crc_hex(data: bytes) -> str:
    """CRC-32 (IEEE 802.3, as zlib) of ``data`` as 8 lowercase hex digits."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


def float32_block(values: np.ndarray) -> bytes:
    """Little-endian float32 bytes of ``values`` (row-major)."""
    return np.ascontiguousarray(values, dtype="<f4").tobytes()


class BoardLink:
    """One board connection. ``port`` is an open pyserial port object whose ``timeout``
    bounds every read; ``name`` appears in error messages. ``marker`` is the board's
    ``*IDN?`` line once known: :meth:`resync` reads up to it."""

    def __init__(self, port, *, name: str) -> None:
        self.port = port
        self.name = name
        self.marker: str | None = None
        self.stats = {"retransmitted": 0, "retried": 0, "resynced": 0}
        self._desynced = False  # a reply may still be on its way: resync before sending
        self._lost: str | None = None

    # ------------------------------------------------------------------ exchanges
    def command(self, line: str, block: bytes | None = None, *, retry: bool = True) -> Reply:
        """Send one command line (with its block) and return the reply.

        ``ERR 201`` (the board refused a corrupted block) is always retransmitted;
        ``retry`` (commands whose repetition changes nothing: queries, reads) also sends
        the command again after a lost, garbled or corrupted reply. Other ``ERR``
        replies raise :class:`BoardError`; see the module docstring for the rest.
        """
        if "\n" in line or "\r" in line:
            raise ValueError(f"a command line cannot contain a line break: {line!r}")
        return self._repeat(line, lambda: self._exchange(line, block), retry)

    def query_line(self, line: str, *, retry: bool = True) -> str:
        """Send a line whose reply is a bare line (``*IDN?``) and return it."""
        return self._repeat(line, lambda: self._bare(line), retry)

    def _repeat(self, line, exchange, retry: bool):
        for attempt in range(1 + RETRANSMISSIONS):
            last = attempt == RETRANSMISSIONS
            self._sync(line)  # raises before anything of this command is sent
            try:
                return exchange()
            except ConnectionLost:
                raise
            except BoardError as error:
                if error.code != CRC_MISMATCH or last:
                    raise
                self.stats["retransmitted"] += 1  # the board changed nothing: send again
                self.port.reset_input_buffer()
            except InstrumentError as error:  # lost, late, garbled or corrupted reply
                self._desynced = True
                if not retry:
                    error.add_note(
                        f"{_head(line)} was not sent again: whether it took effect is unknown"
                    )
                    raise
                if last:
                    error.add_note(f"sent {1 + RETRANSMISSIONS} times, resynchronising between")
                    raise
                self.stats["retried"] += 1
                log.info("%s: %s; sending %r again", self.name, error.message, line)
        raise AssertionError("unreachable")

    def _exchange(self, line: str, block: bytes | None) -> Reply:
        if block is not None:
            line = f"{line} BLOCK {len(block)} {crc_hex(block)}"
        payload = (line + "\n").encode("ascii")
        if len(payload) > MAX_LINE_BYTES:
            raise ValueError(f"command line longer than {MAX_LINE_BYTES} bytes")
        self._write(payload + (block or b""), line)
        return self._read_reply(line)

    def _bare(self, line: str) -> str:
        self._write((line + "\n").encode("ascii"), line)
        return self.read_line(line)

    # ------------------------------------------------------------------ reading
    def read_line(self, command: str) -> str:
        """One reply line without its terminator (InstrumentTimeout if none comes)."""
        raw = self._port_call(command, self.port.read_until, b"\n", MAX_LINE_BYTES + 1)
        if not raw.endswith(b"\n"):
            if len(raw) > MAX_LINE_BYTES:
                raise InstrumentError("reply line too long", instrument=self.name, command=command)
            what = f"reply cut short after {len(raw)} bytes" if raw else "no reply"
            raise InstrumentTimeout(
                f"{what} (waited {_seconds(self.port.timeout)})",
                instrument=self.name,
                command=command,
            )
        try:
            return raw.decode("ascii").rstrip("\r\n")
        except UnicodeDecodeError:
            raise InstrumentError(
                f"garbled reply (not ASCII: {raw[:60]!r})", instrument=self.name, command=command
            ) from None

    def _read_reply(self, command: str) -> Reply:
        text = self.read_line(command)
        block = None
        announced = _BLOCK_TAIL.search(text)
        if announced:
            block = self._read_block(int(announced.group(1)), announced.group(2), command)
            text = text[: announced.start()].rstrip()
        if text.startswith("ERR"):
            code, message = _parse_error(text, self.name, command)
            raise BoardError(message, code=code, instrument=self.name, command=command, block=block)
        if text == "OK" or text.startswith("OK "):
            return Reply(text[3:].split(), block)
        if text.startswith("OK"):
            return Reply(text[2:].split(), block)
        raise InstrumentError(
            f"malformed reply {text[:80]!r}", instrument=self.name, command=command
        )

    def read_block_reply(self, command: str) -> bytes:
        """A further ``OK BLOCK`` line and its block (commands that return two blocks)."""
        try:
            reply = self._read_reply(command)
        except InstrumentError:
            self._desynced = True
            raise
        if reply.block is None:
            raise InstrumentError(
                "expected a second data block", instrument=self.name, command=command
            )
        return reply.block

    def read_more(self, command: str) -> str:
        """A further reply line of ``command`` (INV's settling time); a failure leaves
        the link to be resynchronised before the next command."""
        try:
            return self.read_line(command)
        except InstrumentError:
            self._desynced = True
            raise

    def _read_block(self, size: int, crc: str, command: str) -> bytes:
        data = self._port_call(command, self.port.read, size)
        if len(data) != size:
            raise InstrumentTimeout(
                f"block cut short: {len(data)} of {size} bytes",
                instrument=self.name,
                command=command,
            )
        if crc_hex(data) != crc:
            raise ReplyCorruptedError(
                "data block from the board failed its checksum",
                instrument=self.name,
                command=command,
            )
        return data

    # ------------------------------------------------------------------ recovery
    def resync(self, command: str = "") -> None:
        """Bring the link back in step after a failed exchange: drop what has arrived,
        then send ``*IDN?`` and read past every stale reply up to its answer (the board
        answers in order, so nothing older can follow it). Without a known
        :attr:`marker`, wait for the link to fall quiet instead."""
        self.stats["resynced"] += 1
        self._port_call(command, self.port.reset_input_buffer)
        if self.marker is None:
            self._drain(command)
            return
        self._write(b"*IDN?\n", command)
        deadline = time.monotonic() + 2 * (self.port.timeout or 1.0)
        for _ in range(MAX_STALE_LINES):
            raw = self._port_call(command, self.port.read_until, b"\n", MAX_LINE_BYTES + 1)
            if raw.rstrip(b"\r\n").endswith(self.marker.encode("ascii", "replace")):
                return
            if not raw.endswith(b"\n") or time.monotonic() > deadline:
                break
        raise InstrumentTimeout(
            "the link could not be resynchronised: no answer to *IDN? (the board may hang)",
            instrument=self.name,
            command=command,
        )

    def _drain(self, command: str) -> None:
        """Read and drop bytes until none arrive for a while (at most 64 reads)."""
        old = self.port.timeout
        try:
            self.port.timeout = min(old if old is not None else 0.25, 0.25)
            for _ in range(64):
                if not self._port_call(command, self.port.read, 65536):
                    return
        finally:
            self.port.timeout = old

    def _sync(self, command: str) -> None:
        if self._lost is not None:
            raise ConnectionLost(
                f"the link was lost earlier ({self._lost}); call reconnect()",
                instrument=self.name,
                command=command,
            )
        if self._desynced:
            try:
                self.resync(command)
            except InstrumentError as error:
                if not isinstance(error, ConnectionLost):
                    error.add_note(f"{_head(command)} was not sent")
                raise
            self._desynced = False

    def reopened(self) -> None:
        """The port was closed and opened again: the link is fresh."""
        self._lost = None
        self._desynced = False

    # ------------------------------------------------------------------ the port
    def _write(self, data: bytes, command: str) -> None:
        self._port_call(command, self.port.write, data)
        self._port_call(command, self.port.flush)

    def _port_call(self, command: str, call, *args):
        """Call a port method; a failing port (SerialException, OSError) means the link
        is lost."""
        try:
            return call(*args)
        except OSError as exc:  # serial.SerialException is an OSError
            self._lost = str(exc) or type(exc).__name__
            raise ConnectionLost(
                f"link lost: {self._lost}; call reconnect()", instrument=self.name, command=command
            ) from exc


def _seconds(timeout: float | None) -> str:
    return "for ever" if timeout is None else f"{timeout:g} s"


def _head(line: str) -> str:
    """The keyword of a command line, for messages."""
    return line.split()[0] if line.split() else "the command"


def _parse_error(text: str, name: str, command: str) -> tuple[int, str]:
    parts = text.split(maxsplit=2)
    try:
        return int(parts[1]), (parts[2] if len(parts) > 2 else "")
    except (IndexError, ValueError):
        raise InstrumentError(
            f"malformed error reply {text[:80]!r}", instrument=name, command=command
        ) from None
