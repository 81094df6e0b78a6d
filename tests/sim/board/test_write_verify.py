"""On-board write-verify (WV) through the rramsim:// port: targets reached, stuck cells
reported, NaN cells left alone."""

import numpy as np

from rramlab.sim.bench import SimulatedBench
from rramlab.sim.params import CrossbarParams

LEVELS_S = np.linspace(0.5e-6, 35e-6, 8)  # 3-bit states of Zuo et al. 2025


def f32(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def run_wv(board, targets: np.ndarray, tol: float, max_pulses: int):
    """Send WV; returns (first reply line, achieved (S), pulse counts)."""
    text, achieved = board.query(f"WV {tol} {max_pulses}", f32(targets.ravel()))
    assert achieved is not None, text
    second, counts = board.reply()
    assert second == "OK" and counts is not None
    shape = targets.shape
    return (
        text,
        np.frombuffer(achieved, dtype="<f4").astype(float).reshape(shape),
        np.frombuffer(counts, dtype="<u2").astype(int).reshape(shape),
    )


def test_wv_programs_8_levels_within_tolerance(open_board, quiet_params):
    bench = SimulatedBench(seed=21, smu_models=(), rows=16, cols=16, params=quiet_params)
    board = open_board(bench)
    board.form(16)
    rng = np.random.default_rng(21)
    targets = LEVELS_S[rng.integers(0, 8, size=(16, 16))]
    text, achieved, pulses = run_wv(board, targets, 0.05, 200)
    assert text == "OK"
    # The board's own final reads: every cell inside the 5% band.
    assert np.all(np.abs(achieved - targets) <= 0.05 * targets)
    # The cells themselves (relaxation goes on after each cell's last verify).
    error = np.abs(bench.array.conductance_S - targets) / targets
    assert np.mean(error <= 0.05) >= 0.97 and error.max() < 0.1
    assert 1 <= pulses.min() and pulses.mean() < 20 and pulses.max() <= 200


def test_wv_reports_stuck_cells_with_320_and_still_returns_both_blocks(open_board):
    params = CrossbarParams(frac_stuck_low=0.04, frac_stuck_high=0.04, frac_unformable=0.02)
    bench = SimulatedBench(seed=8, smu_models=(), rows=16, cols=16, params=params)
    board = open_board(bench)
    board.form(16)
    targets = np.full((16, 16), 10e-6)
    text, achieved, pulses = run_wv(board, targets, 0.05, 100)
    defective = bench.array.defects != "healthy"
    outside = ~(np.abs(achieved - targets) <= 0.05 * targets)
    assert defective.sum() >= 5
    assert text.startswith("ERR 320") and int(text.split()[2]) == outside.sum()
    assert np.all(outside[defective])  # every stuck or unformed cell is reported
    assert np.all(~outside[~defective])  # and only those
    assert np.all(pulses[defective] <= 100)


def test_wv_leaves_nan_cells_alone_and_refuses_bad_input(open_board, quiet_params):
    bench = SimulatedBench(seed=3, smu_models=(), rows=8, cols=8, params=quiet_params)
    board = open_board(bench)
    board.form(8)
    targets = np.full((8, 8), np.nan)
    targets[2, 3], targets[5, 1] = 20e-6, 2e-6
    cycles = bench.array.cycles
    text, achieved, pulses = run_wv(board, targets, 0.05, 100)
    assert text == "OK"
    untouched = np.isnan(targets)
    assert np.all(np.isnan(achieved[untouched])) and np.all(pulses[untouched] == 0)
    assert np.array_equal(bench.array.cycles[untouched], cycles[untouched])
    assert abs(achieved[2, 3] - 20e-6) <= 1e-6 and abs(achieved[5, 1] - 2e-6) <= 0.1e-6
    assert pulses[2, 3] > 0
    # Refusals change nothing.
    after = bench.array.conductance_S
    for line, block in (
        ("WV 0.05 100", f32(np.full(63, 1e-5))),  # wrong size: 202
        ("WV 0 100", f32(targets)),  # tolerance: 102
        ("WV 0.05 5000", f32(targets)),  # above the board's maximum pulses: 102
        ("WV 0.05 100", f32(np.full((8, 8), -1e-6))),  # negative target: 102
        ("WV 0.05", f32(targets)),  # missing argument: 101
    ):
        text, data = board.query(line, block)
        assert text.split()[:2][0] == "ERR" and data is None, (line, text)
    assert np.array_equal(bench.array.conductance_S, after)


def test_wv_is_idempotent_on_a_programmed_tile(open_board, quiet_params):
    bench = SimulatedBench(seed=4, smu_models=(), rows=8, cols=8, params=quiet_params)
    board = open_board(bench)
    board.form(8)
    targets = np.full((8, 8), 15e-6)
    run_wv(board, targets, 0.1, 100)
    text, _, pulses = run_wv(board, targets, 0.1, 100)
    assert text == "OK"
    assert pulses.mean() < 1  # already inside: verified, hardly pulsed
