"""The ArrayBoard driver against the simulated board (pyserial rramsim:// URLs): every
operation round-trips and returns what the crossbar physically holds."""

import itertools
import json

import numpy as np
import pytest

from rramlab.drivers.array_board import ArrayBoard, BoardCapabilities, InvSaturatedError
from rramlab.drivers.board_link import BoardError, BoardLink, crc_hex
from rramlab.errors import InstabilityError, InstrumentError, LimitError
from rramlab.limits import SafetyLimits
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.board.capabilities import BoardSpec
from rramlab.sim.cell import cell_current, iv_slope
from rramlab.sim.params import CrossbarParams
from rramlab.sim.visa_backend import register_bench, unregister_bench

LIMITS = SafetyLimits(max_voltage_V=4.0, max_current_A=1e-3, max_pulse_width_s=0.1)
_names = itertools.count()


@pytest.fixture
def rig():
    """(bench, board driver) on a 16x16 ideal-ish bench whose cells are formed and reset."""
    bench = SimulatedBench(
        seed=4, smu_models=(), rows=16, cols=16, params=CrossbarParams.ideal(read_noise_rel=0.002)
    )
    bench.array.pulse(3.5, 1e-3, compliance_A=50e-6)
    bench.array.pulse(-2.0, 1e-3)
    yield from served(bench)


def served(bench: SimulatedBench):
    """``(bench, driver)`` on the bench's board, registered for the rramsim:// URL
    until the generator is closed."""
    name = f"board-driver-{next(_names)}"
    register_bench(name, bench)
    board = ArrayBoard(f"rramsim://bench={name}", limits=LIMITS)
    yield bench, board
    board.close()
    unregister_bench(name)


def test_identity_and_capabilities(rig):
    _, board = rig
    assert board.identity.model
    caps = board.capabilities
    assert caps.tiles[0].rows == 16 and caps.tiles[0].cols == 16
    assert caps.adc_bits > 0 and caps.pulse_width_s[0] < caps.pulse_width_s[1]


def test_reads_return_each_cells_current(rig):
    bench, board = rig
    board.set_gate(0.9)
    board.pulse(1.6, 1e-3, 3, 4)  # SET one cell to ~8 uS
    g = bench.array.conductance_S
    lsb = 2 * board.capabilities.adc_range_A / 2**board.capabilities.adc_bits
    expected = cell_current(g, 0.2, bench.array.params)
    assert board.read(3, 4) == pytest.approx(expected[3, 4], rel=0.02, abs=lsb)
    np.testing.assert_allclose(board.read_row(3), expected[3], rtol=0.02, atol=lsb)
    np.testing.assert_allclose(board.read_col(4), expected[:, 4], rtol=0.02, atol=lsb)
    tile = board.read_tile()
    assert tile.shape == (16, 16)
    np.testing.assert_allclose(
        tile, cell_current(bench.array.conductance_S, 0.2, bench.array.params), rtol=0.02, atol=lsb
    )


def test_mvm_equals_the_arrays_product_within_converter_resolution(rig):
    bench, board = rig
    board.set_gate(1.0)
    for r in range(0, 16, 3):
        board.pulse_row(1.6, 1e-3, r)
    v = np.linspace(0.0, 0.2, 16)
    currents = board.mvm(v)
    expected = cell_current(bench.array.conductance_S, v[:, None], bench.array.params).sum(0)
    caps = board.capabilities
    lsb_i = 2 * caps.adc_range_A / 2**caps.adc_bits
    lsb_v = 2 * caps.dac_range_V / 2**caps.dac_bits
    tolerance = lsb_i + lsb_v * bench.array.conductance_S.sum(0) + 0.01 * expected
    assert np.all(np.abs(currents - expected) <= tolerance)


def test_inv_solves_the_programmed_block(rig):
    bench, board = rig
    g = np.full((4, 4), 2e-6)
    np.fill_diagonal(g, 30e-6)
    bench.array.cells.g_S[:4, :4] = g  # a stable, diagonally dominant block
    i_in = np.array([1e-6, -1e-6, 2e-6, 0.5e-6])
    result = board.inv(i_in)
    exact = np.linalg.solve(g, -i_in)
    assert np.linalg.norm(result.v_out_V - exact) / np.linalg.norm(exact) < 0.05
    assert 0 < result.settling_time_s < 1e-5


