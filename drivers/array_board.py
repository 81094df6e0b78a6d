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
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import serial

from rramlab import instrument_lock
from rramlab.drivers import board_limits
from rramlab.drivers.board_link import BoardError, BoardLink, Reply, float32_block
from rramlab.drivers.source_meter import Identity
from rramlab.errors import ConnectionLost, InstabilityError, InstrumentError, LimitError
from rramlab.limits import SafetyLimits

log = logging.getLogger(__name__)

PROTOCOL_MAJOR = 1
DEFAULT_TIMEOUT_S = 10.0
INV_SATURATED, INV_UNSTABLE, WV_OUTSIDE = 310, 311, 320


@dataclass(frozen=True)
class Tile:
    id: int
    rows: int
    cols: int
    access: str


@dataclass(frozen=True)
class BoardCapabilities:
    """What ``CAPS?`` reports (SI units)."""

    tiles: tuple[Tile, ...]
    dac_bits: int
    dac_range_V: float
    adc_bits: int
    adc_range_A: float
    gate_range_V: tuple[float, float]
    pulse_amplitude_V: float
    pulse_width_s: tuple[float, float]
    read_voltage_V: float
    inv_clamp_V: float
    inv_input_range_A: float
    max_write_verify_pulses: int
    inv_feedback_max_S: float = 0.0  # 0: no INV feedback conductances (key absent)
    inv_copies_max: int = 1  # column lines per INV op-amp output (1: key absent)

    @classmethod
    def parse(cls, text: str) -> BoardCapabilities:
        data = json.loads(text)
        return cls(
            tiles=tuple(
                Tile(int(t["id"]), int(t["rows"]), int(t["cols"]), str(t["access"]))
                for t in data["tiles"]
            ),
            dac_bits=int(data["dac_bits"]),
            dac_range_V=float(data["dac_range_V"]),
            adc_bits=int(data["adc_bits"]),
            adc_range_A=float(data["adc_range_A"]),
            gate_range_V=(float(data["gate_range_V"][0]), float(data["gate_range_V"][1])),
            pulse_amplitude_V=float(data["pulse_amplitude_V"]),
            pulse_width_s=(float(data["pulse_width_s"][0]), float(data["pulse_width_s"][1])),
            read_voltage_V=float(data["read_voltage_V"]),
            inv_clamp_V=float(data["inv_clamp_V"]),
            inv_input_range_A=float(data["inv_input_range_A"]),
            max_write_verify_pulses=int(data["max_write_verify_pulses"]),
            inv_feedback_max_S=float(data.get("inv_feedback_max_S", 0.0)),
            inv_copies_max=int(data.get("inv_copies_max", 1)),
        )


@dataclass(frozen=True)
class InvReading:
    """Settled outputs (V) of the INV circuit and the time it took (s)."""

    v_out_V: np.ndarray
    settling_time_s: float


class InvSaturatedError(BoardError):
    """An INV op-amp hit its clamp: ``v_out_V`` holds the clamped outputs (not an answer)."""

    def __init__(self, error: BoardError, v_out_V: np.ndarray) -> None:
        super().__init__(
            error.message,
            code=error.code,
            instrument=error.instrument,
            command=error.command,
            block=error.block,
        )
        self.v_out_V = v_out_V


@dataclass(frozen=True)
class WriteVerifyResult:
    """On-board write-verify of a tile: achieved conductances (S, NaN where skipped),
    pulses used per cell, and the cells left outside tolerance."""

    g_S: np.ndarray
    pulses: np.ndarray
    outside: np.ndarray  # bool


