"""The board protocol through serial.serial_for_url("rramsim://..."), raw bytes."""

import json

import numpy as np
import pytest
import serial

from rramlab.sim import cell
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.board.capabilities import BoardSpec
from rramlab.sim.board.converters import Converter
from rramlab.sim.board.framing import crc32_hex as crc
from rramlab.sim.params import CrossbarParams

SPEC = BoardSpec()


def f32(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


ADC_LSB = Converter(SPEC.adc_bits, SPEC.adc_range_A).lsb
DAC = Converter(SPEC.dac_bits, SPEC.dac_range_V)
CAPS_KEYS = {
    "tiles",
    "dac_bits",
    "dac_range_V",
    "adc_bits",
    "adc_range_A",
    "gate_range_V",
    "pulse_amplitude_V",
    "pulse_width_s",
    "read_voltage_V",
    "inv_clamp_V",
    "inv_input_range_A",
    "max_write_verify_pulses",
}


@pytest.fixture
def board(open_board, bench16):
    client = open_board(bench16)
    client.form(16)
    assert bench16.array.formed.sum() >= 250
    return client


def test_url_with_a_spec_opens_the_shared_bench_and_identifies(fake_smus, client_class):
    port = serial.serial_for_url("rramsim://?seed=3&rows=12&cols=10", timeout=5)
    client = client_class(port)
    maker, model, serial_number, version = client.query("*IDN?")[0].split(",")
    assert (maker, model, serial_number, version) == ("RRAMLAB", "RRAMSIM-AB1", "SIM3", "1.0.0")
    assert client.ok("PROTO?") == "1.1"
    caps = json.loads(client.ok("CAPS?"))
    assert CAPS_KEYS <= set(caps)
    assert caps["tiles"] == [{"id": 0, "rows": 12, "cols": 10, "access": "1T1R"}]
    assert caps["adc_bits"] == 12 and caps["adc_range_A"] == pytest.approx(100e-6)
    assert caps["inv_clamp_V"] == pytest.approx(0.4)
    # Same spec through the pyvisa backend: the very same bench (one crossbar).
    from rramlab.sim import visa_backend

    bench = visa_backend.bench_for(visa_backend.parse_library_path("seed=3,rows=12,cols=10"))
    client.ok("SEL 5 6")
    assert bench.board.selected == (5, 6)
    port.close()


@pytest.mark.parametrize(
    "url", ["rramsim://?seed=x", "rramsim://?colour=red", "rramsim://bench=nobody"]
)
def test_bad_urls_raise_serial_exceptions(url, fake_smus):
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url)


def test_read_of_a_cell_is_its_conductance_times_the_read_voltage(board, bench16):
    g = bench16.array.conductance_S[3, 4]
    current = float(board.ok("READ 3 4"))
    sigma = float(cell.read_noise_sigma(g, bench16.array.params)) * 0.2
    assert abs(current - g * 0.2) <= ADC_LSB / 2 + 5 * sigma
    assert abs(current / ADC_LSB - round(current / ADC_LSB)) < 1e-6  # on the ADC grid
    board.ok("SEL 3 4")
    assert abs(float(board.ok("READ")) - g * 0.2) <= ADC_LSB / 2 + 5 * sigma
    board.ok("VREAD 0.1")
    assert abs(float(board.ok("READ 3 4")) - g * 0.1) <= ADC_LSB / 2 + 5 * sigma


def test_read_tile_row_and_col_have_the_tile_shape_and_values(board, bench16):
    g = bench16.array.conductance_S
    sigma = cell.read_noise_sigma(g, bench16.array.params) * 0.2
    text, tile = board.floats("READ TILE")
    assert text == "OK" and tile.size == 16 * 16
    assert np.all(np.abs(tile.reshape(16, 16) - g * 0.2) <= ADC_LSB / 2 + 5 * sigma)
    _, row = board.floats("READ ROW 2")
    _, col = board.floats("read col 7")
    assert row.size == 16 and col.size == 16
    assert np.all(np.abs(row - g[2] * 0.2) <= ADC_LSB / 2 + 5 * sigma[2])
    assert np.all(np.abs(col - g[:, 7] * 0.2) <= ADC_LSB / 2 + 5 * sigma[:, 7])


