"""The header tree: short/long forms, optional nodes, numeric suffixes, conflicts."""

import pytest

from rramlab.sim.scpi.errors import ScpiError
from rramlab.sim.scpi.tree import CommandTree, parse_pattern
from rramlab.sim.scpi.values import short_form


def handler(call):
    return None


def test_short_form_is_the_upper_case_part_of_the_long_form():
    assert short_form("SOURce") == "SOUR"
    assert short_form("VOLTage") == "VOLT"
    assert short_form("NPLCycles") == "NPLC"
    assert short_form("INT1") == "INT1"


def test_pattern_nodes_know_optional_and_suffix_ranges():
    nodes = parse_pattern("[:SOURce<1-2>]:VOLTage[:LEVel]")
    assert [(n.mnemonic, n.optional, n.suffixes) for n in nodes] == [
        ("SOURce", True, range(1, 3)),
        ("VOLTage", False, None),
        ("LEVel", True, None),
    ]
    with pytest.raises(ValueError):
        parse_pattern("[:SOURce")


@pytest.mark.parametrize(
    "header",
    [
        ("SOUR", "VOLT"),
        ("SOURCE", "VOLTAGE"),
        ("sour", "volt"),
        ("SoUrCe", "vOlT"),
        ("SOUR", "VOLT", "LEV"),
        ("SOUR", "VOLT", "IMM"),
        ("SOUR", "VOLT", "LEVEL", "IMMEDIATE", "AMPLITUDE"),
        ("SOUR1", "VOLT", "AMPL"),
    ],
)
def test_every_form_of_a_header_reaches_the_command(header):
    tree = CommandTree()
    cmd = tree.add(":SOURce<1-2>:VOLTage[:LEVel][:IMMediate][:AMPLitude]", command=handler)
    found = tree.lookup(header)
    assert found is not None and found[0] is cmd


@pytest.mark.parametrize(
    "header", [("SOURC", "VOLT"), ("SOUR", "VOLTA"), ("SOUR", "LEV"), ("VOLT",), ("SOUR",)]
)
def test_partial_or_misplaced_mnemonics_are_not_found(header):
    tree = CommandTree()
    tree.add(":SOURce<1-2>:VOLTage[:LEVel]", command=handler)
    assert tree.lookup(header) is None


def test_suffixes_default_to_one_and_out_of_range_is_114():
    tree = CommandTree()
    tree.add(":SOURce<1-2>:VOLTage", command=handler)
    assert tree.lookup(("SOUR", "VOLT"))[1] == {"SOURCE": 1}
    assert tree.lookup(("SOUR2", "VOLT"))[1] == {"SOURCE": 2}
    with pytest.raises(ScpiError) as info:
        tree.lookup(("SOUR3", "VOLT"))
    assert info.value.code == -114
    assert tree.lookup(("SOUR", "VOLT2")) is None  # VOLTage takes no suffix


def test_an_optional_root_gives_channel_one_and_explicit_nodes_win_conflicts():
    tree = CommandTree()
    source = tree.add("[:SOURce<1-2>]:VOLTage:RANGe", command=handler)
    sense = tree.add("[:SENSe<1-2>]:VOLTage[:DC]:RANGe[:UPPer]", command=handler)
    assert tree.lookup(("VOLT", "RANG"))[0] is source  # fewer omitted nodes
    assert tree.lookup(("SENS2", "VOLT", "RANG"))[0] is sense
    assert tree.lookup(("VOLT", "DC", "RANG"))[0] is sense
    assert tree.lookup(("VOLT", "RANG"))[1] == {}


def test_ambiguous_short_forms_are_refused_at_registration():
    tree = CommandTree()
    tree.add(":STATe", command=handler)
    with pytest.raises(ValueError):
        tree.add(":STATus", command=handler)  # both are STAT
    with pytest.raises(ValueError):
        tree.add(":STATe", command=handler)


def test_common_commands_live_apart():
    tree = CommandTree()
    cmd = tree.add("*IDN", query=handler)
    assert tree.common("idn") is cmd and tree.lookup(("IDN",)) is None
