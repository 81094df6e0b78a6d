"""Measure what docs/analog.md reports, on the simulated bench with default device
parameters (every number through the real drivers). Not a test; run it by hand:

    python tests/protocols/analog/measure_results.py [lp|4x4|4x4-seeds|16x16|64x64|mimo ...]

It prints plain tables. The 64 x 64 run programs ~40 000 cells and takes minutes;
4x4-seeds (44 matrices, four mappings) about 6 minutes.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from rramlab.protocols.analog.board_engine import BoardEngine
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver
from rramlab.protocols.analog.lp_inv import TileInverse
from rramlab.protocols.analog.metrics import relative_error
from rramlab.protocols.analog.mimo import zf_ber_sweep
from rramlab.protocols.analog.problems import random_problem
from rramlab.station import open_station


def board(seed: int, rows: int, cols: int, **config):
    station = open_station(seed=seed, rows=rows, cols=cols)
    return BoardEngine(station.board, clock=station.clock, **config), station


def lp_one_step() -> None:
    rows = []
    for search in (False, True):
        engine, station = board(11, 8, 24)
        problems = [random_problem(4, 8.0, seed=s) for s in range(4)]
        inverses = [TileInverse(engine, a, search=search) for a, _ in problems]
        engine.prepare()
        rng = np.random.default_rng(0)
        for s, ((a, _), lp) in enumerate(zip(problems, inverses, strict=True)):
            exact = TileInverse(ExactEngine(), a, search=search)
            for b in rng.standard_normal((8, 4)):
                ref = np.linalg.solve(a, b)
                rows.append(
                    {
                        "mapping": "tuned" if search else "nearest",
                        "matrix": s,
                        "board": relative_error(lp.solve(b), ref),
                        "exact": relative_error(exact.solve(b), ref),
                    }
                )
        station.close()
    table = pd.DataFrame(rows).groupby(["mapping", "matrix"])[["board", "exact"]].median()
    print(table.round(3).to_string())
    print(pd.DataFrame(rows).groupby("mapping")[["board", "exact"]].median().round(3).to_string())


def hp_inv_table(n: int, kappa: float, rows: int, cols: int, seeds, tile=None, **config) -> None:
    for seed in seeds:
        t0 = time.time()
        engine, station = board(seed, rows, cols, **config)
        a, b = random_problem(n, kappa, seed=seed)
        solver = HpInvSolver(engine, a, tile=tile)
        t1 = time.time()
        result = solver.solve(b, max_cycles=10)
        t2 = time.time()
        print(
            f"\n{n}x{n} kappa {kappa} seed {seed} {config or ''}: stages {solver.lp.stages}, "
            f"rho estimate {solver.rho_estimate:.3f}, program {t1 - t0:.1f} s, "
            f"solve {t2 - t1:.2f} s wall, virtual {station.clock.now():.2f} s, ops {result.ops}"
        )
        columns = ["cycle", "precision_bits", "relative_error", "residual", "mvm_vectors"]
        print(result.cycles[[*columns, "mvm_retried", "min_margin"]].to_string(index=False))
        station.close()


MAPPINGS = {
    "bias column, unscaled": {"inv_differential": False, "scaling": "none"},
    "bias column, balanced": {"inv_differential": False, "scaling": "balance"},
    "pairs, unscaled": {"inv_differential": True, "scaling": "none"},
    "pairs, balanced (default)": {"inv_differential": True, "scaling": "balance"},
}


def hp_inv_seeds(seeds=range(44)) -> None:
    """HP-INV, 4 x 4, condition number 8, board seed = problem seed: precision after one
    and ten cycles and the cycle that first reaches 24 bits, per INV mapping."""
    rows = []
    for name, options in MAPPINGS.items():
        for seed in seeds:
            engine, station = board(seed, 8, 56)
            a, b = random_problem(4, 8.0, seed=seed)
            bits = HpInvSolver(engine, a, **options).solve(b, max_cycles=10).precision_bits
            reached = [c for c, p in enumerate(bits, start=1) if p >= 24]
            rows.append(
                {
                    "mapping": name,
                    "seed": seed,
                    "first": bits[0],
                    "after 10": bits[-1],
                    "cycle of 24 bits": reached[0] if reached else np.nan,
                }
            )
            station.close()
    table = pd.DataFrame(rows)
    summary = table.groupby("mapping", sort=False).agg(
        first_median=("first", "median"),
        after10_median=("after 10", "median"),
        after10_min=("after 10", "min"),
        below_24=("after 10", lambda v: int((v < 24).sum())),
        worst_seed=("after 10", lambda v: int(table.loc[v.idxmin(), "seed"])),
        cycle_of_24_max=("cycle of 24 bits", "max"),
    )
    print(summary.round(1).to_string())


def mimo() -> None:
    t0 = time.time()
    engine, station = board(0, 16, 96, rows_per_mvm=4)
    sweep = zf_ber_sweep(
        engine, vectors=64, max_cycles=4, input_bits=6, matrix_bits=18, inv_copies=4
    )
    print(sweep.to_string(index=False))
    print(f"wall {time.time() - t0:.1f} s, virtual {station.clock.now():.2f} s, {engine.stats}")
    station.close()


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["lp", "4x4", "16x16", "mimo"]
    if "lp" in wanted:
        lp_one_step()
    if "4x4" in wanted:
        hp_inv_table(4, 8.0, 8, 56, seeds=range(6))
    if "4x4-seeds" in wanted:
        hp_inv_seeds()
    if "16x16" in wanted:
        hp_inv_table(16, 2.0, 24, 160, seeds=[1], tile=4)
        hp_inv_table(16, 4.0, 24, 160, seeds=[1], tile=4)
    if "64x64" in wanted:
        # One row per bit-level drive: with the default two, the first HP-MVMs of the
        # 64 x 64 problem need refreshes and end in IntegerRecoveryError (docs/analog.md).
        hp_inv_table(64, 2.0, 104, 656, seeds=[1, 2], tile=4, rows_per_mvm=1)
    if "mimo" in wanted:
        mimo()
