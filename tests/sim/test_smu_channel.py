"""A simulated SMU channel on a probed cell: compliance, timing and noise."""

import numpy as np
import pytest

from rramlab.sim.cell import cell_current
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams
from rramlab.sim.probe import CellProbe
from rramlab.sim.smu_channel import SimulatedChannel, SmuSpec

SPEC = SmuSpec(
    model="test",
    voltage_ranges_V=(0.2, 2.0, 20.0),
    current_ranges_A=(1e-6, 1e-4, 1e-2),
    max_voltage_V=21.0,
    max_current_A=0.1,
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(0.01, 10.0),
    min_pulse_width_s=1e-4,
    current_noise_floor_A=1e-12,
    current_noise_of_range=1e-4,
    voltage_noise_V=1e-6,
)


def formed_channel(params=None, seed=0):
    array = Crossbar(2, 2, params=params or CrossbarParams.ideal(), seed=seed)
    array.pulse(3.5, 1e-3, rows=1, cols=1, compliance_A=50e-6)
    array.pulse(-1.6, 1e-3, rows=1, cols=1)
    probe = CellProbe(array, 1, 1)
    return SimulatedChannel(SPEC, probe, array.clock, np.random.default_rng(seed)), array


def test_voltage_source_reads_the_cells_current():
    channel, array = formed_channel()
    g = array.conductance_S[1, 1]
    channel.source_level, channel.current_limit_A = 0.2, 1e-3
    channel.set_output(True)
    reading = channel.measure()
    assert reading.current_A == pytest.approx(float(cell_current(g, 0.2, array.params)), rel=1e-3)
    assert not reading.tripped


def test_compliance_clamps_the_current_and_trips():
    channel, _ = formed_channel()
    channel.source_level, channel.current_limit_A = 0.5, 1e-7
    channel.set_output(True)
    reading = channel.measure()
    assert reading.tripped
    assert reading.current_A == pytest.approx(1e-7, rel=1e-3)
    assert 0 < reading.voltage_V < 0.5  # the source could not reach its level


def test_current_source_with_voltage_limit():
    channel, array = formed_channel()
    channel.source_function, channel.source_level, channel.voltage_limit_V = "CURR", 2e-7, 1.0
    channel.set_output(True)
    reading = channel.measure()
    g = array.conductance_S[1, 1]
    assert reading.current_A == pytest.approx(2e-7, rel=1e-3)
    assert float(cell_current(g, reading.voltage_V, array.params)) == pytest.approx(2e-7, rel=1e-3)
    channel.source_level = 1e-3  # more than 1 V can drive
    assert channel.measure().tripped


def test_measurement_takes_nplc_line_cycles_of_bench_time():
    channel, array = formed_channel()
    channel.nplc = 5
    t0 = array.clock.now()
    channel.measure()
    assert array.clock.now() - t0 == pytest.approx(5 / 50 + SPEC.measure_overhead_s)


def test_output_off_reads_noise_around_zero_and_leaves_the_cell_alone():
    channel, array = formed_channel()
    g = array.conductance_S[1, 1]
    channel.source_level = 3.0  # would SET the cell if it were applied
    readings = [channel.measure().current_A for _ in range(50)]
    assert abs(np.mean(readings)) < 1e-10
    assert array.conductance_S[1, 1] == g


def test_holding_the_output_on_stresses_the_cell():
    channel, array = formed_channel()
    g = array.conductance_S[1, 1]
    channel.source_level, channel.current_limit_A = 1.5, 30e-6
    channel.set_output(True)
    channel.hold(1e-3)
    assert array.conductance_S[1, 1] > 5 * g  # a SET under the 30 uA limit


def test_noise_shrinks_with_integration_time():
    def spread(nplc):
        channel, _ = formed_channel(seed=1)
        channel.nplc = nplc
        channel.current_range_A = 1e-4
        channel.source_level, channel.current_limit_A = 0.1, 1e-3
        channel.set_output(True)
        return np.std([channel.measure().current_A for _ in range(300)])

    assert spread(0.1) / spread(10) == pytest.approx(10, rel=0.25)


def test_a_disconnected_probe_is_an_open_circuit():
    channel, array = formed_channel()
    channel.terminals.disconnect()
    channel.source_level, channel.current_limit_A = 1.5, 30e-6
    channel.set_output(True)
    g = array.conductance_S[1, 1]
    reading = channel.measure()
    assert abs(reading.current_A) < 1e-9
    assert array.conductance_S[1, 1] == g  # nothing reached the cell
    channel.source_function, channel.source_level, channel.voltage_limit_V = "CURR", 1e-6, 2.0
    assert channel.measure().tripped  # a current source into an open circuit hits its limit
