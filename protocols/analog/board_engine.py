""":class:`BoardEngine`: the analog engine on an array board (docs/analog.md).

Every byte goes through :class:`~rramlab.drivers.array_board.ArrayBoard`:

- stored arrays are **placed** on the tiles (board_placement): MVM stacks as ``n_in``
  rows x ``S n_out`` columns (inputs drive rows, products come out on columns; a stack
  too wide for one region is split into parts), INV blocks as contiguous squares;
  candidate cells are formed and scanned first;
- level ``d`` is **programmed** as ``g = g_low + d (g_high - g_low) / 7`` (0.5-35 uS,
  the lowest level standing for 0 [PKU25]) with the board's write-verify, one command
  per level so the tolerance is ``tol_levels`` steps at every level;
- every MVM column's gain, zero level and offset are **calibrated** with known inputs
  (board_mvm), every INV block's output offset and all-ones response (board_inv);
- a **bit-level MVM** drives rows with ``+-v`` (``v`` as large as the ADCs allow for
  ``rows_per_mvm`` top-level cells, at most ``v_mvm_max_V``), averages ``repeats``
  drives, converts the currents to level products and subtracts the known error of the
  few cells that sit off their level; a **real-valued MVM** drives at most
  ``v_analog_max_V``, where the cells' I-V is nearly linear;
- **LP-INV** is auto-ranged, corrected for the cells' small-signal conductance and
  for the bias column by Sherman-Morrison (board_inv; a differential block, whose
  second column set the inverted outputs drive, needs no bias); an unstable block raises
  :class:`~rramlab.errors.InstabilityError`;
- cells **relax** after programming (their spread grows with log time: on the
  simulated chip about 0.05 level within 0.1 s, 0.14 after 2 s), so once
  ``refresh_s`` has passed since the last verify, or when HP-MVM asks, the MVM cells
  are read back, those that left the tolerance band are written again, and the columns
  are recalibrated.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rramlab.clock import Clock
from rramlab.drivers.array_board import ArrayBoard
from rramlab.protocols.analog import board_inv, board_mvm
from rramlab.protocols.analog.board_config import BoardEngineConfig
from rramlab.protocols.analog.board_placement import Array, Placement
from rramlab.protocols.analog.engine import (
    EngineStats,
    InvArray,
    MvmArray,
    check_digits,
    check_input,
    new_inv_array,
)
from rramlab.protocols.analog.errors import AllocationError

MAX_MOVES = 4  # times arrays may be moved off cells that turned out unusable


class BoardEngine:
    """The analog engine on ``board`` (see the module docs). ``clock`` (the station's)
    times refreshes; ``tiles`` limits the tiles it uses (default: all). Keyword
    ``overrides`` replace fields of ``config``."""

    name = "board"

    def __init__(
        self,
        board: ArrayBoard,
        *,
        clock: Clock | None = None,
        tiles: list[int] | None = None,
        config: BoardEngineConfig | None = None,
        **overrides: object,
    ) -> None:
        self.board = board
        self.config = dataclasses.replace(config or BoardEngineConfig(), **overrides)
        known = {t.id: t for t in board.capabilities.tiles}
        ids = list(known) if tiles is None else list(tiles)
        unknown = sorted(set(ids) - set(known))
        if unknown or not ids:
            raise ValueError(f"no tile(s) {unknown or ids}; the board has {sorted(known)}")
        self.stats = EngineStats()
        self.place = Placement(board, self.config, self.stats, clock, ids)
        self.max_inv_size = max(min(known[t].rows, known[t].cols) for t in ids)
        self.supports_feedback = board.capabilities.inv_feedback_max_S > 0
        self.max_inv_copies = board.capabilities.inv_copies_max
        self.supports_differential = board.capabilities.inv_differential
        self.rng = np.random.default_rng(self.config.seed)
        self._pending: list[Array] = []
        self._arrays: list[Array] = []
        self._small_signal: dict[int, float] = {}

    # ------------------------------------------------------------------ storing arrays
    def program_mvm(self, digits: np.ndarray, *, analog: bool = False) -> MvmArray:
        array = MvmArray(check_digits(digits, 3), analog)
        self._pending.append(array)
        return array

    def program_inv(
        self,
        digits: np.ndarray,
        *,
        diagonal: float = 0.0,
        bias: float = 0.0,
        copies: int = 1,
        differential: bool = False,
    ) -> InvArray:
        options = dict(copies=copies, differential=differential)
        array = new_inv_array(self, digits, diagonal=diagonal, bias=bias, **options)
        if array.n > self.max_inv_size:
            raise ValueError(
                f"INV blocks must be square and at most {self.max_inv_size} x "
                f"{self.max_inv_size} on this board, got {array.digits.shape}"
            )
        feedback, limit = diagonal * self.config.step_S, self.board.capabilities.inv_feedback_max_S
        if not 0 <= feedback <= limit:
            raise ValueError(
                f"a diagonal of {diagonal:g} levels needs {feedback:.3g} S of INV feedback; "
                f"the board allows 0..{limit:g} S"
            )
        self._pending.append(array)
        return array

    def rows_per_mvm(self, array: MvmArray) -> int:
        """Rows a bit-level MVM drives at once (see ``Placement.rows_per_drive``)."""
        self.prepare()
        return self.place.rows_per_drive(array)

    # ------------------------------------------------------------------ physical work
    def prepare(self) -> None:
        """Place, form, program and calibrate everything stored since last time."""
        if not self._pending:
            return
        self.board.set_read_voltage(self.config.v_read_V)
        new, self._pending = self._pending, []
        # INV blocks first: they need contiguous healthy squares, MVM regions can skip.
        new.sort(key=lambda array: not isinstance(array, InvArray))
        for array in new:
            self.place.allocate(array)
        todo = new
        for _ in range(MAX_MOVES):
            moved = self.place.program(todo)
            if not moved:
                break
            for array in moved:
                self.place.release(array)
                self.place.allocate(array)
            todo = moved
        else:
            raise AllocationError("arrays kept landing on cells that cannot be programmed")
        self._arrays.extend(new)
        for array in self._arrays:
            if not array.state.get("calibrated"):
                self._calibrate(array)

    def _calibrate(self, array: Array) -> None:
        if isinstance(array, InvArray):
            tile = array.state["parts"][0][0].tile
            board_inv.calibrate(self.place, array, self._factor(tile))
        else:
            parts = array.state["parts"]
            array.state["fix"] = [self.place.corrections(array, p) for p in parts]
            array.state["digital"] = [
                board_mvm.calibrate(self.place, array, p, digital=True, rng=self.rng) for p in parts
            ]
            if array.analog:
                array.state["analog"] = [
                    board_mvm.calibrate(self.place, array, p, digital=False, rng=self.rng)
                    for p in parts
                ]
        array.state["calibrated"] = True

    def _factor(self, tile: int) -> float:
        """The INV cells' small-signal factor on ``tile`` (measured once)."""
        if not self.config.small_signal:
            return 1.0
        if tile not in self._small_signal:
            cells = np.zeros(self.place.layouts[tile].shape, dtype=bool)
            for array in self._arrays:
                if isinstance(array, InvArray):
                    region = array.state["parts"][0][0]
                    if region.tile == tile:
                        levels = self.place.level_map(array, 0, 1)
                        cells[region.rows, list(region.cols)] = levels >= 2
            self._small_signal[tile] = board_inv.small_signal_factor(self.place, tile, cells)
        return self._small_signal[tile]

    # ------------------------------------------------------------------ refreshes
    def refresh(self, array: MvmArray) -> None:
        """Re-verify (and recalibrate) every MVM array on the tiles of ``array``."""
        self.prepare()
        for tile in {region.tile for region, _, _ in array.state["parts"]}:
            self._refresh_tile(tile)

    def _maybe_refresh(self, array: MvmArray) -> None:
        limit = self.config.refresh_s
        if limit is None or self.place.clock is None:
            return
        for tile in {region.tile for region, _, _ in array.state["parts"]}:
            if self.place.now() - self.place.verified_at.get(tile, self.place.now()) > limit:
                self._refresh_tile(tile)

    def _refresh_tile(self, tile: int) -> None:
        arrays = [
            a
            for a in self._arrays
            if isinstance(a, MvmArray) and any(r.tile == tile for r, _, _ in a.state["parts"])
        ]
        self.place.refresh(tile, arrays)
        for array in arrays:
            self._calibrate(array)

    # ------------------------------------------------------------------ computing
    def mvm_digits(
        self, array: MvmArray, x: np.ndarray, *, repeats: int | None = None
    ) -> np.ndarray:
        """Level products ``digits @ x`` (floats) for bit planes ``x`` in {-1, 0, 1}."""
        self.prepare()
        n_stack, n_out, n_in = array.shape
        x2, single = check_input(x, n_in, ternary=True)
        self._maybe_refresh(array)
        repeats = max(1, int(repeats or self.config.repeats))
        out = np.zeros((n_stack, n_out, x2.shape[1]))
        parts = zip(array.state["parts"], array.state["digital"], array.state["fix"], strict=True)
        for (region, first, count), cal, (rows, cols, delta) in parts:
            for j in np.flatnonzero(np.any(x2 != 0, axis=0)):
                t = x2[:, j]
                currents = board_mvm.drive(self.place, region, t * cal.v_drive_V, repeats)
                products = cal.products(currents, float(t.sum()))
                np.subtract.at(products, cols, delta * t[rows])  # the known-off cells
                out[first : first + count, :, j] = products.reshape(count, n_out)
                self.stats.mvm_drives += repeats
        self.stats.mvm_calls += 1
        return out[..., 0] if single else out

    def mvm_analog(self, array: MvmArray, x: np.ndarray) -> np.ndarray:
        """Approximate ``digits @ x`` for real-valued ``x``: one drive per vector, its
        largest entry at ``v_analog_max_V`` (or less, for the ADC range)."""
        self.prepare()
        if not array.analog:
            raise ValueError("this array was not programmed for analog inputs (analog=True)")
        n_stack, n_out, n_in = array.shape
        x2, single = check_input(x, n_in, ternary=False)
        out = np.zeros((n_stack, n_out, x2.shape[1]))
        parts = zip(array.state["parts"], array.state["analog"], array.state["fix"], strict=True)
        for (region, first, count), cal, (rows, cols, delta) in parts:
            for j in range(x2.shape[1]):
                peak = float(np.max(np.abs(x2[:, j])))
                if peak == 0:
                    continue
                u = x2[:, j] / peak
                currents = board_mvm.drive(self.place, region, u * cal.v_drive_V, 1)
                products = cal.products(currents, float(u.sum()))
                np.subtract.at(products, cols, delta * u[rows])
                out[first : first + count, :, j] = (products * peak).reshape(count, n_out)
                self.stats.mvm_drives += 1
                self.stats.analog_drives += 1
        self.stats.mvm_calls += 1
        return out[..., 0] if single else out

    def inv(self, array: InvArray, b: np.ndarray) -> np.ndarray:
        """Approximate ``K^-1 b`` with ``K = digits + diagonal I - bias J``."""
        self.prepare()
        b2, single = check_input(b, array.n, ternary=False)
        out = np.stack([board_inv.solve(self.place, array, col) for col in b2.T], axis=1)
        self.stats.inv_calls += 1
        return out[:, 0] if single else out

    def read_back(self, array: Array) -> np.ndarray:
        """What is programmed, from the read-back after the last verify: the levels
        (MVM, (S, n_out, n_in)) or the operator ``K`` (INV, level units)."""
        self.prepare()
        if isinstance(array, InvArray):
            m_total = board_inv.bias_total(self.place, array)
            return board_inv.board_operator(self.place, array) - m_total * np.ones(
                (array.n, array.n)
            )
        _, n_out, n_in = array.shape
        out = np.zeros(array.shape)
        for region, first, count in array.state["parts"]:
            levels = self.place.levels_read(region)  # (n_in, count n_out)
            out[first : first + count] = levels.reshape(n_in, count, n_out).transpose(1, 2, 0)
        return out
