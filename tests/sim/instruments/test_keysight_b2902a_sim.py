"""The simulated Keysight B2902A, driven with plain SCPI strings as typed from its manual.

Channel 1 probes cell (0, 0), formed at 50 uA (about 50 uS); channel 2 probes cell
(1, 1), formed at 20 uA (about 20 uS)."""

import numpy as np
import pytest

from rramlab.sim.crossbar import Crossbar
from rramlab.sim.instruments.keysight_b2902a import SPEC, KeysightB2902ASim
from rramlab.sim.params import CrossbarParams
from rramlab.sim.probe import CellProbe

IDEAL = CrossbarParams.ideal()
COMMAND_S = SPEC.command_time_s


def formed_array(seed: int = 0) -> Crossbar:
    array = Crossbar(2, 2, params=IDEAL, seed=seed)
    array.pulse(3.5, 1e-3, rows=0, cols=0, compliance_A=50e-6)
    array.pulse(3.5, 1e-3, rows=1, cols=1, compliance_A=20e-6)
    return array


def make(seed: int = 0):
    array = formed_array(seed)
    probes = [CellProbe(array, 0, 0), CellProbe(array, 1, 1)]
    smu = KeysightB2902ASim(probes, array.clock, np.random.default_rng(seed))
    return smu, array


def test_identity_and_signed_error_format(ask):
    smu, _ = make()
    assert ask(smu, "*IDN?") == "Keysight Technologies,B2902A,MY51143745,3.4.2011.5100"
    assert ask(smu, ":SYST:ERR?") == '+0,"No error"'
    smu.write(":SOUR:VOLTS 1")
    assert ask(smu, ":SYST:ERR?") == '-113,"Undefined header"'


def test_voltage_source_reads_the_cells_current(ask, errors, numbers, expected_current):
    smu, array = make()
    smu.write(":SOUR1:FUNC:MODE VOLT")
    smu.write(":SOUR1:VOLT 0.2")
    smu.write(":SENS1:CURR:PROT 1e-3")
    smu.write(':SENS1:FUNC "CURR"')
    smu.write(":OUTP1 ON")
    expected = expected_current(array, 0.2)
    assert float(ask(smu, ":MEAS:CURR? (@1)")) == pytest.approx(expected, rel=1e-3)
    assert float(ask(smu, ":MEAS:CURR?")) == pytest.approx(expected, rel=1e-3)  # (@1) default
    volt, curr, res, _time, status, source = numbers(ask(smu, ":MEAS? (@1)"))
    assert (volt, source, status) == (pytest.approx(0.2, abs=1e-4), 0.2, 0)
    assert curr == pytest.approx(expected, rel=1e-3)
    assert res == 9.91e37  # the resistance function is off
    assert errors(smu) == []


def test_optional_roots_and_long_forms_reach_channel_one(ask, expected_current):
    smu, array = make()
    smu.write(":VOLT 0.2;:CURR:PROT 1e-3;:OUTP ON")
    assert ask(smu, ":SOUR1:VOLT?;:SENS1:CURR:PROT?") == "+2.000000E-01;+1.000000E-03"
    reading = float(ask(smu, ":MEASure:CURRent:DC? (@1)"))
    assert reading == pytest.approx(expected_current(array, 0.2), rel=1e-3)
    assert ask(smu, ":SOURce2:VOLTage:LEVel:IMMediate:AMPLitude?") == "+0.000000E+00"


def test_channel_two_is_independent_of_channel_one(ask, numbers, expected_current):
    smu, array = make()
    smu.write(":SOUR1:VOLT 0.2;:SENS1:CURR:PROT 1e-3;:OUTP1 ON")
    smu.write(":SOUR2:VOLT 0.3;:SENS2:CURR:PROT 2e-3;:OUTP2 ON")
    ch1, ch2 = numbers(ask(smu, ":MEAS:CURR? (@1,2)"))
    assert ch1 == pytest.approx(expected_current(array, 0.2), rel=1e-3)
    assert ch2 == pytest.approx(expected_current(array, 0.3, 1, 1), rel=1e-3)
    smu.write(":OUTP2 OFF;:SOUR2:VOLT 1")
    assert ask(smu, ":OUTP1?;:OUTP2?;:SOUR1:VOLT?;:SENS1:CURR:PROT?") == (
        "1;0;+2.000000E-01;+1.000000E-03"
    )
    assert float(ask(smu, ":MEAS:CURR? (@1)")) == pytest.approx(ch1, rel=1e-3)


def test_compliance_clamps_and_trips_on_its_channel_only(ask, expected_current):
    smu, array = make()
    smu.write(":SOUR1:VOLT 0.5;:SENS1:CURR:PROT 1e-6;:OUTP1 ON")
    assert expected_current(array, 0.5) > 10e-6
    assert float(ask(smu, ":MEAS:CURR? (@1)")) == pytest.approx(1e-6, rel=1e-3)
    assert ask(smu, ":SENS1:CURR:PROT:TRIP?") == "1"
    assert ask(smu, ":SENS2:CURR:PROT:TRIP?") == "0"
    smu.write(":SENS1:CURR:PROT 1e-3")
    assert float(ask(smu, ":MEAS:CURR? (@1)")) == pytest.approx(
        expected_current(array, 0.5), rel=1e-3
    )
    assert ask(smu, ":SENS1:CURR:PROT:TRIP?") == "0"