def test_reads_past_the_adc_range_are_clipped_and_reported_300(board):
    board.ok("VREAD 1.0")  # ~49 uS x shape(1 V) = ~140 uA: beyond +-100 uA
    text, values = board.floats("READ ROW 0")
    assert text.startswith("ERR 300")
    assert np.all(values <= 100e-6 * (1 + 1e-6))
    assert int(board.ok("SAT?")) == int(np.sum(values >= 100e-6 * (1 - 1e-6)))
    board.ok("VREAD 0.2")
    board.ok("READ 0 0")
    assert board.ok("SAT?") == "0"


def test_mvm_is_g_transpose_v_with_the_iv_shape_within_converter_resolution(board, bench16):
    for r in (3, 5):  # some rows low, so the columns carry different currents
        board.ok(f"PULSE -2.2 1e-3 ROW {r}")
    rng = np.random.default_rng(4)
    v = rng.uniform(-0.1, 0.1, size=6)
    g = bench16.array.conductance_S[2:8, 5:14]
    text, out = board.floats("MVM 2 5 6 9", f32(v))
    assert text == "OK" and out.size == 9
    drive = cell.iv_shape(DAC.quantize(v.astype(np.float32))[0], bench16.array.params)
    expected = drive @ g
    noise = np.sqrt(np.square(drive) @ np.square(cell.read_noise_sigma(g, bench16.array.params)))
    assert np.all(np.abs(out - expected) <= ADC_LSB / 2 + 5 * noise + 1e-12)


def test_mvm_refusals_change_nothing(board, bench16):
    before = bench16.array.conductance_S
    assert board.query("MVM 0 0 4 4", None)[0].startswith("ERR 200")  # no block
    assert board.query("MVM 0 0 4 4", f32([0.1] * 3))[0].startswith("ERR 202")  # short
    assert board.query("MVM 0 0 4 4", f32([2.0] * 4))[0].startswith("ERR 102")  # > DAC
    assert board.query("MVM 0 14 4 4", f32([0.1] * 4))[0].startswith("ERR 102")  # outside
    assert board.query("MVM 0 0 4", f32([0.1] * 4))[0].startswith("ERR 101")
    assert np.array_equal(bench16.array.conductance_S, before)


def _program_block(board, diagonal_S: float, off_S: float, n: int) -> None:
    """RESET rows 0..n-1, then SET the n x n block: off-diagonal and diagonal cells at
    compliances that land near off_S and diagonal_S (g = I_cc / 1 V)."""

    def gate(g):
        return 0.5 + np.sqrt(2 * g * 1.0 / 200e-6)

    for r in range(n):
        board.ok(f"PULSE -2.2 1e-3 ROW {r}")
    pairs = [(r, c) for r in range(n) for c in range(n)]
    for level, cells in ((off_S, [p for p in pairs if p[0] != p[1]]), (diagonal_S, None)):
        cells = cells or [(i, i) for i in range(n)]
        board.ok(f"GATE {gate(level):.4f}")
        block = np.asarray(cells, dtype="<u2").tobytes()
        assert board.query(f"PULSE 1.6 1e-3 CELLS {len(cells)}", block)[0] == "OK"


def test_inv_solves_the_programmed_block_within_circuit_error(board, bench16):
    _program_block(board, 35e-6, 3e-6, 4)
    g = bench16.array.conductance_S[:4, :4]
    assert np.all(np.diag(g) > 2 * (g.sum(axis=1) - np.diag(g)))  # diagonally dominant
    i_in = np.array([8e-6, -5e-6, 3e-6, -6e-6])
    text, v = board.floats("INV 0 0 4", f32(i_in))
    assert text == "OK" and v.size == 4
    settling = float(board.line().removeprefix("OK "))
    expected = np.linalg.solve(g, -i_in)
    assert np.linalg.norm(v - expected) / np.linalg.norm(expected) < 0.05
    assert 10e-9 < settling < 10e-6


def test_inv_reports_saturation_310_with_the_clamped_outputs(board, bench16):
    _program_block(board, 35e-6, 3e-6, 4)
    text, v = board.floats("INV 0 0 4", f32([15e-6, -15e-6, 15e-6, -15e-6]))
    assert text.startswith("ERR 310")
    assert np.max(np.abs(v)) == pytest.approx(0.4, abs=1e-3)
    assert board.line().startswith("OK ")  # the settling time follows as usual


