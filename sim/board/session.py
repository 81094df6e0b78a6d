"""One connection to a board: bytes in, reply bytes out.

A :class:`BoardSession` is what a serial port or a TCP connection has of its own: the
framing state (a half-received line or block belongs to the connection that sent it).
The board's state (selection, gate, ...) is the firmware's, shared by every session
on it, as it would be if two cables reached one board. Each command runs under the
bench's lock (:func:`rramlab.sim.transport.bench_lock`), because the firmware drives
the crossbar, clock and random generator that the bench's SMUs share; the lock is held
per command, never while waiting for bytes.
"""

from __future__ import annotations

import threading

from rramlab.sim.board.firmware import BoardFirmware
from rramlab.sim.board.framing import BoardFramer, Frame


class BoardSession:
    """Feed bytes from the host; get the board's reply bytes back."""

    def __init__(self, firmware: BoardFirmware, lock: threading.RLock | None = None) -> None:
        self.firmware = firmware
        self.lock = lock if lock is not None else threading.RLock()
        self.framer = BoardFramer()

    @property
    def expecting_block(self) -> bool:
        """The host announced a block that has not fully arrived."""
        return self.framer.expecting_block

    def feed(self, data: bytes) -> bytes:
        """Execute every command completed by ``data``; their replies, in order."""
        return b"".join(self._run(frame) for frame in self.framer.feed(data))

    def expire(self) -> bytes:
        """The transport timed out waiting for the rest of a block: ``ERR 200`` (or
        nothing when no block was pending)."""
        frame = self.framer.expire()
        return b"" if frame is None else self._run(frame)

    def reset(self) -> None:
        """Forget a half-received line or block (the port was flushed or reopened)."""
        self.framer.reset()

    def _run(self, frame: Frame) -> bytes:
        with self.lock:
            replies = self.firmware.execute(frame)
        return b"".join(reply.to_bytes() for reply in replies)
