"""Keysight B2902A driver against its recorded dialogue (drivers/recorded/keysight_b2902a.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.drivers.keysight_b2900 import KeysightB2902A
from rramlab.errors import InstrumentError, LimitError
from rramlab.limits import SafetyLimits

YAML = "keysight_b2902a.yaml"
HEALTHY, OUT_OF_RANGE, GARBLED = "GPIB0::23::INSTR", "GPIB0::24::INSTR", "GPIB0::25::INSTR"
LIMITS = SafetyLimits(max_voltage_V=5.0, max_current_A=10e-3, max_pulse_width_s=1.0)


@pytest.fixture
def inst(open_sim) -> KeysightB2902A:
    return KeysightB2902A(open_sim(YAML, HEALTHY), limits=LIMITS)


@pytest.fixture
def spy(inst, spy_on):
    return spy_on(inst.connection.resource)


def test_identity_channels_and_data_format(open_sim, spy_on):
    res = open_sim(YAML, HEALTHY)
    spy = spy_on(res)
    inst = KeysightB2902A(res, limits=LIMITS)
    assert inst.identity.model == "B2902A"
    assert inst.channel(1) is inst.ch1 and inst.channel(2) is inst.ch2
    assert inst.ch1.identity is inst.ch2.identity is inst.identity
    assert spy.messages == ["*IDN?", ":FORM:ELEM:SENS VOLT,CURR", "SYST:ERR?"]
    with pytest.raises(ValueError):
        inst.channel(3)


def test_source_voltage_per_channel(inst, spy):
    inst.ch1.source_voltage(1.0, current_limit_A=1e-3)
    inst.ch2.source_voltage(0.5, current_limit_A=1e-4)
    assert spy.commands == [
        ":SOUR1:FUNC:MODE VOLT",
        ":SOUR1:VOLT:RANG:AUTO OFF",
        ':SENS1:FUNC "VOLT","CURR"',
        ":SENS1:CURR:PROT 0.001",
        ":SOUR1:VOLT:RANG 2",
        ":SOUR1:VOLT 1",
        ":SOUR2:FUNC:MODE VOLT",
        ":SOUR2:VOLT:RANG:AUTO OFF",
        ':SENS2:FUNC "VOLT","CURR"',
        ":SENS2:CURR:PROT 0.0001",
        ":SOUR2:VOLT:RANG 2",
        ":SOUR2:VOLT 0.5",
    ]
    assert spy.messages[1::2] == ["SYST:ERR?"] * 12


def test_source_current_and_measurement_settings(inst, spy):
    inst.ch1.source_current(1e-6, voltage_limit_V=2.0)
    inst.ch1.configure_measurement(nplc=0.1, current_range_A=1e-6)
    inst.ch1.configure_measurement()
    assert spy.commands == [
        ":SOUR1:FUNC:MODE CURR",
        ":SOUR1:CURR:RANG:AUTO OFF",
        ':SENS1:FUNC "VOLT","CURR"',
        ":SENS1:VOLT:PROT 2",
        ":SOUR1:CURR:RANG 1e-06",
        ":SOUR1:CURR 1e-06",
        ":SENS1:CURR:NPLC 0.1",
        ":SENS1:CURR:RANG:AUTO OFF",
        ":SENS1:CURR:RANG 1e-06",
        ":SENS1:CURR:NPLC 1",
        ":SENS1:CURR:RANG:AUTO ON",
    ]
    m = inst.ch1.measure()
    assert spy.commands[-1] == ":SENS1:VOLT:PROT:TRIP?"  # current source: voltage limit
    assert m.voltage_V == pytest.approx(1.00002)


def test_measure_asks_the_source_function_once_when_unknown(inst, spy):
    m = inst.ch1.measure()
    assert (m.voltage_V, m.current_A, m.in_compliance) == pytest.approx((1.00002, 1.00021e-4, 0))
    assert spy.commands == [":SOUR1:FUNC:MODE?", ":MEAS? (@1)", ":SENS1:CURR:PROT:TRIP?"]


def test_compliance_flag_from_protection_trip(inst):
    inst.ch2.source_voltage(0.5, current_limit_A=1e-4)
    m = inst.ch2.measure()
    assert m.in_compliance is True
    assert m.current_A == pytest.approx(1e-4)


def test_list_sweep_fetches_voltage_and_current_in_one_round_trip(inst, spy):
    result = inst.ch1.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    assert np.array_equal(result.source_V, [0.0, 0.5, 1.0])
    assert result.voltage_V == pytest.approx([1e-5, 0.500001, 1.00002])
    assert result.current_A == pytest.approx([1.2e-10, 5.0001e-5, 1.0002e-4])
    tail = spy.commands[spy.commands.index(":SOUR1:VOLT:MODE LIST") :]
    assert tail == [
        ":SOUR1:VOLT:MODE LIST",
        ":SOUR1:LIST:VOLT 0,0.5,1",
        ":TRIG1:SOUR AINT",
        ":TRIG1:COUN 3",
        ":TRIG1:ACQ:DEL 0.01",
        ":OUTP1 ON",
        ":INIT (@1)",
        "*OPC?",
        ":FETC:ARR? (@1)",
        ":OUTP1 OFF",
        ":SOUR1:FUNC:SHAP DC",
        ":SOUR1:VOLT:MODE FIX",
        ":TRIG1:COUN 1",
        ":TRIG1:ACQ:DEL 0",
        ":SENS1:CURR:NPLC 1",
    ]


def test_sweep_puts_the_users_source_back_and_sets_the_output_again(inst, spy):
    inst.ch1.source_voltage(1.0, current_limit_A=1e-3)
    inst.ch1.enable_output()
    spy.clear()
    inst.ch1.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    # a DC source again, the user's 1 V and 1 mA, then the output set on explicitly
    assert spy.commands[spy.commands.index(":FETC:ARR? (@1)") + 1 :] == [
        ":SOUR1:FUNC:SHAP DC",
        ":SOUR1:VOLT:MODE FIX",
        ":TRIG1:COUN 1",
        ":TRIG1:ACQ:DEL 0",
        ":SENS1:CURR:NPLC 1",
        ":SENS1:CURR:PROT 0.001",
        ":SOUR1:VOLT 1",
        ":OUTP1 ON",
    ]
    assert inst.ch1.output_enabled


def test_pulse_uses_the_pulse_generator_and_reports_its_width(inst, spy):
    result = inst.ch2.pulse_voltage(1.0, 100e-6, current_limit_A=1e-4)
    assert result.width_s == pytest.approx(100e-6)
    assert result.current_A == pytest.approx(9.998e-5)
    for command in (":SOUR2:FUNC:SHAP PULS", ":SOUR2:VOLT:TRIG 1", ":SOUR2:PULS:WIDT 0.0001"):
        assert command in spy.commands
    # the current is integrated over the last fifth of the pulse
    assert ":SENS2:CURR:APER 2e-05" in spy.commands and ":TRIG2:ACQ:DEL 8e-05" in spy.commands
    assert spy.commands.index(":OUTP2 OFF") < spy.commands.index(":SOUR2:FUNC:SHAP DC")
    assert not inst.ch2.output_enabled


def test_instrument_error_carries_code_message_and_command(open_sim):
    inst = KeysightB2902A(open_sim(YAML, OUT_OF_RANGE), limits=SafetyLimits(200.0, 1.0))
    inst.ch1.source_voltage(150.0, current_limit_A=0.1)
    with pytest.raises(InstrumentError) as info:
        inst.ch1.source_voltage(150.0, current_limit_A=1.0)
    assert (info.value.code, info.value.message) == (-222, "Data out of range")
    assert info.value.command == ":SENS1:CURR:PROT 1"


@pytest.mark.parametrize(
    "call",
    [
        lambda ch: ch.source_voltage(-5.01, current_limit_A=1e-3),
        lambda ch: ch.source_voltage(1.0, current_limit_A=0.5e-9),  # below 1 nA
        lambda ch: ch.configure_measurement(current_range_A=1e-8),  # no 10 nA on a B2902A
        lambda ch: ch.configure_measurement(nplc=1e-4),
        lambda ch: ch.pulse_voltage(1.0, 40e-6, current_limit_A=1e-3),  # below 50 us
        lambda ch: ch.pulse_voltage(1.0, 100e-6, current_limit_A=1e-3, base_V=7.0),
        lambda ch: ch.sweep_voltage(np.zeros(2501), current_limit_A=1e-3),
    ],
)
def test_limits_are_enforced_before_any_byte_is_sent(inst, spy, call):
    with pytest.raises(LimitError):
        call(inst.ch2)
    assert spy.messages == []


def test_output_context_turns_the_output_off_when_the_body_raises(inst, spy):
    with pytest.raises(KeyboardInterrupt), inst.ch1.output():
        raise KeyboardInterrupt
    assert spy.commands == [":OUTP1 ON", ":OUTP1 OFF"]


def test_reset_forgets_both_channels_state(inst, spy):
    inst.ch1.source_voltage(1.0, current_limit_A=1e-3)
    inst.ch1.enable_output()
    inst.ch2.reset()
    assert not inst.ch1.output_enabled
    assert spy.commands[-2:] == ["*RST", ":FORM:ELEM:SENS VOLT,CURR"]


def test_garbled_reply_is_an_instrument_error(open_sim):
    inst = KeysightB2902A(open_sim(YAML, GARBLED), limits=LIMITS)
    with pytest.raises(InstrumentError, match="not a list of numbers") as info:
        inst.ch1.measure()
    assert info.value.command == ":MEAS? (@1)"
