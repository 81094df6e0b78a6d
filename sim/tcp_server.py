"""Loopback raw-socket servers: a simulated instrument on a TCP port, as LXI instruments do.

:class:`InstrumentServer` serves one :class:`~rramlab.sim.message.MessageInstrument` the
way a real instrument serves its raw socket (port 5025 by convention): the client sends
newline-terminated program messages, the instrument sends each reply back terminated by
a newline. Reach it with pyvisa-py as ``TCPIP0::127.0.0.1::<port>::SOCKET`` (set
``read_termination="\\n"``) or with any socket.

Design: one thread per connection, on :mod:`socketserver`'s accept loop. The
instrument code is synchronous, CPU-bound numpy that must run under the bench's lock
anyway, so an event loop would gain nothing and would stall every client whenever one
client's command took long or its socket stopped draining. With a thread each, a
client that sends slowly, stops reading or disconnects mid-line only ever blocks its
own thread; the connection cap (16 by default) bounds the threads.

Every message runs under the bench's lock, and the replies it produced are drained
from the instrument before the lock is released, so each reply goes to the client
whose message produced it, however many clients interleave. Replies are sent after the
lock is released, so a client that stops reading never holds up the bench. Bytes are
never executed, only parsed by the instrument; an over-long line (1 MiB by default) is
dropped and reported to the instrument as an input overrun
(:func:`rramlab.sim.transport.deliver`); an exception in instrument code is logged and
the connection carries on.

Injected faults (:mod:`rramlab.sim.faults`) act on the connection: a reply is delayed
(the connection's thread sleeps before sending it), lost, cut short or garbled; a hang
with a duration stops the thread from taking messages in (they wait in the socket),
one without swallows them (a new connection ends it, as raw sockets have no device
clear); a lost link closes the connection, and every other connection to the same
instrument at its next message.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import socketserver
import struct
import threading
import time
from types import TracebackType
from typing import Any

from rramlab.sim import faults
from rramlab.sim.message import MessageInstrument
from rramlab.sim.transport import (
    MAX_MESSAGE_BYTES,
    MessageFramer,
    deliver_fated,
    drain,
    message_fate,
)

__all__ = ["MAX_CONNECTIONS", "InstrumentServer", "abort", "is_loopback", "send_delayed"]

log = logging.getLogger(__name__)

#: Default cap on simultaneous connections per server (more are accepted and closed).
MAX_CONNECTIONS = 16

_RECV_BYTES = 64 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only ever means this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def abort(conn: socket.socket) -> None:
    """Close ``conn`` with a reset (RST), as a link that breaks does: the client's next
    receive or send fails with "connection reset" instead of a polite end of stream."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def send_delayed(conn: socket.socket, outgoing: list[tuple[bytes, float]]) -> bool:
    """Send each ``(bytes, delay_s)`` after its delay (replies without one go out
    together); False if the client has gone."""
    batch = bytearray()
    try:
        for out, delay in outgoing:
            if delay > 0:
                if batch:
                    conn.sendall(batch)
                    batch.clear()
                time.sleep(delay)
            batch += out
        if batch:
            conn.sendall(batch)
    except OSError:
        return False
    return True


class _Listener(socketserver.TCPServer):
    """The accept loop; hands each accepted socket to :class:`InstrumentServer`."""

    allow_reuse_address = True  # a restarted server can take its port back at once
    request_queue_size = 32

    def __init__(self, owner: InstrumentServer, address: tuple[str, int], family: int) -> None:
        self.address_family = family
        self.owner = owner
        super().__init__(address, socketserver.BaseRequestHandler, bind_and_activate=True)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self.owner._admit(request)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(request, client_address)


