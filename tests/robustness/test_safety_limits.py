"""No protocol parameter can get past a station's safety limits (property-based).

Hypothesis throws random parameter sets at every protocol of the registry on a
simulated 4 x 4 bench: sensible values around the limits, exact and just-beyond limit
values, extremes (0, negative, huge, NaN, inf), wrong types, cells in and out of the
array, every ``via``, parameters given as Python values or as command-line text, and
runs stopped at a random step. Each example starts from the same prepared array (some
cells pristine, some formed and SET, some RESET) with an empty safety record, and must
end in one of two ways:

- **refused**: a ``ValueError`` (``LimitError`` is one) while the parameters are made
  or checked against the station, and then nothing reached an instrument (the virtual
  clock, which every command advances, has not moved) and no cell saw anything;
- **ran**: the protocol completed, or stopped on the abort request.

Either way, afterwards the bench's own record of the largest |voltage| and |current|
each cell ever saw (``Crossbar.max_voltage_seen_V`` / ``max_current_seen_A``) is within
the station's ``max_voltage_V`` / ``max_current_A``, every source output is off, and
so is a stricter record kept by this test: the current at the *start* of every bias
(the model's record keeps the end-of-pulse current, which misses a RESET's inrush).

Two limit sets: ``tight`` (2.5 V, 200 uA, 10 ms: below what the board's pulse generator
and full word line can do, so the checks must refuse those paths) and ``default`` (the
simulated station's 5 V, 1 mA, 1 s, where the board paths run).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import typing
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from rramlab.errors import InstrumentError, LimitError, RramlabError
from rramlab.limits import SafetyLimits
from rramlab.protocols import registry
from rramlab.protocols.base import Aborted, RunContext
from rramlab.protocols.program_levels import PATTERNS
from rramlab.runner import make_params
from rramlab.sim import cell as sim_cell
from rramlab.station import DEFAULT_SIM_LIMITS, DEFAULT_SIMULATION, open_simulated_station

ROWS = COLS = 4
LIMIT_SETS = {
    "tight": SafetyLimits(max_voltage_V=2.5, max_current_A=200e-6, max_pulse_width_s=10e-3),
    "default": DEFAULT_SIM_LIMITS,
}
#: the benches examples run on: (limit set, simulated SMU model)
BENCHES = [("tight", "2450"), ("default", "2450"), ("tight", "B2902A"), ("default", "2636B")]
#: slack of the comparisons with the limits (float32 blocks, rounding of fmt())
REL_TOL = 1e-6
#: the most abort checks a run may make before it is stopped (keeps huge counts cheap)
MAX_STEPS = 60


def examples(default: int) -> int:
    value = os.environ.get("RRAMLAB_FUZZ_EXAMPLES")
    return int(value) if value else default


# ------------------------------------------------------------------------ the bench
class InrushMonitor:
    """The largest |current| at the start of any bias the crossbar applies: the cell's
    conductance before the pulse at the pulse's voltage, under the pulse's limit."""

    def __init__(self) -> None:
        self.peak_A = 0.0
        self._original = sim_cell.apply_bias

    def __call__(self, **kw: Any):
        v = np.asarray(kw["v_V"], dtype=float)
        limit = np.asarray(kw["i_limit_A"], dtype=float)
        start = np.abs(np.clip(sim_cell.cell_current(kw["g_S"], v, kw["p"]), -limit, limit))
        if start.size:
            self.peak_A = max(self.peak_A, float(np.max(start)))
        return self._original(**kw)


@dataclasses.dataclass
class Bench:
    station: Any
    snapshot: Any
    limits: SafetyLimits

    def restore(self) -> None:
        self.station.bench.array.restore(self.snapshot)


def prepare(station) -> Any:
    """The array as a lab might find it (history from before these limits, applied
    to the model directly): cells (3, 2) and (3, 3) pristine, the rest formed under
    150 uA, every other one of those RESET; then the safety record emptied. Returns
    the snapshot every example starts from."""
    array = station.bench.array
    formed = np.ones((ROWS, COLS), dtype=bool)
    formed[3, 2:] = False
    array.pulse(3.4, 1e-3, mask=formed, compliance_A=150e-6)
    reset = formed & (np.add.outer(np.arange(ROWS), np.arange(COLS)) % 2 == 1)
    array.pulse(-1.5, 1e-3, mask=reset)
    assert array.formed[formed].all() and not array.formed[~formed].any()
    snap = array.snapshot()
    snap.cells.v_max_seen_V[:] = 0.0
    snap.cells.i_max_seen_A[:] = 0.0
    return snap


@pytest.fixture(scope="module")
def monitor() -> Iterator[InrushMonitor]:
    watch = InrushMonitor()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim_cell, "apply_bias", watch)
        yield watch


@pytest.fixture(scope="module")
def benches(monitor) -> Iterator[dict[tuple[str, str], Bench]]:
    out = {}
    for name, smu in BENCHES:
        simulation = {**DEFAULT_SIMULATION, "seed": 11, "rows": ROWS, "cols": COLS, "smu": smu}
        limits = LIMIT_SETS[name]
        station = open_simulated_station(simulation, limits=limits, name=f"{name} {smu} bench")
        out[name, smu] = Bench(station, prepare(station), limits)
    yield out
    for bench in out.values():
        bench.station.close()


# ------------------------------------------------------------------------ strategies
def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))


def edges(*values: float) -> st.SearchStrategy[float]:
    """The values, and each one a hair beyond (the next float away from zero)."""
    out = []
    for v in values:
        out += [v, math.nextafter(v, math.copysign(math.inf, v) if v else math.inf)]
    return st.sampled_from(out)


# the limits of both sets and the instruments' ranges, each side of zero
V_EDGES = (0.2, 1.0, 1.8, 2.5, 3.0, 3.3, 5.0)
I_EDGES = (1e-9, 50e-6, 100e-6, 200e-6, 784e-6, 1e-3)
W_EDGES = (50e-9, 1e-6, 1e-3, 10e-3, 1.0)


def volts(sign: int = 0, top: float = 5.5) -> st.SearchStrategy[float]:
    magnitude = st.one_of(st.floats(0, top), edges(*V_EDGES))
    if sign:
        return magnitude.map(lambda v: sign * v)
    return st.builds(lambda m, s: s * m, magnitude, st.sampled_from([1.0, -1.0]))


def read_volts() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(0.05, 1.1), edges(0.1, 0.2, 0.4, 1.0), st.floats(-1.1, -0.05), volts()
    )


def amps() -> st.SearchStrategy[float]:
    return st.one_of(log_uniform(1e-9, 2e-3), edges(*I_EDGES))


def seconds() -> st.SearchStrategy[float]:
    return st.one_of(log_uniform(20e-9, 2.0), edges(*W_EDGES))


def siemens() -> st.SearchStrategy[float]:
    return st.one_of(log_uniform(1e-7, 2e-3), st.sampled_from([0.5e-6, 35e-6, 100e-6, 1e-3]))


def small(lo: int = 1, hi: int = 3) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


def cell() -> st.SearchStrategy[tuple[int, int]]:
    # 0..3 inside the 4 x 4 array, 4 and 5 outside it
    return st.tuples(st.integers(0, 5), st.integers(0, 5))


def cells(max_size: int = 3) -> st.SearchStrategy[Any]:
    inside = st.lists(
        st.tuples(st.integers(0, ROWS - 1), st.integers(0, COLS - 1)),
        min_size=1,
        max_size=max_size,
        unique=True,
    )
    anywhere = st.lists(cell(), min_size=0, max_size=max_size)  # outside, twice, none
    return st.one_of(
        inside.map(tuple),
        inside.map(tuple),
        inside.map(lambda cs: "; ".join(f"{r},{c}" for r, c in cs)),  # as on the CLI
        anywhere.map(tuple),
    )


#: wrong on purpose: bad types and bad numbers, for any field
WILD_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    0,
    0.0,
    -0.0,
    -1,
    -1e-3,
    1e300,
    -1e300,
    10**30,
    2**63,
    10**400,  # beyond any float
    True,
    False,
    None,
    "",
    "abc",
    "1e-3",
    "nan",
    "x" * 10_000,
    "0,0; 9,9",
    [],
    (),
    {},
    {"a": 1},
    [[0, 0]],
    [[1, 2], [3]],
    ((0, 0), (0, 0)),
    ((-1, 0),),
    ((0.5, 1),),
    ((True, False),),
    ((0,),),
    (((0, 0),),),
    [1e-5],
    (math.nan,),
    range(3),
    b"\x00",
    1 + 2j,
    np.float64(np.nan),
    np.int64(2),
    np.float32(1e-3),
    np.array([1.0, 2.0]),
    np.array(1.0),
    object(),
]
WILD = st.one_of(
    st.sampled_from(WILD_VALUES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
)

#: sensible values of each parameter (all protocols), straddling the limits
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "cells": cells(),
    "via": st.sampled_from(["smu", "board"]),
    # voltages
    "v_start_V": volts(+1),
    "v_stop_V": volts(+1),
    "v_step_V": st.one_of(st.floats(0.05, 1.0), edges(0.1, 0.5)),
    "v_pulse_V": volts(),
    "v_set_peak_V": volts(+1),
    "v_reset_peak_V": volts(-1),
    "v_set_start_V": volts(+1, top=2.0),
    "v_set_stop_V": volts(+1),
    "v_reset_start_V": volts(-1, top=2.0),
    "v_reset_stop_V": volts(-1),
    "v_max_V": volts(+1),
    "v_step_min_V": st.floats(0.005, 0.1),
    "set_V": volts(+1),
    "reset_V": volts(-1),
    "v_read_V": read_volts(),
    "v_sample_V": read_volts(),
    # currents
    "compliance_start_A": amps(),
    "compliance_max_A": amps(),
    "i_set_compliance_A": amps(),
    "i_reset_compliance_A": st.one_of(st.none(), amps()),
    "i_compliance_A": st.one_of(st.none(), amps()),
    "set_compliance_A": amps(),
    # times
    "width_s": seconds(),
    "set_width_s": seconds(),
    "reset_width_s": seconds(),
    "step_delay_s": st.one_of(st.just(0.0), seconds()),
    "t_min_s": log_uniform(1e-3, 1e3),
    "t_max_s": log_uniform(1e-2, 1e7),
    # conductances and ratios
    "formed_threshold_S": siemens(),
    "g_target_S": st.one_of(siemens(), st.lists(siemens(), min_size=1, max_size=3).map(tuple)),
    "g_floor_S": siemens(),
    "levels_S": st.lists(siemens(), min_size=1, max_size=4).map(lambda g: tuple(sorted(g))),
    "compliance_factor": st.floats(1.0, 10.0),
    "switch_factor": st.floats(1.0, 10.0),
    "factor": st.floats(1.0, 10.0),
    "reset_stop_factor": st.floats(1.0, 20.0),
    "set_headroom": st.floats(0.5, 5.0),
    "min_window": st.floats(0.5, 10.0),
    "tol_rel": st.floats(0.0, 1.2),
    "nplc": st.one_of(st.none(), st.floats(0.005, 12.0)),
    # counts (small: the run must stay cheap)
    "cycles": small(1, 2),
    "count": small(1, 4),
    "read_every": small(1, 3),
    "points_per_branch": small(2, 12),
    "max_pulses": small(1, 8),
    "verify_reads": small(1, 2),
    "n_reads": small(1, 4),
    "sample_every": small(1, 3),
    "points": small(1, 4),
    "max_cycles": small(1, 4),
    "verify_every": small(1, 3),
    "n_failures": small(1, 2),
    "seed": st.integers(0, 5),
    "rows_per_step": st.one_of(st.none(), small(1, 4)),
    # regions
    "row0": st.integers(0, 4),
    "col0": st.integers(0, 4),
    "rows": st.one_of(st.none(), st.integers(1, 5)),
    "cols": st.one_of(st.none(), st.integers(1, 5)),
    "pattern": st.sampled_from(PATTERNS),
    "level_map": st.one_of(
        st.none(),
        st.integers(1, 4).flatmap(
            lambda w: st.lists(
                st.lists(st.integers(0, 3), min_size=w, max_size=w).map(tuple),
                min_size=1,
                max_size=4,
            ).map(tuple)
        ),
    ),
}


def by_type(hint: Any) -> st.SearchStrategy[Any]:
    """Values for a parameter FIELDS does not know (a protocol added later), from its
    type: the property test covers it at once, if less pointedly."""
    args = typing.get_args(hint)
    if type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return st.one_of(st.none(), by_type(inner))
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(0, 5)
    if hint is float:
        return st.one_of(volts(), amps(), seconds(), siemens())
    if hint is str:
        return st.one_of(st.sampled_from(["smu", "board"]), st.text(max_size=8))
    if typing.get_origin(hint) is tuple:
        inner = args[0] if args else float
        if typing.get_origin(inner) is tuple:
            return cells()
        return st.lists(by_type(inner), min_size=1, max_size=4).map(tuple)
    return WILD


def field_values(name: str, hint: Any) -> st.SearchStrategy[Any]:
    return FIELDS[name] if name in FIELDS else by_type(hint)


#: what keeps a protocol's default run short when a field is left alone
CHEAP = {
    "forming": {"v_step_V": 0.25},
    "iv-sweep": {"cycles": 1, "points_per_branch": 6},
    "pulse": {"count": 3},
    "switch-seeker": {"cycles": 1, "v_step_V": 0.25},
    "write-verify": {"max_pulses": 6, "verify_reads": 1},
    "program-levels": {"max_pulses": 5},
    "retention": {"points": 3},
    "endurance": {"max_cycles": 3, "verify_every": 1},
    "read-disturb": {"n_reads": 3, "sample_every": 1},
    "variability": {"cycles": 2},
}


def as_text(value: Any) -> Any:
    """A value as the command line would give it (``--set name=text``)."""
    if value is None:
        return "none"
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
        return "; ".join(",".join(str(x) for x in v) for v in value)
    if isinstance(value, tuple):
        return ", ".join(repr(v) for v in value)
    if isinstance(value, (int, float, str)):
        return str(value)
    return value


@st.composite
def parameter_sets(draw, protocol: str) -> tuple[dict[str, Any], bool]:
    """A mapping of parameter values for ``protocol`` and whether to pass it as text."""
    spec = registry.get(protocol)
    names = [f.name for f in dataclasses.fields(spec.params)]
    values = dict(CHEAP.get(protocol, {}))
    # mostly a few fields changed from the defaults (which gets past the checks often
    # enough to run), sometimes any number of them
    hints = typing.get_type_hints(spec.params)
    n = draw(st.one_of(st.integers(0, 3), st.integers(0, len(names))))
    for name in draw(st.permutations(names))[:n]:
        # (hypothesis favours the ends of a range: the rare cases are in its middle)
        if draw(st.integers(0, 20)) == 7:
            values[name] = draw(WILD)
        elif type(None) in typing.get_args(hints[name]):
            values[name] = draw(field_values(name, hints[name]))
        else:
            values[name] = draw(field_values(name, hints[name]).filter(lambda v: v is not None))
    if values.get("pattern") == "map" and "level_map" in names and "level_map" not in values:
        values["level_map"] = draw(FIELDS["level_map"])
    if draw(st.integers(0, 40)) == 13:
        values[draw(st.sampled_from(["bogus", "V_READ_V", "cell"]))] = 1
    return values, draw(st.integers(0, 8)) == 3


# ------------------------------------------------------------------------ the property
class StepBudget(threading.Event):
    """An abort flag that turns itself on at the ``steps``-th check: runs of any length
    stay cheap, and runs are stopped at every possible step."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.left = steps

    def is_set(self) -> bool:
        self.left -= 1
        if self.left < 0:
            self.set()
        return super().is_set()


