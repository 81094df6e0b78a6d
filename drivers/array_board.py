"""Driver for an RRAM array test board speaking docs/board-protocol.md over pyserial.

``ArrayBoard(url, limits=...)`` opens any pyserial URL: a real port (``/dev/ttyACM0``,
``COM3``), ``socket://127.0.0.1:PORT`` for the board ``rramlab sim serve`` serves on its
SMU port + 1, or ``rramsim://...`` for an in-process simulated board. Every value is
checked against the board's reported capabilities and the station's safety limits
before a byte is sent; arrays come back as numpy arrays in SI units (amperes, volts,
siemens).

On a flaky link (docs/faults.md) reads and queries are sent again after a
resynchronisation; pulses and write-verify never are (a failure says that whether
they ran is unknown); a setting whose reply is lost is read back (``GATE?``,
``TILE?``, ...) and sent again only if it provably did not take effect. A lost link
raises :class:`~rramlab.errors.ConnectionLost`; :meth:`ArrayBoard.reconnect` opens the
same port again and checks that the same board answers.

The parts live one job a module: capabilities (:mod:`~rramlab.drivers.board_capabilities`),
value checks (:mod:`~rramlab.drivers.board_checks`), MVM, INV and write-verify
(:mod:`~rramlab.drivers.board_compute`), reply decoding
(:mod:`~rramlab.drivers.board_replies`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable

import numpy as np
import serial

from rramlab import instrument_lock
from rramlab.drivers import board_limits
from rramlab.drivers.board_capabilities import BoardCapabilities, Tile
from rramlab.drivers.board_checks import ChecksMixin
from rramlab.drivers.board_compute import (
    INV_SATURATED,
    INV_UNSTABLE,
    WV_OUTSIDE,
    ComputeMixin,
    InvReading,
    InvSaturatedError,
    WriteVerifyResult,
)
from rramlab.drivers.board_link import BoardError, BoardLink, Reply
from rramlab.drivers.board_replies import as_floats, near, number
from rramlab.drivers.source_meter import Identity
from rramlab.errors import ConnectionLost, InstrumentError, LimitError
from rramlab.limits import SafetyLimits

# What callers import from here, where it all was defined first.
__all__ = [
    "DEFAULT_TIMEOUT_S",
    "INV_SATURATED",
    "INV_UNSTABLE",
    "PROTOCOL_MAJOR",
    "WV_OUTSIDE",
    "ArrayBoard",
    "BoardCapabilities",
    "BoardError",
    "InvReading",
    "InvSaturatedError",
    "Tile",
    "WriteVerifyResult",
]

log = logging.getLogger(__name__)

PROTOCOL_MAJOR = 1
DEFAULT_TIMEOUT_S = 10.0

_number = number  # the reply parser's old private name (tests import it)


class ArrayBoard(ChecksMixin, ComputeMixin):
    """One array test board. ``url`` is a pyserial URL or an open port object."""

    def __init__(
        self,
        url,
        *,
        limits: SafetyLimits,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str = "array board",
    ) -> None:
        self.limits = limits
        self.name = name
        opened = isinstance(url, str)
        self._instrument_lock = _lock_board(url, name) if opened else None
        port = serial.serial_for_url(url, timeout=timeout_s) if opened else url
        self.link = BoardLink(port, name=name)
        try:
            self._identity, self.capabilities = self._identify()
        except BaseException:
            if opened:
                with contextlib.suppress(Exception):
                    port.close()
                instrument_lock.release(self._instrument_lock)
            raise
        self.tile = self.capabilities.tiles[0]
        self._gate_V: float | None = None

    def _identify(self) -> tuple[Identity, BoardCapabilities]:
        """``*IDN?``, ``PROTO?`` (refused unless major :data:`PROTOCOL_MAJOR`), ``CAPS?``."""
        line = self.link_query_line("*IDN?")
        try:
            identity = Identity.parse(line)
        except ValueError:
            raise InstrumentError(
                f"unexpected identification {line[:80]!r}", instrument=self.name, command="*IDN?"
            ) from None
        self.link.marker = line  # what resynchronisation reads up to
        version = self._ok("PROTO?").fields
        if not version or version[0].split(".")[0] != str(PROTOCOL_MAJOR):
            raise InstrumentError(
                f"board speaks protocol {version}, this driver {PROTOCOL_MAJOR}.x",
                instrument=self.name,
                command="PROTO?",
            )
        caps = " ".join(self._ok("CAPS?").fields)
        try:
            capabilities = BoardCapabilities.parse(caps)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise InstrumentError(
                f"unreadable CAPS? reply: {error}", instrument=self.name, command="CAPS?"
            ) from None
        return identity, capabilities

    # ------------------------------------------------------------------ plumbing
    def link_query_line(self, line: str) -> str:
        """Send a line whose reply is a bare line (``*IDN?``) and return it."""
        return self.link.query_line(line)

    def _ok(self, line: str, block: bytes | None = None, *, retry: bool = True) -> Reply:
        return self.link.command(line, block, retry=retry)

    def _set(self, line: str, readback: str, took_effect: Callable[[list[str]], bool]) -> None:
        """A setting: sent once. If its reply is lost or garbled, ``readback`` (a query)
        says whether it took effect; if it provably did not, it is sent once more
        (not a repeat: the board never ran it). A refusal (``ERR``) raises at once."""
        try:
            self._ok(line, retry=False)
            return
        except (ConnectionLost, BoardError):
            raise
        except InstrumentError as failure:
            try:
                fields = self._ok(readback).fields
            except InstrumentError as unreadable:
                failure.add_note(f"{readback} could not tell either: {unreadable}")
                raise failure from None
            if took_effect(fields):
                log.info("%s: %s; %s says it took effect", self.name, failure.message, readback)
                return
            log.info("%s: %s did not take effect; sending it again", self.name, line)
        self._ok(line, retry=False)

    def close(self) -> None:
        try:
            self.link.port.close()
        finally:
            instrument_lock.release(getattr(self, "_instrument_lock", None))

    def reconnect(self, *, attempts: int = 3, wait_s: float = 0.5) -> None:
        """Close the port and open it again (same URL or port object): what to do after
        :class:`~rramlab.errors.ConnectionLost` once the cable is back, or to reset a
        hung board (reopening a USB serial port resets many boards, as DTR does).

        The board must be the same one: same ``*IDN?`` (serial number included), same
        protocol major version, same capabilities, else :class:`InstrumentError` (the
        port stays open). It may have restarted, so the driver takes the selected tile
        from ``TILE?`` and forgets the gate voltage it set; set it again before SET
        pulses. Opening is tried ``attempts`` times, ``wait_s`` apart; if it never
        works, :class:`~rramlab.errors.ConnectionLost`.
        """
        port = self.link.port
        with contextlib.suppress(Exception):
            port.close()
        for attempt in range(attempts):
            try:
                port.open()
                break
            except (serial.SerialException, OSError) as error:
                if attempt + 1 == attempts:
                    raise ConnectionLost(
                        f"could not open {getattr(port, 'port', port)!r} again: {error}",
                        instrument=self.name,
                        command="reconnect",
                    ) from error
                time.sleep(wait_s)
        self.link.reopened()
        identity, capabilities = self._identify()
        if identity != self._identity:
            raise InstrumentError(
                f"a different board answered: {identity} (was {self._identity})",
                instrument=self.name,
                command="*IDN?",
            )
        if capabilities != self.capabilities:
            raise InstrumentError(
                "the board's capabilities changed since it was opened",
                instrument=self.name,
                command="CAPS?",
            )
        tiles = {t.id: t for t in capabilities.tiles}
        reply = self._ok("TILE?").fields
        try:
            self.tile = tiles[int(reply[0])]
        except (IndexError, ValueError, KeyError):
            raise InstrumentError(
                f"unexpected TILE? reply {reply}", instrument=self.name, command="TILE?"
            ) from None
        self._gate_V = None

    @property
    def identity(self) -> Identity:
        return self._identity

    # ------------------------------------------------------------------ settings
    def reset(self) -> None:
        """``*RST``: every line grounded, SMU switch open, default settings."""
        self._gate_V = None
        self._ok("*RST", retry=False)
        self.tile = {t.id: t for t in self.capabilities.tiles}.get(0, self.tile)  # *RST: tile 0

    def select_tile(self, tile_id: int) -> None:
        tiles = {t.id: t for t in self.capabilities.tiles}
        if tile_id not in tiles:
            raise LimitError(f"no tile {tile_id}; the board has {sorted(tiles)}")
        self._set(f"TILE {tile_id}", "TILE?", lambda f: f == [str(tile_id)])
        self.tile = tiles[tile_id]

    def set_gate(self, v_gate_V: float) -> None:
        """Word-line voltage for later SET pulses: sets the 1T1R compliance (V)."""
        lo, hi = self.capabilities.gate_range_V
        v = float(v_gate_V)
        if not (math.isfinite(v) and lo <= v <= hi):
            raise LimitError(f"gate voltage {v_gate_V!r} V is outside the board's {lo:g}..{hi:g} V")
        self._set(f"GATE {v:.9g}", "GATE?", lambda f: near(f, v))
        self._gate_V = v

    def set_read_voltage(self, v_read_V: float) -> None:
        v = float(self._dac_values(np.array([v_read_V]), "read voltage")[0])
        if v == 0:
            raise LimitError("read voltage must not be 0 V")
        board_limits.check_drive(self.capabilities, self.limits, v, "read voltage")
        self._set(f"VREAD {v:.9g}", "VREAD?", lambda f: near(f, v))

    def route(self, row: int, col: int) -> None:
        """Connect the external SMU's terminals to cell (row, col) of the current tile."""
        row, col = self._cell(row, col)
        self._set(f"ROUTE {row} {col}", "ROUTE?", lambda f: f == [str(row), str(col)])

    def unroute(self) -> None:
        self._set("ROUTE OFF", "ROUTE?", lambda f: f == ["OFF"])

    def ground(self) -> None:
        self._ok("GND", retry=False)

    def float_lines(self) -> None:
        self._ok("FLOAT", retry=False)

    # ------------------------------------------------------------------ pulses and reads
    def pulse(self, v_V: float, width_s: float, row: int, col: int) -> float:
        """One pulse on cell (row, col); returns the current (A) at the end of it."""
        row, col = self._cell(row, col)
        v, width = self._pulse_values(v_V, width_s)
        self._set(f"SEL {row} {col}", "SEL?", lambda f: f == [str(row), str(col)])
        return number(self._ok(f"PULSE {v:.9g} {width:.9g}", retry=False), self.name, "PULSE")

    def pulse_row(self, v_V: float, width_s: float, row: int) -> None:
        row, _ = self._cell(row, 0)
        v, width = self._pulse_values(v_V, width_s)
        self._ok(f"PULSE {v:.9g} {width:.9g} ROW {row}", retry=False)

    def pulse_cells(self, v_V: float, width_s: float, cells: np.ndarray) -> None:
        """Pulse the cells listed as (row, col) pairs, one after the other."""
        cells = np.asarray(cells)
        if cells.ndim != 2 or cells.shape[1] != 2 or cells.shape[0] == 0:
            raise ValueError(f"cells must be an (n, 2) array of (row, col), got {cells.shape}")
        for row, col in cells:
            self._cell(int(row), int(col))
        v, width = self._pulse_values(v_V, width_s)
        block = np.ascontiguousarray(cells, dtype="<u2").tobytes()
        self._ok(f"PULSE {v:.9g} {width:.9g} CELLS {len(cells)}", block, retry=False)

    def read(self, row: int, col: int) -> float:
        """Current (A) of one cell at the read voltage."""
        row, col = self._cell(row, col)
        return number(self._ok(f"READ {row} {col}"), self.name, "READ")

    def read_row(self, row: int) -> np.ndarray:
        row, _ = self._cell(row, 0)
        return self._floats(self._ok(f"READ ROW {row}"), self.tile.cols, "READ ROW")

    def read_col(self, col: int) -> np.ndarray:
        _, col = self._cell(0, col)
        return self._floats(self._ok(f"READ COL {col}"), self.tile.rows, "READ COL")

    def read_tile(self) -> np.ndarray:
        """(rows, cols) currents (A) of the whole tile."""
        data = self._floats(self._ok("READ TILE"), self.tile.rows * self.tile.cols, "READ TILE")
        return data.reshape(self.tile.rows, self.tile.cols)

    # ------------------------------------------------------------------ helpers
    def _floats(self, reply: Reply, count: int, command: str) -> np.ndarray:
        if reply.block is None:
            raise InstrumentError("expected a data block", instrument=self.name, command=command)
        return as_floats(reply.block, count, self.name, command)


def _lock_board(url: str, name: str) -> instrument_lock.InstrumentLock | None:
    """Lock the board's port for this process before it is opened
    (rramlab.instrument_lock): a second process gets InstrumentInUseError; in-process
    simulated boards (``rramsim://``) need no lock."""
    return instrument_lock.lock_port(url, instrument=name)