def test_inv_on_an_unstable_block_is_311(board, bench16):
    _program_block(board, 0.5e-6, 35e-6, 2)  # off-diagonal dominant: unstable loop
    text, block = board.query("INV 0 0 2", f32([1e-6, 1e-6]))
    assert text.startswith("ERR 311") and block is None
    assert board.ok("PROTO?") == "1.1"


SIGNED = 1e-6 * np.array([[24.0, -6.0, 4.0], [5.0, 22.0, -7.0], [-4.0, 6.0, 26.0]])
INV_LSB = Converter(SPEC.adc_bits, SPEC.inv_adc_range_V).lsb
INV_DAC = Converter(SPEC.dac_bits, SPEC.inv_input_range_A)  # 49 nA steps


@pytest.fixture
def pairs_bench():
    """A 16 x 16 bench whose block rows 0..2 x columns 4..9 holds SIGNED as differential
    pairs: G+ on columns 4..6, G- on columns 7..9, both at least 0.5 uS."""
    params = CrossbarParams.ideal(read_noise_rel=0.002)
    bench = SimulatedBench(seed=11, smu_models=(), rows=16, cols=16, params=params)
    bench.array.cells.formed[...] = True
    bench.array.cells.g_S[...] = 0.5e-6
    g_pos, g_neg = 0.5e-6 + np.maximum(SIGNED, 0), 0.5e-6 + np.maximum(-SIGNED, 0)
    bench.array.cells.g_S[:3, 4:10] = np.hstack([g_pos, g_neg])
    return bench


def test_inv_diff_solves_the_signed_block(open_board, pairs_bench):
    board = open_board(pairs_bench)
    i_in = np.array([1e-6, -0.8e-6, 0.5e-6])
    text, v = board.floats("INV 0 4 3 DIFF=1", f32(i_in))
    assert text == "OK" and v.size == 3
    settling = float(board.line().removeprefix("OK "))
    assert 10e-9 < settling < 10e-6
    g = pairs_bench.array.conductance_S
    signed = g[:3, 4:7] - g[:3, 7:10]  # what the cells hold
    # At ~50 mV the cells conduct iv_slope(0) (~97.4 %) of their read conductance.
    s0 = float(cell.iv_slope(0.0, pairs_bench.array.params))
    i_dac = INV_DAC.quantize(i_in.astype(np.float32))[0]  # what the current DACs give
    expected = np.linalg.solve(s0 * signed, -i_dac)
    assert np.all(np.abs(v - expected) <= INV_LSB + 0.01 * np.abs(expected))
    # Without DIFF the same rows and columns 4..6 alone are G+: another answer.
    _, plain = board.floats("INV 0 4 3 DIFF=0", f32(i_in))
    board.line()
    assert np.linalg.norm(plain - expected) > 0.2 * np.linalg.norm(expected)


def test_inv_diff_combines_with_copies_and_feedback(open_board, pairs_bench):
    g = pairs_bench.array.cells.g_S
    g[:3, 4:16] = 0.5e-6
    g_pos, g_neg = 0.5e-6 + np.maximum(SIGNED, 0), 0.5e-6 + np.maximum(-SIGNED, 0)
    g[:3, 4:16] = np.hstack([g_pos, g_pos, g_neg, g_neg])  # [P0 | P1 | N0 | N1]
    board = open_board(pairs_bench)
    i_in = np.array([1e-6, -0.8e-6, 0.5e-6])
    _, v = board.floats("INV 0 4 3 FB=1e-5 COPIES=2 DIFF=1", f32(i_in))
    board.line()
    s0 = float(cell.iv_slope(0.0, pairs_bench.array.params))
    signed = 2 * SIGNED
    i_dac = INV_DAC.quantize(i_in.astype(np.float32))[0]
    expected = np.linalg.solve(s0 * signed + 1e-5 * np.eye(3), -i_dac)  # FB is linear
    assert np.all(np.abs(v - expected) <= INV_LSB + 0.01 * np.abs(expected))


