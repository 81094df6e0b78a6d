"""Keithley 2450 driver against its recorded SCPI dialogue (drivers/recorded/keithley2450.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.drivers.keithley2450 import Keithley2450
from rramlab.errors import InstrumentError, InstrumentTimeout, LimitError
from rramlab.limits import SafetyLimits

YAML = "keithley2450.yaml"
HEALTHY, CLAMPED, OUT_OF_RANGE, GARBLED, TSP_MODE = (f"GPIB0::{n}::INSTR" for n in range(18, 23))
LIMITS = SafetyLimits(max_voltage_V=5.0, max_current_A=10e-3, max_pulse_width_s=1.0)


@pytest.fixture
def smu(open_sim) -> Keithley2450:
    return Keithley2450(open_sim(YAML, HEALTHY), limits=LIMITS)


@pytest.fixture
def spy(smu, spy_on):
    return spy_on(smu.connection.resource)


def test_identity_is_parsed_from_idn(smu):
    assert smu.identity.manufacturer == "KEITHLEY INSTRUMENTS"
    assert smu.identity.model == "MODEL 2450"
    assert smu.identity.serial == "04365704"
    assert smu.identity.firmware == "1.6.4c"


def test_a_2450_in_tsp_mode_is_refused(open_sim):
    with pytest.raises(InstrumentError, match="SCPI"):
        Keithley2450(open_sim(YAML, TSP_MODE), limits=LIMITS)


def test_source_voltage_sends_limit_range_level_and_checks_each(smu, spy):
    smu.source_voltage(1.0, current_limit_A=1e-3)
    assert spy.commands == [
        ":SOUR:FUNC VOLT",
        ':SENS:FUNC "CURR"',
        ":SOUR:VOLT:ILIM 0.001",
        ":SOUR:VOLT:RANG 2",
        ":SOUR:VOLT 1",
    ]
    # every configuration command is followed by an error-queue read
    assert spy.messages[1::2] == ["SYST:ERR?"] * 5


def test_shrinking_range_sets_the_level_before_the_range(smu, spy):
    smu.source_voltage(1.0, current_limit_A=1e-3)
    spy.clear()
    smu.source_voltage(0.1, current_limit_A=1e-4)
    assert spy.commands == [":SOUR:VOLT:ILIM 0.0001", ":SOUR:VOLT 0.1", ":SOUR:VOLT:RANG 0.2"]


def test_configure_measurement(smu, spy):
    smu.configure_measurement(nplc=0.1, current_range_A=1e-6)
    smu.configure_measurement()
    assert spy.commands == [
        ":SENS:CURR:NPLC 0.1",
        ":SENS:CURR:RANG 1e-06",
        ":SENS:CURR:NPLC 1",
        ":SENS:CURR:RANG:AUTO ON",
    ]


def test_measure_parses_current_and_readback_voltage(smu, spy):
    smu.source_voltage(1.0, current_limit_A=1e-3)
    spy.clear()
    m = smu.measure()
    assert m.current_A == pytest.approx(1.00021e-4)
    assert m.voltage_V == pytest.approx(1.00002)
    assert m.in_compliance is False
    assert spy.commands == [':READ? "defbuffer1", READ, SOUR', ":SOUR:VOLT:ILIM:TRIP?"]


def test_measure_in_current_mode_swaps_the_elements(smu):
    smu.source_current(1e-6, voltage_limit_V=2.0)
    m = smu.measure()
    assert m.voltage_V == pytest.approx(1.00021e-4)  # READ is the sensed voltage now
    assert m.current_A == pytest.approx(1.00002)


def test_compliance_flag_comes_from_ilim_trip(open_sim):
    smu = Keithley2450(open_sim(YAML, CLAMPED), limits=LIMITS)
    smu.source_voltage(2.0, current_limit_A=1e-5)
    m = smu.measure()
    assert m.in_compliance is True
    assert m.current_A == pytest.approx(1.00001e-5)


def test_measure_before_any_source_setup_is_refused(smu, spy):
    with pytest.raises(InstrumentError, match="source function unknown"):
        smu.measure()
    assert spy.messages == []


def test_sweep_is_one_list_sweep_and_one_buffer_read(smu, spy):
    result = smu.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    assert np.array_equal(result.source_V, [0.0, 0.5, 1.0])
    assert result.voltage_V == pytest.approx([1e-5, 0.500001, 1.00002])
    assert result.current_A == pytest.approx([1.2e-10, 5.0001e-5, 1.0002e-4])
    assert spy.commands == [
        ":SOUR:FUNC VOLT",
        ':SENS:FUNC "CURR"',
        ":SOUR:VOLT:ILIM 0.001",
        ":SOUR:VOLT:RANG 2",
        ":SOUR:VOLT 0",
        ":SOUR:LIST:VOLT 0,0.5,1",
        ':SOUR:SWE:VOLT:LIST 1, 0.01, 1, OFF, "defbuffer1"',
        ':TRAC:CLE "defbuffer1"',
        ":OUTP ON",
        ":INIT",
        "*WAI",
        ':TRAC:DATA? 1, 3, "defbuffer1", READ, SOUR',
        ":OUTP OFF",
    ]
    assert not smu.output_enabled  # left as it was


def test_sweep_puts_the_users_source_back_and_the_output_on_again(smu, spy):
    smu.source_voltage(0.1, current_limit_A=1e-4)
    smu.enable_output()
    spy.clear()
    smu.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    assert ":OUTP ON" not in spy.commands[: spy.commands.index(":INIT")]  # on already
    # the trigger model ends with the output off and the last level programmed: the
    # user's 0.1 V with its 100 uA limit and 0.2 V range go back first, then :OUTP ON
    assert spy.commands[spy.commands.index(':TRAC:DATA? 1, 3, "defbuffer1", READ, SOUR') :] == [
        ':TRAC:DATA? 1, 3, "defbuffer1", READ, SOUR',
        ":SOUR:VOLT:ILIM 0.0001",
        ":SOUR:VOLT 0.1",
        ":SOUR:VOLT:RANG 0.2",
        ":OUTP ON",
    ]
    assert smu.output_enabled


def test_pulse_puts_the_fast_settings_then_the_users_source_back(smu, spy):
    smu.source_voltage(0.1, current_limit_A=1e-4)
    smu.enable_output()
    spy.clear()
    smu.pulse_voltage(1.0, 2e-3, current_limit_A=1e-4)
    assert spy.commands[-7:] == [
        ":SENS:CURR:NPLC 1",
        ":SOUR:VOLT:READ:BACK ON",
        ":SOUR:VOLT:DEL:AUTO ON",
        ":SOUR:VOLT:ILIM 0.0001",
        ":SOUR:VOLT 0.1",
        ":SOUR:VOLT:RANG 0.2",
        ":OUTP ON",
    ]
    assert smu.output_enabled


def test_linear_sweep_uses_the_same_list(smu):
    result = smu.sweep_voltage_linear(0.0, 1.0, 3, current_limit_A=1e-3, delay_s=0.01)
    assert result.current_A.shape == (3,)


def test_long_sweep_list_goes_in_chunks_of_100(smu, spy):
    levels = np.linspace(0.0, 1.49, 150)
    result = smu.sweep_voltage(levels, current_limit_A=1e-3)
    sent = [c.split(" ")[0] for c in spy.commands if c.startswith(":SOUR:LIST")]
    assert sent == [":SOUR:LIST:VOLT", ":SOUR:LIST:VOLT:APP"]
    assert result.current_A == pytest.approx(levels / 1e4, rel=1e-5)


def test_pulse_reports_the_width_the_instrument_timed(smu, spy):
    result = smu.pulse_voltage(1.0, 2e-3, current_limit_A=1e-4)
    assert result.level_V == 1.0
    assert result.width_s == pytest.approx(3.4125e-3)  # timestamps, not the 2 ms asked for
    assert result.current_A == pytest.approx(9.998e-5)
    assert ':SOUR:SWE:VOLT:LIST 1, 0.002, 1, OFF, "defbuffer1"' in spy.commands
    # fast settings for the pulse, then the defaults back, output off again
    assert spy.commands[-4:] == [
        ":OUTP OFF",
        ":SENS:CURR:NPLC 1",
        ":SOUR:VOLT:READ:BACK ON",
        ":SOUR:VOLT:DEL:AUTO ON",
    ]


def test_instrument_error_carries_code_message_and_command(open_sim):
    smu = Keithley2450(open_sim(YAML, OUT_OF_RANGE), limits=SafetyLimits(200.0, 1.0))
    smu.source_voltage(150.0, current_limit_A=0.1)
    with pytest.raises(InstrumentError) as info:
        smu.source_voltage(150.0, current_limit_A=1.0)
    err = info.value
    assert (err.code, err.message) == (-222, "Data out of range")
    assert err.command == ":SOUR:VOLT:ILIM 1"
    assert err.instrument == "Keithley 2450"
    smu.check_errors()  # the queue was drained by the failing check


def test_unrecorded_command_surfaces_as_undefined_header(smu):
    smu.connection.write(":SOUR:BOGUS 1")
    with pytest.raises(InstrumentError) as info:
        smu.check_errors()
    assert info.value.code == -113


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.source_voltage(5.5, current_limit_A=1e-3),  # station limit 5 V
        lambda s: s.source_voltage(1.0, current_limit_A=20e-3),  # station limit 10 mA
        lambda s: s.source_voltage(1.0, current_limit_A=1e-10),  # below the 2450's 1 nA
        lambda s: s.source_voltage(1.0, current_limit_A=1e-3, range_V=5.0),  # no such range
        lambda s: s.source_current(1e-3, voltage_limit_V=0.01),  # below the 20 mV minimum
        lambda s: s.configure_measurement(nplc=20),
        lambda s: s.configure_measurement(current_range_A=3e-6),
        lambda s: s.sweep_voltage([0.0, 6.0], current_limit_A=1e-3),
        lambda s: s.sweep_voltage(np.zeros(2501), current_limit_A=1e-3),  # list limit
        lambda s: s.sweep_voltage([0.0, 1.0], current_limit_A=1e-3, delay_s=20e-6),  # 0 or >=50us
        lambda s: s.pulse_voltage(1.0, 0.5e-3, current_limit_A=1e-3),  # shorter than 1 ms
        lambda s: s.pulse_voltage(1.0, 2.0, current_limit_A=1e-3),  # station limit 1 s
    ],
)
def test_limits_are_enforced_before_any_byte_is_sent(smu, spy, call):
    with pytest.raises(LimitError):
        call(smu)
    assert spy.messages == []


def test_instrument_maximum_applies_even_with_generous_station_limits(open_sim, spy_on):
    smu = Keithley2450(open_sim(YAML, HEALTHY), limits=SafetyLimits(1000.0, 10.0))
    spy = spy_on(smu.connection.resource)
    with pytest.raises(LimitError, match="210"):
        smu.source_voltage(250.0, current_limit_A=1e-3)
    assert spy.messages == []


def test_switching_v_to_i_with_output_on_is_refused_unsent(smu, spy):
    smu.source_voltage(1.0, current_limit_A=1e-3)
    smu.enable_output()
    spy.clear()
    with pytest.raises(LimitError, match="output off"):
        smu.source_current(1e-6, voltage_limit_V=2.0)
    assert spy.messages == []
    smu.disable_output()


def test_output_context_turns_the_output_off_when_the_body_raises(smu, spy):
    with pytest.raises(RuntimeError, match="boom"), smu.output():
        assert smu.output_enabled
        raise RuntimeError("boom")
    assert spy.commands == [":OUTP ON", ":OUTP OFF"]
    assert not smu.output_enabled


def test_malformed_number_is_an_instrument_error_naming_the_command(open_sim):
    smu = Keithley2450(open_sim(YAML, GARBLED), limits=LIMITS)
    smu.source_voltage(1.0, current_limit_A=1e-3)
    with pytest.raises(InstrumentError) as info:
        smu.measure()
    assert info.value.command == ':READ? "defbuffer1", READ, SOUR'
    assert "OVERFLOW" in str(info.value)


def test_short_buffer_read_is_an_instrument_error_and_output_goes_off(open_sim, spy_on):
    smu = Keithley2450(open_sim(YAML, GARBLED), limits=LIMITS)
    spy = spy_on(smu.connection.resource)
    with pytest.raises(InstrumentError, match="expected 6 numbers, got 4"):
        smu.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    assert spy.commands[-1] == ":OUTP OFF"
    assert not smu.output_enabled


def test_a_failed_sweep_leaves_the_output_off_with_the_users_source_back(open_sim, spy_on):
    smu = Keithley2450(open_sim(YAML, GARBLED), limits=LIMITS)
    smu.source_voltage(1.0, current_limit_A=1e-3)
    smu.enable_output()
    spy = spy_on(smu.connection.resource)
    with pytest.raises(InstrumentError, match="expected 6 numbers"):
        smu.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    # any exception leaves the output off; the source is the user's for the next ON
    assert spy.commands[-3:] == [":OUTP OFF", ":SOUR:VOLT:ILIM 0.001", ":SOUR:VOLT 1"]
    assert not smu.output_enabled


def test_wrong_model_is_refused(open_sim):
    with pytest.raises(InstrumentError, match="2450"):
        Keithley2450(open_sim("keysight_b2902a.yaml", "GPIB0::23::INSTR"), limits=LIMITS)


def test_opens_from_a_resource_string(sim_rm):
    smu = Keithley2450(HEALTHY, limits=LIMITS, resource_manager=sim_rm(YAML))
    assert smu.identity.model == "MODEL 2450"
    smu.close()


def test_output_off_after_a_timeout_is_still_sent_and_the_culprit_named(open_sim, spy_on):
    smu = Keithley2450(open_sim(YAML, HEALTHY), limits=LIMITS, timeout_s=0.1)
    smu.enable_output()
    spy = spy_on(smu.connection.resource)
    with pytest.raises(InstrumentTimeout):
        smu.connection.query(":SOUR:VOLT:LEV:NOPE?")  # never answered, queues -113
    with pytest.raises(InstrumentError) as info:
        smu.disable_output()
    assert ":OUTP OFF" in spy.commands and not smu.output_enabled
    assert info.value.code == -113
    assert ":SOUR:VOLT:LEV:NOPE?" in info.value.command
    smu.disable_output()  # and again, cleanly
