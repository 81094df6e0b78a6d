"""The @rramsim pyvisa backend, on fake instruments (and the real 2450 once it exists)."""

import importlib.util
import threading
import time

import pytest
import pyvisa
from pyvisa import constants
from pyvisa.constants import StatusCode

from rramlab.sim.visa_backend import ADDRESSES, BenchSpec, make_bench, parse_library_path

NAMES = {
    "2450": ("GPIB0::18::INSTR", "USB0::0x05E6::0x2450::04365704::INSTR"),
    "2636B": ("GPIB0::26::INSTR", "USB0::0x05E6::0x2636::4308079::INSTR"),
    "B2902A": ("GPIB0::23::INSTR", "USB0::0x0957::0x8C18::MY51143745::INSTR"),
}


def test_lists_every_name_of_every_instrument(rm):
    expected = {name for names in NAMES.values() for name in names}
    assert set(rm.list_resources()) == expected
    assert set(rm.list_resources("GPIB?*::INSTR")) == {n[0] for n in NAMES.values()}
    assert rm.list_resources("ASRL?*") == ()
    assert {a.model: a.resource_names for a in ADDRESSES.values()} == NAMES


@pytest.mark.parametrize(
    ("name", "model"),
    [(name, model) for model, names in NAMES.items() for name in names]
    + [
        ("usb0::0x05e6::0x2450::04365704::0::INSTR", "2450"),  # case, interface number
        ("USB::0x0957::0x8C18::MY51143745::INSTR", "B2902A"),  # board number omitted
        ("GPIB::26", "2636B"),
    ],
)
def test_each_name_opens_its_instrument_and_a_query_round_trips(rm, name, model):
    inst = rm.open_resource(name)
    # pyvisa's defaults: write "\r\n", no read termination: the reply keeps the
    # instrument's LF, exactly as a real GPIB/USB instrument sends it.
    assert inst.query("*IDN?") == f"FAKE,MODEL {model},0001,1.0\n"
    inst.read_termination = "\n"
    inst.write_termination = "\n"
    assert inst.query("ECHO? hello") == "hello"
    inst.close()


def test_resource_attributes_look_like_the_bus(rm):
    gpib = rm.open_resource("GPIB0::18::INSTR")
    assert gpib.interface_type == constants.InterfaceType.gpib
    assert (gpib.primary_address, gpib.resource_name, gpib.resource_class) == (
        18,
        "GPIB0::18::INSTR",
        "INSTR",
    )
    gpib.timeout = 1234
    assert gpib.timeout == 1234
    usb = rm.open_resource("USB0::0x0957::0x8C18::MY51143745::INSTR")
    assert usb.interface_type == constants.InterfaceType.usb
    assert (usb.manufacturer_id, usb.model_code, usb.serial_number) == (
        0x0957,
        0x8C18,
        "MY51143745",
    )
    with pytest.raises(pyvisa.VisaIOError) as err:
        rm.visalib.set_attribute(usb.session, constants.ResourceAttribute.resource_name, "x")
    assert err.value.error_code == StatusCode.error_attribute_read_only


def test_one_write_may_carry_several_messages(rm, fake_bench):
    inst = rm.open_resource("GPIB0::18::INSTR", read_termination="\n")
    inst.write_raw(b"SET 1\nSET 2;ECHO? x\r\nGET?\n")
    assert fake_bench.smus["2450"].messages == ["SET 1", "SET 2;ECHO? x", "GET?"]
    assert [inst.read(), inst.read()] == ["x", "2"]


def test_end_completes_a_message_unless_send_end_is_off(rm, fake_bench):
    smu = fake_bench.smus["2450"]
    inst = rm.open_resource("GPIB0::18::INSTR", write_termination="")
    inst.write("SET 3")  # no terminator: END on the last byte ends it
    assert smu.messages == ["SET 3"]
    inst.send_end = False
    inst.write("SET ")
    inst.write("4")
    assert smu.messages == ["SET 3"]  # held: no LF, no END
    inst.write_raw(b"\n")
    assert smu.messages == ["SET 3", "SET 4"]


