"""rramlab's drivers against the simulated twins, through the real pyvisa stack
(``@rramsim`` backend): the same bytes a real instrument would get. Each test checks a
measured value against the physics of the probed cell."""

import itertools

import numpy as np
import pytest

from rramlab.drivers.keithley2450 import Keithley2450
from rramlab.drivers.keithley2636b import Keithley2636B
from rramlab.drivers.keysight_b2900 import KeysightB2902A
from rramlab.errors import InstrumentError, LimitError
from rramlab.limits import SafetyLimits
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.cell import cell_current
from rramlab.sim.params import CrossbarParams
from rramlab.sim.visa_backend import register_bench, unregister_bench

LIMITS = SafetyLimits(max_voltage_V=5.0, max_current_A=10e-3, max_pulse_width_s=0.1)
_names = itertools.count()


def open_channel(model, bench_name):
    backend = f"bench={bench_name}@rramsim"
    if model == "2450":
        return Keithley2450("GPIB0::18::INSTR", limits=LIMITS, backend=backend)
    if model == "2636B":
        return Keithley2636B("GPIB0::26::INSTR", limits=LIMITS, backend=backend).smua
    return KeysightB2902A("GPIB0::23::INSTR", limits=LIMITS, backend=backend).ch1


@pytest.fixture(params=["2450", "2636B", "B2902A"])
def rig(request):
    """(bench, smu channel) with the probed cell (0, 0) formed and reset to ~5 uS."""
    bench = SimulatedBench(
        seed=11, smu_models=(request.param,), params=CrossbarParams.ideal(read_noise_rel=0.0)
    )
    array = bench.array
    array.pulse(3.5, 1e-3, rows=0, cols=0, compliance_A=50e-6)
    array.pulse(-2.0, 1e-3, rows=0, cols=0)
    array.pulse(1.5, 1e-3, rows=0, cols=0, compliance_A=5e-6)
    name = f"drivers-{next(_names)}"
    register_bench(name, bench)
    smu = open_channel(request.param, name)
    yield bench, smu
    smu.disable_output()
    unregister_bench(name)


def test_measured_current_is_the_cells_conductance_times_voltage(rig):
    bench, smu = rig
    g = bench.array.conductance_S[0, 0]
    smu.source_voltage(0.2, current_limit_A=1e-3)
    smu.configure_measurement(nplc=1)
    with smu.output():
        m = smu.measure()
    expected = float(cell_current(g, 0.2, bench.array.params))
    assert m.current_A == pytest.approx(expected, rel=0.01)
    assert m.voltage_V == pytest.approx(0.2, abs=1e-3)
    assert not m.in_compliance
    smu.check_errors()


def test_compliance_clamps_and_is_reported(rig):
    _, smu = rig
    smu.source_voltage(0.5, current_limit_A=1e-7)
    with smu.output():
        m = smu.measure()
    assert m.in_compliance
    assert abs(m.current_A) == pytest.approx(1e-7, rel=0.02)
    assert abs(m.voltage_V) < 0.5


def test_instrument_side_sweep_follows_the_cells_iv(rig):
    bench, smu = rig
    g = bench.array.conductance_S[0, 0]
    levels = np.linspace(-0.4, 0.4, 9)
    result = smu.sweep_voltage(levels, current_limit_A=1e-3)
    np.testing.assert_allclose(result.source_V, levels, atol=1e-9)
    expected = cell_current(g, levels, bench.array.params)
    np.testing.assert_allclose(result.current_A, expected, rtol=0.02, atol=2e-9)
    assert not smu.output_enabled


def test_a_set_pulse_through_the_smu_programs_the_cell(rig):
    bench, smu = rig
    g0 = bench.array.conductance_S[0, 0]
    t0 = bench.clock.now()
    pulse = smu.pulse_voltage(1.6, 2e-3, current_limit_A=30e-6)
    assert bench.array.conductance_S[0, 0] > 3 * g0  # SET towards 30 uA / 1 V
    assert pulse.width_s >= 2e-3  # honest: never shorter than asked
    assert bench.clock.now() - t0 >= pulse.width_s  # and bench time agrees


