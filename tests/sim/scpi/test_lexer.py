"""Program messages into units: headers, every kind of parameter, syntax errors."""

import pytest

from rramlab.sim.scpi.errors import ScpiError
from rramlab.sim.scpi.lexer import Kind, parse_units


def units(message: str):
    return list(parse_units(message))


def error_of(message: str) -> int:
    with pytest.raises(ScpiError) as info:
        units(message)
    return info.value.code


def test_headers_split_into_mnemonics_with_root_query_and_common_flags():
    a, b, c = units(":SOUR1:VOLT:LEV 1;ilim?;*IDN?")
    assert a.header.mnemonics == ("SOUR1", "VOLT", "LEV") and a.header.absolute
    assert not a.header.query and not a.header.common
    assert b.header.mnemonics == ("ilim",) and b.header.query and not b.header.absolute
    assert c.header.common and c.header.query and c.header.mnemonics == ("IDN",)


def test_numbers_with_exponents_signs_and_unit_suffixes():
    (unit,) = units("X 1.5e-3, -2.5E+2, .5, 5., +7, 100mV, 2 US, #H1F, #Q17, #B101")
    values = [(p.kind, p.value, p.suffix) for p in unit.params]
    assert values == [
        (Kind.NUMBER, 1.5e-3, ""),
        (Kind.NUMBER, -250.0, ""),
        (Kind.NUMBER, 0.5, ""),
        (Kind.NUMBER, 5.0, ""),
        (Kind.NUMBER, 7.0, ""),
        (Kind.NUMBER, 100.0, "MV"),
        (Kind.NUMBER, 2.0, "US"),
        (Kind.NUMBER, 31.0, ""),
        (Kind.NUMBER, 15.0, ""),
        (Kind.NUMBER, 5.0, ""),
    ]


def test_strings_take_either_quote_and_a_doubled_quote_is_one_quote():
    (unit,) = units("X 'it''s', \"say \"\"hi\"\"\", 'a;b,c'")
    assert [p.value for p in unit.params] == ["it's", 'say "hi"', "a;b,c"]
    assert all(p.kind is Kind.STRING for p in unit.params)


def test_semicolons_inside_strings_do_not_split_units():
    assert len(units("A 'x;y';B")) == 2


def test_channel_lists_with_ranges_in_either_direction():
    (unit,) = units("X (@1,3:4), (@4:2)")
    assert [p.value for p in unit.params] == [(1, 3, 4), (4, 3, 2)]


def test_definite_and_indefinite_blocks_carry_any_bytes():
    (unit,) = units("X #15a;b,c")
    assert unit.params[0].kind is Kind.BLOCK and unit.params[0].value == b"a;b,c"
    (unit,) = units("X #0\x00\x01;z")
    assert unit.params[0].value == b"\x00\x01;z"


def test_character_data_is_upper_cased():
    (unit,) = units("X on, Max, curr")
    assert [(p.kind, p.value) for p in unit.params] == [
        (Kind.CHAR, "ON"),
        (Kind.CHAR, "MAX"),
        (Kind.CHAR, "CURR"),
    ]


def test_whitespace_and_empty_units_are_tolerated():
    assert units("  \t:A  1 ,\t2  ; ;B;") and len(units("A;;B;")) == 2
    assert units("") == [] and units("   ") == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (",A", -100),
        ("A\x01", -101),
        ("A 1\x00", -101),
        ("A 'caf\u00e9'", -101),
        ("A::B", -102),
        ("A 1,", -102),
        ("A 1,,2", -102),
        ("A 1 2", -103),
        ("A,1", -111),
        ("A?B", -111),
        ("ABCDEFGHIJKLMN 1", -112),
        ("A 1e999", -120),
        ("A 1.2.3", -121),
        ("A 1e+", -121),
        ("A --1", -121),
        ("A 1V$", -131),
        ("A ABCDEFGHIJKLM", -144),
        ("A 'open", -151),
        ("A #15ab", -161),
        ("A (1+2)", -178),
        ("A (@1,x)", -102),
    ],
)
def test_syntax_errors_have_their_standard_codes(message, code):
    assert error_of(message) == code


def test_units_before_a_syntax_error_are_still_delivered():
    parsed = []
    with pytest.raises(ScpiError):
        for unit in parse_units("A 1;B 2;C 1 2;D"):
            parsed.append(unit.header.mnemonics[0])
    assert parsed == ["A", "B"]