def test_inv_reports_instability_and_saturation(rig):
    bench, board = rig
    bench.array.cells.g_S[:2, :2] = [[1e-6, 30e-6], [30e-6, 1e-6]]
    with pytest.raises(InstabilityError):
        board.inv(np.array([1e-6, 1e-6]))
    bench.array.cells.g_S[:2, :2] = [[30e-6, 1e-6], [1e-6, 30e-6]]
    with pytest.raises(InvSaturatedError) as info:
        board.inv(np.array([50e-6, 0.0]))
    assert np.max(np.abs(info.value.v_out_V)) == pytest.approx(0.4, abs=0.01)
    board.read(0, 0)  # the link is still in step


def spy_writes(board) -> list[bytes]:
    """Everything the driver writes to the board's port from now on."""
    written = []
    write = board.link.port.write
    board.link.port.write = lambda data: written.append(data) or write(data)
    return written


def test_differential_inv_solves_the_signed_block_and_sends_diff_only_when_asked(rig):
    bench, board = rig
    assert board.capabilities.inv_differential
    signed = 1e-6 * np.array([[24.0, -6.0, 4.0], [5.0, 22.0, -7.0], [-4.0, 6.0, 26.0]])
    g_pos, g_neg = 0.5e-6 + np.maximum(signed, 0), 0.5e-6 + np.maximum(-signed, 0)
    bench.array.cells.g_S[:3, 2:8] = np.hstack([g_pos, g_neg])  # G+ on 2..4, G- on 5..7
    i_in = 48.828125e-9 * np.array([20.0, -16.0, 10.0])  # on the input DACs' grid
    written = spy_writes(board)
    result = board.inv(i_in, col0=2, differential=True)
    assert written[0].startswith(b"INV 0 2 3 DIFF=1 BLOCK 12 ")
    s0 = float(iv_slope(0.0, bench.array.params))  # small-signal / read conductance
    expected = np.linalg.solve(s0 * signed, -i_in)
    lsb = 2 * 0.5 / 2**board.capabilities.adc_bits  # the INV output ADCs' step
    assert np.all(np.abs(result.v_out_V - expected) <= lsb + 0.01 * np.abs(expected))
    written.clear()
    board.inv(i_in, col0=2)  # the 3 x 3 block of G+ alone
    assert written[0].startswith(b"INV 0 2 3 BLOCK 12 ")
    written.clear()
    board.inv(i_in, col0=2, differential=False, feedback_S=1e-5)
    assert b"DIFF" not in written[0]


@pytest.fixture
def board_1_0(monkeypatch):
    """A driver on a simulated board that speaks protocol 1.0: PROTO? says 1.0 and
    CAPS? has no inv_differential key."""

    class Spec10(BoardSpec):
        def caps(self, tiles, inv_clamp_V):
            caps = super().caps(tiles, inv_clamp_V)
            del caps["inv_differential"]
            return caps

    monkeypatch.setattr("rramlab.sim.board.firmware.PROTOCOL_VERSION", "1.0")
    bench = SimulatedBench(
        seed=4, smu_models=(), rows=8, cols=8, params=CrossbarParams.ideal(), board_spec=Spec10()
    )
    yield from served(bench)


def test_a_1_0_board_is_accepted_and_never_sent_diff(board_1_0):
    bench, board = board_1_0
    assert board.capabilities.inv_differential is False  # the key is missing
    written = spy_writes(board)
    with pytest.raises(LimitError, match="inv_differential"):
        board.inv(np.full(2, 1e-6), differential=True)
    assert written == []
    g = np.full((2, 2), 2e-6)
    np.fill_diagonal(g, 30e-6)
    bench.array.cells.g_S[:2, :2] = g
    assert board.inv(np.full(2, 1e-6)).v_out_V.shape == (2,)  # the rest works as before
    assert written[0].startswith(b"INV 0 0 2 BLOCK")


def test_a_board_of_another_major_version_is_refused(monkeypatch):
    monkeypatch.setattr("rramlab.sim.board.firmware.PROTOCOL_VERSION", "2.0")
    bench = SimulatedBench(seed=4, smu_models=(), rows=4, cols=4)
    register_bench("major-2", bench)
    try:
        with pytest.raises(InstrumentError, match="protocol"):
            ArrayBoard("rramsim://bench=major-2", limits=LIMITS)
    finally:
        unregister_bench("major-2")


