"""endurance on the simulated bench: a short-lived array fails near its endurance and
the protocol stops; a long-lived one completes max_cycles with an open window."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rramlab.protocols.base import Aborted
from rramlab.protocols.endurance import SPEC, EnduranceParams, on_off_ratio
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import open_station

SHORT_LIFE = 200  # full SET/RESET cycles (the model's endurance_cycles)


@pytest.fixture
def station():
    """The default bench: endurance 1e10 cycles."""
    with open_station(seed=3, rows=4, cols=4) as st:
        form_every_cell(st.board)
        yield st


def test_a_short_lived_array_fails_near_its_endurance_and_the_run_stops(run):
    life = {"endurance_cycles": SHORT_LIFE, "endurance_sigma_log10": 0.0}
    with open_station(seed=3, rows=4, cols=4, params=life) as st:
        form_every_cell(st.board)
        params = EnduranceParams(cols=3, max_cycles=5000, verify_every=10)
        data = run(st, SPEC, params)
        stuck = st.bench.array.stuck[0, :3]
        wear = st.bench.array.cycles[0, :3]
    failures = data[data["failed"]]
    assert sorted(failures["col"]) == [0, 1, 2]  # each cell failed once, then was left
    assert data["cycle"].max() < params.max_cycles  # the run stopped at the failures
    # A protocol cycle wears a cell by at most one full-window cycle, so no cell fails
    # before its endurance; partial swings wear less, so it lasts somewhat longer.
    assert np.all(failures["cycle"] >= SHORT_LIFE)
    assert np.all(failures["cycle"] <= 3 * SHORT_LIFE)
    assert stuck.all() and np.all(wear >= SHORT_LIFE)  # the model agrees: worn out
    young = data[data["cycle"] <= SHORT_LIFE // 2]
    assert (young["window"] > 10).all() and not young["failed"].any()
    # Declared after n_failures consecutive verifies below min_window, not before.
    for _, cell in data.groupby("col"):
        tail = cell["window"].to_numpy()[-params.n_failures :]
        assert np.all(~(tail >= params.min_window)) and cell["failed"].iloc[-1]
        assert not cell["failed"].iloc[:-1].any()


def test_a_long_lived_array_completes_max_cycles_with_an_open_window(station, run):
    data = run(station, SPEC, EnduranceParams(cols=2, max_cycles=300, verify_every=50))
    assert sorted(data["cycle"].unique()) == [1, 50, 100, 150, 200, 250, 300]
    assert not data["failed"].any()
    assert (data["window"] > 10).all()
    # The SET lands near the 100 uA compliance / 1 V; the RESET well below.
    assert np.allclose(data["g_on_S"], 100e-6, rtol=0.3)
    assert (data["g_off_S"] < 20e-6).all()
    assert list(data.columns) == "cycle row col g_on_S g_off_S window failed".split()


def test_cycling_through_the_smu(station, run):
    params = EnduranceParams(
        via="smu",
        set_V=1.2,
        set_width_s=1e-3,
        reset_V=-1.5,
        reset_width_s=1e-3,
        max_cycles=10,
        verify_every=5,
    )
    data = run(station, SPEC, params)
    assert list(data["cycle"]) == [1, 5, 10]
    assert (data["window"] > 10).all() and not data["failed"].any()
    assert not station.smu.output_enabled


def test_on_off_ratio_of_unreadable_states():
    ratio = on_off_ratio(np.array([1e-4, 1e-4, 0.0]), np.array([1e-6, 0.0, 0.0]))
    assert ratio[0] == pytest.approx(100) and ratio[1] == np.inf and np.isnan(ratio[2])


@pytest.mark.parametrize(
    "values",
    [
        {"reset_V": 1.0},  # RESET is negative
        {"set_V": -1.0},
        {"set_width_s": 0.0},
        {"max_cycles": 0},
        {"verify_every": 0},
        {"min_window": 1.0},  # a window is a ratio > 1
        {"n_failures": 0},
    ],
)
def test_impossible_parameters_are_refused_when_made(values):
    with pytest.raises(ValueError):
        EnduranceParams(**values)


@pytest.mark.parametrize(
    "values",
    [
        {"via": "smu"},  # 1 us pulses: the 2450's shortest is 1 ms
        {"set_V": 6.0},  # beyond the station's 5 V
        {"reset_width_s": 2.0},  # beyond the station's 1 s
        {"set_compliance_A": 1e-3},  # the board's 3.3 V gate gives ~0.8 mA at most
        {"set_compliance_A": 2e-3},  # beyond the station's 1 mA
        {"cols": 5},  # the array is 4 x 4
    ],
)
def test_bad_parameters_fail_before_anything_is_sent(station, values):
    seen = station.bench.array.max_voltage_seen_V
    with pytest.raises(ValueError):
        EnduranceParams(**values).check_station(station)
    assert np.array_equal(station.bench.array.max_voltage_seen_V, seen)


def test_abort(station, run):
    abort = threading.Event()

    def stop(fraction: float, what: str) -> None:
        abort.set()

    params = EnduranceParams(max_cycles=100, verify_every=10)
    with pytest.raises(Aborted):
        run(station, SPEC, params, abort=abort, progress=stop)
    assert station.bench.array.cycles[0, 0] < 5  # stopped after the first verify


def test_run_protocol_marks_an_aborted_run(station, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.run_log import load_run
    from rramlab.runner import run_protocol

    abort = threading.Event()
    with pytest.raises(Aborted):
        run_protocol(
            station,
            "endurance",
            {"max_cycles": "50", "verify_every": "10"},
            out_dir=tmp_path,
            abort=abort,
            progress=lambda f, what: abort.set(),
        )
    (folder,) = tmp_path.iterdir()
    data, meta = load_run(folder)
    assert meta["status"] == "aborted" and list(data["cycle"]) == [1]
    assert not station.smu.output_enabled
