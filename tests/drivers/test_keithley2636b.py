"""Keithley 2636B driver against its recorded TSP dialogue (drivers/recorded/keithley2636b.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.drivers.keithley2636b import Keithley2636B
from rramlab.errors import InstrumentError, InstrumentTimeout, LimitError
from rramlab.limits import SafetyLimits

YAML = "keithley2636b.yaml"
HEALTHY, OUT_OF_RANGE, GARBLED = "GPIB0::26::INSTR", "GPIB0::27::INSTR", "GPIB0::28::INSTR"
LIMITS = SafetyLimits(max_voltage_V=5.0, max_current_A=10e-3, max_pulse_width_s=1.0)


@pytest.fixture
def inst(open_sim) -> Keithley2636B:
    return Keithley2636B(open_sim(YAML, HEALTHY), limits=LIMITS)


@pytest.fixture
def spy(inst, spy_on):
    return spy_on(inst.connection.resource)


def test_identity_and_channels(inst):
    assert inst.identity.model == "Model 2636B"
    assert inst.smua.identity is inst.identity
    assert inst.channel("smub") is inst.smub and inst.channel("a") is inst.smua
    assert inst.smua._conn is inst.smub._conn is inst.connection  # one bus, one error queue
    with pytest.raises(ValueError):
        inst.channel("c")


def test_source_voltage_on_each_channel_uses_its_own_prefix(inst, spy):
    inst.smua.source_voltage(1.0, current_limit_A=1e-3)
    inst.smub.source_voltage(0.5, current_limit_A=1e-4)
    assert spy.commands == [
        "smua.source.func = smua.OUTPUT_DCVOLTS",
        "smua.source.limiti = 0.001",
        "smua.source.rangev = 2",
        "smua.source.levelv = 1",
        "smub.source.func = smub.OUTPUT_DCVOLTS",
        "smub.source.limiti = 0.0001",
        "smub.source.rangev = 2",
        "smub.source.levelv = 0.5",
    ]
    # each configuration command is followed by an errorqueue.count read
    assert spy.messages[1::2] == ["print(errorqueue.count)"] * 8


def test_source_current_and_measurement_settings(inst, spy):
    inst.smua.source_current(1e-6, voltage_limit_V=2.0)
    inst.smua.configure_measurement(nplc=0.1, current_range_A=1e-6)
    inst.smua.configure_measurement()
    assert spy.commands == [
        "smua.source.func = smua.OUTPUT_DCAMPS",
        "smua.source.limitv = 2",
        "smua.source.rangei = 1e-06",
        "smua.source.leveli = 1e-06",
        "smua.measure.nplc = 0.1",
        "smua.measure.rangei = 1e-06",
        "smua.measure.nplc = 1",
        "smua.measure.autorangei = smua.AUTORANGE_ON",
    ]


def test_measure_reads_iv_in_current_then_voltage_order(inst):
    m = inst.smua.measure()
    assert m.current_A == pytest.approx(1.00021e-4)
    assert m.voltage_V == pytest.approx(1.00002)
    assert m.in_compliance is False


def test_compliance_flag_from_source_compliance(inst):
    m = inst.smub.measure()
    assert m.in_compliance is True
    assert m.current_A == pytest.approx(1e-4)


def test_sweep_runs_the_trigger_model_and_reads_both_buffers_at_once(inst, spy):
    result = inst.smua.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    assert np.array_equal(result.source_V, [0.0, 0.5, 1.0])
    assert result.current_A == pytest.approx([1.2e-10, 5.0001e-5, 1.0002e-4])
    assert result.voltage_V == pytest.approx([1e-5, 0.500001, 1.00002])
    fetches = [c for c in spy.commands if "printbuffer" in c]
    assert fetches == [
        "waitcomplete() printbuffer(1, 3, smua.nvbuffer1.readings, smua.nvbuffer2.readings)"
    ]
    assert spy.commands[-2:] == [
        "smua.source.output = smua.OUTPUT_OFF",
        "smua.measure.delay = smua.DELAY_AUTO",
    ]
    assert not inst.smua.output_enabled


def test_sweep_puts_the_users_source_back_and_sets_the_output_again(inst, spy):
    inst.smua.source_voltage(1.0, current_limit_A=1e-3)
    inst.smua.enable_output()
    spy.clear()
    inst.smua.sweep_voltage([0.0, 0.5, 1.0], current_limit_A=1e-3, delay_s=0.01)
    # SOURCE_IDLE returns to the programmed level, the first sweep level (0 V): the
    # user's 1 V goes back, then the output is set on explicitly
    assert spy.commands[-4:] == [
        "smua.measure.delay = smua.DELAY_AUTO",
        "smua.source.limiti = 0.001",
        "smua.source.levelv = 1",
        "smua.source.output = smua.OUTPUT_ON",
    ]
    assert inst.smua.output_enabled


def test_long_sweep_list_is_built_in_chunks(inst, spy):
    levels = np.linspace(0.0, 1.49, 150)
    result = inst.smua.sweep_voltage(levels, current_limit_A=1e-3)
    chunks = [c for c in spy.commands if "rramlab_smua_levels" in c and "listv" not in c]
    assert len(chunks) == 2 and "table.insert" in chunks[1]
    assert result.voltage_V == pytest.approx(levels, abs=1e-9)


def test_pulse_width_is_the_instrument_timer_reading(inst, spy):
    result = inst.smua.pulse_voltage(1.0, 200e-6, current_limit_A=1e-4)
    assert result.width_s == pytest.approx(231e-6)  # delay + measurement + script time
    assert result.current_A == pytest.approx(9.998e-5)
    script = next(c for c in spy.commands if "timer.reset()" in c)
    assert "delay(0.0002)" in script and script.endswith("print(rramlab_i, rramlab_t)")
    assert spy.commands[-1] == "smua.source.output = smua.OUTPUT_OFF"


def test_reset_is_per_channel(inst, spy):
    inst.smua.reset()
    assert spy.commands == ["smua.reset()"]


def test_tsp_error_queue_gives_code_and_message(open_sim):
    inst = Keithley2636B(open_sim(YAML, OUT_OF_RANGE), limits=SafetyLimits(200.0, 1.0))
    inst.smua.source_voltage(150.0, current_limit_A=0.1)
    with pytest.raises(InstrumentError) as info:
        inst.smua.source_voltage(150.0, current_limit_A=1.0)
    err = info.value
    assert (err.code, err.message) == (1101, "Parameter too big")
    assert err.command == "smua.source.limiti = 1"
    inst.check_errors()  # drained


def test_unanswered_query_times_out_then_the_error_is_in_the_queue(open_sim):
    inst = Keithley2636B(open_sim(YAML, HEALTHY), limits=LIMITS, timeout_s=0.1)
    with pytest.raises(InstrumentTimeout) as info:
        inst.connection.query("print(smua.measure.r())")
    assert info.value.command == "print(smua.measure.r())"
    with pytest.raises(InstrumentError) as info:
        inst.check_errors()
    assert info.value.code == -285


@pytest.mark.parametrize(
    "call",
    [
        lambda ch: ch.source_voltage(6.0, current_limit_A=1e-3),
        lambda ch: ch.source_voltage(1.0, current_limit_A=50e-12),  # below 100 pA
        lambda ch: ch.configure_measurement(nplc=0.0005),  # below 0.001 PLC
        lambda ch: ch.configure_measurement(nplc=30),
        lambda ch: ch.pulse_voltage(1.0, 50e-6, current_limit_A=1e-3),  # below 100 us
        lambda ch: ch.sweep_voltage([0.0, 1.0], current_limit_A=1e-3, delay_s=-1),
        lambda ch: ch.sweep_voltage(np.zeros(2501), current_limit_A=1e-3),
    ],
)
def test_limits_are_enforced_before_any_byte_is_sent(inst, spy, call):
    with pytest.raises(LimitError):
        call(inst.smub)
    assert spy.messages == []


def test_output_context_turns_the_output_off_when_the_body_raises(inst, spy):
    with pytest.raises(RuntimeError), inst.smub.output():
        raise RuntimeError("boom")
    assert spy.commands == [
        "smub.source.output = smub.OUTPUT_ON",
        "smub.source.output = smub.OUTPUT_OFF",
    ]


def test_garbled_reply_is_an_instrument_error(open_sim):
    inst = Keithley2636B(open_sim(YAML, GARBLED), limits=LIMITS)
    with pytest.raises(InstrumentError, match="expected 2 numbers, got 1") as info:
        inst.smua.measure()
    assert info.value.command == "print(smua.measure.iv())"
    assert info.value.instrument == "Keithley 2636B"
