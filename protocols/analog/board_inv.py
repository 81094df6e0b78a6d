"""LP-INV on a board INV block: calibration and one auto-ranged run.

The block holds ``K_board = D + k z0 J + f I`` in level units (``z0``: level 0's
conductance, ``f``: the feedback conductance, ``k``: cells in parallel per entry, whose
levels add up in ``D``) and the circuit settles at ``V = -K_board^-1 I / step``. The
engine wants ``K = D + f I - m J``, so it removes ``(m + k z0) J`` by Sherman-Morrison
with the block's measured response to all ones.

``step`` here is the level step *as the INV circuit sees it*: the loop holds its cells
near 0 V, where their sinh I-V conducts a few percent less than at the verify voltage
(0.974x on the simulated chip), while the feedback resistors are linear. The engine
measures that small-signal factor by reads at ``v_small_V`` and scales the feedback and
the conversion with it.
"""

from __future__ import annotations

import numpy as np

from rramlab.drivers.array_board import InvSaturatedError
from rramlab.errors import InstabilityError
from rramlab.protocols.analog import board_cells
from rramlab.protocols.analog.board_layout import Region
from rramlab.protocols.analog.board_placement import Placement
from rramlab.protocols.analog.engine import InvArray
from rramlab.protocols.analog.mapping import sherman_morrison

MAX_RUNS = 8  # INV runs per solve before giving up on the ranging


def board_operator(place: Placement, array: InvArray) -> np.ndarray:
    """``K_board`` as read back (level units)."""
    region = array.state["parts"][0][0]
    n, k = array.n, array.copies
    cells = place.levels_read(region).reshape(n, k, n).sum(axis=1)  # parallel copies add
    return cells + k * place.config.zero_level + array.diagonal * np.eye(n)


def small_signal_factor(place: Placement, tile: int, cells: np.ndarray) -> float:
    """``g(v_small) / g(v_read)`` summed over ``cells`` (a mask of the tile)."""
    c = place.config
    place.select(tile)
    place.board.set_read_voltage(c.v_small_V)
    try:
        small = board_cells.read_conductance(place.board, c.v_small_V, c.small_signal_reads)
    finally:
        place.board.set_read_voltage(c.v_read_V)
    reference = place.snapshot[tile][cells].sum()
    return float(small[cells].sum() / reference) if reference > 0 else 1.0


def calibrate(place: Placement, array: InvArray, factor: float) -> None:
    """Level step, a safe input bound, the output offset and the all-ones response."""
    c = place.config
    region = array.state["parts"][0][0]
    array.state["step"] = c.step_S * factor
    array.state["norm_inv"] = float(
        np.abs(np.linalg.inv(board_operator(place, array))).sum(1).max()
    )
    runs = c.inv_calibration_runs
    array.state["v0"] = np.zeros(array.n)
    offsets = [_run(place, array, region, np.zeros(array.n)) for _ in range(runs)]
    array.state["v0"] = np.mean(offsets, axis=0)
    array.state["z"] = np.mean([levels(place, array, np.ones(array.n)) for _ in range(runs)], 0)
    place.stats.calibration_ops += 2 * runs


def solve(place: Placement, array: InvArray, b: np.ndarray) -> np.ndarray:
    """``K^-1 b`` for one right-hand side (``inv_repeats`` runs averaged)."""
    runs = [levels(place, array, b) for _ in range(place.config.inv_repeats)]
    m_total = array.bias + array.copies * place.config.zero_level
    return sherman_morrison(np.mean(runs, axis=0), array.state["z"], m_total)


def levels(place: Placement, array: InvArray, b: np.ndarray) -> np.ndarray:
    """``K_board^-1 b`` (level units) from one auto-ranged run: the input scaled by a
    safe bound (the read-back operator's inverse norm, times a boost the block learns
    from its earlier runs), then, if the outputs came out small, again to put the
    largest at ``inv_headroom`` of the clamp (the current DACs' and output ADCs'
    resolution is relative to their full scale); halved on a saturated output."""
    peak = float(np.max(np.abs(b)))
    if peak == 0:
        return np.zeros(array.n)
    c, caps = place.config, place.board.capabilities
    region = array.state["parts"][0][0]
    step = array.state["step"]
    target = c.inv_headroom * caps.inv_clamp_V
    ceiling = 0.9 * caps.inv_input_range_A / peak
    boost = array.state.setdefault("boost", 1.0)
    scale = min(ceiling, boost * target * step / (array.state["norm_inv"] * peak))
    ranged = False
    for _ in range(MAX_RUNS):
        try:
            volts = _run(place, array, region, b * scale) - array.state["v0"]
        except InvSaturatedError:
            scale /= 2  # the bound was not enough (a cell off its level)
            array.state["boost"] = max(1.0, array.state["boost"] / 2)
            continue
        swing = float(np.max(np.abs(volts)))
        if not ranged and 0 < swing < 0.5 * target and scale < ceiling:
            gain = 0.9 * target / swing
            # Learn part of the gain, so the next first run lands nearer the target;
            # never so much that the bound would allow an output past the clamp.
            array.state["boost"] = min(
                boost * max(1.0, 0.5 * gain), 0.9 * caps.inv_clamp_V / target
            )
            scale, ranged = min(ceiling, scale * gain), True
            continue
        return -step * volts / scale
    raise InstabilityError(f"the INV outputs kept saturating over {MAX_RUNS} rescaled runs")


def _run(place: Placement, array: InvArray, region: Region, i_in_A: np.ndarray) -> np.ndarray:
    """One INV run: settled outputs (V)."""
    place.select(region.tile)
    try:
        reading = place.board.inv(
            i_in_A,
            row0=region.row0,
            col0=region.col0,
            feedback_S=array.diagonal * array.state["step"],
            copies=array.copies,
        )
    except InstabilityError as error:
        raise InstabilityError(
            f"{error}; the {array.n} x {array.n} INV block on tile {region.tile} at "
            f"({region.row0}, {region.col0}) is not positive stable: map a matrix whose "
            "symmetric part is positive definite (diagonally dominant, Gram, ...)"
        ) from error
    finally:
        place.stats.inv_runs += 1
    place.stats.inv_settling_s += reading.settling_time_s
    return reading.v_out_V