def test_caps_inv_differential_is_a_json_boolean():
    base = {
        "tiles": [{"id": 0, "rows": 4, "cols": 4, "access": "1T1R"}],
        **dict.fromkeys(("dac_bits", "adc_bits", "max_write_verify_pulses"), 12),
        **dict.fromkeys(("dac_range_V", "adc_range_A", "pulse_amplitude_V"), 1.0),
        **dict.fromkeys(("read_voltage_V", "inv_clamp_V", "inv_input_range_A"), 1.0),
        "gate_range_V": [0, 3],
        "pulse_width_s": [1e-8, 1],
    }
    assert BoardCapabilities.parse(json.dumps(base)).inv_differential is False
    on = BoardCapabilities.parse(json.dumps({**base, "inv_differential": True}))
    assert on.inv_differential is True
    with pytest.raises(ValueError, match="inv_differential"):
        BoardCapabilities.parse(json.dumps({**base, "inv_differential": "false"}))


def test_write_verify_reaches_targets_on_healthy_cells(rig):
    bench, board = rig
    rng = np.random.default_rng(0)
    targets = np.full((16, 16), np.nan)
    targets[:4] = rng.choice(np.linspace(0.5e-6, 35e-6, 8), size=(4, 16))
    result = board.write_verify(targets, tol_rel=0.05, max_pulses=200)
    done = ~np.isnan(targets)
    assert not result.outside.any()
    np.testing.assert_allclose(result.g_S[done], targets[done], rtol=0.05)
    np.testing.assert_allclose(bench.array.conductance_S[done], targets[done], rtol=0.08)
    assert np.all(result.pulses[~done] == 0) and result.pulses[done].mean() > 0
    assert np.isnan(result.g_S[~done]).all()


def test_route_connects_the_smu_probes():
    bench = SimulatedBench(seed=1, smu_models=("2450",), rows=4, cols=4)
    register_bench("route", bench)
    try:
        board = ArrayBoard("rramsim://bench=route", limits=LIMITS)
        board.route(2, 3)
        assert (bench.probes["2450"][0].row, bench.probes["2450"][0].col) == (2, 3)
        with pytest.raises(LimitError, match="row 4 is outside"):
            board.route(4, 0)
    finally:
        unregister_bench("route")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.pulse(4.5, 1e-6, 0, 0), "safety limit max_voltage_V=4"),
        (lambda b: b.pulse(1.0, 1e-9, 0, 0), "outside the board's"),
        (lambda b: b.pulse(1.0, 1.0, 0, 0), "max_pulse_width_s"),
        (lambda b: b.pulse(1.0, 1e-6, 0, 16), "col 16 is outside"),
        (lambda b: b.mvm(np.full(16, 1.5)), "beyond the DACs"),
        (lambda b: b.mvm(np.full(20, 0.1)), "does not fit"),
        (lambda b: b.set_gate(5.0), "outside the board's 0..3.3"),
        (lambda b: b.write_verify(np.ones((16, 16)), max_pulses=5000), "max_pulses"),
        (lambda b: b.inv(np.full(4, 1e-6), col0=9, differential=True), "4x8 block at"),
        (lambda b: b.inv(np.full(4, 1e-6), col0=1, copies=2, differential=True), "4x16"),
        (lambda b: b.inv(np.full(4, 1e-6), differential="yes"), "differential must be"),
    ],
)
def test_bad_values_are_refused_before_anything_is_sent(rig, call, message):
    _, board = rig
    written = []
    write = board.link.port.write
    board.link.port.write = lambda data: written.append(data) or write(data)
    with pytest.raises((LimitError, ValueError), match=message):
        call(board)
    assert written == []


class FlakyPort:
    """A port that corrupts the first block it sends, then behaves."""

    def __init__(self, port):
        self.port, self.corrupted = port, False

    def write(self, data):
        if b"BLOCK" in data and not self.corrupted:
            self.corrupted = True
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        return self.port.write(data)

    def __getattr__(self, name):
        return getattr(self.port, name)


def test_a_corrupted_block_is_retransmitted(rig):
    _, board = rig
    board.link = BoardLink(FlakyPort(board.link.port), name="flaky board")
    currents = board.mvm(np.full(16, 0.1))
    assert board.link.port.corrupted
    assert currents.shape == (16,)


def test_replies_are_validated(rig):
    _, board = rig
    with pytest.raises(BoardError) as info:
        board.link.command("NOSUCH")
    assert info.value.code == 100
    assert crc_hex(b"123456789") == "cbf43926"  # the CRC-32 check value
    with pytest.raises(InstrumentError, match="expected one number"):
        from rramlab.drivers.array_board import _number
        from rramlab.drivers.board_link import Reply

        _number(Reply(["1", "2"], None), "board", "READ")