def record(station) -> tuple[float, float]:
    array = station.bench.array
    return float(array.max_voltage_seen_V.max()), float(array.max_current_seen_A.max())


def outputs_on(station) -> list[str]:
    on = [f"driver {station.smu.name}"] if station.smu.output_enabled else []
    on += [f"sim {model}" for model, smu in station.bench.smus.items() if _sim_output_on(smu)]
    return on


def _sim_output_on(smu: Any) -> bool:
    """Whether any channel of a simulated SMU (2450: ``channel``; 2636B: ``channels``;
    B2902A: ``states[i].channel``) has its output on."""
    channels = [getattr(smu, "channel", None), *getattr(smu, "channels", [])]
    channels += [getattr(state, "channel", None) for state in getattr(smu, "states", [])]
    return any(getattr(c, "output_on", False) for c in channels if c is not None)


def log_failure(protocol: str, values: dict[str, Any], error: Exception) -> None:
    """Append a run that failed (not a test failure) to ``$RRAMLAB_FUZZ_LOG``, if set."""
    path = os.environ.get("RRAMLAB_FUZZ_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{protocol}\t{values!r:.500}\t{error!r:.300}\n")


def check_protocol(bench: Bench, monitor: InrushMonitor, protocol: str, data, tally) -> str:
    """One example (see the module docs); returns its outcome."""
    station, limits = bench.station, bench.limits
    bench.restore()
    monitor.peak_A = 0.0
    spec = registry.get(protocol)
    values, as_cli = data.draw(parameter_sets(protocol), label="params")
    steps = data.draw(st.one_of(st.just(MAX_STEPS), st.integers(0, MAX_STEPS)), label="abort")
    if as_cli:
        values = {k: as_text(v) for k, v in values.items()}
    t0 = station.clock.now()
    try:
        params = make_params(spec, values)
        params.check_station(station)
    except ValueError as refused:
        # nothing reached an instrument (every command costs virtual time) or a cell
        assert station.clock.now() == t0, f"refused after sending: {refused}"
        assert record(station) == (0.0, 0.0)
        outcome = "refused"
    else:
        ctx = RunContext(station, abort=StepBudget(steps))
        try:
            spec.run(ctx, params)
            outcome = "completed"
        except Aborted:
            outcome = "aborted"
        except LimitError as late:
            # A driver refused a value the protocol's checks let through: acceptable
            # only before any cell saw a bias (then it is a gap in the checks' reach,
            # not in the safety: see docs/safety.md).
            note(f"refused by a driver: {late!r}")
            log_failure(protocol, values, late)
            assert record(station) == (0.0, 0.0), f"refused after biasing cells: {late}"
            outcome = "refused by a driver"
        except InstrumentError as error:
            # the instrument reported a condition (e.g. a read beyond the board's ADC):
            # the run fails with a clear error, outputs off
            note(f"run failed: {error!r}")
            outcome = f"failed: {type(error).__name__}"
            log_failure(protocol, values, error)
        finally:
            station.all_outputs_off()  # what run_protocol does on any exception
    v_max, i_max = record(station)
    note(
        f"{station.name}: {limits}; outcome {outcome}; record {v_max:g} V, {i_max:g} A; "
        f"inrush {monitor.peak_A:g} A"
    )
    tally[f"safety {protocol}"][outcome] += 1
    violations = []
    if v_max > limits.max_voltage_V * (1 + REL_TOL):
        violations.append(f"a cell saw {v_max:g} V > max_voltage_V {limits.max_voltage_V:g}")
    if i_max > limits.max_current_A * (1 + REL_TOL):
        violations.append(f"a cell carried {i_max:g} A > max_current_A {limits.max_current_A:g}")
    if monitor.peak_A > limits.max_current_A * (1 + REL_TOL):
        violations.append(
            f"a bias started at {monitor.peak_A:g} A > max_current_A {limits.max_current_A:g}"
        )
    tally["safety: limit violations"][protocol] += len(violations)
    assert not violations, "; ".join(violations)
    assert not outputs_on(station), f"outputs left on: {outputs_on(station)}"
    return outcome


