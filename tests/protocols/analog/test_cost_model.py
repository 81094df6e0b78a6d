"""The cost model's ESTIMATE (protocols/analog/cost_model.py): counts, scaling,
breakdown and parameter checks, on the exact engine (fast)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rramlab.protocols.analog.cost_model import (
    CircuitParameters,
    MeteredEngine,
    estimate_programming,
    estimate_solve,
)
from rramlab.protocols.analog.engine import AnalogEngine
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver
from rramlab.protocols.analog.problems import random_problem
from rramlab.sim.inv_circuit import SETTLING_PRECISION, loop_eigenvalues


def solve(n: int, cycles: int, kappa: float = 2.0, seed: int = 1):
    engine = MeteredEngine(ExactEngine(max_inv_size=4))
    a, b = random_problem(n, kappa, seed=seed)
    solver = HpInvSolver(engine, a, tile=4 if n > 4 else None)
    return solver.solve(b, max_cycles=cycles), engine, solver


def test_metered_engine_changes_nothing_and_mirrors_the_stats():
    a, b = random_problem(8, 2.0, seed=3)
    plain = ExactEngine(max_inv_size=4)
    expected = HpInvSolver(plain, a, tile=4).solve(b, max_cycles=4)
    metered = MeteredEngine(ExactEngine(max_inv_size=4))
    result = HpInvSolver(metered, a, tile=4).solve(b, max_cycles=4)
    np.testing.assert_array_equal(result.x, expected.x)
    for key, value in expected.ops.items():
        assert result.ops[key] == value
    assert result.ops["meter_inv_runs"] == result.ops["inv_runs"] == 4 * 3  # 3 per LP-INV
    ops = result.ops
    assert ops["meter_bit_drives"] + ops["meter_analog_drives"] == ops["mvm_drives"]
    assert isinstance(metered, AnalogEngine)
    assert metered.max_inv_size == 4 and metered.programming_sigma == 0.0  # passed through


def test_time_scales_with_inv_runs_and_cycles():
    short, _, _ = solve(4, 3, kappa=8.0)
    long, _, _ = solve(4, 6, kappa=8.0)
    e_short, e_long = estimate_solve(short.ops), estimate_solve(long.ops)
    assert long.ops["inv_runs"] == 2 * short.ops["inv_runs"] == 6  # one INV run per cycle
    assert e_long.time_parts["inv"] == pytest.approx(2 * e_short.time_parts["inv"])
    assert e_long.time_s > e_short.time_s
    # Each INV run costs its DAC settling, the loop's settling and one conversion.
    p = CircuitParameters()
    per_run = e_short.time_parts["inv"] / short.ops["inv_runs"]
    settle = p.settling_factor_s * short.ops["meter_inv_per_lambda"] / short.ops["inv_runs"]
    assert per_run == pytest.approx(p.dac_settle_s + settle + p.adc_conversion_s)
    # Doubling every INV count doubles the INV time and leaves the MVM time alone.
    doubled = {k: (2 * v if k.startswith("meter_inv") else v) for k, v in short.ops.items()}
    e_doubled = estimate_solve(doubled)
    assert e_doubled.time_parts["inv"] == pytest.approx(2 * e_short.time_parts["inv"])
    assert e_doubled.time_parts["bit_mvm"] == e_short.time_parts["bit_mvm"]


def test_energy_is_positive_and_grows_with_n_for_a_fixed_tile():
    energies = []
    for n in (4, 8, 16):
        result, _, _ = solve(n, 4)
        est = estimate_solve(result.ops)
        assert est.energy_J > 0 and all(v >= 0 for v in est.energy_parts.values())
        assert est.energy_J == pytest.approx(sum(est.energy_parts.values()))
        energies.append(est.energy_J)
    assert energies[0] < energies[1] < energies[2]


def test_doubling_the_adc_energy_adds_the_adc_share():
    result, _, _ = solve(8, 4)
    base = estimate_solve(result.ops)
    p = CircuitParameters()
    double = estimate_solve(result.ops, dataclasses.replace(p, adc_energy_J=2 * p.adc_energy_J))
    assert 0 < base.share("adc") < 1
    assert double.energy_J == pytest.approx(base.energy_J * (1 + base.share("adc")))
    assert double.time_s == base.time_s


def test_settling_time_matches_the_simulated_inv_circuit():
    """The meter's lambda_min and the model's settling time agree with
    rramlab.sim.inv_circuit for the same ideal-wire block (feedback included)."""
    rng = np.random.default_rng(0)
    engine = MeteredEngine(ExactEngine())
    digits = rng.integers(0, 8, size=(4, 4)) + 4 * np.eye(4, dtype=int)
    array = engine.program_inv(np.minimum(digits, 7), diagonal=2.5, bias=1.0)
    engine.inv(array, np.ones(4))
    lam, g, _ = engine._loop(array)
    # The circuit as the simulator builds it: rows see every cell and the feedback.
    g_cells = g - np.diag(np.full(4, 2.5 * engine.step_S))
    f = 2.5 * engine.step_S * np.eye(4)
    k_rr = np.diag(g_cells.sum(axis=1)) + f
    k_rc = -g_cells - f
    sim_lambda = float(loop_eigenvalues(k_rr, k_rc).real.min())
    assert lam == pytest.approx(sim_lambda)
    p = CircuitParameters(opamp_gbw_Hz=16e6, settling_precision=SETTLING_PRECISION)
    tau = 1 / (2 * np.pi * 16e6 * sim_lambda)
    assert p.inv_settling_s(lam) == pytest.approx(tau * np.log(1 / SETTLING_PRECISION))


@pytest.mark.parametrize("field", ["adc_energy_J", "opamp_gbw_Hz", "mvm_settle_s"])
@pytest.mark.parametrize("value", [0.0, -1e-12, float("nan"), float("inf")])
def test_parameters_must_be_positive_and_finite(field, value):
    with pytest.raises(ValueError, match=f"CircuitParameters.{field} must be finite and > 0"):
        CircuitParameters(**{field: value})


def test_other_parameter_errors():
    with pytest.raises(ValueError, match="settling_precision must be < 1"):
        CircuitParameters(settling_precision=1.0)
    with pytest.raises(TypeError, match="must be a number"):
        CircuitParameters(adc_energy_J="5 pJ")
    with pytest.raises(ValueError, match="lambda_min must be > 0"):
        CircuitParameters().inv_settling_s(0.0)
    with pytest.raises(ValueError, match="g_low_S < g_high_S"):
        MeteredEngine(ExactEngine(), g_low_S=35e-6, g_high_S=0.5e-6)


def test_estimate_needs_the_meter_counts():
    a, b = random_problem(4, 8.0, seed=0)
    result = HpInvSolver(ExactEngine(), a).solve(b, max_cycles=2)
    with pytest.raises(ValueError, match=r"MeteredEngine\(engine\)"):
        estimate_solve(result.ops)


def test_programming_estimate_is_apart_and_proportional():
    _, engine, _ = solve(8, 2)
    cells = engine.stats.meter_cells_programmed
    assert cells > 8 * 8 * 8  # the 24-bit slices (8 x 8 x 8) plus the INV and MVM blocks
    one, two = estimate_programming(cells), estimate_programming(2 * cells)
    assert one.energy_J > 0 and one.time_s > 0
    assert two.energy_J == pytest.approx(2 * one.energy_J)
    assert two.time_s == pytest.approx(2 * one.time_s)
    with pytest.raises(ValueError, match="cells must be"):
        estimate_programming(-1)


@pytest.mark.parametrize("differential", [False, True])
def test_parallel_inv_cells_are_counted(differential):
    """``copies`` k: k cells per INV entry (programmed, and conducting level 0's
    conductance each), on each side of a differential pair; the INV still has one DAC,
    op-amp and ADC per row."""
    a, b = random_problem(4, 8.0, seed=0)
    counts = {}
    for k in (1, 4):
        engine = MeteredEngine(ExactEngine())
        solver = HpInvSolver(engine, a, inv_copies=k, inv_differential=differential)
        result = solver.solve(b, max_cycles=2)
        counts[k] = (engine.stats.meter_cells_programmed, result.ops)
    (cells1, ops1), (cells4, ops4) = counts[1], counts[4]
    sides = 2 if differential else 1
    assert cells4 - cells1 == sides * 3 * 16  # three more cells per entry and side
    assert ops4["meter_inv_rows"] == ops1["meter_inv_rows"] == 2 * 4
    assert ops4["meter_inv_G_S"] > ops1["meter_inv_G_S"]


def test_describe_says_estimate():
    result, _, _ = solve(4, 2, kappa=8.0)
    text = estimate_solve(result.ops).describe()
    assert text.startswith("ESTIMATE") and "not a measurement" in text