class InstrumentServer:
    """Serve ``instrument`` on a raw TCP socket at ``host``:``port``.

    ``port=0`` picks a free port; :meth:`start` returns the one bound. ``lock`` is the
    bench's lock (:func:`rramlab.sim.transport.bench_lock`) when other transports reach
    the same bench; by default the server has its own. Non-loopback hosts are refused
    unless ``allow_remote`` is true: the simulated instrument is a lab tool, not a
    network service.
    """

    def __init__(
        self,
        instrument: MessageInstrument,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lock: threading.RLock | None = None,
        max_connections: int = MAX_CONNECTIONS,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"{host!r} is not a loopback address; pass allow_remote=True")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        self.instrument = instrument
        self.host = host
        self.max_connections = max_connections
        self.max_message_bytes = max_message_bytes
        self._requested_port = port
        self._lock = lock if lock is not None else threading.RLock()
        self._listener: _Listener | None = None
        self._accept_thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._state = threading.Lock()  # guards _conns and _threads

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._listener is None:
            raise RuntimeError("the server is not running")
        return int(self._listener.server_address[1])

    @property
    def resource_name(self) -> str:
        """The VISA resource name of this server, e.g. ``TCPIP0::127.0.0.1::5025::SOCKET``."""
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    @property
    def connection_count(self) -> int:
        """Clients connected right now."""
        with self._state:
            return len(self._conns)

    def start(self) -> int:
        """Bind, listen and serve in a background thread; return the bound port."""
        if self._listener is not None:
            raise RuntimeError("the server is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._listener = _Listener(self, (self.host, self._requested_port), family)
        self._accept_thread = threading.Thread(
            target=self._listener.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"rramsim-accept-{self.port}",
            daemon=True,
        )
        self._accept_thread.start()
        return self.port

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, close every connection and wait (up to ``timeout_s`` seconds)
        for the connection threads to end. Safe to call twice."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        listener.shutdown()  # returns once the accept loop has exited
        listener.server_close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout_s)
        with self._state:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            # shutdown() wakes a thread blocked in recv()/sendall() on this socket.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout_s)

    def __enter__(self) -> InstrumentServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connections (called from the accept loop) -------------------------------------

    def _admit(self, conn: socket.socket) -> bool:
        with self._state:
            if len(self._conns) >= self.max_connections:
                log.warning("connection refused: %d clients already", len(self._conns))
                return False  # socketserver closes the socket
            self._conns.add(conn)
            return True

    def _spawn(self, conn: socket.socket, peer: Any) -> None:
        thread = threading.Thread(
            target=self._run_connection, args=(conn, peer), name=f"rramsim-client-{peer}"
        )
        thread.daemon = True  # a wedged client must never keep the process alive
        with self._state:
            self._threads.add(thread)
        try:
            thread.start()
        except RuntimeError:  # cannot start a thread: give the slot back, close the socket
            with self._state:
                self._threads.discard(thread)
                self._conns.discard(conn)
            raise  # socketserver logs it and closes the connection

    def _run_connection(self, conn: socket.socket, peer: Any) -> None:
        try:
            self._serve(conn)
        except Exception:  # never let one client's trouble escape into the server
            log.exception("connection from %s failed", peer)
        finally:
            with self._state:
                self._conns.discard(conn)
                self._threads.discard(threading.current_thread())
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small replies
        framer = MessageFramer(self.max_message_bytes)
        with self._lock:
            link = faults.link_opened(self.instrument)
        while True:
            try:
                data = conn.recv(_RECV_BYTES)
            except OSError:
                return
            if not data or not faults.link_alive(self.instrument, link):
                # A message the client did not finish is dropped, never executed.
                return
            outgoing: list[tuple[bytes, float]] = []
            for item in framer.feed(data):
                fate = message_fate(self.instrument, item)  # waits out a hang, unlocked
                assert fate is not None  # no time limit given
                if fate.disconnect:
                    abort(conn)  # the link is gone: nothing more leaves
                    return
                with self._lock:
                    try:
                        deliver_fated(self.instrument, item, fate)
                    except Exception:
                        shown = item[:80] if isinstance(item, str) else item
                        log.exception("%s failed on %r", self.instrument.name, shown)
                    for reply in drain(self.instrument):
                        out, delay = faults.on_reply(
                            self.instrument, reply.encode("utf-8", errors="replace") + b"\n"
                        )
                        if out is not None:
                            outgoing.append((out, delay))
            if not send_delayed(conn, outgoing):
                return