def test_a_linear_sweep_returns_its_points_along_the_iv(ask, errors, numbers, expected_current):
    smu, array = make()
    smu.write(":SOUR:FUNC:MODE VOLT;:SOUR:VOLT:MODE SWE")
    smu.write(":SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 0.4;:SOUR:VOLT:POIN 5")
    smu.write(":SENS:CURR:PROT 1e-3;:TRIG:COUN 5")
    smu.write(":INIT (@1)")
    currents = numbers(ask(smu, ":FETC:ARR:CURR? (@1)"))
    volts = numbers(ask(smu, ":FETC:ARR:VOLT? (@1)"))
    levels = np.linspace(0, 0.4, 5)
    np.testing.assert_allclose(volts, levels, atol=1e-4)
    expected = [expected_current(array, v) for v in levels]
    np.testing.assert_allclose(currents, expected, rtol=1e-3, atol=1e-10)
    assert numbers(ask(smu, ":FETC:ARR:SOUR? (@1)")) == pytest.approx(levels)
    assert ask(smu, ":OUTP?") == "1"  # :OUTP:ON:AUTO turned it on
    assert errors(smu) == []


def test_a_list_sweep_sources_its_values(ask, numbers):
    smu, _ = make()
    smu.write(":SOUR:VOLT:MODE LIST;:SOUR:LIST:VOLT 0.1,0.3,0.2;:TRIG:COUN 3")
    assert ask(smu, ":SOUR:LIST:VOLT:POIN?") == "+3"
    assert numbers(ask(smu, ":READ:ARR:SOUR? (@1)")) == pytest.approx([0.1, 0.3, 0.2])


def test_a_pulse_holds_the_peak_for_exactly_its_width_in_bench_time(errors):
    smu, array = make()
    twin = formed_array()
    smu.write(":SENS:CURR:PROT 1e-2;:SENS:FUNC:OFF:ALL;:SOUR:FUNC:SHAP PULS")
    smu.write(":SOUR:VOLT 0;:SOUR:VOLT:TRIG -1.3;:SOUR:PULS:DEL 0;:SOUR:PULS:WIDT 200e-6")
    smu.write(":OUTP ON")
    t0 = array.clock.now()
    smu.write(":INIT (@1)")
    assert array.clock.now() - t0 == pytest.approx(COMMAND_S + 200e-6)
    assert errors(smu) == []
    # The cell saw exactly what a 200 us, -1.3 V pulse does to its twin.
    twin.pulse(-1.3, 200e-6, rows=0, cols=0, compliance_A=1e-2)
    g_smu, g_twin = array.conductance_S[0, 0], twin.conductance_S[0, 0]
    assert g_smu == pytest.approx(g_twin, rel=1e-6)
    assert g_smu < 0.9 * formed_array().conductance_S[0, 0]  # it was a real RESET
    longer = formed_array()
    longer.pulse(-1.3, 400e-6, rows=0, cols=0, compliance_A=1e-2)
    assert longer.conductance_S[0, 0] < 0.99 * g_smu  # and its width mattered


def test_a_reading_inside_a_pulse_sees_the_peak(ask, expected_current):
    smu, array = make()
    smu.write(':SENS:CURR:PROT 1e-3;:SENS:FUNC "CURR";:SENS:CURR:APER 1e-4')
    smu.write(":SOUR:FUNC:SHAP PULS;:SOUR:VOLT 0;:SOUR:VOLT:TRIG 0.3;:SOUR:PULS:WIDT 5e-4")
    smu.write(":TRIG:ACQ:DEL 1e-4;:OUTP ON")
    t0 = array.clock.now()
    smu.write(":INIT")
    assert array.clock.now() - t0 == pytest.approx(COMMAND_S + 5e-4)
    current = float(ask(smu, ":FETC:CURR? (@1)"))
    assert current == pytest.approx(expected_current(array, 0.3), rel=2e-3)
    assert float(ask(smu, ":MEAS:CURR?")) == pytest.approx(0.0, abs=1e-9)  # back at base


def test_a_reading_that_ends_with_the_pulse_is_allowed(ask, errors, expected_current):
    smu, array = make()
    width, aperture = 1e-4, 2e-5
    smu.write(":SOUR:FUNC:SHAP PULS;:SOUR:VOLT:TRIG 0.3;:SENS:CURR:PROT 1e-3;:OUTP ON")
    smu.write(f":SOUR:PULS:WIDT {width};:SENS:CURR:APER {aperture}")
    smu.write(f":TRIG:ACQ:DEL {width - aperture}")  # the last 20 us of the pulse
    smu.write(":INIT (@1)")
    assert errors(smu) == []
    assert float(ask(smu, ":FETC:CURR?")) == pytest.approx(expected_current(array, 0.3), 2e-3)