def test_an_empty_read_times_out_at_once_with_vi_error_tmo(rm):
    inst = rm.open_resource("GPIB0::18::INSTR", timeout=10_000)
    start = time.perf_counter()
    with pytest.raises(pyvisa.VisaIOError) as err:
        inst.read()
    assert err.value.error_code == StatusCode.error_timeout
    assert time.perf_counter() - start < 0.5  # the 10 s timeout is virtual


def test_partial_reads_termchar_and_max_count(rm):
    inst = rm.open_resource("GPIB0::18::INSTR")
    inst.write("ECHO? abcdef")
    assert inst.read_bytes(3) == b"abc"
    assert inst.read_raw() == b"def\n"
    lib, session = rm.visalib, inst.session
    inst.write("ECHO? abc")
    inst.read_termination = "b"  # VI_ATTR_TERMCHAR 'b', enabled
    assert lib.read(session, 100) == (b"ab", StatusCode.success_termination_character_read)
    with lib.ignore_warning(session, StatusCode.success_max_count_read):
        assert lib.read(session, 1) == (b"c", StatusCode.success_max_count_read)
    assert lib.read(session, 100) == (b"\n", StatusCode.success)  # END with the last byte


def test_device_clear_reaches_the_instrument_and_drops_half_read_replies(rm, fake_bench):
    inst = rm.open_resource("GPIB0::18::INSTR")
    inst.write("ECHO? abcdef;ECHO? second")
    assert inst.read_bytes(2) == b"ab"
    inst.clear()
    assert fake_bench.smus["2450"].cleared == 1
    with pytest.raises(pyvisa.VisaIOError):
        inst.read()


def test_flush_discards_the_unread_rest_of_a_reply(rm):
    inst = rm.open_resource("GPIB0::18::INSTR", read_termination="\n")
    inst.write("ECHO? abcdef;ECHO? next")
    assert inst.read_bytes(2) == b"ab"
    inst.flush(constants.BufferOperation.discard_read_buffer)
    assert inst.read() == "next"
    with pytest.raises(pyvisa.VisaIOError) as err:
        inst.flush(0)
    assert err.value.error_code == StatusCode.error_invalid_mask


def test_status_byte_shows_message_available(rm):
    inst = rm.open_resource("GPIB0::18::INSTR", read_termination="\n")
    assert inst.read_stb() & 0x10 == 0
    inst.write("ECHO? ready")
    assert inst.read_stb() & 0x10
    assert inst.read() == "ready"  # the poll did not lose the reply
    assert inst.read_stb() & 0x10 == 0


def test_trigger_reaches_the_instrument(rm, fake_bench):
    rm.open_resource("GPIB0::18::INSTR").assert_trigger()
    assert fake_bench.smus["2450"].triggers == 1


def test_unknown_and_invalid_resource_names(rm):
    for name in ("GPIB0::5::INSTR", "TCPIP0::127.0.0.1::5025::SOCKET", "ASRL1::INSTR"):
        with pytest.raises(pyvisa.VisaIOError) as err:
            rm.open_resource(name)
        assert err.value.error_code == StatusCode.error_resource_not_found
    with pytest.raises(pyvisa.VisaIOError) as err:
        rm.open_bare_resource("not a resource")
    assert err.value.error_code == StatusCode.error_invalid_resource_name


def test_instrument_state_persists_across_close_and_reopen(rm, fake_bench):
    inst = rm.open_resource("GPIB0::26::INSTR", read_termination="\n")
    inst.write("SET 42;ECHO? left in the output queue")
    inst.close()
    again = rm.open_resource("USB0::0x05E6::0x2636::4308079::INSTR", read_termination="\n")
    assert again.read() == "left in the output queue"  # the instrument's, not the session's
    assert again.query("GET?") == "42"
    with pytest.raises(pyvisa.VisaIOError) as err:
        rm.visalib.read(99_999, 10)  # a handle that was never opened
    assert err.value.error_code == StatusCode.error_invalid_object


def test_garbage_bytes_reach_the_instrument_as_an_error_not_a_crash(rm, fake_bench):
    inst = rm.open_resource("GPIB0::18::INSTR", read_termination="\n")
    inst.write_raw(b"\x00\xff\xfe\x80garbage\n")
    assert fake_bench.smus["2450"].messages == ["\x00\ufffd\ufffd\ufffdgarbage"]
    assert inst.query("ERR?") == '-113,"Undefined header"'
    assert inst.query("*IDN?") == "FAKE,MODEL 2450,0001,1.0"


