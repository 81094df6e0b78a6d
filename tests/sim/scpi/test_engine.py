"""Executing program messages: forms, compound paths, parameters, responses, status."""

import pytest

from rramlab.sim.message import MessageInstrument


def test_the_engine_is_a_message_instrument(toy):
    assert isinstance(toy, MessageInstrument)
    assert toy.ask("*IDN?") == "ACME,TOY,1234,1.0"


@pytest.mark.parametrize(
    "message",
    [
        ":SOUR:VOLT 2.5",
        ":SOURCE:VOLTAGE 2.5",
        ":source:voltage:level:immediate:amplitude 2.5",
        "sOuR1:vOlT:LeV 2.5",
        ":SOURce1:VOLTage:AMPL 2.5",
    ],
)
def test_short_long_mixed_case_and_optional_nodes_set_the_same_setting(toy, message):
    toy.write(message)
    assert toy.level[1] == 2.5 and toy.level[2] == 0.0
    assert toy.error_codes() == []


def test_relative_headers_continue_from_the_current_path(toy):
    toy.write(":SOUR:VOLT:LEV 1;ILIM 2e-3")  # strict SCPI: :SOUR:VOLT: + ILIM
    assert toy.limit[1] == 2e-3
    toy.write(":SOUR2:VOLT:ILIM 1e-3;LEV 3")  # :SOUR2:VOLT: + LEV
    assert toy.level[2] == 3.0 and toy.limit[2] == 1e-3
    toy.write(":SOUR:VOLT 1;ILIM 5e-3")  # default node omitted: continues below VOLT
    assert toy.level[1] == 1.0 and toy.limit[1] == 5e-3
    assert toy.error_codes() == []


def test_a_leading_colon_resets_to_the_root(toy):
    toy.write(":SOUR2:VOLT 2;:SOUR:VOLT 3;:OUTP2 ON")
    assert toy.level == {1: 3.0, 2: 2.0} and toy.output == {1: False, 2: True}
    toy.write(":SOUR:VOLT 1;OUTP ON")  # relative: :SOUR:OUTP does not exist
    assert toy.error_codes() == [-113]


def test_common_commands_inside_compounds_keep_the_path(toy):
    toy.write(":SOUR:VOLT:LEV 1;*CLS;ILIM 3e-3;*OPC;LEV 2")
    assert toy.limit[1] == 3e-3 and toy.level[1] == 2.0
    assert toy.error_codes() == []


def test_strict_paths_refuse_what_only_the_lenient_rule_finds(make_toy):
    strict = make_toy(lenient_paths=False)
    strict.write(":SOUR:VOLT 1;ILIM 5e-3")
    assert strict.limit[1] == 1e-4
    assert strict.error_codes() == [-113]


def test_query_responses_of_one_message_are_joined_with_semicolons(toy):
    toy.write(":SOUR:VOLT 1.5;:OUTP ON")
    assert toy.ask(":SOUR:VOLT?;:OUTP?;*IDN?;:SOUR:FUNC?") == (
        "1.500000E+00;1;ACME,TOY,1234,1.0;VOLT"
    )
    assert toy.read() is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.5e-1", 0.15),
        ("-2.5E+0", -2.5),
        (".5", 0.5),
        ("100mV", 0.1),
        ("100 MV", 0.1),
        ("2V", 2.0),
        ("#H3", 3.0),
        ("MAX", 10.0),
        ("minimum", -10.0),
        ("DEF", 0.0),
    ],
)
def test_numeric_parameters(toy, value, expected):
    toy.write(f":SOUR:VOLT 3;:SOUR:VOLT {value}")
    assert toy.level[1] == pytest.approx(expected)
    assert toy.error_codes() == []


def test_up_down_step_and_queries_answer_min_max_without_changing_anything(toy):
    toy.write(":SOUR:VOLT 1;VOLT UP;VOLT UP;VOLT DOWN")
    assert toy.level[1] == 1.5
    assert toy.ask(":SOUR:VOLT? MAX;VOLT? MIN;VOLT? DEF") == (
        "1.000000E+01;-1.000000E+01;0.000000E+00"
    )
    assert toy.level[1] == 1.5


def test_unit_prefixes_follow_ieee_488_2(toy):
    toy.write(":SOUR:VOLT:ILIM 100uA")
    assert toy.limit[1] == pytest.approx(100e-6)
    toy.write(":SOUR:VOLT:ILIM 1mA")  # M is milli; MA alone would be mega
    assert toy.limit[1] == pytest.approx(1e-3)
    toy.write(":SOUR:VOLT:ILIM -2e-3")  # limits are magnitudes
    assert toy.limit[1] == pytest.approx(2e-3)


