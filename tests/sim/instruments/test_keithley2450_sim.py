"""The simulated Keithley 2450, driven with plain SCPI strings as typed from its manual.

Each test states a protocol or physics fact: currents follow the probed cell's I-V,
compliance clamps, sweeps and buffers hold the right points, time passes as the
command semantics say, bad values are refused with the standard codes."""

import numpy as np
import pytest

from rramlab.sim.cell import cell_current
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.instruments.keithley2450 import SHORTEST_PULSE_S, SPEC, Keithley2450Sim
from rramlab.sim.params import CrossbarParams
from rramlab.sim.probe import CellProbe

IDEAL = CrossbarParams.ideal()


def make(row: int = 0, col: int = 0, seed: int = 0):
    """A 2450 probing cell (row, col) of a 2x2 array whose cell (0, 0) was formed with a
    50 uA compliance (about 50 uS); cell (1, 1) is pristine."""
    array = Crossbar(2, 2, params=IDEAL, seed=seed)
    array.pulse(3.5, 1e-3, rows=0, cols=0, compliance_A=50e-6)
    smu = Keithley2450Sim(CellProbe(array, row, col), array.clock, np.random.default_rng(seed))
    return smu, array


def test_identity_language_and_error_format(ask):
    smu, _ = make()
    assert ask(smu, "*IDN?") == "KEITHLEY INSTRUMENTS,MODEL 2450,04365704,1.6.4c"
    assert ask(smu, "*LANG?") == "SCPI"
    assert ask(smu, ":SYST:ERR?") == '0,"No error"'
    smu.write(":SOUR:VOLTS 1")
    assert ask(smu, ":SYSTem:ERRor:NEXT?") == '-113,"Undefined header"'


def test_voltage_source_reads_the_cells_current(ask, errors, expected_current):
    smu, array = make()
    smu.write(":SOUR:FUNC VOLT")
    smu.write(":SOUR:VOLT:LEV 0.2")
    smu.write(":SOUR:VOLT:ILIM 1e-3")
    smu.write(":SENS:FUNC 'CURR';:SENS:CURR:NPLC 1")  # a third-party driver's compound
    smu.write(":OUTP ON")
    expected = expected_current(array, 0.2)
    assert expected == pytest.approx(0.2 * array.conductance_S[0, 0], rel=1e-6)
    assert float(ask(smu, ":READ?")) == pytest.approx(expected, rel=1e-3)
    assert float(ask(smu, ":MEAS:CURR?")) == pytest.approx(expected, rel=1e-3)
    assert float(ask(smu, ":MEASure:CURRent:DC?")) == pytest.approx(expected, rel=1e-3)
    assert ask(smu, ":SOUR:VOLT:ILIM:TRIP?") == "0"
    assert errors(smu) == []


def test_the_read_follows_the_superlinear_iv_not_ohms_law(ask, expected_current):
    smu, array = make()
    smu.write(":SOUR:VOLT 0.6;:SOUR:VOLT:ILIM 1e-3;:OUTP ON")
    current = float(ask(smu, ":READ?"))
    assert current == pytest.approx(expected_current(array, 0.6), rel=1e-3)
    assert current > 1.2 * 0.6 * array.conductance_S[0, 0]


def test_compliance_clamps_the_current_at_the_limit_and_trips(ask, numbers, expected_current):
    smu, array = make()
    smu.write(":SOUR:VOLT 0.5;:SOUR:VOLT:ILIM 1e-6;:OUTP ON")
    assert expected_current(array, 0.5) > 10e-6  # the cell would carry far more
    assert float(ask(smu, ":READ?")) == pytest.approx(1e-6, rel=1e-3)
    assert ask(smu, ":SOUR:VOLT:ILIM:TRIP?") == "1"
    voltage = numbers(ask(smu, ':READ? "defbuffer1", SOUR, READ'))[0]
    assert 0 < voltage < 0.5  # the read-back source voltage dropped to what drives 1 uA
    smu.write(":SOUR:VOLT:ILIM 1e-3")
    assert float(ask(smu, ":READ?")) == pytest.approx(expected_current(array, 0.5), rel=1e-3)
    assert ask(smu, ":SOUR:VOLT:ILIM:LEV:TRIP?") == "0"


def test_current_source_with_voltage_limit(ask):
    smu, array = make()
    smu.write(':SOUR:FUNC CURR;:SOUR:CURR 2e-6;:SOUR:CURR:VLIM 2;:SENS:FUNC "VOLT";:OUTP ON')
    voltage = float(ask(smu, ":READ?"))
    assert float(cell_current(array.conductance_S[0, 0], voltage, IDEAL)) == pytest.approx(
        2e-6, rel=1e-3
    )
    smu.write(":SOUR:CURR 1e-3;:SOUR:CURR:VLIM 0.3")  # 1 mA needs more than 0.3 V
    assert float(ask(smu, ":READ?")) == pytest.approx(0.3, abs=1e-3)
    assert ask(smu, ":SOUR:CURR:VLIM:TRIP?") == "1"