def test_two_sessions_share_the_instrument_without_losing_messages(rm, fake_bench):
    a = rm.open_resource("GPIB0::18::INSTR", read_termination="\n")
    b = rm.open_resource("USB0::0x05E6::0x2450::04365704::INSTR", read_termination="\n")
    a.write("SET from-a")
    assert b.query("GET?") == "from-a"

    def hammer(inst, tag):
        for i in range(200):
            inst.write(f"SET {tag}{i}")

    threads = [threading.Thread(target=hammer, args=(s, t)) for s, t in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    messages = fake_bench.smus["2450"].messages[2:]
    expected = {f"SET {t}{i}" for t in "ab" for i in range(200)}
    assert len(messages) == 400 and set(messages) == expected  # none lost, none mangled


def test_library_path_syntax():
    assert parse_library_path("") == BenchSpec()
    assert parse_library_path(" seed = 3 , rows=4,cols=5, smus=2450+b2902a ") == BenchSpec(
        seed=3, rows=4, cols=5, smus=("2450", "B2902A")
    )
    assert parse_library_path("bench=mine") == BenchSpec(bench="mine")
    for bad, message in [
        ("seed", "expected key=value"),
        ("speed=3", "unknown key 'speed'"),
        ("seed=x", "seed must be an integer"),
        ("rows=0", "rows must be >= 1"),
        ("seed=1,seed=2", "given twice"),
        ("bench=a,seed=1", "bench= takes no other key"),
        ("smus=2400", "unknown SMU model"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_library_path(bad)


def test_an_unregistered_bench_name_fails_when_the_manager_is_made():
    with pytest.raises(ValueError, match="no bench registered as 'nobody'"):
        pyvisa.ResourceManager("bench=nobody@rramsim")


def test_same_seed_same_bench_and_one_spec_one_shared_bench(fake_personalities):
    def draws(bench):
        smu = bench.smus["2450"]
        smu.write("RAND?;RAND?")
        return [smu.read(), smu.read()]

    assert draws(make_bench("seed=3,rows=5")) == draws(make_bench("seed=3,rows=5"))
    assert draws(make_bench("seed=3,rows=5")) != draws(make_bench("seed=4,rows=5"))
    fresh = draws(make_bench("seed=3,rows=5"))
    rm = pyvisa.ResourceManager("seed=3,rows=5@rramsim")
    inst = rm.open_resource("GPIB0::18::INSTR", read_termination="\n")
    assert [inst.query("RAND?"), inst.query("RAND?")] == fresh  # same seed, same bytes
    # The same spec written differently is the same bench: it has moved on.
    other = pyvisa.ResourceManager("rows=5, seed=3@rramsim")
    assert other is not rm
    again = other.open_resource("GPIB0::18::INSTR", read_termination="\n")
    assert again.query("RAND?") not in fresh
    rm.close()
    other.close()


def test_default_manager_serves_the_seed_0_bench(fake_personalities):
    rm = pyvisa.ResourceManager("@rramsim")
    assert rm.visalib.library_path == "seed=0"
    inst = rm.open_resource("GPIB0::23::INSTR", read_termination="\n")
    assert inst.query("*IDN?") == "FAKE,MODEL B2902A,0001,1.0"
    rm.close()


@pytest.mark.skipif(
    importlib.util.find_spec("rramlab.sim.instruments.keithley2450") is None,
    reason="the simulated Keithley 2450 personality is not written yet",
)
def test_the_real_2450_personality_answers_its_identity(monkeypatch):
    import rramlab.sim.visa_backend as backend

    monkeypatch.setattr(backend, "_built", {})
    rm = pyvisa.ResourceManager("seed=0,smus=2450@rramsim")
    smu = rm.open_resource("GPIB0::18::INSTR", read_termination="\n", write_termination="\n")
    assert smu.query("*IDN?").startswith("KEITHLEY INSTRUMENTS,MODEL 2450,04365704,")
    rm.close()