def test_booleans_strings_character_data_channel_lists_and_blocks(toy):
    for text, state in (("ON", True), ("0", False), ("1", True), ("off", False)):
        toy.write(f":OUTP {text}")
        assert toy.output[1] is state
    toy.write(":DISP:TEXT 'it''s'")
    assert toy.text == "it's"
    toy.write(':DISP:TEXT "say ""hi"""')
    assert toy.ask(":DISP:TEXT?") == '"say ""hi"""'
    toy.write(":SOUR2:FUNC curr")
    assert toy.ask(":SOUR2:FUNC?") == "CURR"
    toy.write(":ROUT:CLOS (@1,3:4)")
    assert toy.closed == (1, 3, 4)
    toy.write(":DATA:BLOC #212hello;\x00world")
    assert toy.block == b"hello;\x00world"
    assert toy.error_codes() == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (",SOUR:VOLT 1", -100),
        (":SOUR:VOLT 1\x01", -101),
        (":SOUR::VOLT 1", -102),
        (":SOUR:VOLT 1 2", -103),
        (":SOUR:VOLT (@1)", -104),
        (":OUTP ON,1", -108),
        ("*RST 1", -108),
        (":SOUR:VOLT", -109),
        (":SOUR:VOLT,1", -111),
        (":SOUR:VOLTAGEXXXXXXXX 1", -112),
        (":SOUR:VOLTS 1", -113),
        (":SOUR:VOLTA 1", -113),
        ("*FOO", -113),
        (":FETC? 1", -108),
        (":TEST:CRASh?", -113),
        (":SOUR3:VOLT 1", -114),
        (":SOUR:VOLT 1e999", -120),
        (":SOUR:VOLT 1.2.3", -121),
        (":SOUR:FUNC 5", -128),
        (":SOUR:VOLT 1A", -131),
        (":SENS:COUN 5V", -138),
        (":SOUR:FUNC RES", -141),
        (":SOUR:FUNC ABCDEFGHIJKLM", -144),
        ("*ESE ON", -148),
        (":DISP:TEXT 'open", -151),
        (":SOUR:VOLT 'one'", -158),
        (":DATA:BLOC #15ab", -161),
        (":SOUR:VOLT #13abc", -168),
        (":SOUR:VOLT (1+1)", -178),
        (":TEST:CRASh", -200),
        (":SOUR:VOLT:ILIM 0.9;:SOUR:VOLT 6", -221),
        (":SOUR:VOLT 11", -222),
        (":ROUT:CLOS (@5)", -224),
        (":FETC?", -230),
        ("*ESE 256", -222),
    ],
)
def test_each_error_has_its_standard_code_and_message(toy, message, code):
    toy.write(message)
    assert toy.error_codes() == [code]
    assert toy.ask("*IDN?") == "ACME,TOY,1234,1.0"  # and the engine still serves


def test_error_entries_read_code_and_message(toy):
    toy.write(":SOUR:VOLTS 1")
    assert toy.ask(":SYST:ERR?") == '-113,"Undefined header"'
    assert toy.ask(":SYST:ERR:NEXT?") == '0,"No error"'


def test_a_command_error_discards_the_rest_of_the_message_but_not_later_ones(toy):
    toy.write(":SOUR:VOLT 1;:SOUR:VOLTS 2;:SOUR:VOLT 3")
    assert toy.level[1] == 1.0
    toy.write(":SOUR:VOLT 4")
    assert toy.level[1] == 4.0
    assert toy.error_codes() == [-113]


def test_an_execution_error_does_not_stop_the_message(toy):
    toy.write(":SOUR:VOLT 20;:SOUR:VOLT 2")
    assert toy.level[1] == 2.0
    assert toy.error_codes() == [-222]


def test_out_of_range_leaves_the_setting_unchanged(toy):
    toy.write(":SOUR:VOLT 3;:SOUR:VOLT 10.5")
    assert toy.ask(":SOUR:VOLT?") == "3.000000E+00"


def test_the_error_queue_overflows_into_350(toy):
    for _ in range(14):
        toy.write(":NOPE")
    assert toy.ask(":SYST:ERR:COUN?") == "10"
    assert toy.ask("*ESR?") == str(32 | 8)  # CME, and DDE for the overflow
    assert toy.error_codes() == [-113] * 9 + [-350]
    assert toy.ask(":SYST:ERR?") == '0,"No error"'


def test_error_all_and_count(toy):
    toy.write(":NOPE;")
    toy.write(":SOUR:VOLT 99")
    assert toy.ask(":SYST:ERR:COUN?") == "2"
    assert toy.ask(":SYST:ERR:ALL?") == '-113,"Undefined header",-222,"Data out of range"'
    assert toy.ask(":SYST:ERR:ALL?") == '0,"No error"'


