"""Analog HP-INV solve (cost-model ESTIMATE) against digital solves measured here.

For N = 4 (condition number 8, one INV block), 16 and 64 (condition number 2, BlockAMC
on 4 x 4 tiles): the analog operation counts of an HP-INV solve to 24 bits (relative
residual 2^-24, float32's precision) come from running it on the *exact* engine
wrapped in the cost model's meter (``MeteredEngine(ExactEngine(max_inv_size=4))``:
the algorithm's own counts, one drive per bit plane, one run per INV, no retries; the
simulated board takes minutes to program 64 x 64). For N = 4 the board's counts are
shown too (BoardEngine on the simulated bench: two rows per bit-level drive, two
drives averaged, INV auto-ranging), with the settling time the simulated INV circuit
reported beside the one the model derives. ``protocols/analog/cost_model.py`` turns
the counts into time and energy per solve: an ESTIMATE, with the circuit parameters
documented there (16 MHz GBW op-amps and 60 ns MVM settling [PKU25], assumed 100 MS/s
10-bit ADCs at 5 pJ per conversion, 50 uW amplifiers, ...). Programming (write-verify)
is excluded and estimated apart.

Digital baselines, measured in this run on this machine (best of 5 timed batches):
numpy.linalg.solve in float64 and float32, scipy LU factor + solve, and the LU solve
alone with the factorisation reused (the analog side's programming is not counted
either). Digital energy is an ASSUMPTION: ``DIGITAL_POWER_W`` (one busy core of a
server CPU package, uncore share included) x the measured time. A second digital
energy figure counts LU's ``2 N^3 / 3 + 2 N^2`` flops at ``FLOP_ENERGY_J`` (ASSUMED): a
dedicated core without overhead, the fairer comparison for the analog chip. Ratios are
analog ESTIMATE / digital (below 1: the analog estimate is faster or cheaper). At
N = 4 and 16 the measured digital times are mostly call overhead. Asserts nothing.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg
from timing import best_time

from rramlab.protocols.analog.board_engine import BoardEngine
from rramlab.protocols.analog.cost_model import (
    CircuitParameters,
    MeteredEngine,
    SolveEstimate,
    estimate_programming,
    estimate_solve,
)
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver
from rramlab.protocols.analog.problems import random_problem
from rramlab.station import open_station

SIZES = ((4, 8.0), (16, 2.0), (64, 2.0))
TILE = 4
TOL_BITS = 24.0
MAX_CYCLES = 30
DIGITAL_POWER_W = 15.0  # ASSUMPTION: one busy core's share of a server CPU package
FLOP_ENERGY_J = 2.3e-12  # ASSUMPTION: half a float32 multiply-add (3.7 + 0.9 pJ in
# 45 nm, Horowitz, ISSCC 2014), operands in registers: a dedicated digital core's floor
CALLS = 200  # solves per timed batch


def digital_times(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Seconds per solve, measured here."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    lu = scipy.linalg.lu_factor(a)

    def batch(fn):
        def run() -> None:
            for _ in range(CALLS):
                fn()

        return best_time(run) / CALLS

    return {
        "numpy solve float64": batch(lambda: np.linalg.solve(a, b)),
        "numpy solve float32": batch(lambda: np.linalg.solve(a32, b32)),
        "scipy LU factor+solve": batch(
            lambda: scipy.linalg.lu_solve(
                scipy.linalg.lu_factor(a, check_finite=False), b, check_finite=False
            )
        ),
        "scipy LU solve (reused)": batch(lambda: scipy.linalg.lu_solve(lu, b, check_finite=False)),
    }


def analog_counts(n: int, kappa: float, engine) -> tuple[dict, MeteredEngine, int, float]:
    metered = MeteredEngine(engine)
    a, b = random_problem(n, kappa, seed=1)
    solver = HpInvSolver(metered, a, tile=TILE if n > TILE else None)
    result = solver.solve(b, max_cycles=MAX_CYCLES, tol_bits=TOL_BITS)
    if not result.converged:
        raise RuntimeError(f"{n} x {n}: HP-INV did not reach {TOL_BITS} bits")
    return result.ops, metered, len(result.cycles), result.precision_bits[-1]


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, "")):
        if abs(value) < scale * 1000:
            return f"{value / scale:7.3g} {prefix}{unit}"
    return f"{value:7.3g} {unit}"


def print_estimate(label: str, ops: dict, cycles: int, bits: float) -> SolveEstimate:
    est = estimate_solve(ops)
    print(f"  analog ESTIMATE, {label}: {cycles} cycles, {bits:.1f} bits")
    print(f"    {_si(est.time_s, 's')}  {_si(est.energy_J, 'J')} per solve (model, not measured)")
    c = est.counts
    print(
        f"    {c['inv_runs']:.0f} INV runs, {c['bit_drives']:.0f} bit-level + "
        f"{c['analog_drives']:.0f} real-valued MVM drives, {c['adc']:.0f} ADC conversions; time: "
        + ", ".join(f"{k} {v * 1e6:.2f} us" for k, v in est.time_parts.items())
    )
    print("    energy shares: " + ", ".join(f"{k} {est.share(k):.0%}" for k in est.energy_parts))
    return est


def print_ratios(est: SolveEstimate, digital: dict[str, float], n: int) -> None:
    print(
        f"    {'digital solve':<26}{'time (measured)':>16}{'energy (ASSUMED W)':>20}"
        f"{'analog/digital: time':>22}{'energy':>10}"
    )
    for name, t in digital.items():
        e = t * DIGITAL_POWER_W
        print(
            f"    {name:<26}{_si(t, 's'):>16}{_si(e, 'J'):>20}"
            f"{est.time_s / t:>21.3g}x{est.energy_J / e:>9.3g}x"
        )
    flops = 2 * n**3 / 3 + 2 * n**2
    e = flops * FLOP_ENERGY_J
    print(
        f"    {'LU flops x ASSUMED pJ/flop':<26}{'':>16}{_si(e, 'J'):>20}{'':>22}"
        f"{est.energy_J / e:>9.3g}x"
    )


def main() -> None:
    t_start = time.perf_counter()
    params = CircuitParameters()
    print("Analog HP-INV solve: cost-model ESTIMATE vs digital solves measured on this machine")
    print(
        f"(ESTIMATE parameters: GBW {params.opamp_gbw_Hz / 1e6:g} MHz, ADC "
        f"{params.adc_energy_J * 1e12:g} pJ / {params.adc_conversion_s * 1e9:g} ns, DAC "
        f"{params.dac_energy_J * 1e12:g} pJ, amplifiers {params.amplifier_power_W * 1e6:g} uW; "
        f"digital energy ASSUMED: {DIGITAL_POWER_W:g} W x measured time, or "
        f"{FLOP_ENERGY_J * 1e12:g} pJ per LU flop)"
    )
    for n, kappa in SIZES:
        a, b = random_problem(n, kappa, seed=1)
        digital = digital_times(a, b)
        print(f"\nN = {n}, condition number {kappa:g}, HP-INV to {TOL_BITS:g} bits")
        ops, metered, cycles, bits = analog_counts(n, kappa, ExactEngine(max_inv_size=TILE))
        est = print_estimate("counts from ExactEngine(max_inv_size=4)", ops, cycles, bits)
        print_ratios(est, digital, n)
        prog = estimate_programming(metered.stats.meter_cells_programmed, params)
        print(
            f"    programming ESTIMATE (one-time, not in the above): {prog.cells:.0f} cells, "
            f"{_si(prog.time_s, 's')}, {_si(prog.energy_J, 'J')}"
        )
        if n == 4:
            station = open_station(seed=1, rows=8, cols=48)
            try:
                board = BoardEngine(station.board, clock=station.clock)
                ops, metered, cycles, bits = analog_counts(n, kappa, board)
            finally:
                station.close()
            est = print_estimate("counts from the simulated board", ops, cycles, bits)
            print_ratios(est, digital, n)
            derived = params.settling_factor_s * ops["meter_inv_per_lambda"] / ops["inv_runs"]
            simulated = ops["inv_settling_s"] / ops["inv_runs"]
            print(
                f"    INV settling per run: cost model {derived * 1e9:.0f} ns (the block alone), "
                f"simulated board {simulated * 1e9:.0f} ns (its op-amps' rows also carry the "
                "MVM cells of the shared tile rows, which load the loop); [PKU25] ~120 ns"
            )
    print(f"\nwall time {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
