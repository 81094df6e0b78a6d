"""Seeded random faults: the same seed gives the same faults and the same outcomes; the
driver either succeeds or raises an error naming the command, never runs a setting or
a pulse twice, and works again once the faults are gone."""

import pytest

from rramlab.errors import InstrumentError
from rramlab.sim.faults import clear_faults, injector_for

SMU_FAULTS = (
    "drop=0.04,truncate=0.03,garble=0.04,late=0.02,late_s=0.08,error=0.02,seed={seed}",
    "hang=0.01,seed={seed}",  # until cleared: the next command's resync clears it
    "hang=0.02,hang_s=0.02,seed={seed}",  # shorter than the timeout: only slows
)


def smu_script(rig, steps: int = 30) -> list[str]:
    outcomes = []
    for i in range(steps):
        level = round(0.05 + 0.01 * i, 3)  # a new level each step: its command is unique
        try:
            rig.smu.source_voltage(level, current_limit_A=1e-3)
            rig.smu.enable_output()
            reading = rig.smu.measure()
            rig.smu.disable_output()
            outcomes.append(f"ok {reading.voltage_V:.3f}")
        except InstrumentError as error:
            assert rig.driver.connection.name in str(error) and error.command, error
            outcomes.append(f"{type(error).__name__} {error.command}")
    return outcomes


def run_smu(smu_rig, model: str, seed: int):
    rig = smu_rig(model)
    rig.inject(*(rule.format(seed=seed) for rule in SMU_FAULTS))
    outcomes = smu_script(rig)
    return rig, outcomes, list(injector_for(rig.instrument).events)


@pytest.mark.parametrize("model", ["2450", "2636B"])
def test_seeded_smu_faults_reproduce_and_never_repeat_a_setting(smu_rig, model):
    rig, outcomes, events = run_smu(smu_rig, model, seed=11)
    _, again, events_again = run_smu(smu_rig, model, seed=11)
    assert outcomes == again and events == events_again
    _, _, other_events = run_smu(smu_rig, model, seed=12)
    assert other_events != events
    kinds = {e.kind for e in events}
    assert len(events) >= 8 and len(kinds) >= 3, events
    assert any(o.startswith("ok") for o in outcomes)
    assert any(not o.startswith("ok") for o in outcomes)
    head = rig.commands.level.rsplit(" ", 1)[0] + " "  # ":SOUR:VOLT ", "smua.source.levelv = "
    levels = [m for m in rig.received.settings() if m.startswith(head)]
    assert len(levels) >= 10
    assert len(levels) == len(set(levels))  # no level command ran twice
    clear_faults(rig.instrument)
    rig.smu.source_voltage(0.3, current_limit_A=1e-3)
    with rig.smu.output():
        assert rig.smu.measure().voltage_V == pytest.approx(0.3, abs=0.01)


BOARD_FAULTS = (
    "drop=0.03,truncate=0.03,garble=0.04,late=0.02,late_s=0.15,error=0.02,seed={seed}",
    "hang=0.01,seed={seed}",  # until the port is reopened
)


def board_script(rig, steps: int = 24) -> list[str]:
    outcomes = []
    for i in range(steps):
        amplitude = round(0.5 + 0.01 * i, 3)  # a new amplitude each step: a unique PULSE
        try:
            rig.board.set_gate(1.0 + 0.01 * i)
            rig.board.pulse(amplitude, 1e-4, i % 4, (i // 4) % 4)
            outcomes.append(f"ok {rig.board.read(i % 4, 0):.3e}")
        except InstrumentError as error:
            assert "array board" in str(error) and error.command, error
            outcomes.append(f"{type(error).__name__} {error.command}")
            if "could not be resynchronised" in str(error):
                outcomes.append(reconnect(rig.board))  # a hung board: reopen the port
    return outcomes


def reconnect(board, attempts: int = 3) -> str:
    """Reopen the port; a fault may hit the identification too, then try again."""
    for _ in range(attempts):
        try:
            board.reconnect()
            return "reconnected"
        except InstrumentError as error:
            last = error
    raise last


def run_board(board_rig, seed: int):
    rig = board_rig("rramsim")
    rig.inject(*(rule.format(seed=seed) for rule in BOARD_FAULTS))
    outcomes = board_script(rig)
    return rig, outcomes, list(injector_for(rig.firmware).events)


def test_seeded_board_faults_reproduce_and_never_repeat_a_pulse(board_rig):
    rig, outcomes, events = run_board(board_rig, seed=5)
    _, again, events_again = run_board(board_rig, seed=5)
    assert outcomes == again and events == events_again
    assert len(events) >= 5 and any(o.startswith("ok") for o in outcomes)
    assert any(not o.startswith("ok") for o in outcomes)
    pulses = [m for m in rig.received.messages if m.startswith("PULSE")]
    assert len(pulses) == len(set(pulses))  # no pulse ran twice
    gates = [m for m in rig.received.messages if m.startswith("GATE ")]
    assert len(gates) == len(set(gates))  # nor a setting: lost replies are read back
    clear_faults(rig.firmware)
    rig.board.set_gate(1.2)
    rig.board.pulse(1.0, 1e-4, 0, 0)
    assert rig.received.messages[-2:] == ["SEL 0 0", "PULSE 1 0.0001"]
