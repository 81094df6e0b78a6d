"""HP-INV: LP-INV + HP-MVM iterative refinement to 24-bit precision within 10 cycles
(the PKU chip: about 3 bits per cycle; here 4-5 with the balanced scaling and
differential INV pairs), and a clear error instead of an answer when it cannot
converge."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.protocols.analog.errors import NotConvergentError
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver, hp_inv
from rramlab.protocols.analog.problems import random_problem

TARGET_BITS = 24  # relative error <= 2^-24 ~ 6e-8


def growth(precision: list[float]) -> float:
    """Bits gained per cycle, fitted over the cycles (the first step excluded)."""
    cycles = np.arange(2, len(precision) + 1)
    return float(np.polyfit(cycles, precision[1:], 1)[0])


def test_exact_engine_reaches_24_bits_within_10_cycles_at_3_to_6_bits_per_cycle():
    a, b = random_problem(4, 8.0, seed=0)
    result = hp_inv(ExactEngine(), a, b, max_cycles=8)  # short of float64's ~52 bits
    assert result.precision_bits[-1] >= TARGET_BITS
    assert 3.0 <= growth(result.precision_bits) <= 6.0
    assert result.rho_estimate < 0.3
    assert list(result.cycles["lp_inv_ops"]) == [1] * 8


def test_refinement_stops_at_the_residual_tolerance():
    a, b = random_problem(4, 4.0, seed=2)
    result = hp_inv(ExactEngine(), a, b, max_cycles=30, tol_bits=30)
    assert result.converged and len(result.cycles) < 30
    assert result.cycles["residual_bits"].iloc[-1] >= 30
    assert result.cycles["residual_bits"].iloc[-2] < 30


def test_board_reaches_24_bits_within_10_cycles_at_3_to_6_bits_per_cycle(board_4x4):
    solver = board_4x4["solver"]
    result = solver.solve(board_4x4["b"], max_cycles=10)
    bits = result.precision_bits
    assert bits[-1] >= TARGET_BITS, result.cycles
    assert bits[0] < 8  # one analog step is a low-precision answer
    assert 3.0 <= growth(bits) <= 6.0, result.cycles
    assert np.all(np.diff(bits) > 0)
    # the exact residual really is b - A x (HP-MVM products were exact)
    a, b = board_4x4["a"], board_4x4["b"]
    residual = np.linalg.norm(b - a @ result.x) / np.linalg.norm(b)
    assert residual == pytest.approx(result.cycles["residual"].iloc[-1], rel=1e-3, abs=1e-14)


# Condition number 50 and the paper's plain 3-bit mapping (nearest levels, bias column,
# no scaling): A0 is a poor approximation of A, rho(I - A A0^-1) ~ 2.7, though the INV
# loop itself is stable.
HARD = random_problem(4, 50.0, seed=4)[0]
PLAIN = dict(search=False, scaling="none", inv_differential=False)


def test_a_matrix_whose_3_bit_version_cannot_converge_is_refused_before_any_cycle():
    with pytest.raises(NotConvergentError, match="rho") as caught:
        HpInvSolver(ExactEngine(), HARD, **PLAIN)
    assert caught.value.rho > 1.5


def test_the_board_check_uses_what_is_actually_programmed(board_engine):
    engine, _ = board_engine(seed=12, rows=8, cols=48)
    with pytest.raises(NotConvergentError, match="rho") as caught:
        HpInvSolver(engine, HARD, **PLAIN)
    assert caught.value.rho > 1.5


class Overshooting(ExactEngine):
    """An exact engine whose LP-INV returns three times the answer: I - A A0^-1 has a
    spectral radius of 2, which the read-back does not show."""

    def inv(self, array, b):
        return 3.0 * super().inv(array, b)


def test_divergence_during_the_loop_raises_with_the_cycles_so_far():
    a, b = random_problem(4, 4.0, seed=3)
    solver = HpInvSolver(Overshooting(), a)  # passes the check: its read-back is right
    with pytest.raises(NotConvergentError, match="diverged") as caught:
        solver.solve(b, max_cycles=10)
    cycles = caught.value.cycles
    assert 1 <= len(cycles) < 10
    assert cycles["residual"].iloc[-1] > cycles["residual"].iloc[0]


def test_an_inv_run_that_loses_the_loop_at_a_large_swing_is_run_again_smaller(board_engine):
    # Board and matrix seed 42: the first auto-ranged run of a cycle drives outputs to
    # ~0.37 V, where the cells' sinh slope (not the linear feedback resistor) grows until
    # G D(V) + F is singular and the loop cannot settle; the block is stable for small
    # signals (it calibrated), so a smaller input must settle it and the solve go on.
    engine, _ = board_engine(seed=42, rows=8, cols=48)
    a, b = random_problem(4, 8.0, seed=42)
    result = HpInvSolver(engine, a).solve(b, max_cycles=10)
    assert result.precision_bits[-1] >= TARGET_BITS