class ArrayBoard:
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

    # ------------------------------------------------------------------ validation
    def _cell(self, row: int, col: int) -> tuple[int, int]:
        for what, value, n in (("row", row, self.tile.rows), ("col", col, self.tile.cols)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{what} must be an integer, got {value!r}")
            if not 0 <= value < n:
                raise LimitError(f"{what} {value} is outside tile {self.tile.id} (0..{n - 1})")
        return int(row), int(col)

    def _pulse_values(self, v_V: float, width_s: float) -> tuple[float, float]:
        v = self.limits.check_voltage(v_V, "pulse amplitude")
        width = self.limits.check_pulse_width(width_s)
        caps = self.capabilities
        if abs(v) > caps.pulse_amplitude_V:
            raise LimitError(
                f"pulse amplitude {v:g} V is beyond the board's {caps.pulse_amplitude_V:g} V"
            )
        lo, hi = caps.pulse_width_s
        if not lo <= width <= hi:
            raise LimitError(f"pulse width {width:g} s is outside the board's {lo:g}..{hi:g} s")
        return v, width

    def _dac_values(self, v_V: np.ndarray, what: str) -> np.ndarray:
        v = np.asarray(v_V, dtype=float)
        if not np.all(np.isfinite(v)):
            raise LimitError(f"{what} must be finite")
        peak = float(np.max(np.abs(v))) if v.size else 0.0
        self.limits.check_voltage(peak, what)
        if peak > self.capabilities.dac_range_V:
            raise LimitError(
                f"{what} {peak:g} V is beyond the DACs' +-{self.capabilities.dac_range_V:g} V"
            )
        return v

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
        self._set(f"GATE {v:.9g}", "GATE?", lambda f: _near(f, v))
        self._gate_V = v

    def set_read_voltage(self, v_read_V: float) -> None:
        v = float(self._dac_values(np.array([v_read_V]), "read voltage")[0])
        if v == 0:
            raise LimitError("read voltage must not be 0 V")
        board_limits.check_drive(self.capabilities, self.limits, v, "read voltage")
        self._set(f"VREAD {v:.9g}", "VREAD?", lambda f: _near(f, v))

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
        return _number(self._ok(f"PULSE {v:.9g} {width:.9g}", retry=False), self.name, "PULSE")

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
        return _number(self._ok(f"READ {row} {col}"), self.name, "READ")

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

    # ------------------------------------------------------------------ computing
    def mvm(
        self, v_rows_V: np.ndarray, *, row0: int = 0, col0: int = 0, n_cols: int | None = None
    ) -> np.ndarray:
        """Drive rows ``row0..`` with ``v_rows_V`` (V), hold columns ``col0..`` at virtual
        ground; returns their currents (A). Inputs that could push more than the
        station's ``max_current_A`` through a cell the board can hold are refused
        (:mod:`rramlab.drivers.board_limits`)."""
        v = self._dac_values(np.atleast_1d(v_rows_V), "MVM input")
        peak = float(np.max(np.abs(v))) if v.size else 0.0
        board_limits.check_drive(self.capabilities, self.limits, peak, "MVM input")
        n_cols = self.tile.cols - col0 if n_cols is None else n_cols
        self._block_bounds(row0, col0, v.size, n_cols)
        reply = self._ok(f"MVM {row0} {col0} {v.size} {n_cols}", float32_block(v))
        return self._floats(reply, n_cols, "MVM")

    def inv(
        self,
        i_in_A: np.ndarray,
        *,
        row0: int = 0,
        col0: int = 0,
        feedback_S: float = 0.0,
        copies: int = 1,
    ) -> InvReading:
        """Run the INV circuit on the n x n block at (row0, col0) with input currents
        ``i_in_A`` (A) and ``feedback_S`` (S) from each op-amp's output to its inverting
        input (the outputs solve ``(G + feedback_S I) V = -I``); returns the settled
        outputs (V). ``copies`` (k, at most the board's ``inv_copies_max``): the block is
        n x k n and op-amp ``j`` drives columns ``col0 + j, col0 + n + j, ...``, so ``G``
        sums k cells per entry. Raises InstabilityError when the block cannot be
        inverted, InvSaturatedError when an output hits the clamp."""
        i = np.asarray(i_in_A, dtype=float)
        if i.ndim != 1 or not np.all(np.isfinite(i)):
            raise ValueError("i_in_A must be a one-dimensional array of finite currents")
        peak = float(np.max(np.abs(i))) if i.size else 0.0
        self.limits.check_current(peak, "INV input current")
        if peak > self.capabilities.inv_input_range_A:
            raise LimitError(
                f"INV input current {peak:g} A is beyond the board's "
                f"+-{self.capabilities.inv_input_range_A:g} A"
            )
        feedback, fb_max = float(feedback_S), self.capabilities.inv_feedback_max_S
        if not (math.isfinite(feedback) and 0 <= feedback <= fb_max):
            raise LimitError(f"INV feedback {feedback_S!r} S is outside the board's 0..{fb_max:g}")
        k, k_max = copies, self.capabilities.inv_copies_max
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= k_max:
            raise LimitError(f"INV copies {copies!r} is outside the board's 1..{k_max}")
        self._block_bounds(row0, col0, i.size, int(k) * i.size)
        command = f"INV {row0} {col0} {i.size}" + (f" FB={feedback:.9g}" if feedback else "")
        command += f" COPIES={int(k)}" if k > 1 else ""
        try:
            reply = self._ok(command, float32_block(i))
        except BoardError as error:
            if error.code == INV_UNSTABLE:
                raise InstabilityError(f"{self.name}: {error.message}") from error
            if error.code == INV_SATURATED and error.block is not None:
                self.link.read_more(command)  # the settling-time line that follows
                raise InvSaturatedError(
                    error, _as_floats(error.block, i.size, self.name, command)
                ) from None
            raise
        v_out = self._floats(reply, i.size, command)
        return InvReading(v_out, _settling_time(self.link.read_more(command), self.name, command))

    def write_verify(
        self, targets_S: np.ndarray, *, tol_rel: float = 0.05, max_pulses: int = 100
    ) -> WriteVerifyResult:
        """Program the current tile to ``targets_S`` (siemens, (rows, cols); NaN leaves a
        cell alone) with the board's own write-verify loop."""
        targets = np.asarray(targets_S, dtype=float)
        shape = (self.tile.rows, self.tile.cols)
        if targets.shape != shape:
            raise ValueError(f"targets_S must have shape {shape}, got {targets.shape}")
        if np.any(targets[np.isfinite(targets)] <= 0) or np.any(np.isinf(targets)):
            raise ValueError("targets_S must be positive conductances (or NaN to skip)")
        if not (0 < tol_rel < 1):
            raise ValueError(f"tol_rel must be in (0, 1), got {tol_rel!r}")
        cap = self.capabilities.max_write_verify_pulses
        if not (isinstance(max_pulses, (int, np.integer)) and 1 <= max_pulses <= cap):
            raise LimitError(f"max_pulses must be an integer in 1..{cap}, got {max_pulses!r}")
        command = f"WV {tol_rel:.9g} {int(max_pulses)}"
        try:
            first = self.link.command(command, float32_block(targets), retry=False).block
        except BoardError as error:
            if error.code != WV_OUTSIDE or error.block is None:
                raise
            first = error.block
        g = _as_floats(first, targets.size, self.name, command).reshape(shape)
        counts = self.link.read_block_reply(command)
        if len(counts) != 2 * targets.size:
            raise InstrumentError(
                "pulse-count block has the wrong size", instrument=self.name, command=command
            )
        pulses = np.frombuffer(counts, dtype="<u2").astype(int).reshape(shape)
        wanted = np.isfinite(targets)
        outside = wanted & ~(np.abs(g - targets) <= tol_rel * np.where(wanted, targets, 1.0))
        return WriteVerifyResult(np.where(wanted, g, np.nan), pulses, outside)

    # ------------------------------------------------------------------ helpers
    def _block_bounds(self, row0: int, col0: int, n_rows: int, n_cols: int) -> None:
        self._cell(row0, col0)
        if (
            n_rows < 1
            or n_cols < 1
            or row0 + n_rows > self.tile.rows
            or col0 + n_cols > self.tile.cols
        ):
            raise LimitError(
                f"a {n_rows}x{n_cols} block at ({row0}, {col0}) does not fit "
                f"the {self.tile.rows}x{self.tile.cols} tile"
            )

    def _floats(self, reply: Reply, count: int, command: str) -> np.ndarray:
        if reply.block is None:
            raise InstrumentError("expected a data block", instrument=self.name, command=command)
        return _as_floats(reply.block, count, self.name, command)


def _lock_board(url: str, name: str) -> instrument_lock.InstrumentLock | None:
    """Lock the board's port for this process before it is opened
    (rramlab.instrument_lock): a second process gets InstrumentInUseError; in-process
    simulated boards (``rramsim://``) need no lock."""
    return instrument_lock.lock_port(url, instrument=name)


def _as_floats(block: bytes, count: int, name: str, command: str) -> np.ndarray:
    if len(block) != 4 * count:
        raise InstrumentError(
            f"data block of {len(block)} bytes, expected {4 * count}",
            instrument=name,
            command=command,
        )
    return np.frombuffer(block, dtype="<f4").astype(float)


def _near(fields: list[str], value: float) -> bool:
    """Whether a readback (one number) is ``value``, to a DAC step or so."""
    try:
        (text,) = fields
        return math.isclose(float(text), value, rel_tol=1e-3, abs_tol=1e-3)
    except ValueError:
        return False


def _number(reply: Reply, name: str, command: str) -> float:
    try:
        (value,) = reply.fields
        return float(value)
    except ValueError:
        raise InstrumentError(
            f"expected one number, got {reply.fields}", instrument=name, command=command
        ) from None


def _settling_time(line: str, name: str, command: str) -> float:
    parts = line.split()
    try:
        if parts[0] != "OK":
            raise ValueError
        return float(parts[1])
    except (IndexError, ValueError):
        raise InstrumentError(
            f"expected 'OK <settling time>', got {line!r}", instrument=name, command=command
        ) from None