def test_inv_diff_refusals(open_board, pairs_bench):
    pairs_bench.array.cells.g_S[[0, 1, 2], [11, 12, 13]] = 20e-6  # a stable 3 x 3 there
    board = open_board(pairs_bench)
    before = pairs_bench.array.conductance_S
    t0 = pairs_bench.clock.now()
    block = f32([1e-6, 1e-6, 1e-6])
    assert board.query("INV 0 4 3 DIFF=2", block)[0].startswith("ERR 102")
    assert board.query("INV 0 4 3 DIFF=-1", block)[0].startswith("ERR 102")
    assert board.query("INV 0 4 3 DIFF=x", block)[0].startswith("ERR 101")  # as COPIES=x
    assert board.query("INV 0 4 3 DIFF=", block)[0].startswith("ERR 101")
    # 3 x 6 columns from column 11 pass the 16-column tile's edge; 3 x 3 do not.
    text = board.query("INV 0 11 3 DIFF=1", block)[0]
    assert text.startswith("ERR 102") and "columns 11..16 are outside the tile's 0..15" in text
    text = board.query("INV 0 0 3 COPIES=3 DIFF=1", block)[0]
    assert text.startswith("ERR 102") and "columns 0..17" in text
    assert np.array_equal(pairs_bench.array.conductance_S, before)
    assert board.ok("PROTO?") == "1.1"
    assert pairs_bench.clock.now() - t0 < 1e-3  # no INV ran (only command time)
    # Without DIFF the 3 x 3 block at column 11 fits.
    text, v = board.floats("INV 0 11 3", block)
    assert text == "OK" and v.size == 3
    assert board.line().startswith("OK ")


def test_caps_report_the_differential_inv(open_board, bench16):
    caps = json.loads(open_board(bench16).ok("CAPS?"))
    assert caps["inv_differential"] is True
    assert caps["inv_copies_max"] == SPEC.inv_copies_max


def test_a_board_without_inverters_says_so_and_refuses_diff(open_board):
    spec = BoardSpec(inv_differential=False)
    bench = SimulatedBench(seed=2, smu_models=(), rows=8, cols=8, board_spec=spec)
    board = open_board(bench)
    assert json.loads(board.ok("CAPS?"))["inv_differential"] is False
    text = board.query("INV 0 0 2 DIFF=1", f32([0.0, 0.0]))[0]
    assert text.startswith("ERR 102") and "no differential INV" in text
    text, _ = board.query("INV 0 0 2 DIFF=0", f32([0.0, 0.0]))
    assert not text.startswith("ERR 1")
    board.line()


def test_pulse_on_the_selected_cell_sets_to_the_gate_compliance(board, bench16):
    board.ok("SEL 6 6")
    board.ok("PULSE -2.2 1e-3")
    assert bench16.array.conductance_S[6, 6] < 2e-6
    board.ok("GATE 1.0")  # I_sat = 100 uA/V^2 x 0.25 V^2 = 25 uA -> g ~ 25 uS
    current = float(board.ok("PULSE 1.6 1e-3"))
    assert 15e-6 < bench16.array.conductance_S[6, 6] < 35e-6
    assert 0 < current <= 25e-6 * 1.01
    assert board.query("PULSE 9 1e-3")[0].startswith("ERR 102")  # beyond +-5 V
    assert board.query("PULSE 1 1e-9")[0].startswith("ERR 102")  # below 50 ns
    assert board.query("GATE 4")[0].startswith("ERR 102")


def test_a_gate_below_threshold_keeps_the_cells_isolated(open_board, bench16):
    board = open_board(bench16)
    board.ok("GATE 0.3")  # below the access transistor's 0.5 V threshold
    board.ok("SEL 0 0")
    assert float(board.ok("PULSE 4.0 1e-3")) == 0.0
    board.ok("PULSE 4.0 1e-3 ROW 1")
    assert not bench16.array.formed[:2].any()
    board.ok("GATE 1.2")
    board.ok("PULSE 4.0 1e-3")
    assert bench16.array.formed[0, 0]


def test_pulse_and_read_without_selection_are_103(open_board, bench16):
    board = open_board(bench16)
    assert board.query("PULSE 1 1e-6")[0].startswith("ERR 103")
    assert board.query("READ")[0].startswith("ERR 103")
    assert board.ok("SEL?") == "NONE"


