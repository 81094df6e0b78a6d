"""Shared VISA/SCPI helpers (drivers/scpi.py): wire formatting, reply validation,
error-queue reading, timeouts."""

from __future__ import annotations

import math

import pytest
import pyvisa

from rramlab.drivers.scpi import (
    MAX_ERRORS_PER_CHECK,
    Connection,
    SourceSetting,
    fmt,
    fmt_list,
    order_source_commands,
    parse_flag,
    parse_numbers,
    parse_scpi_error,
    put_source_back,
    read_scpi_errors,
    run_then_restore,
    with_restore,
)
from rramlab.errors import InstrumentError, InstrumentTimeout

YAML, HEALTHY = "keithley2450.yaml", "GPIB0::18::INSTR"


@pytest.fixture
def conn(open_sim) -> Connection:
    return Connection.open(open_sim(YAML, HEALTHY), name="2450", timeout_s=0.1)


def test_numbers_are_formatted_deterministically():
    assert [fmt(x) for x in (1.0, 0.1 + 0.2, 1e-6, -0.0, 200, 1 / 3)] == [
        "1",
        "0.3",
        "1e-06",
        "0",
        "200",
        "0.333333333",
    ]
    assert fmt_list([0, 0.5, 1]) == "0,0.5,1"


def test_parse_numbers_accepts_scpi_and_tsp_separators_and_maps_overflow_to_nan():
    kw = {"instrument": "x", "command": "q"}
    assert list(parse_numbers("1.0E-3,+2.5E+00", **kw)) == [1e-3, 2.5]
    assert list(parse_numbers("1.00000e-03\t2.00000e+00", **kw)) == [1e-3, 2.0]
    assert list(parse_numbers("1.0e-03, 2.0e+00", **kw, count=2)) == [1e-3, 2.0]
    assert math.isnan(parse_numbers("9.91E+37", **kw)[0])


@pytest.mark.parametrize(("text", "count"), [("1.0,abc", None), ("1,2,3", 2), ("", 1)])
def test_bad_number_replies_are_instrument_errors(text, count):
    with pytest.raises(InstrumentError) as info:
        parse_numbers(text, instrument="SMU", command=":READ?", count=count)
    assert (info.value.instrument, info.value.command) == ("SMU", ":READ?")


def test_flags():
    kw = {"instrument": "x", "command": "q"}
    assert parse_flag("1", **kw) and parse_flag("true", **kw) and parse_flag("+1", **kw)
    assert not parse_flag("0", **kw) and not parse_flag("false", **kw)
    with pytest.raises(InstrumentError):
        parse_flag("2", **kw)


def test_scpi_error_entries():
    kw = {"instrument": "x", "command": "SYST:ERR?"}
    assert parse_scpi_error('+0,"No error"', **kw) == (0, "No error")
    assert parse_scpi_error('-222,"Data out of range"', **kw) == (-222, "Data out of range")
    # Keithley's graphical series append severity and a timestamp inside the quotes
    tail = '-113,"Undefined header;1;2024/05/03 14:40:04.613"'
    assert parse_scpi_error(tail, **kw) == (-113, "Undefined header")
    with pytest.raises(InstrumentError):
        parse_scpi_error("garbage", **kw)


def test_a_queue_that_never_empties_is_read_a_bounded_number_of_times():
    class Stuck:
        name = "stuck"

        def query(self, command: str) -> str:
            return '-350,"Queue overflow"'

    assert len(read_scpi_errors(Stuck())) == MAX_ERRORS_PER_CHECK


def test_source_command_order():
    assert order_source_commands("L", "R", "V", shrinking=False) == ["L", "R", "V"]
    assert order_source_commands("L", "R", "V", shrinking=True) == ["L", "V", "R"]
    assert order_source_commands("L", None, "V", shrinking=True) == ["L", "V"]


def test_with_restore_keeps_the_original_error_and_notes_the_cleanup_failure():
    def body():
        raise ValueError("measurement failed")

    def restore():
        raise InstrumentError("output-off failed")

    with pytest.raises(ValueError, match="measurement failed") as info:
        with_restore(body, restore)
    assert "output-off failed" in info.value.__notes__[0]

    calls = []
    assert with_restore(lambda: 42, lambda: calls.append("restored")) == 42
    assert calls == ["restored"]


