"""The SMU drivers on a faulty raw socket (``InstrumentServer`` + pyvisa-py), where no
device clear exists: replies that are lost, late or garbled, a hang, a lost link."""

import pytest

from rramlab.errors import ConnectionLost, InstrumentError, InstrumentTimeout

TIMEOUT_S = 0.1


@pytest.fixture(params=["2450", "2636B"])
def model(request):
    return request.param


def test_a_lost_identification_is_asked_again(smu_rig, model):
    rig = smu_rig(model, ("drop=1,limit=1,match=*IDN?",), transport="tcp", timeout_s=TIMEOUT_S)
    assert rig.received.count("*IDN?") == 2
    assert rig.driver.connection.stats["recovered"] == 1


def test_a_garbled_readback_is_asked_again(smu_rig, model):
    rig = smu_rig(model, transport="tcp", timeout_s=TIMEOUT_S)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.smu.enable_output()
    rig.inject(f"garble=1,garble_bytes=2,limit=1,match={rig.commands.compliance}")
    assert rig.smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)
    assert rig.received.count(rig.commands.measure) == 1
    assert rig.received.count(rig.commands.compliance) == 2


def test_a_late_measurement_fails_once_and_its_reply_is_drained(smu_rig, model):
    rig = smu_rig(model, transport="tcp", timeout_s=TIMEOUT_S)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.smu.enable_output()
    rig.inject(f"late=1,late_s=0.15,limit=1,match={rig.commands.measure}")
    with pytest.raises(InstrumentTimeout) as info:
        rig.smu.measure()
    assert rig.commands.measure in str(info.value) and rig.driver.connection.name in str(info.value)
    # the late reply arrives during the resync and is dropped, not read as the next one's
    assert model in rig.driver.connection.query("*IDN?")
    assert rig.smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)
    assert rig.received.count(rig.commands.measure) == 2


def test_a_lost_link_resets_the_connection(smu_rig, model):
    rig = smu_rig(model, transport="tcp", timeout_s=TIMEOUT_S)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    rig.inject(f"disconnect=1,limit=1,match={rig.commands.output_on}")
    with pytest.raises(ConnectionLost) as info:
        rig.smu.enable_output()
    assert rig.commands.output_on in str(info.value)
    assert rig.smu.output_enabled
    with pytest.raises(ConnectionLost):
        rig.smu.disable_output()  # cannot: the driver keeps believing it may be on
    assert rig.smu.output_enabled
    driver, smu = rig.reopen(timeout_s=TIMEOUT_S)  # a new connection works
    smu.disable_output()
    driver.close()


def test_a_hang_on_a_raw_socket_lasts_until_the_next_connection(smu_rig, model):
    rig = smu_rig(model, transport="tcp", timeout_s=TIMEOUT_S)
    rig.inject(f"hang=1,limit=1,match={rig.commands.level}")
    with pytest.raises(InstrumentTimeout, match="whether it took effect is unknown"):
        rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    with pytest.raises(InstrumentError):
        rig.driver.connection.query("*IDN?", retry=False)  # still hung: no device clear here
    assert rig.received.count(rig.commands.level) == 0
    driver, smu = rig.reopen(timeout_s=TIMEOUT_S)  # a new connection ends it
    smu.source_voltage(0.3, current_limit_A=1e-3)
    assert rig.received.count(rig.commands.level) == 1
    driver.close()
