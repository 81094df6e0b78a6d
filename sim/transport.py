"""What every transport to a simulated instrument shares: bytes in, program messages out.

The pyvisa backend, the TCP server and (later) the pyserial URL handler all receive a
byte stream and must hand a :class:`~rramlab.sim.message.MessageInstrument` one program
message at a time. :class:`MessageFramer` does that split the way a real instrument's
input parser does; :func:`bench_lock` is the one lock every transport holds while it
talks to any instrument of a bench, because all instruments of a bench share one
crossbar, clock and random generator. :func:`message_fate` and :func:`deliver_fated`
hand a message over through the instrument's fault injector (:mod:`rramlab.sim.faults`),
so every transport meets the same injected faults; :class:`DelayLine` holds the replies
an injected delay keeps in flight, for the in-process transports.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import deque
from typing import Final

from rramlab.sim import faults
from rramlab.sim.message import MessageInstrument

#: Longest program message a transport accepts, in bytes (1 MiB). Real instruments have
#: input buffers of a few kB to a few MB; past this the message is dropped (-363).
MAX_MESSAGE_BYTES: Final = 1 << 20


class _Overrun:
    """Marker in a framer's output: a message was longer than the input buffer."""

    def __repr__(self) -> str:
        return "OVERRUN"


#: Yielded by :meth:`MessageFramer.feed` in place of a message that was too long.
OVERRUN: Final = _Overrun()


class MessageFramer:
    """Split a byte stream into program messages.

    A message ends at a newline (LF), or, on buses that have one, at the END signal
    (GPIB EOI, USBTMC EOM) that comes with the last byte of a write: ``feed(data,
    end=True)``. A CR just before the LF is dropped, so ``"\\r\\n"`` terminators work.
    Bytes are decoded as ASCII; every other byte becomes U+FFFD, which no SCPI or TSP
    parser accepts, so garbage reaches the instrument as a message it rejects with an
    error rather than crashing the transport. Empty messages are skipped, as real
    parsers do.

    A message longer than ``max_bytes`` is dropped whole: :data:`OVERRUN` takes its
    place and the rest of it, up to the next terminator, is discarded as it arrives,
    so memory stays bounded whatever a client sends.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long message: drop until its end

    @property
    def pending_bytes(self) -> int:
        """Bytes of an unfinished message held back until its terminator arrives."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget any unfinished message (device clear, flush of the write buffer)."""
        self._buffer.clear()
        self._discarding = False

    def feed(self, data: bytes, *, end: bool = False) -> list[str | _Overrun]:
        """Messages completed by ``data`` (``end``: the last byte carried END)."""
        out: list[str | _Overrun] = []
        start = 0
        while start < len(data):
            newline = data.find(b"\n", start)
            stop = len(data) if newline < 0 else newline
            self._take(data[start:stop], out)
            if newline < 0:
                break
            self._finish(out)
            start = newline + 1
        if end:
            self._finish(out)
        return out

    def _take(self, chunk: bytes, out: list[str | _Overrun]) -> None:
        if self._discarding:
            return
        if len(self._buffer) + len(chunk) > self.max_bytes:
            self._buffer.clear()
            self._discarding = True
            out.append(OVERRUN)
            return
        self._buffer += chunk

    def _finish(self, out: list[str | _Overrun]) -> None:
        if self._discarding:
            self._discarding = False
            return
        raw = bytes(self._buffer)
        self._buffer.clear()
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        message = raw.decode("ascii", errors="replace")
        if message.strip():
            out.append(message)


def deliver(instrument: MessageInstrument, item: str | _Overrun) -> None:
    """Hand one :meth:`MessageFramer.feed` item to ``instrument``.

    A message is written as is. For :data:`OVERRUN` the instrument's own
    ``input_overrun()`` is called when it has one (it should queue -363 "Input buffer
    overrun"); otherwise it gets a one-character message no parser accepts, so its
    error queue still says something went wrong. Nothing of the dropped message is
    executed: a truncated command could be a valid, different command.
    """
    if isinstance(item, str):
        instrument.write(item)
        return
    hook = getattr(instrument, "input_overrun", None)
    if callable(hook):
        hook()
    else:
        instrument.write("\ufffd")


def message_fate(
    instrument: object, item: str | _Overrun, *, max_wait_s: float = math.inf
) -> faults.Fate | None:
    """Ask ``instrument``'s fault injector about one message, then wait while a hang
    holds the instrument's input: at most ``max_wait_s`` seconds, after which None says
    the message was not taken (a write that timed out). Call without holding the
    bench's lock, so a hung instrument never stalls the others."""
    fate = faults.on_message(instrument, item if isinstance(item, str) else "")
    if fate.wait_s > max_wait_s:
        time.sleep(max_wait_s)
        return None
    if fate.wait_s > 0:
        time.sleep(fate.wait_s)
    return fate


def deliver_fated(instrument: MessageInstrument, item: str | _Overrun, fate: faults.Fate) -> None:
    """:func:`deliver` ``item`` as its :func:`message_fate` says: not at all when a hang
    swallowed it or the link went, and with an injected error queued after it. Call
    under the bench's lock."""
    if fate.deliver and not fate.disconnect:
        deliver(instrument, item)
        if fate.error is not None:
            faults.queue_error(instrument, *fate.error)


def drain(instrument: MessageInstrument, limit: int = 100_000) -> list[str]:
    """Every reply ``instrument`` has queued, oldest first (at most ``limit``)."""
    replies: list[str] = []
    while len(replies) < limit:
        reply = instrument.read()
        if reply is None:
            break
        replies.append(reply)
    return replies


_locks: weakref.WeakKeyDictionary[object, threading.RLock] = weakref.WeakKeyDictionary()
# Benches that cannot be weak dictionary keys (unhashable, no weakref slot): kept by id,
# together with the bench so the id cannot be reused while the entry exists.
_locks_by_id: dict[int, tuple[object, threading.RLock]] = {}
_locks_guard = threading.Lock()


def bench_lock(bench: object) -> threading.RLock:
    """The lock every transport holds while talking to any instrument of ``bench``.

    One per bench object (created on first use, forgotten with the bench): the
    instruments of a bench share its crossbar, clock and random generator, so two
    clients must never run instrument code at the same time, whichever transport they
    came through. Reentrant, so a transport may call a helper that takes it again.
    """
    with _locks_guard:
        try:
            lock = _locks.get(bench)
            if lock is None:
                lock = _locks[bench] = threading.RLock()
        except TypeError:
            lock = _locks_by_id.setdefault(id(bench), (bench, threading.RLock()))[1]
        return lock


class DelayLine:
    """Replies in flight: bytes that become readable at a wall-clock time, in order."""

    def __init__(self) -> None:
        self._items: deque[tuple[float, bytes]] = deque()
        self._last = 0.0

    def __bool__(self) -> bool:
        return bool(self._items)

    def put(self, data: bytes, delay_s: float) -> None:
        """Send ``data`` to arrive ``delay_s`` from now (never before earlier data)."""
        self._last = max(time.monotonic() + delay_s, self._last)
        self._items.append((self._last, data))

    def take(self) -> bytes:
        """Everything that has arrived by now."""
        now, out = time.monotonic(), bytearray()
        while self._items and self._items[0][0] <= now:
            out += self._items.popleft()[1]
        return bytes(out)

    def wait_s(self) -> float | None:
        """Seconds until the next data arrives (None: nothing in flight)."""
        if not self._items:
            return None
        return max(self._items[0][0] - time.monotonic(), 0.0)

    def clear(self) -> None:
        """Forget what is in flight (a device clear aborts it)."""
        self._items.clear()
