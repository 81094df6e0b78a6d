"""Framing of the board link, command parsing and the converters, without a bench."""

import zlib

import numpy as np
import pytest

from rramlab.sim.board import commands
from rramlab.sim.board.commands import BoardError
from rramlab.sim.board.converters import Converter, auto_range
from rramlab.sim.board.framing import MAX_LINE_BYTES, BoardFramer, Reply, crc32_hex


def test_crc_is_zlib_crc32_as_eight_lowercase_hex_digits():
    data = bytes(range(256))
    assert crc32_hex(data) == f"{zlib.crc32(data):08x}"
    assert crc32_hex(b"") == "00000000"


def test_lines_end_at_newline_drop_cr_and_skip_blank_lines():
    framer = BoardFramer()
    frames = framer.feed(b"*IDN?\r\n\n  \r\nPROTO?\nREA")
    assert [f.text for f in frames] == ["*IDN?", "PROTO?"]
    assert [f.text for f in framer.feed(b"D 1 2\n")] == ["READ 1 2"]


def test_a_block_split_over_many_feeds_is_reassembled_and_crc_checked():
    block = np.arange(8, dtype="<f4").tobytes()
    framer = BoardFramer()
    raw = f"MVM 0 0 8 1 BLOCK {len(block)} {crc32_hex(block)}\n".encode() + block + b"*IDN?\n"
    frames = []
    for byte in raw:  # one byte at a time, as a slow UART delivers them
        frames += framer.feed(bytes([byte]))
    assert [f.text for f in frames] == ["MVM 0 0 8 1", "*IDN?"]
    assert frames[0].block == block and frames[0].crc_ok


def test_a_block_with_a_wrong_crc_is_still_consumed_and_flagged():
    framer = BoardFramer()
    frames = framer.feed(b"WV 0.05 10 BLOCK 4 DEADBEEF\n\n\n\nxPROTO?\n")
    assert frames[0].block == b"\n\n\nx" and not frames[0].crc_ok
    assert frames[1].text == "PROTO?"


def test_a_block_after_a_garbled_line_is_consumed_so_the_next_line_is_in_step():
    framer = BoardFramer()
    frames = framer.feed(b"\xff\xfeFOO BLOCK 3 00000000\nabcPROTO?\n")
    assert frames[0].error == 101 and "ASCII" in frames[0].message
    assert frames[1].text == "PROTO?"


def test_an_over_long_line_is_one_101_and_memory_stays_bounded():
    framer = BoardFramer()
    frames = framer.feed(b"X" * (3 * MAX_LINE_BYTES))
    assert frames == [] and len(framer._line) == 0
    frames = framer.feed(b"Y" * 100 + b"\n*IDN?\n")
    assert frames[0].error == 101 and "longer" in frames[0].message
    assert frames[1].text == "*IDN?"
    assert framer.feed(b"A" * MAX_LINE_BYTES + b"\r\n")[0].text == "A" * MAX_LINE_BYTES


def test_a_block_larger_than_the_board_is_discarded_then_refused_with_202():
    framer = BoardFramer(max_block_bytes=16)
    frames = framer.feed(b"MVM 0 0 8 1 BLOCK 32 00000000\n" + bytes(32) + b"PROTO?\n")
    assert frames[0].error == 202
    assert frames[1].text == "PROTO?"


def test_expire_drops_a_pending_block_with_200_and_keeps_a_partial_line():
    framer = BoardFramer()
    assert framer.feed(b"MVM 0 0 4 1 BLOCK 16 00000000\n" + bytes(5)) == []
    assert framer.expecting_block
    assert framer.expire().error == 200
    assert not framer.expecting_block and framer.expire() is None
    framer.feed(b"PRO")
    assert framer.expire() is None
    assert framer.feed(b"TO?\n")[0].text == "PROTO?"


def test_reply_announces_its_block_with_size_and_crc():
    data = b"\x00\x01\x02"
    assert Reply("OK", data).to_bytes() == f"OK BLOCK 3 {crc32_hex(data)}\n".encode() + data
    assert Reply("OK 1.0").to_bytes() == b"OK 1.0\n"


@pytest.mark.parametrize("token", ["nan", "inf", "0x10", "1_000", "1e", "--1", ""])
def test_numbers_are_plain_decimals(token):
    with pytest.raises(BoardError) as err:
        commands.number(token, "x")
    assert err.value.code == 101


def test_commands_are_case_insensitive_and_unknown_ones_are_100():
    assert commands.parse("read tile").keyword == "READ"
    with pytest.raises(BoardError) as err:
        commands.parse("FROB 1")
    assert err.value.code == 100
    with pytest.raises(BoardError) as err:
        commands.parse("GATE v=1")
    assert err.value.code == 101


def test_converter_rounds_to_its_lsb_and_clips_at_full_scale():
    adc = Converter(12, 100e-6)
    values, saturated = adc.quantize(np.array([0.0, 1e-6, 99.99e-6, 150e-6, -150e-6]))
    assert adc.lsb == pytest.approx(100e-6 / 2047)
    assert np.all(np.abs(values[:3] - [0.0, 1e-6, 99.99e-6]) <= adc.lsb / 2)
    assert values[3] == pytest.approx(100e-6) and values[4] == pytest.approx(-100e-6)
    assert saturated.tolist() == [False, False, False, True, True]


def test_auto_range_uses_the_most_sensitive_range_that_holds_the_value():
    ranges = [Converter(12, r) for r in (1e-6, 10e-6, 100e-6)]
    values, saturated = auto_range(np.array([0.1234e-6, 5.4321e-6, 200e-6]), ranges)
    assert abs(values[0] - 0.1234e-6) <= ranges[0].lsb / 2
    assert abs(values[1] - 5.4321e-6) <= ranges[1].lsb / 2
    assert values[2] == pytest.approx(100e-6) and saturated.tolist() == [False, False, True]
