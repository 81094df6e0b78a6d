"""Fuzzing the simulated SMUs' message parsers: the SCPI engine (Keithley 2450,
Keysight B2902A) and the TSP interpreter (Keithley 2636B).

Inputs are random text and bytes, and mutations of a corpus of valid messages (every
command the drivers' recorded dialogues hold, plus TSP scripts): characters flipped,
inserted, deleted, duplicated, truncated, numbers swapped for huge, tiny or malformed
ones, messages joined, lines past the input buffer, deep nesting, runaway loops. For
every input:

- nothing escapes ``write()`` (the instrument's contract: errors go to its queue);
- it finishes within a time budget (the TSP step budget stops runaway scripts);
- no handler crashed behind the engine's safety net (nothing logged at ERROR);
- the error queue holds only well-formed entries (code, quoted message);
- the instrument answers ``*IDN?`` afterwards (not stuck).

Messages that cannot be valid (an unknown header first) must leave an error.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, note, settings
from hypothesis import strategies as st

from rramlab.sim.bench import SimulatedBench

ROOT = Path(__file__).resolve().parents[2]
#: wall-time budget of one fuzz input (s); generous for a loaded CI machine
INPUT_BUDGET_S = 2.0
#: the TSP instruction budget while fuzzing (the instrument's default, 1e6 steps, takes
#: ~2 s to run out; test_a_runaway_script_is_stopped_by_the_default_budget checks it)
FUZZ_STEPS = 20_000


def examples(default: int) -> int:
    value = os.environ.get("RRAMLAB_FUZZ_EXAMPLES")
    return int(value) if value else default


# ------------------------------------------------------------------------ corpus
def recorded_messages(name: str) -> list[str]:
    """Every message the driver's recorded dialogue (drivers/recorded/<name>.yaml) holds."""
    data = yaml.safe_load((ROOT / "drivers" / "recorded" / f"{name}.yaml").read_text())
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("q", "getter_q", "setter_q") and isinstance(value, str):
                    out.add(value.replace("{:s}", "1").replace("{}", "1"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return sorted(out)


SCPI_EXTRA = [
    "*IDN?",
    "*RST;*CLS;*ESE 255;*SRE 16;*STB?;*ESR?;*OPC?",
    ":SOUR:VOLT 1;ILIM 1e-3;:OUTP ON;:READ?;:OUTP OFF",
    ':SOUR:SWE:VOLT:LIN 0, 1, 11, 0.001;:INIT;*WAI;:TRAC:DATA? 1, 11, "defbuffer1", READ',
    ":SOUR:LIST:VOLT 0,0.5,1;:SOUR:FUNC:MODE VOLT",
    ":SYST:ERR?;:SYST:ERR:ALL?;:SYST:ERR:COUN?",
    ":sour1:volt:lev:imm:ampl 0.5;:outp1:stat on;:meas:curr? (@1)",
    ':TRAC:MAKE "buf", 100;:TRAC:POIN? "buf";:TRAC:CLE "buf"',
    ":STAT:OPER:ENAB 1;:STAT:QUES?;:STAT:PRES",
    ":SENS:CURR:NPLC 0.01;:SENS:CURR:RANG:AUTO ON;:COUN 5;:READ?",
    ':DISP:TEXT:DATA "hello;world";*TST?',
    ":SOUR:VOLT #H1F;:SOUR:VOLT #B101;:SOUR:VOLT #Q17;:SOUR:VOLT MAX;:SOUR:VOLT? MIN",
    ':TRIG:LOAD "SimpleLoop", 5, 0.001;:INIT;*WAI',
    ":SYST:BEEP 440, 0.1;:SYST:LFR?",
]

TSP_EXTRA = [
    "print(localnode.model)",
    "smua.reset() smua.source.func = smua.OUTPUT_DCVOLTS smua.source.levelv = 1 "
    "smua.source.limiti = 1e-3 smua.source.output = smua.OUTPUT_ON "
    "print(smua.measure.i()) smua.source.output = smua.OUTPUT_OFF",
    "smua.nvbuffer1.clear() smua.measure.count = 5 smua.measure.i(smua.nvbuffer1) "
    "printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1.readings)",
    "for i = 1, 10 do x = (x or 0) + i end print(x)",
    "local t = {} for k = 1, 20 do t[k] = k * k end print(#t, t[20])",
    "function f(n) if n <= 1 then return 1 end return n * f(n - 1) end print(f(10))",
    "print(string.format('%g %s %d', 1.5, 'a', 3), string.rep('ab', 3))",
    "format.data = format.ASCII format.asciiprecision = 6 print(1/3)",
    "print(errorqueue.count) errorqueue.clear() print(errorqueue.next())",
    "localnode.prompts = 0 print(status.condition)",
    "loadscript s1",
    "print('in a script')",
    "endscript",
    "s1() s1.run()",
    "loadandrunscript\nprint(1)\nendscript",
    "smua.trigger.source.listv({0, 0.5, 1}) smua.trigger.source.action = smua.ENABLE "
    "smua.trigger.count = 3 smua.trigger.initiate() waitcomplete()",
    "delay(0.001) print(timer.measure.t())",
    "x = {a = {b = {c = 1}}} print(x.a.b.c, type(x), tostring(nil))",
    "while false do end repeat local y = 1 until true goto = 1",
    "print(math.floor(2.5), math.max(1, 2), math.huge, -math.huge, 0/0)",
]

#: classic runaway or hostile scripts: each must end with an error, within the budget
TSP_HOSTILE = [
    "while true do end",
    "repeat until false",
    "for i = 1, math.huge do end",
    "function f() return f() end f()",
    "function f() return 1 + f() end print(f())",
    "s = 'x' while true do s = s .. s end",
    "t = {} while true do t[#t + 1] = t end",
    "t = {} for i = 1, 1e9 do t[i] = i end",
    "print(string.rep('x', 1e9))",
    "x = " + "(" * 300 + "1" + ")" * 300,
    "x = " + "{" * 300 + "}" * 300,
    "if true then " * 300 + "end " * 300,
    "x = " + "-" * 3000 + "1",
    "x = 1 " + "+ 1 " * 20000,
    "x = 'a' " + ".. 'a' " * 20000,
    "x = " + "not " * 5000 + "true",
    "x = 2 " + "^ 2 " * 5000,
    "print(" + "f(" * 500 + ")" * 501,
    "os.execute('touch pwned')",
    "io.open('pwned', 'w')",
    "require('os')",
    "load('return 1')()",
    "dofile('x')",
    "debug.getinfo(1)",
    "getmetatable('').__index.rep = nil",
    "__import__('os').system('touch pwned')",
    "eval(\"__import__('os').system('touch pwned')\")",
]

HUGE_NUMBERS = [
    "0x" + "f" * 400,
    "0" * 5000 + "1",
    "(@" + "0" * 5000 + "1)",
    "\u00b2",  # digits that str.isdigit() accepts and int() refuses
    "\u0663",
    "1e999999",
    "-1e999999",
    "9" * 5000,
    "1" + "0" * 400,
    "0." + "0" * 400 + "1",
    "1e-999999",
    "nan",
    "inf",
    "-0",
    "+-1",
    "1e",
    "1.2.3",
    "0x1p10",
    "#H" + "F" * 100,
    "#B" + "1" * 300,
    "#Q9",
    "#",
    "#9" + "1" * 9,
    "#0",
    "1,2,3," * 100,
    "(@1:99999999)",
    "(" * 50,
    ")" * 50,
    '"' * 3,
    "'",
    "\x00",
    "MAXIMUM",
    "DEF",
]

NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
SPECIAL = [*";:*?,\"'#()@ \t\r\n\\\x00\x7f\xff{}[]=-.", "\u2028", "\ud800", "\U0001f600"]


@st.composite
def mutated(draw, corpus: list[str], specials: list[str] = SPECIAL) -> str:
    """A corpus message mutated 1-4 times (see the module docs)."""
    text = draw(st.sampled_from(corpus))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["flip", "insert", "delete", "truncate", "duplicate", "number", "join", "long"]
            )
        )
        i = draw(st.integers(0, len(text)))
        if kind == "flip" and text:
            i = min(i, len(text) - 1)
            char = draw(st.one_of(st.sampled_from(specials), st.characters()))
            text = text[:i] + char + text[i + 1 :]
        elif kind == "insert":
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)) :]
        elif kind == "truncate":
            text = text[:i]
        elif kind == "duplicate":
            j = draw(st.integers(i, len(text)))
            text = text[:j] + text[i:j] * draw(st.integers(2, 50)) + text[j:]
        elif kind == "number":
            numbers = list(NUMBER.finditer(text))
            if numbers:
                m = draw(st.sampled_from(numbers))
                text = text[: m.start()] + draw(st.sampled_from(HUGE_NUMBERS)) + text[m.end() :]
        elif kind == "join":
            text = (
                text
                + draw(st.sampled_from([";", " ", "\n", ";:", ""]))
                + draw(st.sampled_from(corpus))
            )
        elif kind == "long" and draw(st.integers(0, 5)) == 3:  # rare: costly
            text = text * (70_000 // max(len(text), 1) + 1)
    return text


def garbage() -> st.SearchStrategy[Any]:
    """Random text or bytes, no corpus."""
    return st.one_of(
        st.text(max_size=200),
        st.text(alphabet=st.sampled_from(SPECIAL + list("ABCSOURVLTMEAS01")), max_size=200),
        st.binary(max_size=200),
    )


# ------------------------------------------------------------------------ harness
@pytest.fixture(scope="module")
def bench() -> SimulatedBench:
    bench = SimulatedBench(rows=2, cols=2, seed=5)
    bench.smus["2636B"].session.interp.max_steps = FUZZ_STEPS
    return bench


SCPI_ERROR = re.compile(r'[+-]?\d+,".*"', re.DOTALL)


def scpi_errors(inst: Any) -> list[str]:
    """Empty the error queue with SYST:ERR?; the entries other than 0."""
    inst.clear()
    entries = []
    for _ in range(40):
        inst.write(":SYST:ERR?")
        entry = inst.read()
        assert entry is not None and SCPI_ERROR.fullmatch(entry), f"bad entry {entry!r}"
        if int(entry.split(",")[0]) == 0:
            return entries
        entries.append(entry)
    raise AssertionError("the error queue never empties")


def end_script(inst: Any) -> None:
    """End a script the input began loading (``loadscript`` without ``endscript``)."""
    inst.clear()
    inst.write("print('probe')")
    if inst.read() != "probe":
        inst.write("endscript")  # the probe was a script line; this may run the script
        for _ in range(100_000):
            if inst.read() is None:
                break


def tsp_errors(inst: Any) -> list[str]:
    end_script(inst)
    inst.write("localnode.prompts = 0")  # the input may have turned prompts on
    inst.clear()
    entries = []
    for _ in range(120):
        inst.write("print(errorqueue.next())")
        entry = inst.read()
        assert entry is not None, "no reply to errorqueue.next()"
        fields = entry.split("\t")  # code, message (may hold tabs), severity, node
        assert len(fields) >= 4 and float(fields[-1]) >= 0, f"bad entry {entry!r}"
        if float(fields[0]) == 0:
            return entries
        # the session's safety net caught a Python exception: a bug, even if contained
        assert "simulator error" not in entry, f"a host function crashed: {entry!r}"
        entries.append(entry)
    raise AssertionError("the error queue never empties")


def feed(inst: Any, message: Any, crashes: Any) -> float:
    """Write one fuzz message, read back what it produced; the time it took (s)."""
    before = len(crashes.records)
    t0 = time.perf_counter()
    inst.write(message)  # must not raise
    for _ in range(100_000):
        if inst.read() is None:
            break
    elapsed = time.perf_counter() - t0
    new = crashes.records[before:]
    if new:
        tail = (new[0].exc_text or "").splitlines()[-1:]
        raise AssertionError(f"a handler crashed: {new[0].getMessage()[:200]} {tail}")
    assert elapsed < INPUT_BUDGET_S, f"took {elapsed:.2f} s"
    return elapsed


def still_answers(inst: Any, idn: str) -> None:
    inst.clear()
    inst.write("*IDN?")
    assert inst.read() == idn, "the instrument no longer answers *IDN?"


# ------------------------------------------------------------------------ SCPI
@pytest.mark.parametrize("model", ["2450", "B2902A"])
def test_scpi_engine_survives_random_and_mutated_messages(model, bench, crashes, tally):
    inst = bench.smus[model]
    idn = inst.idn
    corpus = (
        recorded_messages({"2450": "keithley2450", "B2902A": "keysight_b2902a"}[model]) + SCPI_EXTRA
    )

    @settings(settings.get_profile("robustness"), max_examples=examples(400))
    @given(message=st.one_of(mutated(corpus), mutated(corpus), garbage()))
    def prop(message):
        inst.clear()
        inst.write("*RST;*CLS")
        elapsed = feed(inst, message, crashes)
        errors = scpi_errors(inst)
        note(f"{elapsed:.3f} s; errors {errors[:3]}")
        still_answers(inst, idn)
        tally[f"fuzz SCPI {model}"]["errored" if errors else "accepted"] += 1

    prop()


@pytest.mark.parametrize("model", ["2450", "B2902A"])
def test_an_invalid_scpi_message_always_leaves_an_error(model, bench, crashes, tally):
    inst = bench.smus[model]

    @settings(settings.get_profile("robustness"), max_examples=examples(100))
    @given(tail=st.text(max_size=60), head=st.sampled_from(["QQQ", ":NOPE", "*XYZ", "1", "@"]))
    def prop(head, tail):
        inst.clear()
        inst.write("*RST;*CLS")
        feed(inst, head + tail, crashes)
        errors = scpi_errors(inst)
        assert errors, f"no error for {head + tail!r}"
        assert all(int(e.split(",")[0]) < 0 for e in errors)
        tally[f"fuzz SCPI {model}"]["errored"] += 1

    prop()


# ------------------------------------------------------------------------ TSP
def test_tsp_interpreter_survives_random_and_mutated_messages(bench, crashes, tally):
    inst = bench.smus["2636B"]
    idn = inst.session.identity
    corpus = recorded_messages("keithley2636b") + TSP_EXTRA + TSP_HOSTILE

    @settings(settings.get_profile("robustness"), max_examples=examples(400))
    @given(message=st.one_of(mutated(corpus), mutated(corpus), garbage()))
    def prop(message):
        inst.clear()
        inst.write("*RST\n*CLS\nlocalnode.prompts = 0")
        elapsed = feed(inst, message, crashes)
        errors = tsp_errors(inst)
        note(f"{elapsed:.3f} s; errors {errors[:3]}")
        still_answers(inst, idn)
        tally["fuzz TSP 2636B"]["errored" if errors else "accepted"] += 1

    prop()


@pytest.mark.parametrize("script", TSP_HOSTILE)
def test_a_hostile_script_ends_in_an_error_in_time(script, bench, crashes, tally):
    inst = bench.smus["2636B"]
    inst.clear()
    inst.write("*RST\n*CLS")
    feed(inst, script, crashes)
    errors = tsp_errors(inst)
    assert errors, f"{script[:40]!r} raised no error"
    still_answers(inst, inst.session.identity)
    assert not Path("pwned").exists()
    tally["fuzz TSP 2636B"]["hostile, errored"] += 1


def test_a_runaway_script_is_stopped_by_the_default_budget(crashes):
    inst = SimulatedBench(rows=2, cols=2, seed=5).smus["2636B"]
    t0 = time.perf_counter()
    inst.write("while true do end")
    elapsed = time.perf_counter() - t0
    (entry,) = tsp_errors(inst)
    assert "instruction budget" in entry
    assert elapsed < 10, f"the default budget took {elapsed:.1f} s"
    assert math.isfinite(elapsed)
