"""One connection to a board: bytes in, reply bytes out.

A :class:`BoardSession` is what a serial port or a TCP connection has of its own: the
framing state (a half-received line or block belongs to the connection that sent it).
The board's state (selection, gate, ...) is the firmware's, shared by every session
on it, as it would be if two cables reached one board. Each command runs under the
bench's lock (:func:`rramlab.sim.transport.bench_lock`), because the firmware drives
the crossbar, clock and random generator that the bench's SMUs share; the lock is held
per command, never while waiting for bytes.

Injected faults (:mod:`rramlab.sim.faults`) act here, for every transport: each
command's reply may be delayed, lost, cut short or garbled; a hang holds commands for
its duration, or swallows them until the link is opened again; an injected error
answers ``ERR <code>`` without running the command; a lost link raises
:class:`~rramlab.sim.faults.LinkLost` (:meth:`feed_timed`) and leaves the session dead
(:attr:`alive`). Opening a session is opening the link: it ends a hang that has no
duration, as reopening a serial port resets a board through DTR.
"""

from __future__ import annotations

import threading
import time

from rramlab.sim import faults
from rramlab.sim.board.firmware import BoardFirmware
from rramlab.sim.board.framing import BoardFramer, Frame, Reply

#: Replies as a transport sends them: (bytes, seconds to wait before sending them).
Timed = list[tuple[bytes, float]]


class BoardSession:
    """Feed bytes from the host; get the board's reply bytes back."""

    def __init__(self, firmware: BoardFirmware, lock: threading.RLock | None = None) -> None:
        self.firmware = firmware
        self.lock = lock if lock is not None else threading.RLock()
        self.framer = BoardFramer()
        with self.lock:
            self._link = faults.link_opened(firmware)

    @property
    def alive(self) -> bool:
        """False once an injected fault has dropped the link."""
        return faults.link_alive(self.firmware, self._link)

    @property
    def expecting_block(self) -> bool:
        """The host announced a block that has not fully arrived."""
        return self.framer.expecting_block

    def feed(self, data: bytes) -> bytes:
        """Execute every command completed by ``data``; their replies, in order
        (injected delays are not waited for here; transports use :meth:`feed_timed`)."""
        return b"".join(out for out, _ in self.feed_timed(data))

    def feed_timed(self, data: bytes) -> Timed:
        """Execute every command completed by ``data``; their replies with the delay
        before each. Raises :class:`~rramlab.sim.faults.LinkLost` when the link is lost."""
        if not self.alive:
            raise faults.LinkLost(f"{self.firmware.serial_number}: link lost")
        timed: Timed = []
        for frame in self.framer.feed(data):
            timed += self._run(frame)
        return timed

    def expire(self) -> bytes:
        """The transport timed out waiting for the rest of a block: ``ERR 200`` (or
        nothing when no block was pending)."""
        return b"".join(out for out, _ in self.expire_timed())

    def expire_timed(self) -> Timed:
        """:meth:`expire` with the delay before the reply."""
        frame = self.framer.expire()
        return [] if frame is None else self._run(frame)

    def reset(self) -> None:
        """Forget a half-received line or block (the port was flushed or reopened)."""
        self.framer.reset()

    def _run(self, frame: Frame) -> Timed:
        fate = faults.on_message(self.firmware, frame.text)
        if fate.disconnect:
            raise faults.LinkLost(f"link lost at {frame.text[:40]!r}")
        if not fate.deliver:
            return []
        if fate.wait_s > 0:  # a hang holds the board's input (outside the bench's lock)
            time.sleep(fate.wait_s)
        with self.lock:
            if fate.error is not None:  # refused without running it, as ERR says
                replies = [Reply(f"ERR {fate.error[0]} {fate.error[1]}")]
            else:
                replies = self.firmware.execute(frame)
            out, delay = faults.on_reply(self.firmware, b"".join(r.to_bytes() for r in replies))
        return [] if out is None else [(out, delay)]
