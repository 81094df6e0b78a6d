"""The host side of the array-board link (docs/board-protocol.md, sections 1-3):
command lines, reply lines, CRC-checked binary blocks and retransmission.

:class:`BoardLink` knows the framing and nothing of what the commands mean. It works on
any pyserial port object (a real serial port, ``socket://`` or ``rramsim://``).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from rramlab.errors import InstrumentError, InstrumentTimeout

MAX_LINE_BYTES = 4096  # the protocol's limit for a command line (and our reply limit)
RETRANSMISSIONS = 3  # resends after a checksum mismatch before giving up
CRC_MISMATCH = 201

_BLOCK_TAIL = re.compile(r"\bBLOCK (\d+) ([0-9a-f]{8})$")


class BoardError(InstrumentError):
    """The board answered ``ERR <code> <message>``. ``block`` holds the binary block that
    came with the error reply, if any (e.g. clamped INV outputs)."""

    def __init__(
        self, message: str, *, code: int, instrument: str, command: str, block: bytes | None = None
    ) -> None:
        super().__init__(message, code=code, instrument=instrument, command=command)
        self.block = block


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
    bounds every read; ``name`` appears in error messages."""

    def __init__(self, port, *, name: str) -> None:
        self.port = port
        self.name = name

    def command(self, line: str, block: bytes | None = None, *, retry: bool = True) -> Reply:
        """Send one command line (with its block) and return the reply.

        A checksum mismatch in either direction (``ERR 201`` from the board, or a block
        from the board whose CRC is wrong) is retransmitted up to RETRANSMISSIONS times
        when ``retry`` is true (commands whose repetition changes nothing the host has
        not asked for). Other ``ERR`` replies raise :class:`BoardError`.
        """
        if "\n" in line or "\r" in line:
            raise ValueError(f"a command line cannot contain a line break: {line!r}")
        attempts = 1 + (RETRANSMISSIONS if retry else 0)
        for attempt in range(attempts):
            try:
                return self._exchange(line, block)
            except BoardError as error:
                if error.code != CRC_MISMATCH or attempt == attempts - 1:
                    raise
            self.port.reset_input_buffer()
        raise AssertionError("unreachable")

    def _exchange(self, line: str, block: bytes | None) -> Reply:
        if block is not None:
            line = f"{line} BLOCK {len(block)} {crc_hex(block)}"
        payload = (line + "\n").encode("ascii")
        if len(payload) > MAX_LINE_BYTES:
            raise ValueError(f"command line longer than {MAX_LINE_BYTES} bytes")
        self.port.write(payload + (block or b""))
        self.port.flush()
        return self._read_reply(line)

    def read_line(self, command: str) -> str:
        """One reply line without its terminator (InstrumentTimeout if none comes)."""
        raw = self.port.read_until(b"\n", MAX_LINE_BYTES + 1)
        if not raw.endswith(b"\n"):
            if len(raw) > MAX_LINE_BYTES:
                raise InstrumentError("reply line too long", instrument=self.name, command=command)
            raise InstrumentTimeout("no reply (timed out)", instrument=self.name, command=command)
        try:
            return raw.decode("ascii").rstrip("\r\n")
        except UnicodeDecodeError:
            raise InstrumentError(
                f"reply is not ASCII: {raw[:60]!r}", instrument=self.name, command=command
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
        reply = self._read_reply(command)
        if reply.block is None:
            raise InstrumentError(
                "expected a second data block", instrument=self.name, command=command
            )
        return reply.block

    def _read_block(self, size: int, crc: str, command: str) -> bytes:
        data = self.port.read(size)
        if len(data) != size:
            raise InstrumentTimeout(
                f"block cut short: {len(data)} of {size} bytes",
                instrument=self.name,
                command=command,
            )
        if crc_hex(data) != crc:
            raise BoardError(
                "data block from the board failed its checksum",
                code=CRC_MISMATCH,
                instrument=self.name,
                command=command,
            )
        return data


def _parse_error(text: str, name: str, command: str) -> tuple[int, str]:
    parts = text.split(maxsplit=2)
    try:
        return int(parts[1]), (parts[2] if len(parts) > 2 else "")
    except (IndexError, ValueError):
        raise InstrumentError(
            f"malformed error reply {text[:80]!r}", instrument=name, command=command
        ) from None