@pytest.mark.parametrize("protocol", registry.names())
def test_no_parameter_gets_past_the_safety_limits(protocol, benches, monitor, tally):
    @settings(settings.get_profile("robustness"), max_examples=examples(150))
    @given(bench=st.sampled_from(BENCHES), data=st.data())
    def prop(bench, data):
        check_protocol(benches[bench], monitor, protocol, data, tally)

    prop()
    outcomes = tally[f"safety {protocol}"]
    # the strategies must reach the instruments often, not only test the checks
    assert outcomes["completed"] + outcomes["aborted"] >= 0.1 * sum(outcomes.values())


@pytest.mark.parametrize("protocol", registry.names())
def test_every_wrong_value_of_every_parameter_is_a_value_error(protocol, benches, tally):
    """Each parameter set to each value of WILD_VALUES, from Python and as command-line
    text: the parameters are made and checked, or refused with a ValueError; nothing
    reaches the bench either way (the refusal of a combination is the property test's)."""
    station = benches["default", "2450"].station  # (the tight one refuses board paths)
    spec = registry.get(protocol)
    t0 = station.clock.now()
    for field in dataclasses.fields(spec.params):
        for value in WILD_VALUES:
            for text in (False, True):
                if text and not isinstance(value, (int, float, str)):
                    continue
                given_value = as_text(value) if text else value
                try:
                    make_params(spec, {field.name: given_value}).check_station(station)
                    outcome = "accepted"
                except ValueError:
                    outcome = "refused"
                tally[f"safety wrong values {protocol}"][outcome] += 1
    assert station.clock.now() == t0


