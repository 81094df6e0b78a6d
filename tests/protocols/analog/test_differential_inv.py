"""Differential INV blocks: signed 3-bit digits on pairs of cells (the second set of
columns on the op-amps' inverted outputs, board protocol ``INV ... DIFF=1``), no bias
column; and the mapping, engines and HP-INV defaults that use them."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.errors import InstabilityError
from rramlab.protocols.analog.engine import InvArray
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver
from rramlab.protocols.analog.inv_mapping import STABILITY_MARGIN, map_for_inv
from rramlab.protocols.analog.lp_inv import TileInverse
from rramlab.protocols.analog.problems import random_problem


def symmetric_floor(k: np.ndarray) -> float:
    return float(np.linalg.eigvalsh((k + k.T) / 2).min())


@pytest.mark.parametrize("seed", range(6))
def test_a_differential_mapping_is_signed_3_bit_without_bias_and_keeps_the_loop_stable(seed):
    a, _ = random_problem(4, 8.0, seed=seed)
    plain = map_for_inv(a, search=False, differential=True)
    assert plain.bias == 0 and plain.digits.dtype == np.int16
    assert np.abs(plain.digits).max() == 7
    # Only the digits are rounded: A0 is within half a level step of A, entry by entry.
    assert np.max(np.abs(plain.matrix - a)) <= 0.5 / plain.sigma + 1e-12
    tuned = map_for_inv(a, differential=True)
    assert symmetric_floor(tuned.operator) >= STABILITY_MARGIN


def test_signed_levels_are_finer_than_a_bias_columns():
    # A's largest magnitude (1) takes the 7 steps, not its span max - min (1.8).
    a = np.array([[1.0, -0.8], [-0.8, 1.0]])
    pairs = map_for_inv(a, search=False, feedback=False, differential=True)
    bias = map_for_inv(a, search=False, feedback=False)
    assert pairs.sigma == pytest.approx(7.0) and bias.sigma == pytest.approx(7 / 1.8)
    np.testing.assert_array_equal(pairs.digits, [[7, -6], [-6, 7]])


def test_the_pair_cells_hold_the_positive_then_the_negative_part():
    array = InvArray(np.array([[3, -9], [0, 14]], dtype=np.int16), copies=2, differential=True)
    assert array.width == 8
    np.testing.assert_array_equal(
        array.cell_digits,
        [
            [2, 0, 1, 0, 0, 5, 0, 4],  # + copies 0 and 1, then - copies 0 and 1
            [0, 7, 0, 7, 0, 0, 0, 0],
        ],
    )


def test_the_exact_engine_inverts_the_signed_operator_and_refuses_what_pairs_cannot_be():
    engine = ExactEngine()
    digits = np.array([[6, -2, 1], [-3, 7, 0], [2, -1, 5]])
    array = engine.program_inv(digits, diagonal=1.5, differential=True)
    k = digits + 1.5 * np.eye(3)
    np.testing.assert_allclose(engine.read_back(array), k)
    b = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(engine.inv(array, b), np.linalg.solve(k, b), rtol=1e-12)
    with pytest.raises(ValueError, match="no bias"):
        engine.program_inv(digits, bias=0.5, differential=True)
    with pytest.raises(ValueError, match=r"-7\.\.7"):
        engine.program_inv(digits * 2, differential=True)
    with pytest.raises(ValueError, match=r"0\.\.7"):
        engine.program_inv(digits)  # signed digits need the pairs
    with pytest.raises(ValueError, match="no differential"):
        ExactEngine(supports_differential=False).program_inv(digits, differential=True)


def test_auto_takes_pairs_when_they_are_stable_and_the_bias_column_otherwise():
    a, _ = random_problem(4, 8.0, seed=0)
    assert TileInverse(ExactEngine(), a).array.differential
    assert not TileInverse(ExactEngine(supports_differential=False), a).array.differential
    # Condition number 1000: every 3-bit pair mapping leaves (K + K^T)/2 indefinite (or
    # within the margin), which the loop could not settle; the bias column's can.
    hard, _ = random_problem(4, 1000.0, seed=0)
    lp = TileInverse(ExactEngine(), hard)
    assert not lp.array.differential and lp.mapping.bias > 0
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        TileInverse(ExactEngine(), hard, differential=True)
    with pytest.raises(ValueError, match="no differential"):
        TileInverse(ExactEngine(supports_differential=False), a, differential=True)


@pytest.fixture(scope="module")
def pair_block(board_engine):
    """A 4 x 4 differential INV block (condition number 8) on a simulated board."""
    engine, station = board_engine(seed=5, rows=8, cols=24)
    a, _ = random_problem(4, 8.0, seed=3)
    mapping = map_for_inv(a, differential=True)
    array = engine.program_inv(mapping.digits, diagonal=mapping.diagonal, differential=True)
    engine.prepare()
    return engine, station, array


def test_a_board_pair_block_takes_2n_columns_and_holds_the_signed_operator(pair_block):
    engine, _, array = pair_block
    region = array.state["parts"][0][0]
    assert (region.n_rows, len(region.cols)) == (4, 8)
    assert np.any(array.digits < 0)
    # levels within 0.25 of a step of the signed digits (each the difference of 2 cells)
    assert np.max(np.abs(engine.read_back(array) - array.operator)) < 0.25
    # nothing to remove by Sherman-Morrison: no all-ones response was measured
    assert "z" not in array.state
    assert engine.stats.calibration_ops == engine.config.inv_calibration_runs


def test_a_board_pair_block_solves_its_read_back_operator(pair_block):
    engine, _, array = pair_block
    k = engine.read_back(array)
    rng = np.random.default_rng(1)
    for b in rng.standard_normal((6, 4)):
        x = engine.inv(array, b)
        assert np.linalg.norm(x - np.linalg.solve(k, b)) / np.linalg.norm(x) < 0.1


def test_a_pair_block_with_a_negative_eigenvalue_cannot_settle(board_engine):
    engine, _ = board_engine(seed=6, rows=4, cols=16)
    engine.program_inv(np.diag([5, 5, -5, 5]), differential=True)
    with pytest.raises(InstabilityError, match="positive stable"):
        engine.prepare()


def hp_inv_bits(board_engine, seed: int) -> list[float]:
    engine, _ = board_engine(seed=seed, rows=8, cols=48)
    a, b = random_problem(4, 8.0, seed=seed)
    return HpInvSolver(engine, a).solve(b, max_cycles=10).precision_bits


# Seeds 2 and 11 missed 24 bits after 10 cycles with the bias column and no scaling
# (23.4 and 22.7 bits); with the defaults (balanced scaling, pairs) every one of 44
# seeds reaches 24 bits by cycle 7 (docs/analog.md).
@pytest.mark.parametrize("seed", [2, 11])
def test_hp_inv_reaches_24_bits_on_the_matrices_that_missed_it(board_engine, seed):
    bits = hp_inv_bits(board_engine, seed)
    assert bits[-1] >= 24 and bits[0] < 8


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(16))
def test_hp_inv_reaches_24_bits_within_10_cycles_on_every_seed(board_engine, seed):
    assert hp_inv_bits(board_engine, seed)[-1] >= 24