def test_a_reading_across_a_pulse_edge_is_refused_and_nothing_runs(errors):
    smu, array = make()
    g = array.conductance_S[0, 0]
    smu.write(":SOUR:FUNC:SHAP PULS;:SOUR:VOLT:TRIG -1.5;:SOUR:PULS:WIDT 5e-4")
    smu.write(":SENS:CURR:APER 1e-4;:TRIG:ACQ:DEL 4.5e-4;:SENS:CURR:PROT 1e-2;:OUTP ON")
    t0 = array.clock.now()
    smu.write(":INIT")
    assert array.clock.now() - t0 == pytest.approx(COMMAND_S)
    assert errors(smu) == [-221]
    assert array.conductance_S[0, 0] == g


def test_pulse_width_and_levels_are_range_checked(ask, errors):
    smu, _ = make()
    smu.write(":SOUR:PULS:WIDT 50e-6")
    assert errors(smu) == []
    smu.write(":SOUR:PULS:WIDT 40e-6")
    assert errors(smu) == [-222]
    assert ask(smu, ":SOUR:PULS:WIDT?") == "+5.000000E-05"
    assert SPEC.min_pulse_width_s == 50e-6


def test_out_of_range_values_are_refused_and_settings_stay(ask, errors):
    smu, _ = make()
    smu.write(":SOUR:VOLT 0.3;:SENS:CURR:NPLC 2")
    for message in (":SOUR:VOLT 300", ":SENS:CURR:PROT 5", ":SENS:CURR:NPLC 200"):
        smu.write(message)
        assert errors(smu) == [-222]
    assert ask(smu, ":SOUR:VOLT?;:SENS:CURR:NPLC?") == "+3.000000E-01;+2.000000E+00"
    smu.write(":SOUR3:VOLT 1")
    assert errors(smu) == [-114]
    smu.write(":MEAS:CURR? (@3)")
    assert smu.read() is None and errors(smu) == [-224]
    smu.write(":SENS:CURR:PROT 1.2;:SOUR:VOLT 10")  # 1.2 A only up to 6 V
    assert errors(smu) == [-221]


def test_rst_returns_defaults_on_both_channels(ask):
    smu, _ = make()
    smu.write(":SOUR2:VOLT 1;:OUTP2 ON;:SENS2:CURR:PROT 1e-2;:SOUR2:FUNC:SHAP PULS")
    smu.write(":TRIG2:COUN 7;:FORM:ELEM:SENS CURR")
    smu.write("*RST")
    assert ask(smu, ":SOUR2:VOLT?;:OUTP2?;:SENS2:CURR:PROT?;:SOUR2:FUNC:SHAP?;:TRIG2:COUN?") == (
        "+0.000000E+00;0;+1.000000E-04;DC;+1"
    )
    assert ask(smu, ":FORM:ELEM:SENS?") == "VOLT,CURR,RES,TIME,STAT,SOUR"


def test_output_off_reads_about_zero(ask):
    smu, array = make()
    g = array.conductance_S[0, 0]
    smu.write(":SOUR:VOLT 3;:OUTP:ON:AUTO OFF;:OUTP OFF")
    assert abs(float(ask(smu, ":MEAS:CURR? (@1)"))) < 1e-9
    assert ask(smu, ":OUTP?") == "0" and array.conductance_S[0, 0] == g


def test_a_spot_reading_takes_nplc_line_cycles_of_bench_time(ask):
    smu, array = make()
    smu.write(":SENS:CURR:NPLC 2;:OUTP ON")
    t0 = array.clock.now()
    ask(smu, ":MEAS:CURR? (@1)")
    assert array.clock.now() - t0 == pytest.approx(COMMAND_S + 2 / 50 + SPEC.measure_overhead_s)


def test_timer_triggers_pace_the_points(ask, errors, numbers):
    smu, array = make()
    smu.write(":TRIG:SOUR TIM;:TRIG:TIM 0.1;:TRIG:COUN 3;:SENS:CURR:NPLC 0.1;:OUTP ON")
    t0 = array.clock.now()
    smu.write(":INIT")
    assert array.clock.now() - t0 == pytest.approx(COMMAND_S + 0.3)
    times = numbers(ask(smu, ":FETC:ARR:TIME?"))
    np.testing.assert_allclose(np.diff(times), 0.1)
    smu.write(":TRIG:SOUR BUS;:INIT")  # nobody sends *TRG in the simulation
    assert errors(smu) == [-221]


def test_format_elements_select_what_measure_returns(ask, numbers, expected_current):
    smu, array = make()
    smu.write(":FORM:ELEM:SENS CURR,SOUR;:SOUR:VOLT 0.2;:SENS:CURR:PROT 1e-3;:OUTP1 ON;:OUTP2 ON")
    values = numbers(ask(smu, ":MEAS? (@1,2)"))
    assert len(values) == 4
    assert values[1] == 0.2 and values[3] == 0.0
    assert values[0] == pytest.approx(expected_current(array, 0.2), rel=1e-3)
