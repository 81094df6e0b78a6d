"""The board engine's own facts: it avoids and corrects bad cells, refreshes drifting
cells, refuses what the board cannot do, raises on an unstable INV block, and the
INV feedback conductance it relies on solves (G + g_f I) V = -I."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.errors import InstabilityError, LimitError
from rramlab.protocols.analog.board_layout import BAD, LOW
from rramlab.sim.population import STUCK_HIGH, UNFORMABLE


def plant(station, row: int, col: int, kind: str) -> None:
    """Make one cell of the bench a short (stuck high) or never-forming."""
    array = station.bench.array
    snap = array.snapshot()
    if kind == "short":
        snap.population.defect[row, col] = STUCK_HIGH
        snap.cells.stuck[row, col] = STUCK_HIGH
        snap.cells.formed[row, col] = True
        snap.cells.g_S[row, col] = array.params.g_stuck_high_S
    else:
        snap.population.defect[row, col] = UNFORMABLE
        snap.population.v_form_V[row, col] = np.inf
    array.restore(snap)


@pytest.fixture(scope="module")
def defective(board_engine):
    """A board with a short at (1, 2) and a never-forming cell at (2, 8), holding an
    INV block and a 2 x 4 x 4 digit stack (every digit >= 1)."""
    engine, station = board_engine(seed=21, rows=8, cols=24)
    plant(station, 1, 2, "short")
    plant(station, 2, 8, "unformable")
    digits = np.random.default_rng(0).integers(1, 8, size=(2, 4, 4))
    mvm = engine.program_mvm(digits)
    inv = engine.program_inv(np.array([[7, 1, 0, 2], [1, 6, 1, 0], [0, 2, 7, 1], [1, 0, 1, 5]]))
    engine.prepare()
    return engine, station, mvm, inv, digits


def test_shorts_are_avoided_and_never_forming_cells_corrected(defective):
    engine, _, mvm, inv, digits = defective
    layout = engine.place.layouts[0]
    assert layout.health[1, 2] == BAD and layout.health[2, 8] == LOW
    inv_region = inv.state["parts"][0][0]
    assert not inv_region.mask(layout.shape)[[1, 2], [2, 8]].any()  # INV: healthy only
    mvm_region = mvm.state["parts"][0][0]
    assert 2 not in mvm_region.cols  # the short's column is skipped ...
    assert 8 in mvm_region.cols  # ... the dead cell kept, its error known
    rows, _, delta = mvm.state["fix"][0]
    assert len(rows) >= 1 and np.all(delta < 0)
    rng = np.random.default_rng(1)
    for _ in range(6):
        x = rng.integers(-1, 2, size=4).astype(float)
        x[2:] = 0 if rng.random() < 0.5 else x[2:]
        x[:2] = 0 if not x[2:].any() else x[:2]  # two rows at a time, as HP-MVM drives
        got = engine.mvm_digits(mvm, x)
        np.testing.assert_array_equal(np.rint(got), np.einsum("soi,i->so", digits, x))
        assert np.max(np.abs(got - np.rint(got))) < 0.4


def test_drifting_cells_are_refreshed_after_refresh_s(defective):
    engine, station, mvm, _, digits = defective
    before = engine.stats.refreshes
    station.clock.sleep(2 * engine.config.refresh_s)  # relaxation: ~0.14 level in 2 s
    x = np.array([1.0, -1.0, 0.0, 0.0])
    got = engine.mvm_digits(mvm, x)
    assert engine.stats.refreshes == before + 1
    np.testing.assert_array_equal(np.rint(got), np.einsum("soi,i->so", digits, x))


def test_the_board_refuses_what_it_cannot_do(defective):
    engine, _, mvm, _, _ = defective
    with pytest.raises(ValueError, match="at most 8 x 8"):
        engine.program_inv(np.ones((9, 9), dtype=int))
    with pytest.raises(ValueError, match="feedback"):
        engine.program_inv(np.eye(4, dtype=int), diagonal=1e6)
    with pytest.raises(ValueError, match="analog"):
        engine.mvm_analog(mvm, np.ones(4))
    with pytest.raises(ValueError, match="-1, 0, 1"):
        engine.mvm_digits(mvm, np.full(4, 0.5))


def test_inv_feedback_solves_g_plus_feedback(defective):
    engine, station, _, inv, _ = defective
    board, region = station.board, inv.state["parts"][0][0]
    g = engine.place.snapshot[0][region.rows, list(region.cols)]
    i_in = np.array([3e-6, -2e-6, 1e-6, 2.5e-6])

    def settled(current: np.ndarray, feedback: float) -> np.ndarray:
        runs = [
            board.inv(current, row0=region.row0, col0=region.col0, feedback_S=feedback).v_out_V
            for _ in range(8)
        ]
        return np.mean(runs, axis=0)

    for feedback in (0.0, 40e-6):
        v = settled(i_in, feedback) - settled(np.zeros(4), feedback)  # op-amp offsets out
        # cells near 0 V conduct ~0.974 x their 0.2 V reading (sinh I-V); the feedback
        # resistor is linear
        expected = np.linalg.solve(0.974 * g + feedback * np.eye(4), -i_in)
        assert np.linalg.norm(v - expected) / np.linalg.norm(expected) < 0.03
    limit = board.capabilities.inv_feedback_max_S
    with pytest.raises(LimitError, match="feedback"):
        board.inv(i_in, row0=region.row0, col0=region.col0, feedback_S=2 * limit)


def test_an_inv_block_the_loop_cannot_settle_raises_instability(board_engine):
    engine, _ = board_engine(seed=22, rows=4, cols=4)
    engine.program_inv(np.array([[0, 7], [7, 0]]))  # off-diagonal dominant
    with pytest.raises(InstabilityError, match="positive stable"):
        engine.prepare()


def test_an_inv_block_of_parallel_copies_solves_their_sum(board_engine):
    # Two cells per entry (levels 0..14); a never-forming cell inside the block is
    # left at ~0 and its partner carries the whole level.
    engine, station = board_engine(seed=23, rows=4, cols=16)
    plant(station, 1, 2, "unformable")
    digits = np.array([[14, 3, 0, 5], [2, 13, 6, 0], [0, 4, 12, 1], [6, 0, 2, 11]])
    inv = engine.program_inv(digits, diagonal=3.0, bias=0.5, copies=2)
    engine.prepare()
    region = inv.state["parts"][0][0]
    assert (region.row0, region.col0, len(region.cols)) == (0, 0, 8)
    cells = inv.state["cells"]
    assert engine.place.layouts[0].health[1, 2] == LOW
    assert cells[1, 2] == 0 and cells[1, 6] == 6  # the partner of the LOW cell
    np.testing.assert_array_equal(cells[:, :4] + cells[:, 4:], digits)
    k = engine.read_back(inv)
    np.testing.assert_allclose(k, inv.operator, atol=0.4)  # LOW cell ~0.1 level off
    b = np.array([1.0, -0.5, 0.25, 2.0])
    x = engine.inv(inv, b)
    assert np.linalg.norm(x - np.linalg.solve(k, b)) / np.linalg.norm(x) < 0.03
    with pytest.raises(ValueError, match="copies"):
        engine.program_inv(digits, copies=engine.max_inv_copies + 1)
    with pytest.raises(LimitError, match="copies"):
        station.board.inv(b * 1e-6, copies=station.board.capabilities.inv_copies_max + 1)
    with pytest.raises(ValueError, match=r"0\.\.14"):
        engine.program_inv(digits + 1, copies=2)


def test_small_signal_factor_is_resolved_by_a_10_bit_adc():
    # At 0.05 V a cell spans only a few LSBs of a 10-bit column ADC and the rounding
    # does not average out (read noise << LSB): plain reads there gave ~1.006 here. The
    # sinh fit to reads at 0.1-0.4 V gets the chip's factor at 10 bits as at 14.
    from rramlab.drivers.array_board import ArrayBoard
    from rramlab.protocols.analog import board_inv
    from rramlab.protocols.analog.board_engine import BoardEngine
    from rramlab.sim.bench import SimulatedBench
    from rramlab.sim.board.capabilities import BoardSpec
    from rramlab.sim.params import CrossbarParams
    from rramlab.sim.visa_backend import register_bench, unregister_bench
    from rramlab.station import DEFAULT_SIM_LIMITS

    def factor(adc_bits: int) -> float:
        spec = BoardSpec(adc_bits=adc_bits)
        bench = SimulatedBench(seed=3, smu_models=(), rows=8, cols=8, board_spec=spec)
        name = f"small-signal-{adc_bits}-bit"
        register_bench(name, bench)
        board = ArrayBoard(f"rramsim://bench={name}", limits=DEFAULT_SIM_LIMITS)
        try:
            engine = BoardEngine(board, clock=bench.clock, small_signal=False)
            digits = np.array([[7, 1, 0, 2], [1, 6, 1, 0], [0, 2, 7, 1], [1, 0, 1, 5]])
            inv = engine.program_inv(digits)
            engine.prepare()
            region = inv.state["parts"][0][0]
            cells = np.zeros(engine.place.layouts[region.tile].shape, dtype=bool)
            cells[region.rows, list(region.cols)] = engine.place.level_map(inv, 0, 1) >= 2
            return board_inv.small_signal_factor(engine.place, region.tile, cells)
        finally:
            board.close()
            unregister_bench(name)

    p = CrossbarParams()  # I = g v_ref sinh(V / V0) / sinh(v_ref / V0)
    truth = (np.sinh(0.05 / p.iv_v0_V) / 0.05) / (
        np.sinh(p.v_read_ref_V / p.iv_v0_V) / p.v_read_ref_V
    )  # 0.975
    coarse, fine = factor(10), factor(14)
    assert coarse == pytest.approx(truth, abs=0.005)
    assert coarse == pytest.approx(fine, abs=0.005)


@pytest.mark.parametrize(
    ("overrides", "rows"),
    [
        ({}, 2),  # this tile took ~0.03 s of bench time to write-verify
        ({"paired_drive_max_verify_s": 0.0}, 1),  # as if it had taken long (64 x 64)
        ({"rows_per_mvm": 3}, 3),  # a fixed setting wins
    ],
)
def test_the_engine_chooses_rows_per_drive_from_how_long_its_tile_took_to_verify(
    board_engine, overrides, rows
):
    engine, _ = board_engine(seed=24, rows=4, cols=12, **overrides)
    digits = np.random.default_rng(2).integers(0, 8, size=(2, 4, 4))
    mvm = engine.program_mvm(digits)
    assert engine.rows_per_mvm(mvm) == rows
    assert 0 < engine.place.verify_s[0] < engine.config.paired_drive_max_verify_s + 1
    # its columns were calibrated for that many rows: every product is the integer
    x = np.array([1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(engine.mvm_digits(mvm, x), digits @ x, atol=0.3)


def test_a_column_that_does_not_follow_its_levels_fails_calibration_by_name():
    from rramlab.protocols.analog.board_calibration import fit_columns
    from rramlab.protocols.analog.errors import CalibrationError

    rng = np.random.default_rng(3)
    patterns = rng.integers(-1, 2, size=(12, 4)).astype(float)
    digits = rng.integers(0, 8, size=(4, 3))
    digits[:, 1] = [0, 7, 3, 5]
    currents = patterns @ digits * 1e-6
    fit = fit_columns(patterns, currents, digits, 0.4)
    np.testing.assert_allclose(fit.gain, 1e-6)
    currents[:, 1] = 0.0  # a column whose ADC reads nothing (6-bit ADC, cut line)
    with pytest.raises(CalibrationError, match=r"region columns \[1\]"):
        fit_columns(patterns, currents, digits, 0.4)
