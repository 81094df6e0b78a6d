"""pyserial URL handler ``rramsim://``: the simulated array board as an in-process port.

``serial.serial_for_url("rramsim://...")`` returns a port object that behaves like the
serial port of a real board (docs/board-protocol.md): bytes written to it reach the
board's firmware, replies come back through ``read``/``readline``. pyserial finds this
module because :func:`register_url_handler` lists ``rramlab.sim`` in
``serial.protocol_handler_packages`` (pyserial imports ``<package>.protocol_<scheme>``);
importing this module registers it.

URL syntax: ``rramsim://`` followed by optional ``key=value`` pairs, separated by ``&``
(or ``,``), with an optional leading ``?``:

=================================  =========================================================
``rramsim://``                     the default bench (seed 0, 8 x 8), as ``@rramsim``
``rramsim://?seed=3&rows=64&cols=64``  a bench built from a spec; ``smus=2450+B2902A``
                                   picks its SMUs (default: every model)
``rramsim://bench=NAME``           a bench registered with
                                   :func:`rramlab.sim.visa_backend.register_bench`
=================================  =========================================================

Benches built from a spec are the very ones the ``@rramsim`` pyvisa backend serves for
the same spec (``rramsim://?seed=3`` and ``ResourceManager("seed=3@rramsim")`` reach one
crossbar), so a station's SMUs and board share their cells in-process as on a real
bench. Serial settings (baud rate, parity, ...) are accepted and ignored, as on a USB
CDC port.

Reads honour the port's ``timeout`` like a real port: with ``timeout=None`` a read that
asks for more bytes than the board has sent blocks until another thread writes. The
board never times out a block in-process: a block shorter than announced stays pending
until the rest is written (``reset_input_buffer`` does not drop it; reopening does).

Injected faults (:mod:`rramlab.sim.faults`) act as on a USB serial link: replies are
delayed in real time, lost, cut short or garbled; a hung board swallows commands until
the port is reopened (which resets a board, as DTR does) or the hang's time is up; a
lost link makes ``read`` and ``write`` raise :class:`serial.SerialException`, as
pyserial does when a USB serial adapter is unplugged, until the port is closed and
opened again.
"""

from __future__ import annotations

import threading
from typing import Any

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout, to_bytes

#: The package pyserial must search for this handler (``rramlab.sim.protocol_rramsim``).
HANDLER_PACKAGE = "rramlab.sim"
SCHEME = "rramsim"
_KEYS = ("seed", "rows", "cols", "smus", "bench")


def register_url_handler() -> None:
    """Let ``serial.serial_for_url`` open ``rramsim://`` URLs (idempotent)."""
    if HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(HANDLER_PACKAGE)


def parse_url(url: str) -> str:
    """The bench spec of a ``rramsim://`` URL, in the ``@rramsim`` library-path syntax
    (``"seed=3,rows=64"``). Raises :class:`serial.SerialException` for a malformed URL."""
    scheme, sep, rest = str(url).partition("://")
    if not sep or scheme.lower() != SCHEME:
        raise SerialException(f"expected a URL rramsim://[?key=value&...], got {url!r}")
    rest = rest.lstrip("/").removeprefix("?")
    pairs = [p.strip() for p in rest.replace("&", ",").split(",") if p.strip()]
    for pair in pairs:
        key = pair.partition("=")[0].strip().lower()
        if key not in _KEYS:
            raise SerialException(
                f"{url!r}: unknown key {key!r}; rramsim:// takes {', '.join(_KEYS)}"
            )
    return ",".join(pairs)


def open_bench(url: str) -> Any:
    """The bench a ``rramsim://`` URL names (built on first use, then shared)."""
    from rramlab.sim import visa_backend

    try:
        spec = visa_backend.parse_library_path(parse_url(url))
        bench = visa_backend.bench_for(spec)
    except (ValueError, TypeError) as exc:
        raise SerialException(f"{url!r}: {str(exc).removeprefix('@rramsim: ')}") from None
    if bench is None:
        raise SerialException(
            f"{url!r}: no bench registered as {spec.bench!r} "
            "(rramlab.sim.visa_backend.register_bench)"
        )
    if getattr(bench, "board", None) is None:
        raise SerialException(f"{url!r}: that bench has no array board")
    return bench


class Serial(SerialBase):
    """The port pyserial returns for a ``rramsim://`` URL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from rramlab.sim.transport import DelayLine

        self._session: Any = None
        self._rx = bytearray()
        self._in_flight = DelayLine()  # replies an injected latency holds back
        self._ready = threading.Condition()
        self._cancelled = False
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        """Connect to the board the URL names (building its bench if needed)."""
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        from rramlab.sim.board.session import BoardSession
        from rramlab.sim.transport import bench_lock

        bench = open_bench(self._port)
        self._session = BoardSession(bench.board, bench_lock(bench))
        with self._ready:
            self._rx.clear()
            self._in_flight.clear()
        self.is_open = True

    def close(self) -> None:
        """Disconnect; a half-sent line or block is dropped, the board keeps its state."""
        self.is_open = False
        self._session = None
        with self._ready:
            self._ready.notify_all()  # wake a reader blocked in another thread

    def _reconfigure_port(self) -> None:
        """Serial settings do not matter to an in-process board (as over USB CDC)."""

    @property
    def in_waiting(self) -> int:
        """Reply bytes waiting to be read."""
        self._require_link()
        with self._ready:
            self._rx += self._in_flight.take()
            return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` reply bytes: fewer only when the port's timeout expires."""
        self._require_link()
        deadline = Timeout(self._timeout)
        with self._ready:
            self._cancelled = False
            while True:
                self._rx += self._in_flight.take()
                if len(self._rx) >= size or not self.is_open or deadline.expired():
                    break
                if self._cancelled:
                    break
                self._ready.wait(_earliest(deadline.time_left(), self._in_flight.wait_s()))
            data = bytes(self._rx[:size])
            del self._rx[:size]
        return data

    def write(self, data: Any) -> int:
        """Hand bytes to the board; every command they complete runs now, and its
        replies are queued for :meth:`read` (after their injected delays)."""
        from rramlab.sim.faults import LinkLost

        self._require_link()
        data = to_bytes(data)
        try:
            replies = self._session.feed_timed(data)
        except LinkLost:
            raise SerialException("write failed: the device disconnected") from None
        if replies:
            with self._ready:
                for out, delay in replies:
                    self._in_flight.put(out, delay)
                self._ready.notify_all()
        return len(data)

    def reset_input_buffer(self) -> None:
        """Drop replies not read yet."""
        self._require_open()
        with self._ready:
            self._rx.clear()

    def reset_output_buffer(self) -> None:
        """Nothing waits to be sent: writes reach the board at once."""
        self._require_open()

    def cancel_read(self) -> None:
        """Make a read blocked in another thread return what has arrived."""
        with self._ready:
            self._cancelled = True
            self._ready.notify_all()

    @property
    def out_waiting(self) -> int:
        return 0

    def _update_break_state(self) -> None:
        self._require_open()

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    def _require_open(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()

    def _require_link(self) -> None:
        """Open, and the board still there (an injected fault may have dropped it)."""
        self._require_open()
        if not self._session.alive:
            raise SerialException(
                "device reports readiness to read but returned no data "
                "(device disconnected or multiple access on port?)"
            )


def _earliest(*waits: float | None) -> float | None:
    """The shortest of some waits in seconds (None: for ever)."""
    known = [w for w in waits if w is not None]
    return min(known) if known else None


register_url_handler()
