"""The array board through the full stack: ArrayBoard driver, pyserial, simulated
firmware, crossbar model.

1. Whole-tile reads of a 64 x 64 tile (``READ TILE``) in reads per second, against
   reading the same cells straight from the model (``Crossbar.read``) in the same run.
2. On-board write-verify of a 64 x 64 tile to 8 levels (0.5-35 uS, 5% tolerance,
   default non-idealities): wall time, mean pulses per cell, and the fraction of
   healthy cells inside tolerance (target 100%), by the board's reads and by the
   model's true conductance.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import time

import numpy as np
from timing import best_time

from rramlab.drivers.array_board import ArrayBoard
from rramlab.limits import SafetyLimits
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.visa_backend import register_bench

N = 64
LEVELS_S = np.linspace(0.5e-6, 35e-6, 8)


def main() -> None:
    bench = SimulatedBench(seed=0, smu_models=(), rows=N, cols=N)
    bench.array.pulse(3.5, 1e-3, compliance_A=50e-6)
    bench.array.pulse(-2.0, 1e-3)
    register_bench("bench-board", bench)
    board = ArrayBoard("rramsim://bench=bench-board", limits=SafetyLimits())

    model = best_time(lambda: bench.array.read(), repeats=10)
    stack = best_time(board.read_tile, repeats=10)
    cells = N * N
    print(f"1. Whole-tile read, {N}x{N}")
    print(f"   model Crossbar.read() (baseline)   {model * 1e3:7.2f} ms   {1 / model:7.0f} tiles/s")
    print(
        f"   driver + serial + firmware + model {stack * 1e3:7.2f} ms   "
        f"{1 / stack:7.0f} tiles/s   {cells / stack / 1e6:5.2f} M cell reads/s   "
        f"({stack / model:.1f}x the model alone)"
    )

    rng = np.random.default_rng(1)
    targets = rng.choice(LEVELS_S, size=(N, N))
    t0 = time.perf_counter()
    result = board.write_verify(targets, tol_rel=0.05, max_pulses=1000)
    wall = time.perf_counter() - t0
    healthy = (bench.array.defects == "healthy") & bench.array.formed
    inside_board = np.abs(result.g_S - targets) <= 0.05 * targets
    inside_true = np.abs(bench.array.conductance_S - targets) <= 0.05 * targets
    print(f"2. On-board write-verify, {N}x{N} to 8 levels, 5% tolerance")
    print(
        f"   wall time {wall:.2f} s; mean pulses per healthy cell "
        f"{result.pulses[healthy].mean():.1f} (max {result.pulses[healthy].max()})"
    )
    print(
        f"   healthy cells inside tolerance: {inside_board[healthy].mean():.1%} by the "
        f"board's reads, {inside_true[healthy].mean():.1%} by true conductance"
    )
    print(
        f"   defective cells reported outside: {int(result.outside[~healthy].sum())} of "
        f"{int((~healthy).sum())}; healthy cells reported outside: "
        f"{int(result.outside[healthy].sum())}"
    )


if __name__ == "__main__":
    main()