def test_esr_bits_follow_the_error_classes(toy):
    assert toy.ask("*ESR?") == "0"
    toy.write(":NOPE")
    assert toy.ask("*ESR?") == "32"  # CME
    toy.write(":SOUR:VOLT 99")
    assert toy.ask("*ESR?") == "16"  # EXE
    toy.write(":SOUR:VOLT?")
    toy.write("*CLS")  # the unread response is interrupted
    assert toy.ask("*ESR?") == "0"  # *CLS cleared QYE along with the queue
    toy.write(":SOUR:VOLT?")
    toy.write(":SOUR:VOLT 1")
    assert toy.ask("*ESR?") == "4"  # QYE
    toy.write("*OPC")
    assert toy.ask("*ESR?") == "1"  # OPC
    assert toy.ask("*ESR?") == "0"  # reading clears


def test_power_on_sets_pon_once(make_toy):
    fresh = make_toy()
    assert fresh.ask("*ESR?") == "128"
    assert fresh.ask("*ESR?") == "0"


def test_status_byte_reports_errors_messages_and_enabled_events(toy):
    assert toy.ask("*STB?") == "0"
    toy.write(":NOPE")
    assert int(toy.ask("*STB?")) & 4  # error queue not empty
    assert toy.ask("*IDN?;*STB?").endswith(";4" if False else ";" + str(4 | 16))  # MAV too
    toy.write("*ESE 32;*SRE 32")
    assert toy.ask("*ESE?;*SRE?") == "32;32"
    toy.write(":NOPE")
    assert int(toy.ask("*STB?")) == 4 | 32 | 64  # EAV, ESB and MSS


def test_opc_query_wai_and_self_test(toy):
    assert toy.ask(":SOUR:VOLT 1;*WAI;*OPC?") == "1"
    assert toy.ask("*TST?") == "0"


def test_rst_returns_defaults_without_touching_status(toy):
    toy.write(":SOUR:VOLT 4;:OUTP ON;:NOPE")
    toy.write("*RST")
    assert toy.level[1] == 0.0 and toy.output[1] is False
    assert toy.error_codes() == [-113]


def test_status_preset_and_enable_registers(toy):
    toy.write(":STAT:OPER:ENAB 5;:STAT:QUES:ENAB 7")
    assert toy.ask(":STAT:OPER:ENAB?;:STAT:QUES:ENAB?") == "5;7"
    toy.write(":STAT:PRES")
    assert toy.ask(":STAT:OPER:ENAB?;:STAT:QUES:ENAB?;:STAT:OPER?") == "0;0;0"


def test_a_new_message_interrupts_an_unread_response(toy):
    toy.write(":SOUR:VOLT?")
    toy.write(":OUTP?")
    assert toy.read() == "0"
    assert toy.read() is None
    assert toy.error_codes() == [-410]


def test_device_clear_drops_responses_without_an_error(toy):
    toy.write(":SOUR:VOLT?")
    toy.clear()
    assert toy.read() is None
    toy.write(":SOUR:VOLT 1")
    assert toy.error_codes() == []


def test_reading_with_nothing_queued_can_be_reported_as_unterminated(toy):
    assert toy.read() is None
    toy.query_unterminated()
    assert toy.error_codes() == [-420]


def test_garbage_and_undecodable_bytes_never_raise_and_the_next_command_works(toy):
    garbage = bytes(range(256)).decode("latin-1")
    for message in (garbage, "\ufffd\ufffd", "\x00", "*\x7f", ":SOUR:VOLT \udcff", "'"):
        toy.write(message)
    toy.write(b"\xff\xfe:SOUR:VOLT 1")  # bytes where a str belongs
    codes = toy.error_codes()
    # The garbage holds a newline, so it is two messages; a lone quote is no header.
    assert codes == [-101, -101, -101, -101, -101, -101, -100, -101]
    toy.write(":SOUR:VOLT 1.25")
    assert toy.level[1] == 1.25


def test_empty_messages_are_legal_and_do_nothing(toy):
    toy.write("")
    toy.write("   \t ")
    assert toy.read() is None and toy.error_codes() == []


def test_a_too_long_message_is_dropped_with_363(toy):
    before = toy.commands_run
    toy.write(":SOUR:VOLT 1;" * 6000)  # 78 kB, beyond the 64 KiB input buffer
    assert toy.level[1] == 0.0 and toy.commands_run == before
    assert toy.error_codes() == [-363]
    toy.write(":SOUR:VOLT 2")
    assert toy.level[1] == 2.0


def test_a_transport_can_report_what_it_dropped(toy):
    toy.input_overrun()
    assert toy.error_codes() == [-363]


def test_trigger_and_version_common_queries(toy):
    toy.write("*TRG")
    assert toy.ask(":SYST:VERS?") == "1999.0"
    assert toy.error_codes() == []


def test_a_newline_inside_a_message_terminates_it(toy):
    toy.write(":SOUR:VOLT 1\n:SOUR:VOLT 2;VOLT?")
    assert toy.read() == "2.000000E+00"
