"""The interpreter evaluates TSP, never Python: Python names, dunder attributes and
Python syntax are TSP errors in the error queue, and nothing of Python leaks out."""

import numpy as np
import pytest

from rramlab.clock import VirtualClock
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.instruments.keithley2636b import Keithley2636BSim
from rramlab.sim.probe import CellProbe


@pytest.fixture
def smu() -> Keithley2636BSim:
    clock = VirtualClock()
    array = Crossbar(1, 2, clock=clock, seed=0)
    probes = [CellProbe(array, 0, 0), CellProbe(array, 0, 1)]
    return Keithley2636BSim(probes, clock, np.random.default_rng(0))


def errors_of(smu: Keithley2636BSim, source: str) -> list[tuple[int, str]]:
    smu.session.errors.clear()
    smu.write(source)
    return [(e.code, e.message) for e in smu.session.errors.entries()]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('__import__("os")', "attempt to call global `__import__' (a nil value)"),
        ('os.system("echo hacked")', "attempt to call field `system' (a nil value)"),
        ('eval("1+1")', "attempt to call global `eval' (a nil value)"),
        ('exec("x=1")', "attempt to call global `exec' (a nil value)"),
        ('open("/etc/passwd")', "attempt to call global `open' (a nil value)"),
        ("print(getattr(smua, 'reset'))", "attempt to call global `getattr' (a nil value)"),
        ("print(smua.__class__)", "smua has no member `__class__'"),
        ("print(smua.__dict__)", "smua has no member `__dict__'"),
        ("print(smua.source.__init__)", "smua.source has no member `__init__'"),
        ("print(smua.channel)", "smua has no member `channel'"),  # a Python attribute
        ("print(smua.measure.i.__globals__)", "attempt to index field `i' (a function value)"),
        ("print(errorqueue.__class__.__subclasses__())", "errorqueue has no member `__class__'"),
        ("x = ('').__class__", "attempt to index a string value"),
        ("smua.source.__class__ = 1", "cannot create member `__class__' in smua.source"),
        ("smua.source.compliance = true", "attribute `compliance' of smua.source is read-only"),
    ],
)
def test_python_names_and_attributes_are_tsp_runtime_errors(smu, source, message):
    assert errors_of(smu, source) == [(-286, f"TSP Runtime error at line 1: {message}")]


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "x = [i for i in range(3)]",
        "lambda: 1",
        "x = 1 if True else 2",
        "def f(): pass",
        "x = {'a': 1}",
    ],
)
def test_python_syntax_is_a_tsp_syntax_error(smu, source):
    ((code, _),) = errors_of(smu, source)
    assert code == -285


def test_values_print_as_tsp_values_not_python_objects(smu):
    smu.write("print(smua, print, smua.nvbuffer1, tostring(smua.measure.i))")
    (line,) = list(iter(smu.read, None))
    fields = line.split("\t")
    assert [f.split(": ")[0] for f in fields] == ["table", "function", "table", "function"]
    assert all(":" in f and "<" not in f and "rramlab" not in f for f in fields)


def test_the_instrument_keeps_serving_after_hostile_input(smu):
    for source in ('__import__("os").system("x")', "while true do end", "print(smua.__dict__)"):
        smu.write(source)
    smu.session.errors.clear()
    smu.write("print(1 + 1)")
    assert smu.read() == "2.00000e+00"