# ------------------------------------------------------------------------ the board's computing
# (an INV on an ill-conditioned block diverges in the model's nonlinear solve, which
# overflows numpy (sinh, NaN Jacobians) on the way to its "unstable" answer, ERR 311)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_inv_inputs_within_the_limits_keep_the_cells_within_them(benches, monitor, tally):
    bench = benches["tight", "2450"]
    board, limits = bench.station.board, bench.limits

    @settings(settings.get_profile("robustness"), max_examples=examples(60))
    @given(
        n=st.integers(1, ROWS),
        corner=st.tuples(st.integers(0, ROWS - 1), st.integers(0, COLS - 1)),
        currents=st.lists(st.floats(-1.1e-4, 1.1e-4), min_size=ROWS, max_size=ROWS),
    )
    def prop(n, corner, currents):
        bench.restore()
        monitor.peak_A = 0.0
        try:
            board.inv(np.array(currents[:n]), row0=corner[0], col0=corner[1])
            outcome = "completed"
        except ValueError:
            outcome = "refused"
        except (InstrumentError, RramlabError):
            outcome = "failed"  # unstable or saturated: the board says so
        v_max, i_max = record(bench.station)
        assert v_max <= limits.max_voltage_V * (1 + REL_TOL)
        assert max(i_max, monitor.peak_A) <= limits.max_current_A * (1 + REL_TOL)
        tally["safety board INV"][outcome] += 1

    prop()


