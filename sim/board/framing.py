"""The board link's framing (docs/board-protocol.md sections 1 and 3): a byte stream
cut into command lines, each possibly followed by a binary block.

:class:`BoardFramer` is fed whatever bytes arrive and returns complete :class:`Frame`
objects. It keeps the link in step whatever the host sends:

- a line ends at ``\\n``; a ``\\r`` before it is dropped; blank lines are skipped;
- a line longer than :data:`MAX_LINE_BYTES` is discarded up to its ``\\n`` and becomes
  an error frame (101), so memory stays bounded;
- a line ending in ``BLOCK <n> <crc>`` makes the next ``n`` bytes its block, whatever
  else is wrong with the line (unknown command, bad arguments, non-ASCII bytes): the
  host sends the block anyway, and reading it keeps the next command line in step. A
  block larger than :data:`MAX_BLOCK_BYTES` is read and thrown away, then refused (202);
- a block that is shorter than announced stays pending until more bytes arrive;
  :meth:`BoardFramer.expire` (called by a transport on a timeout) drops it (200).

The CRC is checked here (``crc_ok``); what a bad CRC means is the firmware's business.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Final

#: Longest command line, terminator excluded (protocol section 1).
MAX_LINE_BYTES: Final = 4096
#: Largest block a board accepts: a 1024 x 1024 tile of float32 is 4 MiB.
MAX_BLOCK_BYTES: Final = 4 << 20

# A command line that announces a block ends in "BLOCK <n> <crc>"; matched on bytes so
# a line with garbage in front still has its block read.
_BLOCK_SUFFIX = re.compile(rb"(?:^|[ \t])BLOCK[ \t]+(\d{1,12})[ \t]+([0-9A-Fa-f]{8})[ \t]*$", re.I)
# Keep this much of a discarded over-long line: enough to see its BLOCK suffix.
_TAIL_BYTES = 64


def crc32_hex(data: bytes) -> str:
    """CRC-32 (IEEE 802.3, as zlib) of ``data``: 8 lowercase hex digits."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


@dataclass(frozen=True)
class Reply:
    """One reply line and, when ``block`` is given, the block it announces."""

    line: str
    block: bytes | None = None

    def to_bytes(self) -> bytes:
        """The line (with ``BLOCK <n> <crc>`` appended when there is a block), its
        newline, then the block's bytes."""
        if self.block is None:
            return self.line.encode("ascii", errors="replace") + b"\n"
        head = f"{self.line} BLOCK {len(self.block)} {crc32_hex(self.block)}\n"
        return head.encode("ascii", errors="replace") + self.block


@dataclass(frozen=True)
class Frame:
    """One command line and its block, or a framing error to reply to.

    ``text`` is the line without its ``BLOCK <n> <crc>`` suffix (empty for an error
    frame); ``block`` the block's bytes when one was announced; ``crc_ok`` whether they
    match the announced CRC. ``error``/``message``: a framing error (101, 200, 202).
    """

    text: str = ""
    block: bytes | None = None
    crc_ok: bool = True
    error: int | None = None
    message: str = ""


