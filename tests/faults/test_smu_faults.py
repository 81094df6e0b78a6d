"""The SMU drivers on a faulty link (``@rramsim`` backend, every simulated model): a query
that only reads state survives a lost, late, cut or garbled reply; anything else is
sent once and a failure names the instrument and the command; after the fault the
next commands work; a stuck output is caught."""

import time

import pytest

from rramlab.errors import ConnectionLost, InstrumentError, InstrumentTimeout, OutputStuckError
from rramlab.sim.faults import clear_faults, simulated_channels

MODELS = ["2450", "2636B", "B2902A"]


@pytest.fixture(params=MODELS)
def model(request):
    return request.param


def names(error: InstrumentError, rig, command: str) -> None:
    """The error names the instrument and the command."""
    text = str(error)
    assert rig.driver.connection.name in text and command in text, text
    assert command in error.command


@pytest.mark.parametrize("kind", ["drop", "truncate", "garble", "late"])
def test_identification_survives_any_reply_fault(smu_rig, model, kind):
    rig = smu_rig(model, faults=(f"{kind}=1,late_s=0.08,limit=1,match=*IDN?",))
    assert rig.received.count("*IDN?") == 2  # idempotent: asked again, after a resync
    assert rig.driver.connection.stats["recovered"] == 1
    assert model.upper() in str(rig.smu.identity).upper()


@pytest.mark.parametrize("kind", ["drop", "garble", "late"])
def test_a_faulty_compliance_readback_is_asked_again_the_measurement_is_not(smu_rig, model, kind):
    rig = smu_rig(model)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.smu.enable_output()
    rig.inject(f"{kind}=1,late_s=0.08,limit=1,match={rig.commands.compliance}")
    rig.received.clear()
    reading = rig.smu.measure()
    assert reading.voltage_V == pytest.approx(0.3, abs=0.01)
    assert rig.received.count(rig.commands.measure) == 1
    assert rig.received.count(rig.commands.compliance) == 2


@pytest.mark.parametrize("kind", ["drop", "truncate", "garble", "late"])
def test_a_faulty_measurement_is_not_repeated_and_names_itself(smu_rig, model, kind):
    rig = smu_rig(model)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.smu.enable_output()
    rig.inject(f"{kind}=1,late_s=0.08,limit=1,match={rig.commands.measure}")
    rig.received.clear()
    with pytest.raises(InstrumentError) as info:
        rig.smu.measure()
    names(info.value, rig, rig.commands.measure)
    assert isinstance(info.value, InstrumentTimeout) == (kind != "garble")
    assert rig.received.count(rig.commands.measure) == 1
    # the stale reply (a late one arrives after the timeout) is never taken for another's
    assert model.upper() in rig.driver.connection.query("*IDN?").upper()
    assert rig.smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)


def test_a_lost_error_check_leaves_the_setting_unknown_and_unrepeated(smu_rig, model):
    rig = smu_rig(model)
    rig.smu.source_voltage(0.1, current_limit_A=1e-3)
    rig.inject(f"truncate=1,limit=1,match={rig.commands.check},skip=2")  # after the level
    rig.received.clear()
    with pytest.raises(InstrumentTimeout, match="whether it took effect is unknown") as info:
        rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    names(info.value, rig, rig.commands.level)
    assert rig.received.count(rig.commands.level) == 1
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)  # the link is back in step
    assert rig.received.count(rig.commands.level) == 2  # the caller chose to send it again


def test_a_hang_swallows_a_setting_and_a_device_clear_ends_it(smu_rig, model):
    rig = smu_rig(model)
    rig.smu.source_voltage(0.1, current_limit_A=1e-3)
    rig.inject(f"hang=1,limit=1,match={rig.commands.level}")
    rig.received.clear()
    with pytest.raises(InstrumentTimeout, match="whether it took effect is unknown") as info:
        rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    names(info.value, rig, rig.commands.level)
    assert rig.received.count(rig.commands.level) == 0  # it never arrived
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)  # resync: viClear ends the hang
    assert rig.received.count(rig.commands.level) == 1
    rig.smu.enable_output()
    assert rig.smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)


