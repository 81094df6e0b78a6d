"""The TSP message layer: errors land in errorqueue with 2600B codes and the session
keeps serving; scripts load and run; IEEE 488.2 common commands; prompts."""

from rramlab.clock import VirtualClock
from rramlab.sim.message import MessageInstrument
from rramlab.sim.tsp.session import MAX_LINE_CHARS, TspSession

IDN = "Keithley Instruments Inc., Model 2636B, 4308079, 3.2.2"


def session(**kw) -> TspSession:
    return TspSession("test", IDN, VirtualClock(), **kw)


def replies(s: TspSession) -> list[str]:
    return list(iter(s.read, None))


def codes(s: TspSession) -> list[int]:
    return [entry.code for entry in s.errors.entries()]


def test_session_is_a_message_instrument():
    assert isinstance(session(), MessageInstrument)


# --- errors ---------------------------------------------------------------------------
def test_syntax_error_is_285_with_lua_wording_and_nothing_runs():
    s = session()
    s.write("x = 1 y = = 2")
    s.write("print(x)")
    (entry,) = s.errors.entries()
    assert entry.code == -285
    assert entry.message == "TSP Syntax error at line 1: unexpected symbol near `='"
    assert replies(s) == ["nil"]  # the bad chunk did not run, not even x = 1


def test_common_syntax_errors():
    s = session()
    for source in ("*FOO?", "x", "print(1", "if x then", "y = 'open", "z = 1e"):
        s.write(source)
    messages = [e.message for e in s.errors.entries()]
    assert messages == [
        "TSP Syntax error at line 1: unexpected symbol near `*'",
        "TSP Syntax error at line 1: `=' expected near `<eof>'",
        "TSP Syntax error at line 1: `)' expected near `<eof>'",
        "TSP Syntax error at line 1: `end' expected near `<eof>'",
        "TSP Syntax error at line 1: unfinished string near `'open'",
        "TSP Syntax error at line 1: malformed number near `1e'",
    ]


def test_runtime_error_is_286_stops_the_chunk_and_keeps_earlier_effects():
    s = session()
    s.write("a = 1 print('before') nothere() a = 2")
    s.write("print(a)")
    assert codes(s) == [-286]
    assert s.errors.entries()[0].message == (
        "TSP Runtime error at line 1: attempt to call global `nothere' (a nil value)"
    )
    assert replies(s) == ["before", "1.00000e+00"]


def test_runtime_error_messages_name_the_operand():
    s = session()
    for source in (
        "x = nil + 1",
        "t = {} t.a.b = 1",
        "local n = 5 n()",
        "x = {} < 1",
        "x = 'a' .. {}",
        "x = #nil",
    ):
        s.write(source)
    assert [e.message.split(": ", 1)[1] for e in s.errors.entries()] == [
        "attempt to perform arithmetic on a nil value",
        "attempt to index field `a' (a nil value)",
        "attempt to call local `n' (a number value)",
        "attempt to compare table with number",
        "attempt to concatenate a table value",
        "attempt to get length of a nil value",
    ]


def test_errorqueue_next_returns_code_message_severity_node_and_count_drops():
    s = session()
    s.write("foo()")
    s.write("1 = 2")
    s.write("print(errorqueue.count)")
    s.write("print(errorqueue.next())")
    s.write("code, msg = errorqueue.next() print(code, errorqueue.count)")
    s.write("print(errorqueue.next())")
    assert replies(s) == [
        "2.00000e+00",
        "-2.86000e+02\tTSP Runtime error at line 1: attempt to call global `foo' (a nil value)"
        "\t2.00000e+01\t1.00000e+00",
        "-2.85000e+02\t0.00000e+00",
        "0.00000e+00\tQueue Is Empty\t0.00000e+00\t1.00000e+00",
    ]


def test_errorqueue_clear_and_cls():
    s = session()
    s.write("foo()")
    s.write("errorqueue.clear()")
    assert codes(s) == []
    s.write("foo()")
    s.write("*CLS")
    assert codes(s) == []


def test_runtime_error_inside_a_script_reports_the_script_line():
    s = session()
    for line in ("loadscript broken", "x = 1", "", "y = x.field", "endscript", "broken()"):
        s.write(line)
    (entry,) = s.errors.entries()
    assert entry.message == (
        "TSP Runtime error at line 3: attempt to index global `x' (a number value)"
    )


# --- scripts ---------------------------------------------------------------------------
def test_loadandrunscript_collects_lines_and_runs_at_endscript():
    s = session()
    s.write("loadandrunscript")
    s.write("total = 0")
    s.write("for i = 1, 4 do")
    s.write("  total = total + i --[[ a block comment")
    s.write("  that spans lines ]]")
    s.write("end")
    assert replies(s) == [] and s.globals.get("total") is None  # nothing ran yet
    s.write("print(total)")
    s.write("endscript")
    assert replies(s) == ["1.00000e+01"]
    assert codes(s) == []


