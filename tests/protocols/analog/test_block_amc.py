"""BlockAMC: small INV tiles solve larger systems, stage by stage; LP-INV operations
grow as (N/N0)^log2(3)."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.protocols.analog.block_amc import BlockInverse
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver, hp_inv
from rramlab.protocols.analog.lp_inv import TileInverse, low_precision_inverse
from rramlab.protocols.analog.problems import random_problem


@pytest.mark.parametrize(("n", "stages"), [(8, 1), (16, 2), (32, 3), (64, 4)])
def test_stages_follow_from_n_and_the_tile_and_inv_ops_grow_as_3_to_the_stages(n, stages):
    a, _ = random_problem(n, 2.0, seed=n)
    engine = ExactEngine(max_inv_size=4)
    lp = low_precision_inverse(engine, a)
    assert isinstance(lp, BlockInverse) and lp.stages == stages
    assert lp.inv_ops == 3**stages  # = (N / N0)^log2(3)
    lp.solve(np.ones(n))
    assert engine.stats.inv_runs == 3**stages


def test_a_matrix_that_fits_the_tile_needs_no_partitioning():
    a, _ = random_problem(4, 2.0, seed=0)
    assert isinstance(low_precision_inverse(ExactEngine(max_inv_size=4), a), TileInverse)


def test_block_operator_estimate_matches_what_solve_applies():
    a, _ = random_problem(16, 3.0, seed=1)
    lp = low_precision_inverse(ExactEngine(max_inv_size=4), a)
    applied = np.stack([lp.solve(e) for e in np.eye(16)], axis=1)
    np.testing.assert_allclose(lp.operator_estimate(), applied, rtol=1e-9, atol=1e-12)


def test_16x16_two_stages_reach_1e_7_within_10_cycles_on_the_exact_engine():
    a, b = random_problem(16, 2.0, seed=1)
    result = hp_inv(ExactEngine(max_inv_size=4), a, b, max_cycles=10)
    assert min(result.relative_error) <= 1e-7
    assert result.cycles["lp_inv_ops"].iloc[0] == 9


def test_64x64_four_stages_converge_on_the_exact_engine():
    a, b = random_problem(64, 2.0, seed=2)
    result = hp_inv(ExactEngine(max_inv_size=4), a, b, max_cycles=10)
    assert result.cycles["lp_inv_ops"].iloc[0] == 81
    assert result.precision_bits[-1] >= 30
    assert np.all(np.diff(result.precision_bits) > 2)


def test_the_exact_schur_complement_converges_faster_than_m4():
    a, b = random_problem(16, 4.0, seed=3)
    bits = {
        schur: hp_inv(ExactEngine(max_inv_size=4), a, b, max_cycles=6, schur=schur).precision_bits[
            -1
        ]
        for schur in ("m4", "exact")
    }
    assert bits["exact"] > bits["m4"] + 3


@pytest.mark.slow
def test_16x16_two_stages_on_4x4_board_tiles_reach_1e_7_within_10_cycles(board_engine):
    engine, _ = board_engine(seed=1, rows=24, cols=160)
    a, b = random_problem(16, 2.0, seed=1)
    solver = HpInvSolver(engine, a, tile=4)
    assert solver.lp.stages == 2
    result = solver.solve(b, max_cycles=10)
    assert min(result.relative_error) <= 1e-7, result.cycles
    assert result.ops["inv_runs"] >= 9 * len(result.cycles)