def test_crc_mismatch_is_201_and_changes_nothing(board, bench16):
    before = bench16.array.conductance_S
    t_before = bench16.clock.now()
    cells = np.asarray([(1, 1), (2, 2)], dtype="<u2").tobytes()
    board.send("PULSE -2.2 1e-3 CELLS 2", cells, crc_hex="00000000")
    text, _ = board.reply()
    assert text.startswith("ERR 201")
    assert np.array_equal(bench16.array.conductance_S, before)
    assert bench16.clock.now() == t_before
    board.send("PULSE -2.2 1e-3 CELLS 2", cells)  # retransmitted: now it happens
    assert board.reply()[0] == "OK"
    assert bench16.array.conductance_S[1, 1] < before[1, 1] / 5


def test_garbled_and_truncated_frames_get_errors_and_the_board_keeps_working(board):
    board.send(b"\x00\xff\x13garbage\xfe")
    assert board.reply()[0].startswith("ERR 101")
    board.send(b"A" * 5000)
    assert board.reply()[0].startswith("ERR 101")
    assert board.query("FROB 1 2")[0].startswith("ERR 100")
    assert board.query("FROB", b"1234")[0].startswith("ERR 100")  # its block is consumed
    assert board.query("READ 1")[0].startswith("ERR 101")
    assert board.query("READ 1 1.5")[0].startswith("ERR 101")
    assert board.query("GATE", b"\x00")[0].startswith("ERR 101")  # no block expected
    # A block shorter than announced stays pending in-process: no reply yet ...
    v = f32([0.05] * 4)
    board.port.write(f"MVM 0 0 4 4 BLOCK 16 {crc(v)}\n".encode() + v[:7])
    assert board.in_waiting() == 0
    board.port.write(v[7:])  # ... until the rest arrives
    text, out = board.reply()
    assert text == "OK" and len(out) == 16
    assert board.ok("*RST") == ""
    assert board.query("*IDN?")[0].startswith("RRAMLAB,")


def test_tiles_selection_and_queries(open_board, bench16):
    bench16.board.add_tile(4, 5)
    board = open_board(bench16)
    caps = json.loads(board.ok("CAPS?"))
    assert [t["id"] for t in caps["tiles"]] == [0, 1]
    assert caps["tiles"][1]["rows"] == 4 and caps["tiles"][1]["cols"] == 5
    board.ok("TILE 1")
    assert board.ok("TILE?") == "1"
    assert board.query("SEL 4 0")[0].startswith("ERR 102")
    board.ok("SEL 3 4")
    assert board.ok("SEL?") == "3 4"
    _, values = board.floats("READ TILE")
    assert values.size == 20
    assert board.query("TILE 2")[0].startswith("ERR 102")
    board.ok("GATE 2.5")
    assert float(board.ok("GATE?")) == 2.5
    board.ok("FLOAT")
    board.ok("*RST")
    assert board.ok("TILE?") == "0" and board.ok("SEL?") == "NONE"
    assert float(board.ok("GATE?")) == SPEC.default_gate_V
    assert board.ok("ROUTE?") == "OFF"


def test_board_time_passes_on_the_bench_clock(board, bench16):
    t0 = bench16.clock.now()
    board.ok("SEL 0 0")
    board.ok("PULSE 1.0 0.5")
    assert bench16.clock.now() - t0 == pytest.approx(0.5, rel=1e-3)
    t1 = bench16.clock.now()
    board.floats("READ TILE")
    assert 16e-6 <= bench16.clock.now() - t1 < 1e-3  # 16 rows, ~2 us each


def test_same_bench_same_bytes():
    def session() -> list:
        bench = SimulatedBench(seed=5, smu_models=(), rows=8, cols=8)
        from rramlab.sim.board.session import BoardSession

        s = BoardSession(bench.board)
        out = [s.feed(b"GATE 1.2\n")]
        out += [s.feed(f"PULSE 3.6 1e-4 ROW {r}\n".encode()) for r in range(8)]
        out.append(s.feed(b"READ TILE\n"))
        return out

    assert session() == session()


REGISTRATION = """
import serial

try:
    serial.serial_for_url("rramsim://")
except ValueError as exc:
    print("before:", exc)
import rramlab  # registers rramlab.sim as a pyserial handler package

port = serial.serial_for_url("rramsim://?seed=1&rows=4&cols=4", timeout=5)
port.write(b"PROTO?\\n")
print("after:", port.readline().decode().strip())
"""


def test_importing_rramlab_lets_pyserial_open_rramsim_urls(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", REGISTRATION], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "before: invalid URL, protocol 'rramsim' not known" in proc.stdout
    assert "after: OK 1.1" in proc.stdout
