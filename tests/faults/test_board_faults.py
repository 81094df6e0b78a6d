"""The array board on a faulty link, in-process (``rramsim://``) and over TCP (``socket://``
to a ``BoardServer``): reads survive lost, cut, garbled and late replies; pulses are
never sent twice; settings are read back; a hung or lost board is reconnected."""

import numpy as np
import pytest

from rramlab.drivers.board_link import BoardError
from rramlab.errors import ConnectionLost, InstrumentError, InstrumentTimeout
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.visa_backend import register_bench


@pytest.fixture(params=["rramsim", "tcp"])
def transport(request):
    return request.param


def names(error: InstrumentError, command: str) -> None:
    assert "array board" in str(error) and command in str(error), str(error)


@pytest.mark.parametrize("kind", ["drop", "truncate", "garble", "late"])
def test_a_read_survives_any_reply_fault(board_rig, transport, kind):
    rig = board_rig(transport)
    rig.bench.array.cells.g_S[1, 2] = 20e-6
    expected = rig.board.read(1, 2)
    assert expected > 1e-6
    rig.inject(f"{kind}=1,late_s=0.15,garble_bytes=2,limit=1,match=READ 1 2")
    rig.received.clear()
    assert rig.board.read(1, 2) == pytest.approx(expected, rel=0.05)
    assert rig.received.messages == ["READ 1 2", "*IDN?", "READ 1 2"]  # resync, then again
    assert rig.board.link.stats["retried"] == 1


def test_a_corrupted_reply_block_is_asked_again(board_rig, transport):
    rig = board_rig(transport)
    rig.bench.array.cells.g_S[0] = 10e-6
    rig.inject("garble=1,garble_bytes=1,limit=1,match=READ ROW 0,seed=3")
    row = rig.board.read_row(0)
    assert np.all(row > 1e-6)
    assert rig.received.count("READ ROW 0") == 2


@pytest.mark.parametrize("kind", ["drop", "truncate", "garble"])
def test_a_pulse_is_never_sent_twice(board_rig, transport, kind):
    rig = board_rig(transport)
    rig.inject(f"{kind}=1,limit=1,match=PULSE")
    with pytest.raises(InstrumentError) as info:
        rig.board.pulse(1.0, 1e-4, 0, 0)
    names(info.value, "PULSE")
    assert any("not sent again" in note for note in info.value.__notes__)
    assert rig.received.count("PULSE") == 1
    rig.board.read(0, 0)  # resynchronised first, then in step
    assert rig.received.messages[-2:] == ["*IDN?", "READ 0 0"]


def test_a_setting_whose_reply_is_lost_is_read_back_not_repeated(board_rig, transport):
    rig = board_rig(transport)
    rig.inject("drop=1,limit=1,match=GATE 1.1")
    rig.board.set_gate(1.1)
    assert rig.received.messages[-3:] == ["GATE 1.1", "*IDN?", "GATE?"]
    assert rig.firmware.gate_V == pytest.approx(1.1)


def test_a_hung_board_is_reset_by_reconnecting(board_rig, transport):
    rig = board_rig(transport)
    rig.inject("hang=1,limit=1,match=GATE 1.3")
    with pytest.raises(InstrumentTimeout) as info:
        rig.board.set_gate(1.3)
    names(info.value, "GATE 1.3")
    assert rig.received.count("GATE 1.3") == 0 and rig.firmware.gate_V != 1.3
    rig.board.reconnect()  # reopening the port resets the board's link (DTR)
    rig.board.set_gate(1.3)
    assert rig.firmware.gate_V == pytest.approx(1.3)


def test_a_lost_board_raises_connection_lost_and_reconnects(board_rig, transport):
    rig = board_rig(transport)
    rig.board.select_tile(0)
    rig.inject("disconnect=1,limit=1,match=PULSE")
    with pytest.raises(ConnectionLost) as info:
        rig.board.pulse(1.0, 1e-4, 2, 2)
    names(info.value, "PULSE")
    with pytest.raises(ConnectionLost, match="call reconnect"):
        rig.board.read(0, 0)
    assert rig.received.count("PULSE") == 0
    rig.board.reconnect()
    assert rig.received.messages[-4:] == ["*IDN?", "PROTO?", "CAPS?", "TILE?"]
    rig.board.pulse(1.0, 1e-4, 2, 2)
    assert rig.received.count("PULSE") == 1


def test_reconnecting_to_another_board_is_refused(board_rig):
    rig = board_rig("rramsim")
    name = rig.url.removeprefix("rramsim://bench=")
    register_bench(name, SimulatedBench(seed=99, smu_models=(), rows=4, cols=4))
    with pytest.raises(InstrumentError, match="a different board answered"):
        rig.board.reconnect()


def test_an_injected_board_error_runs_nothing(board_rig, transport):
    rig = board_rig(transport)
    rig.inject("error=1,limit=1,match=PULSE")
    with pytest.raises(BoardError) as info:
        rig.board.pulse(1.0, 1e-4, 0, 0)
    assert info.value.code == 400
    names(info.value, "PULSE")
    assert rig.received.count("PULSE") == 0  # the board refused it
    rig.board.pulse(1.0, 1e-4, 0, 0)


def test_small_latency_only_slows_things_down(board_rig, transport):
    rig = board_rig(transport, faults=("latency=0.002,jitter=0.002",))
    rig.board.set_gate(1.2)
    assert rig.board.read_tile().shape == (4, 4)
    assert rig.board.link.stats["retried"] == 0


def test_opening_survives_a_late_identification(board_rig, transport):
    """Before the board's identity is known the link resynchronises by waiting for
    quiet, so the late reply is dropped, not read as PROTO?'s."""
    rig = board_rig(transport, faults=("late=1,late_s=0.15,limit=1,match=*IDN?",))
    assert rig.received.messages == ["*IDN?", "*IDN?", "PROTO?", "CAPS?"]
    assert rig.board.identity.model and rig.board.capabilities.tiles[0].rows == 4
