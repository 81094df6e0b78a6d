"""The simulated array board on a loopback TCP socket, reachable with pyserial as
``serial.serial_for_url("socket://127.0.0.1:<port>")``.

A lab reaches a real board through a USB serial port or, behind a serial-to-Ethernet
bridge, a raw TCP socket; this server is the latter. It reuses the accept loop,
connection cap, thread per connection and loopback-only rule of
:class:`~rramlab.sim.tcp_server.InstrumentServer`, and replaces its line-message
handling with the board's byte stream (docs/board-protocol.md): command lines with
binary blocks, parsed by a :class:`~rramlab.sim.board.session.BoardSession` per
connection.

Robustness: the stream is only ever parsed, never executed as code; each command runs
under the bench's lock and its replies are sent after the lock is released, so a
client that stops reading never holds up the bench. A block that stops arriving is
dropped after ``block_timeout_s`` with ``ERR 200`` and the connection carries on; a
client that disconnects mid-line or mid-block loses only that command. Other clients
are never affected.

Injected faults (:mod:`rramlab.sim.faults`, through the session) delay, lose, cut or
garble replies, hang the board (a new connection ends a hang without duration) or drop
the link: the connection is closed, as a serial-to-Ethernet bridge does when its board
goes away, and other connections to the board close at their next command.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

from rramlab.sim import faults
from rramlab.sim.board.firmware import BoardFirmware
from rramlab.sim.board.session import BoardSession
from rramlab.sim.tcp_server import MAX_CONNECTIONS, InstrumentServer, abort, send_delayed

__all__ = ["BLOCK_TIMEOUT_S", "BoardServer"]

log = logging.getLogger(__name__)

#: Seconds a board waits for the rest of an announced block before ``ERR 200``.
BLOCK_TIMEOUT_S = 2.0

_RECV_BYTES = 64 * 1024


class BoardServer(InstrumentServer):
    """Serve ``board`` on a raw TCP socket at ``host``:``port`` (0: a free port).

    ``lock`` is the bench's lock (:func:`rramlab.sim.transport.bench_lock`) when other
    transports reach the same bench. Non-loopback hosts need ``allow_remote``.
    """

    def __init__(
        self,
        board: BoardFirmware,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lock: threading.RLock | None = None,
        max_connections: int = MAX_CONNECTIONS,
        allow_remote: bool = False,
        block_timeout_s: float = BLOCK_TIMEOUT_S,
    ) -> None:
        super().__init__(
            board,  # type: ignore[arg-type]  # served as a byte stream, not as messages
            host=host,
            port=port,
            lock=lock,
            max_connections=max_connections,
            allow_remote=allow_remote,
        )
        if not block_timeout_s > 0:
            raise ValueError(f"block_timeout_s must be > 0, got {block_timeout_s!r}")
        self.board = board
        self.block_timeout_s = block_timeout_s

    @property
    def resource_name(self) -> str:
        """The pyserial URL of this server, e.g. ``socket://127.0.0.1:5026``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socket://{host}:{self.port}"

    url = resource_name

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small replies
        session = BoardSession(self.board, self._lock)
        while True:
            # Wait for ever for a command, but only so long for the rest of a block.
            conn.settimeout(self.block_timeout_s if session.expecting_block else None)
            try:
                try:
                    data = conn.recv(_RECV_BYTES)
                except TimeoutError:
                    out = session.expire_timed()
                else:
                    if not data:
                        return  # the client went away; an unfinished command is dropped
                    out = session.feed_timed(data)
            except faults.LinkLost:
                abort(conn)  # as a serial-to-Ethernet bridge whose board went away
                return
            except OSError:
                return
            if out:
                with contextlib.suppress(OSError):
                    conn.settimeout(None)  # the block timeout is for receiving only
                if not send_delayed(conn, out):
                    return