class BoardFramer:
    """Incremental parser of the host-to-board byte stream (see the module docstring)."""

    def __init__(
        self, max_line_bytes: int = MAX_LINE_BYTES, max_block_bytes: int = MAX_BLOCK_BYTES
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_block_bytes = max_block_bytes
        self._line = bytearray()
        self._overlong = False  # discarding an over-long line up to its newline
        self._tail = bytearray()  # end of the discarded line, for its BLOCK suffix
        self._block: bytearray | None = None  # collecting a block
        self._block_need = 0  # bytes still to come
        self._block_keep = True  # False: the block is too large, count but do not keep
        self._block_line = b""
        self._block_crc = ""
        self._block_error: Frame | None = None  # the line was bad: report this instead

    @property
    def expecting_block(self) -> bool:
        """A block has been announced and is not complete yet."""
        return self._block is not None

    def reset(self) -> None:
        """Forget any unfinished line or block."""
        self._line.clear()
        self._overlong = False
        self._tail.clear()
        self._block = None
        self._block_need = 0

    def expire(self) -> Frame | None:
        """The block being received timed out: drop it and report 200 (None if no block
        was pending). An unfinished line is kept: the host may still be typing."""
        if self._block is None:
            return None
        got = len(self._block) if self._block_keep else None
        self._block = None
        self._block_need = 0
        detail = f"{got} bytes" if got is not None else "too few bytes"
        return Frame(error=200, message=f"binary block timed out after {detail}")

    def feed(self, data: bytes) -> list[Frame]:
        """Frames completed by ``data``."""
        frames: list[Frame] = []
        data = bytes(data)
        pos = 0
        while pos < len(data):
            if self._block is not None:
                pos = self._take_block(data, pos, frames)
                continue
            newline = data.find(b"\n", pos)
            end = len(data) if newline < 0 else newline
            self._take_line_bytes(data[pos:end])
            if newline < 0:
                break
            pos = end + 1
            frame = self._finish_line()
            if frame is not None:
                frames.append(frame)
        return frames

    # -- lines -------------------------------------------------------------------------

    def _take_line_bytes(self, chunk: bytes) -> None:
        if self._overlong:
            self._tail = (self._tail + chunk)[-_TAIL_BYTES:]
            return
        if len(self._line) + len(chunk) > self.max_line_bytes + 1:  # +1: a final '\r'
            self._overlong = True
            self._tail = (self._line + chunk)[-_TAIL_BYTES:]
            self._line.clear()
            return
        self._line += chunk

    def _finish_line(self) -> Frame | None:
        if self._overlong:
            self._overlong = False
            raw, self._tail = bytes(self._tail), bytearray()
            frame = Frame(error=101, message=f"line longer than {self.max_line_bytes} bytes")
            return self._maybe_block(raw, frame)
        raw = bytes(self._line)
        self._line.clear()
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > self.max_line_bytes:
            return self._maybe_block(
                raw, Frame(error=101, message=f"line longer than {self.max_line_bytes} bytes")
            )
        if not raw.strip():
            return None  # a blank line is not a command
        bad = _bad_byte(raw)
        if bad is not None:
            return self._maybe_block(raw, Frame(error=101, message=f"not ASCII text ({bad})"))
        return self._maybe_block(raw, None)

    def _maybe_block(self, raw: bytes, error: Frame | None) -> Frame | None:
        """Start reading the block ``raw`` announces, if any; otherwise the frame now."""
        found = _BLOCK_SUFFIX.search(raw)
        if found is None:
            return error if error is not None else Frame(text=raw.decode("ascii"))
        size = int(found.group(1))
        self._block = bytearray()
        self._block_need = size
        self._block_keep = size <= self.max_block_bytes
        self._block_line = raw[: found.start()] if error is None else b""
        self._block_crc = found.group(2).decode("ascii").lower()
        self._block_error = error
        if size == 0:
            return self._finish_block()
        return None

    # -- blocks ------------------------------------------------------------------------

    def _take_block(self, data: bytes, pos: int, frames: list[Frame]) -> int:
        assert self._block is not None
        take = min(self._block_need, len(data) - pos)
        if self._block_keep:
            self._block += data[pos : pos + take]
        self._block_need -= take
        pos += take
        if self._block_need == 0:
            frames.append(self._finish_block())
        return pos

    def _finish_block(self) -> Frame:
        block, self._block = self._block, None
        assert block is not None
        if self._block_error is not None:
            return self._block_error
        if not self._block_keep:
            return Frame(
                error=202,
                message=f"block larger than the board's {self.max_block_bytes} bytes (discarded)",
            )
        data = bytes(block)
        return Frame(
            text=self._block_line.decode("ascii"),
            block=data,
            crc_ok=crc32_hex(data) == self._block_crc,
        )


def _bad_byte(raw: bytes) -> str | None:
    """Why ``raw`` is not a line of printable ASCII (tabs allowed), or None."""
    for b in raw:
        if b >= 0x80:
            return f"byte 0x{b:02x}"
        if (b < 0x20 and b != 0x09) or b == 0x7F:
            return f"control byte 0x{b:02x}"
    return None
