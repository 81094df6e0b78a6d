"""The array board's analog computing: MVM (row voltages in V, column currents in A),
the closed-loop INV circuit (input currents in A, settled outputs in V) and on-board
write-verify (target conductances in S), with what each returns. Mixed into
:class:`rramlab.drivers.array_board.ArrayBoard`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rramlab.drivers import board_limits
from rramlab.drivers.board_link import BoardError, float32_block
from rramlab.drivers.board_replies import as_floats, settling_time
from rramlab.errors import InstabilityError, InstrumentError, LimitError

INV_SATURATED, INV_UNSTABLE, WV_OUTSIDE = 310, 311, 320


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


class ComputeMixin:
    """MVM, INV and write-verify (uses ``link``, ``limits``, ``capabilities``, ``tile``
    and the board's value checks)."""

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
        differential: bool = False,
    ) -> InvReading:
        """Run the INV circuit on the n x n block at (row0, col0) with input currents
        ``i_in_A`` (A) and ``feedback_S`` (S) from each op-amp's output to its inverting
        input (the outputs solve ``(G + feedback_S I) V = -I``); returns the settled
        outputs (V). ``copies`` (k, at most the board's ``inv_copies_max``): the block is
        n x k n and op-amp ``j`` drives columns ``col0 + j, col0 + n + j, ...``, so ``G``
        sums k cells per entry. ``differential`` (boards whose ``CAPS?`` says
        ``inv_differential``; sends ``DIFF=1``): the block is n x 2 k n, op-amp ``j``'s
        inverted output ``-V_j`` drives columns ``col0 + k n + c n + j`` (c < k) after
        the k positive copies, and the outputs solve ``(G+ - G- + feedback_S I) V = -I``
        with ``G+``, ``G-`` the sums of the positive and negative copies. Raises
        InstabilityError when the block cannot be inverted, InvSaturatedError when an
        output hits the clamp."""
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
        if not isinstance(differential, (bool, np.bool_)):
            raise ValueError(f"differential must be a bool, got {differential!r}")
        if differential and not self.capabilities.inv_differential:
            raise LimitError("this board has no differential INV (CAPS? inv_differential)")
        sides = 2 if differential else 1
        self._block_bounds(row0, col0, i.size, sides * int(k) * i.size)
        command = f"INV {row0} {col0} {i.size}" + (f" FB={feedback:.9g}" if feedback else "")
        command += f" COPIES={int(k)}" if k > 1 else ""
        command += " DIFF=1" if differential else ""
        try:
            reply = self._ok(command, float32_block(i))
        except BoardError as error:
            if error.code == INV_UNSTABLE:
                raise InstabilityError(f"{self.name}: {error.message}") from error
            if error.code == INV_SATURATED and error.block is not None:
                self.link.read_more(command)  # the settling-time line that follows
                raise InvSaturatedError(
                    error, as_floats(error.block, i.size, self.name, command)
                ) from None
            raise
        v_out = self._floats(reply, i.size, command)
        return InvReading(v_out, settling_time(self.link.read_more(command), self.name, command))

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
        g = as_floats(first, targets.size, self.name, command).reshape(shape)
        counts = self.link.read_block_reply(command)
        if len(counts) != 2 * targets.size:
            raise InstrumentError(
                "pulse-count block has the wrong size", instrument=self.name, command=command
            )
        pulses = np.frombuffer(counts, dtype="<u2").astype(int).reshape(shape)
        wanted = np.isfinite(targets)
        outside = wanted & ~(np.abs(g - targets) <= tol_rel * np.where(wanted, targets, 1.0))
        return WriteVerifyResult(np.where(wanted, g, np.nan), pulses, outside)