def test_mvm_inputs_cannot_drive_a_cell_beyond_the_current_limit(benches, monitor):
    """An MVM input, like a board read, has no current limiter: the driver refuses
    inputs that would push more than max_current_A through a cell at the top of the
    board's read range (docs/safety.md), unsent; inputs within the bound run and keep
    every cell within the limit, whatever the array holds."""
    bench = benches["tight", "2450"]
    station, limits = bench.station, bench.limits
    caps = station.board.capabilities
    top_V = limits.max_current_A * caps.read_voltage_V / caps.adc_range_A  # 0.4 V here
    for v in (1.0, math.nextafter(top_V, 1.0) * 1.001, -0.5):
        bench.restore()
        t0 = station.clock.now()
        with pytest.raises(LimitError, match="no current limit"):
            station.board.mvm(np.full(ROWS, v))
        assert station.clock.now() == t0 and record(station) == (0.0, 0.0)
    with pytest.raises(LimitError, match="no current limit"):
        station.board.set_read_voltage(0.5)
    bench.restore()
    monitor.peak_A = 0.0
    # the most the bound allows, on every row of the prepared array (formed cells too)
    try:
        station.board.mvm(np.full(ROWS, top_V))
    except InstrumentError:
        pass  # the column sums may clip the ADCs (ERR 300): the board says so
    assert record(station)[0] > 0  # it ran
    assert max(record(station)[1], monitor.peak_A) <= limits.max_current_A * (1 + REL_TOL)
