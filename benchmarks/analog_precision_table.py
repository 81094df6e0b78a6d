"""HP-INV precision per cycle on the simulated board against device variation and
against the converters' resolution.

A 4 x 4 problem of condition number 8 (the docs/analog.md example), solved by HP-INV
on a simulated board (default BoardEngine settings, all through the real drivers),
for a few seeds (board seed = problem seed); the table gives the median precision
(bits, ``log2(||x*|| / ||x - x*||)``) after each of 10 cycles.

- **device variation**: the cell-level random terms of ``CrossbarParams`` scaled
  together by x0.5, x1 (defaults), x2, x3, x4: read noise (``read_noise_rel``), the
  relaxation spread that grows after programming (``relax_sigma_day_S``) and the
  cycle-to-cycle spread of each switching event (``c2c_sigma_lrs``, ``c2c_sigma_hrs``),
  which sets how a write-verify pulse lands;
- **ADC bits**: ``BoardSpec.adc_bits`` (the column TIAs' ADCs, which every MVM and
  read converts through) 6, 8, 10, 12 (default), 14, with default device parameters;
  the INV output ADCs and the DACs keep their 12 bits.

A run that raises ``NotConvergentError`` (the convergence check or the divergence
guard) or another analog error (an MVM whose integer products cannot be recovered, an
INV block that will not settle) is a *fail*; a cell of the table shows "fail" when
more than half the seeds failed (the remaining seeds are then skipped: failing runs
are slow, they refresh the cells before giving up), and the last column counts the
failures over the seeds run. Prints the
table as Markdown. Runtime ~3 minutes on 2 cores (171 s idle, 272 s while shared), most
of it in the failing runs.
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

from rramlab.analog_bench import tile_size
from rramlab.drivers.array_board import ArrayBoard
from rramlab.errors import RramlabError
from rramlab.protocols.analog.board_engine import BoardEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver
from rramlab.protocols.analog.problems import random_problem
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.board.capabilities import BoardSpec
from rramlab.sim.params import CrossbarParams
from rramlab.sim.visa_backend import register_bench, unregister_bench
from rramlab.station import DEFAULT_SIM_LIMITS

N, KAPPA, CYCLES = 4, 8.0, 10
SEEDS = (0, 1, 2)
VARIATION_SCALES = (0.5, 1.0, 2.0, 3.0, 4.0)
ADC_BITS = (6, 8, 10, 12, 14)
VARIATION_FIELDS = ("read_noise_rel", "relax_sigma_day_S", "c2c_sigma_lrs", "c2c_sigma_hrs")
_names = itertools.count()


def scaled_params(scale: float) -> CrossbarParams:
    """Default device parameters with the variation fields multiplied by ``scale``."""
    base = CrossbarParams()
    return base.replace(**{f: getattr(base, f) * scale for f in VARIATION_FIELDS})


def run(seed: int, params: CrossbarParams, spec: BoardSpec) -> list[float] | str:
    """Precision per cycle of one HP-INV solve, or the name of the error it raised."""
    rows, cols = tile_size(N)
    bench = SimulatedBench(
        seed=seed, smu_models=(), rows=rows, cols=cols, params=params, board_spec=spec
    )
    name = f"precision-table-{next(_names)}"
    register_bench(name, bench)
    board = ArrayBoard(f"rramsim://bench={name}", limits=DEFAULT_SIM_LIMITS)
    try:
        engine = BoardEngine(board, clock=bench.clock)
        a, b = random_problem(N, KAPPA, seed=seed)
        result = HpInvSolver(engine, a).solve(b, max_cycles=CYCLES)
        bits = result.precision_bits
        return bits + [bits[-1]] * (CYCLES - len(bits))
    except RramlabError as error:  # NotConvergentError and the other analog errors
        return type(error).__name__
    finally:
        board.close()
        unregister_bench(name)


def row(label: str, params: CrossbarParams, spec: BoardSpec) -> str:
    outcomes: list[list[float] | str] = []
    for seed in SEEDS:  # stop once most seeds failed: failing runs are slow (refreshes)
        outcomes.append(run(seed, params, spec))
        if sum(isinstance(o, str) for o in outcomes) * 2 > len(SEEDS):
            break
    good = [o for o in outcomes if not isinstance(o, str)]
    failures = [o for o in outcomes if isinstance(o, str)]
    if len(failures) * 2 > len(SEEDS):
        cells = ["fail"] * CYCLES
    else:
        cells = [f"{v:.1f}" for v in np.median(np.array(good), axis=0)]
    failed = f"{len(failures)}/{len(outcomes)}" + (
        f" ({', '.join(sorted(set(failures)))})" if failures else ""
    )
    return f"| {label} | " + " | ".join(cells) + f" | {failed} |"


def main() -> None:
    t0 = time.perf_counter()
    header = "| setting | " + " | ".join(str(c) for c in range(1, CYCLES + 1)) + " | fails |"
    print(
        f"HP-INV {N} x {N}, condition number {KAPPA:g}: median precision (bits) per cycle "
        f"over seeds {list(SEEDS)}"
    )
    print(header)
    print("|---" * (CYCLES + 2) + "|")
    for scale in VARIATION_SCALES:
        print(row(f"variation x{scale:g}", scaled_params(scale), BoardSpec()), flush=True)
    for bits in ADC_BITS:
        print(row(f"ADC {bits} bit", CrossbarParams(), BoardSpec(adc_bits=bits)), flush=True)
    print(f"wall time {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