def test_output_off_reads_about_zero_and_leaves_the_cell_alone(ask):
    smu, array = make()
    g = array.conductance_S[0, 0]
    smu.write(":SOUR:VOLT 3;:SOUR:VOLT:ILIM 1e-3;:OUTP OFF")
    assert abs(float(ask(smu, ":READ?"))) < 1e-9
    assert array.conductance_S[0, 0] == g


def test_a_linear_sweep_returns_its_points_along_the_iv(ask, errors, numbers, expected_current):
    smu, array = make()
    smu.write(":SOUR:VOLT:ILIM 1e-3")
    smu.write(":SOUR:SWE:VOLT:LIN 0, 0.4, 5, 0, 1, BEST, OFF")
    smu.write(":INIT")
    smu.write("*WAI")
    assert ask(smu, ":TRAC:ACT?") == "5"
    data = numbers(ask(smu, ':TRAC:DATA? 1, 5, "defbuffer1", SOUR, READ'))
    sources, currents = np.array(data[0::2]), np.array(data[1::2])
    np.testing.assert_allclose(sources, np.linspace(0, 0.4, 5), atol=1e-4)
    expected = [expected_current(array, v) for v in np.linspace(0, 0.4, 5)]
    np.testing.assert_allclose(currents, expected, rtol=1e-3, atol=1e-10)
    assert ask(smu, ":OUTP?") == "0"  # the sweep's trigger model turns the output off
    assert errors(smu) == []


def test_dual_sweep_runs_back_and_count_repeats(ask, numbers):
    smu, _ = make()
    smu.write(":SOUR:VOLT:ILIM 1e-3;:SOUR:SWE:VOLT:LIN 0, 0.2, 3, 0, 2, AUTO, OFF, ON;:INIT")
    sources = numbers(ask(smu, ":TRAC:DATA? 1, 12, 'defbuffer1', SOUR"))
    np.testing.assert_allclose(sources, [0, 0.1, 0.2, 0.2, 0.1, 0] * 2, atol=1e-4)


def test_a_sweep_aborts_at_the_source_limit_unless_told_otherwise(ask, numbers):
    smu, _ = make()
    smu.write(":SOUR:VOLT:ILIM 8e-6;:SOUR:SWE:VOLT:LIN 0, 0.5, 6, 0;:INIT")  # failAbort ON
    assert ask(smu, ":TRAC:ACT?") == "3"  # 0, 0.1, then 0.2 V trips (about 10 uA)
    smu.write(":SOUR:SWE:VOLT:LIN 0, 0.5, 6, 0, 1, BEST, OFF;:INIT")
    currents = numbers(ask(smu, ":TRAC:DATA? 1, 6"))
    assert len(currents) == 6
    np.testing.assert_allclose(currents[2:], 8e-6, rtol=1e-3)


def test_a_forming_sweep_with_compliance_forms_the_pristine_cell(ask):
    smu, array = make(row=1, col=1)
    assert not array.formed[1, 1]
    smu.write(":SENS:CURR:NPLC 0.1;:SOUR:VOLT:ILIM 50e-6")
    smu.write(":SOUR:SWE:VOLT:LIN:STEP 0, 3.6, 0.1, 0, 1, BEST, OFF")
    smu.write(":INIT;*OPC?")
    assert smu.read() == "1"
    assert array.formed[1, 1]
    # A compliance-limited forming lands near I_cc / V_set_compliance.
    assert array.conductance_S[1, 1] == pytest.approx(50e-6 / IDEAL.v_set_compliance_V, rel=0.2)
    assert float(ask(smu, ":FETCh?")) == pytest.approx(50e-6, rel=1e-3)  # clamped at the end


def test_list_sweep_points_are_the_shortest_pulses_in_bench_time(ask, numbers, expected_current):
    smu, array = make()
    assert SPEC.min_pulse_width_s == SHORTEST_PULSE_S == pytest.approx(400e-6)
    smu.write(":SOUR:VOLT:ILIM 1e-3;:SENS:CURR:NPLC 0.01;:SOUR:VOLT:DEL 0")
    smu.write(":SOUR:LIST:VOLT 0.1, 0.3, 0.1")
    assert ask(smu, ":SOUR:LIST:VOLT:POIN?") == "3"
    smu.write(":SOUR:SWE:VOLT:LIST 1, 0")
    t0 = array.clock.now()
    smu.write(":INIT")
    assert array.clock.now() - t0 == pytest.approx(SPEC.command_time_s + 3 * SHORTEST_PULSE_S)
    rel = numbers(ask(smu, ":TRAC:DATA? 1, 3, 'defbuffer1', REL"))
    np.testing.assert_allclose(np.diff(rel), SHORTEST_PULSE_S)
    currents = numbers(ask(smu, ":TRAC:DATA? 1, 3"))
    assert currents[1] == pytest.approx(expected_current(array, 0.3), rel=2e-3)


