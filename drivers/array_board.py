"""Driver for an RRAM array test board speaking docs/board-protocol.md over pyserial.

``ArrayBoard(url, limits=...)`` opens any pyserial URL: a real port (``/dev/ttyACM0``,
``COM3``), ``socket://127.0.0.1:PORT`` for the board ``rramlab sim serve`` serves on its
SMU port + 1, or ``rramsim://...`` for an in-process simulated board. Every value is
checked against the board's reported capabilities and the station's safety limits
before a byte is sent; arrays come back as numpy arrays in SI units (amperes, volts,
siemens).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import serial

from rramlab.drivers.board_link import BoardError, BoardLink, Reply, float32_block
from rramlab.drivers.source_meter import Identity
from rramlab.errors import InstabilityError, InstrumentError, LimitError
from rramlab.limits import SafetyLimits

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
        port = url if not isinstance(url, str) else serial.serial_for_url(url, timeout=timeout_s)
        self.link = BoardLink(port, name=name)
        self._identity = Identity.parse(self.link_query_line("*IDN?"))
        version = self._ok("PROTO?").fields
        if not version or version[0].split(".")[0] != str(PROTOCOL_MAJOR):
            raise InstrumentError(
                f"board speaks protocol {version}, this driver {PROTOCOL_MAJOR}.x",
                instrument=name,
                command="PROTO?",
            )
        caps = " ".join(self._ok("CAPS?").fields)
        try:
            self.capabilities = BoardCapabilities.parse(caps)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise InstrumentError(
                f"unreadable CAPS? reply: {error}", instrument=name, command="CAPS?"
            ) from None
        self.tile = self.capabilities.tiles[0]
        self._gate_V: float | None = None

    # ------------------------------------------------------------------ plumbing
    def link_query_line(self, line: str) -> str:
        """Send a line whose reply is a bare line (``*IDN?``) and return it."""
        self.link.port.write((line + "\n").encode("ascii"))
        self.link.port.flush()
        return self.link.read_line(line)

    def _ok(self, line: str, block: bytes | None = None, *, retry: bool = True) -> Reply:
        return self.link.command(line, block, retry=retry)

    def close(self) -> None:
        self.link.port.close()

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
        self._ok("*RST")
        self._gate_V = None

    def select_tile(self, tile_id: int) -> None:
        tiles = {t.id: t for t in self.capabilities.tiles}
        if tile_id not in tiles:
            raise LimitError(f"no tile {tile_id}; the board has {sorted(tiles)}")
        self._ok(f"TILE {tile_id}")
        self.tile = tiles[tile_id]

    def set_gate(self, v_gate_V: float) -> None:
        """Word-line voltage for later SET pulses: sets the 1T1R compliance (V)."""
        lo, hi = self.capabilities.gate_range_V
        v = float(v_gate_V)
        if not (math.isfinite(v) and lo <= v <= hi):
            raise LimitError(f"gate voltage {v_gate_V!r} V is outside the board's {lo:g}..{hi:g} V")
        self._ok(f"GATE {v:.9g}")
        self._gate_V = v

    def set_read_voltage(self, v_read_V: float) -> None:
        v = float(self._dac_values(np.array([v_read_V]), "read voltage")[0])
        if v == 0:
            raise LimitError("read voltage must not be 0 V")
        self._ok(f"VREAD {v:.9g}")

    def route(self, row: int, col: int) -> None:
        """Connect the external SMU's terminals to cell (row, col) of the current tile."""
        row, col = self._cell(row, col)
        self._ok(f"ROUTE {row} {col}")

    def unroute(self) -> None:
        self._ok("ROUTE OFF")

    def ground(self) -> None:
        self._ok("GND")

    def float_lines(self) -> None:
        self._ok("FLOAT")

    # ------------------------------------------------------------------ pulses and reads
    def pulse(self, v_V: float, width_s: float, row: int, col: int) -> float:
        """One pulse on cell (row, col); returns the current (A) at the end of it."""
        row, col = self._cell(row, col)
        v, width = self._pulse_values(v_V, width_s)
        self._ok(f"SEL {row} {col}")
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
        ground; returns their currents (A)."""
        v = self._dac_values(np.atleast_1d(v_rows_V), "MVM input")
        n_cols = self.tile.cols - col0 if n_cols is None else n_cols
        self._block_bounds(row0, col0, v.size, n_cols)
        reply = self._ok(f"MVM {row0} {col0} {v.size} {n_cols}", float32_block(v))
        return self._floats(reply, n_cols, "MVM")

    def inv(self, i_in_A: np.ndarray, *, row0: int = 0, col0: int = 0) -> InvReading:
        """Run the INV circuit on the n x n block at (row0, col0) with input currents
        ``i_in_A`` (A); returns the settled outputs (V). Raises InstabilityError when the
        block cannot be inverted, InvSaturatedError when an output hits the clamp."""
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
        self._block_bounds(row0, col0, i.size, i.size)
        command = f"INV {row0} {col0} {i.size}"
        try:
            reply = self._ok(command, float32_block(i))
        except BoardError as error:
            if error.code == INV_UNSTABLE:
                raise InstabilityError(f"{self.name}: {error.message}") from error
            if error.code == INV_SATURATED and error.block is not None:
                self.link.read_line(command)  # the settling-time line that follows
                raise InvSaturatedError(
                    error, _as_floats(error.block, i.size, self.name, command)
                ) from None
            raise
        v_out = self._floats(reply, i.size, command)
        return InvReading(v_out, _settling_time(self.link.read_line(command), self.name, command))

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


def _as_floats(block: bytes, count: int, name: str, command: str) -> np.ndarray:
    if len(block) != 4 * count:
        raise InstrumentError(
            f"data block of {len(block)} bytes, expected {4 * count}",
            instrument=name,
            command=command,
        )
    return np.frombuffer(block, dtype="<f4").astype(float)


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