def test_limits_are_enforced_before_the_instrument_sees_anything(rig):
    bench, smu = rig
    before = bench.array.max_voltage_seen_V[0, 0]
    with pytest.raises(LimitError):
        smu.source_voltage(6.0, current_limit_A=1e-3)
    with pytest.raises(LimitError):
        smu.pulse_voltage(3.0, 1e-9, current_limit_A=1e-4)
    smu.check_errors()  # nothing reached the instrument, so nothing went wrong there
    assert bench.array.max_voltage_seen_V[0, 0] == before


def test_identity_names_the_simulated_model(rig):
    _, smu = rig
    assert any(m in smu.identity.model for m in ("2450", "2636B", "B2902A"))


def test_instrument_errors_carry_code_and_message():
    bench = SimulatedBench(seed=1, smu_models=("2450",))
    register_bench("errors", bench)
    try:
        smu = Keithley2450("GPIB0::18::INSTR", limits=LIMITS, backend="bench=errors@rramsim")
        bench.smus["2450"].write(":SOUR:VOLT 1e6")  # someone else mistyped on the bus
        with pytest.raises(InstrumentError) as info:
            smu.check_errors()
        assert info.value.code == -222
    finally:
        unregister_bench("errors")


# ---------------------------------------------------------------- put back after sweeps
OUTPUT_QUERY = {
    "2450": ":OUTP?",
    "2636B": "print(smua.source.output)",
    "B2902A": ":OUTP1?",
}


def instrument_output_on(smu) -> bool:
    """The output state as the instrument itself reports it (asked on the driver's bus)."""
    conn = smu.connection if isinstance(smu, Keithley2450) else smu.instrument.connection
    model = next(m for m in OUTPUT_QUERY if m in smu.identity.model)
    return conn.query_number(OUTPUT_QUERY[model]) == 1.0


def sweep_then_pulse(smu):
    """An I-V sweep and a read-level pulse, neither of which programs the cell."""
    smu.sweep_voltage(np.linspace(-0.3, 0.3, 7), current_limit_A=1e-3)
    smu.pulse_voltage(0.3, 2e-3, current_limit_A=1e-3)


def test_output_on_before_a_sweep_and_a_pulse_is_on_after_at_the_users_level(rig):
    bench, smu = rig
    smu.source_voltage(0.2, current_limit_A=1e-4)
    smu.enable_output()
    sweep_then_pulse(smu)
    assert instrument_output_on(smu)  # whatever the trigger model did at its end
    assert smu.output_enabled
    g = bench.array.conductance_S[0, 0]
    m = smu.measure()  # the 0.2 V the user set, not the sweep's or the pulse's last level
    assert m.voltage_V == pytest.approx(0.2, abs=1e-3)
    assert m.current_A == pytest.approx(float(cell_current(g, 0.2, bench.array.params)), rel=0.01)
    assert not m.in_compliance  # the user's 100 uA limit is back, too
    smu.check_errors()


def test_output_off_before_a_sweep_and_a_pulse_is_off_after(rig):
    bench, smu = rig
    smu.source_voltage(0.2, current_limit_A=1e-4)
    sweep_then_pulse(smu)
    assert not instrument_output_on(smu)
    assert not smu.output_enabled
    g = bench.array.conductance_S[0, 0]
    with smu.output():  # turning it on again sources what the user set
        m = smu.measure()
    assert m.current_A == pytest.approx(float(cell_current(g, 0.2, bench.array.params)), rel=0.01)
    smu.check_errors()


def test_a_user_limit_below_the_sweep_current_is_put_back_and_clamps_again(rig):
    _, smu = rig
    smu.source_voltage(0.3, current_limit_A=1e-7)  # the formed cell would draw ~1.5 uA
    smu.enable_output()
    result = smu.sweep_voltage([0.1, 0.3], current_limit_A=1e-3)
    assert abs(result.current_A[-1]) > 1e-6  # the sweep ran under its own 1 mA limit
    m = smu.measure()
    assert m.in_compliance and abs(m.current_A) == pytest.approx(1e-7, rel=0.02)
    assert instrument_output_on(smu) and smu.output_enabled