def test_source_delay_and_sweep_delay_add_up_per_point():
    smu, array = make()
    smu.write(":SOUR:VOLT:DEL 0.01;:SENS:CURR:NPLC 1;:SOUR:SWE:VOLT:LIN 0, 0.1, 2, 0.005")
    t0 = array.clock.now()
    smu.write(":INIT")
    point = 0.01 + 0.005 + 1 / 50 + SPEC.measure_overhead_s
    assert array.clock.now() - t0 == pytest.approx(SPEC.command_time_s + 2 * point)


def test_a_reading_takes_nplc_line_cycles_of_bench_time():
    smu, array = make()
    smu.write(":SENS:CURR:NPLC 2;:OUTP ON")
    t0 = array.clock.now()
    smu.write(":READ?")
    assert smu.read() is not None
    assert array.clock.now() - t0 == pytest.approx(
        SPEC.command_time_s + 2 / 50 + SPEC.measure_overhead_s
    )


def test_user_buffers_hold_readings_and_statistics(ask, errors, numbers):
    smu, _ = make()
    smu.write(':TRAC:MAKE "cycle", 10;:SOUR:VOLT 0.2;:SOUR:VOLT:ILIM 1e-3;:OUTP ON')
    assert ask(smu, ':TRAC:POIN? "cycle"') == "10"
    readings = [float(ask(smu, ':READ? "cycle"')) for _ in range(3)]
    assert ask(smu, ':TRAC:ACT? "cycle"') == "3"
    assert ask(smu, ":TRAC:ACT?") == "0"  # defbuffer1 untouched
    assert float(ask(smu, ':TRACe:STATistics:AVERage? "cycle"')) == pytest.approx(
        np.mean(readings), rel=1e-6
    )
    assert numbers(ask(smu, ':TRAC:DATA? 1, 3, "cycle", READ')) == pytest.approx(readings)
    for _ in range(12):
        smu.write(':TRAC:TRIG "cycle"')
    assert ask(smu, ':TRAC:ACT? "cycle"') == "10"  # a full buffer keeps the newest
    smu.write(':TRAC:CLE "cycle"')
    assert ask(smu, ':TRAC:ACT? "cycle"') == "0"
    smu.write(':TRAC:STAT:AVER? "cycle"')
    assert smu.read() is None and errors(smu) == [-230]
    smu.write(':READ? "nobuffer"')
    assert smu.read() is None and errors(smu) == [-224]
    smu.write(':TRAC:DATA? 1, 5, "cycle"')
    assert errors(smu) == [-222]


def test_out_of_range_values_are_refused_and_settings_stay(ask, errors):
    smu, _ = make()
    smu.write(":SOUR:VOLT 0.3;:SOUR:VOLT:ILIM 2e-3;:SENS:CURR:NPLC 5")
    for message in (":SOUR:VOLT 250", ":SOUR:VOLT:ILIM 2", ":SENS:CURR:NPLC 20"):
        smu.write(message)
        assert errors(smu) == [-222]
    assert ask(smu, ":SOUR:VOLT?;:SOUR:VOLT:ILIM?;:SENS:CURR:NPLC?") == (
        "3.000000E-01;2.000000E-03;5.000000E+00"
    )
    smu.write(":SOUR2:VOLT 1")  # one channel only
    assert errors(smu) == [-114]
    smu.write(":SOUR:VOLT:RANG 2;:SOUR:VOLT 3")  # above the fixed 2 V range
    assert errors(smu) == [-222]


def test_the_power_envelope_limits_high_current_to_21_volts(errors):
    smu, _ = make()
    smu.write(":SOUR:VOLT:ILIM 0.5;:SOUR:VOLT 30")
    assert errors(smu) == [-221]
    smu.write(":SOUR:VOLT 20")
    assert errors(smu) == []


def test_rst_returns_the_documented_defaults(ask, errors):
    smu, _ = make()
    smu.write(':SOUR:FUNC CURR;:SOUR:VOLT 1;:SOUR:VOLT:ILIM 1e-2;:OUTP ON;:SENS:FUNC "VOLT"')
    smu.write(':SENS:CURR:NPLC 0.1;:TRAC:MAKE "mine", 5')
    smu.write("*RST;:stat:pres;*CLS")  # a third-party driver's reset
    assert ask(smu, ":SOUR:FUNC?;:SOUR:VOLT?;:SOUR:VOLT:ILIM?;:OUTP?") == (
        "VOLT;0.000000E+00;1.050000E-04;0"
    )
    assert ask(smu, ":SENS:FUNC?;:SENS:CURR:NPLC?;:SOUR:CURR:VLIM?") == (
        '"CURR:DC";1.000000E+00;2.100000E+01'
    )
    smu.write(':TRAC:ACT? "mine"')
    assert errors(smu) == [-224]


def test_source_function_change_turns_the_output_off(ask):
    smu, _ = make()
    smu.write(":OUTP ON;:SOUR:FUNC CURR")
    assert ask(smu, ":OUTP?") == "0"


def test_each_command_costs_command_time():
    smu, array = make()
    t0 = array.clock.now()
    smu.write(":SOUR:VOLT 0.1;:SOUR:VOLT:ILIM 1e-3;*CLS")
    assert array.clock.now() - t0 == pytest.approx(3 * SPEC.command_time_s)