def test_a_short_hang_only_delays_a_long_one_times_the_write_out(smu_rig, model):
    rig = smu_rig(model, timeout_s=0.1)
    rig.inject(f"hang=1,hang_s=0.03,limit=1,match={rig.commands.level}")
    start = time.monotonic()
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    assert time.monotonic() - start >= 0.03
    assert rig.received.count(rig.commands.level) == 1
    rig.inject(f"hang=1,hang_s=0.15,limit=1,match={rig.commands.output_on}")
    with pytest.raises(InstrumentTimeout) as info:
        rig.smu.enable_output()
    names(info.value, rig, rig.commands.output_on)
    assert rig.smu.output_enabled  # it may be on: the driver assumes so
    time.sleep(0.06)
    rig.smu.enable_output()
    assert rig.received.count(rig.commands.output_on) == 1


def test_a_lost_link_raises_connection_lost_until_reopened(smu_rig, model):
    rig = smu_rig(model)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.inject(f"disconnect=1,limit=1,match={rig.commands.output_on}")
    with pytest.raises(ConnectionLost) as info:
        rig.smu.enable_output()
    names(info.value, rig, rig.commands.output_on)
    assert rig.smu.output_enabled  # may be on: never believed off when it might be on
    with pytest.raises(ConnectionLost, match="open the instrument again"):
        rig.smu.measure()
    assert rig.received.count(rig.commands.output_on) == 0
    driver, smu = rig.reopen(timeout_s=0.05)
    smu.source_voltage(0.3, current_limit_A=1e-3)
    with smu.output():
        assert smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)
    driver.close()


def test_an_injected_instrument_error_names_the_command(smu_rig, model):
    rig = smu_rig(model)
    rig.inject(f"error=1,code=-222,limit=1,match={rig.commands.level}")
    with pytest.raises(InstrumentError) as info:
        rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    assert info.value.code == -222
    names(info.value, rig, rig.commands.level)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)  # the queue was read empty


def test_a_stuck_output_is_caught_and_believed_on(smu_rig, model):
    rig = smu_rig(model)
    channels = simulated_channels(rig.instrument)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.inject("stuck=1")
    with pytest.raises(OutputStuckError, match="output is still on") as info:
        with rig.smu.output():
            rig.smu.measure()
    assert rig.driver.connection.name in str(info.value)
    assert rig.smu.output_enabled and channels[0].output_on  # belief = reality
    with pytest.raises(OutputStuckError):
        rig.smu.disable_output()
    clear_faults(rig.instrument)  # someone fixed the relay
    rig.smu.disable_output()
    assert not rig.smu.output_enabled and not channels[0].output_on


def test_small_latency_only_slows_things_down(smu_rig, model):
    rig = smu_rig(model, faults=("latency=0.002",), timeout_s=0.5)
    start = time.monotonic()
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    with rig.smu.output():
        assert rig.smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)
    assert time.monotonic() - start >= 0.002 * 5  # at least the error checks and readings
    assert rig.driver.connection.stats["retried"] == 0


def test_a_reset_the_instrument_never_confirmed_leaves_the_output_believed_on(smu_rig, model):
    rig = smu_rig(model)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.smu.enable_output()
    command = "smua.reset()" if model == "2636B" else "*RST"
    rig.inject(f"hang=1,limit=1,match={command}")  # swallowed: the output stays on
    with pytest.raises(InstrumentError) as info:
        rig.smu.reset()
    names(info.value, rig, command)
    assert rig.received.count(command) == 0
    assert rig.smu.output_enabled  # as it really is: nobody confirmed the reset
    assert any(ch.output_on for ch in simulated_channels(rig.instrument))
    rig.smu.reset()  # resynchronised (the hang cleared), confirmed this time
    assert not rig.smu.output_enabled
    assert not any(ch.output_on for ch in simulated_channels(rig.instrument))