def test_run_then_restore_tells_the_restore_whether_the_body_failed():
    seen = []
    assert run_then_restore(lambda: 1, seen.append) == 1
    with pytest.raises(KeyboardInterrupt):
        run_then_restore(lambda: (_ for _ in ()).throw(KeyboardInterrupt), seen.append)
    assert seen == [False, True]


USER = SourceSetting("VOLT", 0.2, 1e-4, 2.0)


def put_back(was_on, failed, setting=USER, fail_program=False):
    """put_source_back with recording fakes; returns what it did, in order."""
    log = []

    def program(s):
        log.append(("program", s.level))
        if fail_program:
            raise InstrumentError("-222 Data out of range")

    def run():
        put_source_back(
            was_on=was_on,
            failed=failed,
            setting=setting,
            program=program,
            set_output=lambda on: log.append(("output", on)),
            cleanup=lambda: log.append(("cleanup",)),
        )

    return log, run


@pytest.mark.parametrize(
    ("was_on", "failed", "done"),
    [
        # on before: the user's source first, then the output on, explicitly
        (True, False, [("cleanup",), ("program", 0.2), ("output", True)]),
        # off before: off first (the DUT sees nothing while it is reprogrammed)
        (False, False, [("output", False), ("cleanup",), ("program", 0.2)]),
        # any failure leaves the output off, the user's source ready for the next ON
        (True, True, [("output", False), ("cleanup",), ("program", 0.2)]),
        (False, True, [("output", False), ("cleanup",), ("program", 0.2)]),
    ],
)
def test_put_source_back_order(was_on, failed, done):
    log, run = put_back(was_on, failed)
    run()
    assert log == done


def test_put_source_back_without_a_user_setting_ends_with_the_output_off():
    # nothing to put back: leaving the output on would apply the sweep's last level
    log, run = put_back(True, False, setting=None)
    run()
    assert log == [("output", False), ("cleanup",)]


def test_put_source_back_turns_the_output_off_when_the_source_cannot_be_put_back():
    log, run = put_back(True, False, fail_program=True)
    with pytest.raises(InstrumentError, match="-222"):
        run()
    assert log == [("cleanup",), ("program", 0.2), ("output", False)]


def test_several_queued_errors_are_reported_together(conn):
    conn.write(":FOO")
    conn.write(":BAR")
    with pytest.raises(InstrumentError) as info:
        conn.check_errors(":BAR")
    assert info.value.code == -113
    assert "then also: -113 Undefined header" in info.value.message
    conn.check_errors()  # drained


def test_timeout_is_reported_as_instrument_timeout_with_the_command(conn):
    with pytest.raises(InstrumentTimeout) as info:
        conn.query(":NO:SUCH:QUERY?")
    assert info.value.command == ":NO:SUCH:QUERY?"
    assert "0.1 s" in info.value.message
    with pytest.raises(InstrumentError, match="Undefined header"):
        conn.check_errors()


def test_after_a_timeout_late_replies_are_discarded_before_the_next_query(conn):
    conn.write("*IDN?")  # a reply now waits unread, as a late one would after a timeout
    conn._desynced = True  # what a timeout sets
    assert conn.query("*LANG?") == "SCPI"


def test_malformed_identification_is_an_instrument_error(conn):
    with pytest.raises(InstrumentError, match="identification"):
        conn.query_identity("*LANG?")


def test_open_checks_its_arguments(open_sim, sim_rm):
    res = open_sim(YAML, HEALTHY)
    with pytest.raises(TypeError):
        Connection.open(res, name="x", resource_manager=sim_rm(YAML))
    with pytest.raises(TypeError):
        Connection.open(object(), name="x")
    with pytest.raises(TypeError, match="message-based"):
        Connection.open("NOT A RESOURCE", name="x", resource_manager=sim_rm(YAML))

    class Absent:
        def open_resource(self, name: str):
            raise pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_resource_not_found)

    with pytest.raises(InstrumentError, match="cannot open GPIB0::9::INSTR"):
        Connection.open("GPIB0::9::INSTR", name="x", resource_manager=Absent())


def test_open_sets_terminations_and_timeout(open_sim):
    res = open_sim(YAML, HEALTHY)
    res.read_termination = None
    Connection.open(res, name="x", timeout_s=2.5)
    assert (res.read_termination, res.write_termination, res.timeout) == ("\n", "\n", 2500)
