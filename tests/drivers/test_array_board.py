"""The ArrayBoard driver against the simulated board (pyserial rramsim:// URLs): every
operation round-trips and returns what the crossbar physically holds."""

import itertools

import numpy as np
import pytest

from rramlab.drivers.array_board import ArrayBoard, InvSaturatedError
from rramlab.drivers.board_link import BoardError, BoardLink, crc_hex
from rramlab.errors import InstabilityError, InstrumentError, LimitError
from rramlab.limits import SafetyLimits
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.cell import cell_current
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
