"""LP-INV on a board INV block: calibration and one auto-ranged run.

The block holds ``K_board = D + k z0 J + f I`` in level units (``z0``: level 0's
conductance, ``f``: the feedback conductance, ``k``: cells in parallel per entry, whose
levels add up in ``D``) and the circuit settles at ``V = -K_board^-1 I / step``. The
engine wants ``K = D + f I - m J``, so it removes ``(m + k z0) J`` by Sherman-Morrison
with the block's measured response to all ones. A differential block holds
``K_board = (D+ + k z0 J) - (D- + k z0 J) + f I = D + f I`` (the second set of cells on
the inverted outputs): nothing to remove, and no all-ones response to measure.

``step`` here is the level step *as the INV circuit sees it*: the loop holds its cells
near 0 V, where their sinh I-V conducts a few percent less than at the verify voltage
(0.974x on the simulated chip), while the feedback resistors are linear. The engine
measures that small-signal factor and scales the feedback and the conversion with it.
A plain read at the small voltage itself (0.05 V) spans only a few column-ADC LSBs per
cell, and with read noise well below one LSB the rounding does not average out: at 10
bits it came out 0.99-1.04 instead of 0.975. So the cells are read at larger voltages
(``small_signal_fit_V``, 0.1-0.4 V: tens of LSBs, and a curvature 3x larger than
between 0.05 and 0.2 V), ``I(V) = a sinh(V / V0)`` is fitted to their summed current,
and the factor is the fit's chord conductance at ``v_small_V`` over that at
``v_read_V``. A fit whose uncertainty (from the ADC's LSB and the reads' scatter)
is as large as its correction ``1 - factor`` gives 1 (no correction).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from rramlab.drivers import board_limits
from rramlab.drivers.array_board import InvSaturatedError
from rramlab.errors import InstabilityError
from rramlab.protocols.analog import board_cells
from rramlab.protocols.analog.board_layout import Region
from rramlab.protocols.analog.board_placement import Placement
from rramlab.protocols.analog.engine import InvArray
from rramlab.protocols.analog.mapping import sherman_morrison

MAX_RUNS = 8  # INV runs per solve before giving up on the ranging
U_MIN_V0 = 0.05  # smallest sinh voltage scale V0 (V) the small-signal fit considers


def board_operator(place: Placement, array: InvArray) -> np.ndarray:
    """``K_board`` as read back (level units)."""
    region = array.state["parts"][0][0]
    # A differential pair's level-0 parts cancel; a bias-column block keeps them.
    zero = 0.0 if array.differential else array.copies * place.config.zero_level
    entries = array.entry_levels(place.levels_read(region))
    return entries + zero + array.diagonal * np.eye(array.n)


def bias_total(place: Placement, array: InvArray) -> float:
    """The all-ones part of ``K_board`` that the engine removes (level units)."""
    if array.differential:
        return 0.0
    return array.bias + array.copies * place.config.zero_level


def small_signal_factor(place: Placement, tile: int, cells: np.ndarray) -> float:
    """``g(v_small) / g(v_read)`` of the ``cells`` (a mask of the tile) together, from
    a sinh fit to their summed current at ``small_signal_fit_V``; 1 when the board
    cannot resolve it (module docstring)."""
    c, board = place.config, place.board
    limit = board_limits.max_drive_V(board.capabilities, board.limits)
    volts = np.array(sorted({v for v in c.small_signal_fit_V if 0 < v <= limit}))
    n = int(np.count_nonzero(cells))
    if volts.size < 2 or n == 0:
        return 1.0
    reads = max(2, c.small_signal_reads)
    place.select(tile)
    sums = np.empty((volts.size, reads))
    try:
        for k, v in enumerate(volts):
            board.set_read_voltage(float(v))
            for r in range(reads):
                sums[k, r] = board_cells.read_conductance(board, float(v))[cells].sum() * v
    finally:
        board.set_read_voltage(c.v_read_V)
    current = sums.mean(axis=1)
    if not np.all(current > 0):
        return 1.0
    # Per-cell rounding does not average over reads (noise << LSB): each summed
    # current is off by up to its cells' rounding, ~sqrt(n / 12) LSB, plus the scatter.
    caps = board.capabilities
    lsb = caps.adc_range_A / (2 ** (caps.adc_bits - 1) - 1)
    sigma = np.sqrt(n * lsb**2 / 12 + sums.var(axis=1, ddof=1) / reads)
    factor = _sinh_factor(volts, current, c.v_small_V, c.v_read_V)
    slopes = [
        (_sinh_factor(volts, current + sigma * e, c.v_small_V, c.v_read_V) - factor)
        for e in np.eye(volts.size)
    ]
    error = float(np.sqrt(np.sum(np.square(slopes))))
    return factor if error < 1 - factor else 1.0  # unresolved: no correction


def _sinh_factor(volts: np.ndarray, current: np.ndarray, v_small: float, v_read: float) -> float:
    """Chord conductance at ``v_small`` over that at ``v_read`` of the least-squares fit
    ``I = a sinh(u V) / u`` (``u = 1 / V0 >= 0``; ``u = 0`` is a linear I-V, factor 1)."""

    def shape(u: float, v: np.ndarray | float) -> np.ndarray | float:
        return np.sinh(u * v) / u if u > 1e-9 else v

    def residual(u: float) -> float:
        s = shape(u, volts)
        a = float(current @ s / (s @ s))
        return float(np.sum((current - a * s) ** 2))

    u = optimize.minimize_scalar(
        residual, bounds=(0.0, 1 / U_MIN_V0), method="bounded", options={"xatol": 1e-6}
    ).x
    return float((shape(u, v_small) / v_small) / (shape(u, v_read) / v_read))


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
    place.stats.calibration_ops += runs
    if bias_total(place, array):
        ones = [levels(place, array, np.ones(array.n)) for _ in range(runs)]
        array.state["z"] = np.mean(ones, axis=0)
        place.stats.calibration_ops += runs


def solve(place: Placement, array: InvArray, b: np.ndarray) -> np.ndarray:
    """``K^-1 b`` for one right-hand side (``inv_repeats`` runs averaged)."""
    y = np.mean([levels(place, array, b) for _ in range(place.config.inv_repeats)], axis=0)
    m_total = bias_total(place, array)
    return sherman_morrison(y, array.state["z"], m_total) if m_total else y


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
    unsettled: InstabilityError | None = None
    for _ in range(MAX_RUNS):
        try:
            volts = _run(place, array, region, b * scale) - array.state["v0"]
        except InvSaturatedError:
            scale /= 2  # the bound was not enough (a cell off its level)
            array.state["boost"] = max(1.0, array.state["boost"] / 2)
            continue
        except InstabilityError as error:
            # The block settled at calibration, so it is stable for small signals; a
            # large swing can still lose the loop: the cells' sinh slope grows with the
            # output voltage while the feedback resistor stays linear, and G D(V) + F
            # can turn singular (a real loop then rails). A smaller input keeps the
            # outputs where the small-signal loop holds.
            unsettled = error
            scale /= 4
            array.state["boost"] = 1.0
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
    if unsettled is not None:
        raise unsettled
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
            differential=array.differential,
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