def test_one_message_with_embedded_newlines_is_taken_line_by_line():
    s = session()
    s.write("loadandrunscript\r\nfor i = 1, 2 do\r\nprint(i)\r\nend\r\nendscript")
    assert replies(s) == ["1.00000e+00", "2.00000e+00"]


def test_named_script_runs_by_call_or_run_and_can_rerun():
    s = session()
    for line in ("loadscript bump", "n = (n or 0) + 1", "endscript"):
        s.write(line)
    assert s.globals.get("n") is None
    s.write("bump() bump.run() print(n, bump.name)")
    assert replies(s) == ["2.00000e+00\tbump"]


def test_script_with_a_syntax_error_is_not_created():
    s = session()
    for line in ("loadscript bad", "if x then", "endscript", "bad()"):
        s.write(line)
    assert codes(s) == [-285, -286]


def test_device_clear_drops_output_and_a_half_loaded_script():
    s = session()
    s.write("print(1)")
    s.write("loadscript half")
    s.write("x = 1")
    s.clear()
    assert s.read() is None
    s.write("print(2)")  # runs at once: no script is being collected any more
    assert replies(s) == ["2.00000e+00"]


# --- common commands and prompts ----------------------------------------------------------
def test_common_commands():
    s = session()
    s.write("*IDN?")
    s.write("*OPC?")
    s.write("*idn?")  # case-insensitive, like any 488.2 header
    s.write("*WAI")
    s.write("*TRG")
    assert replies(s) == [IDN, "1", IDN]
    s.write("*STB?")
    assert replies(s) == ["0"]
    s.write("foo()")
    s.write("print(1)")
    s.write("*STB?")  # EAV (4): an error is queued; MAV (16): a reply is waiting
    assert replies(s) == ["1.00000e+00", "20"]


def test_rst_runs_the_reset_hooks_but_keeps_the_error_queue():
    s = session()
    calls = []
    s.reset_hooks.append(lambda: calls.append("reset"))
    s.write("format.asciiprecision = 3 foo()")
    s.write("*RST")
    s.write("reset()")
    s.write("print(1)")
    assert calls == ["reset", "reset"]
    assert replies(s) == ["1.00000e+00"]  # precision back to 6
    assert codes(s) == [-286]


def test_prompts_follow_each_message_when_enabled():
    s = session()
    s.write("localnode.prompts = 1")
    s.write("print(5)")
    s.write("foo()")
    assert replies(s) == ["TSP>", "5.00000e+00", "TSP>", "TSP?"]


# --- guards -------------------------------------------------------------------------------
def test_instruction_budget_stops_an_infinite_loop_and_the_session_recovers():
    s = session(max_steps=20_000)
    s.write("while true do end")
    s.write("repeat x = 1 until false")
    s.write("print('alive')")
    assert codes(s) == [-286, -286]
    assert "instruction budget" in s.errors.entries()[0].message
    assert replies(s) == ["alive"]


def test_default_budget_is_a_million_steps():
    s = session()
    assert s.interp.max_steps == 1_000_000


def test_recursion_is_limited_and_reported_as_stack_overflow():
    s = session()
    s.write("function f(n) return f(n + 1) + 1 end f(1)")
    s.write("function g(n) if n == 0 then return 0 end return 1 + g(n - 1) end print(g(40))")
    (entry,) = s.errors.entries()
    assert entry.message == "TSP Runtime error at line 1: stack overflow"
    assert replies(s) == ["4.00000e+01"]  # moderate recursion still works


def test_string_and_table_sizes_are_capped():
    s = session()
    s.write("x = string.rep('a', 2000000)")
    s.write("s = 'ab' for i = 1, 30 do s = s .. s end")
    s.write("t = {} for i = 1, 300000 do t[i] = i end")
    assert [e.message.split(": ", 1)[1] for e in s.errors.entries()] == [
        "string length overflow",
        "string length overflow",
        "table overflow",
    ]


def test_overlong_lines_are_refused():
    s = session()
    s.write("x = '" + "a" * MAX_LINE_CHARS + "'")
    s.write("print(x)")
    assert codes(s) == [-363]
    assert replies(s) == ["nil"]


def test_nested_syntax_levels_are_limited():
    s = session()
    s.write("x = " + "(" * 500 + "1" + ")" * 500)
    assert codes(s) == [-285]
    assert "too many syntax levels" in s.errors.entries()[0].message
