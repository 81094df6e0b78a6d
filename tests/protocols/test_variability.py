"""variability on the simulated bench: the HRS spreads more from cycle to cycle than
the compliance-limited LRS (model: 30 % vs 7 %), and cells differ from each other."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from rramlab.protocols.base import Aborted
from rramlab.protocols.variability import SPEC, VariabilityParams, summarize
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import open_station


@pytest.fixture
def station():
    with open_station(seed=2, rows=4, cols=4) as st:
        form_every_cell(st.board)
        yield st


def test_hrs_varies_more_from_cycle_to_cycle_than_lrs(station, run):
    data = run(station, SPEC, VariabilityParams(rows=2, cols=4, cycles=30))
    cycles = data[data["kind"] == "cycle"]
    summary = data[data["kind"] == "summary"].set_index("state")
    assert len(cycles) == 8 * 30 and list(summary.index) == ["lrs", "hrs"]
    assert sorted(cycles["cycle"].unique()) == list(range(30))
    lrs, hrs = summary.loc["lrs"], summary.loc["hrs"]
    assert lrs["n_cells"] == 8 and hrs["n_cells"] == 8
    # The model's cycle-to-cycle spread: 7 % in LRS, up to 30 % in HRS (ln units).
    assert 0.04 < lrs["c2c_sigma_ln"] < 0.12
    assert hrs["c2c_sigma_ln"] > 0.15 and hrs["c2c_sigma_ln"] > 2 * lrs["c2c_sigma_ln"]
    # Device to device: RESET thresholds and rates differ, so HRS medians spread; the
    # LRS is set by the compliance (~I_cc / 1 V) and spreads little, but not zero.
    assert 0 < lrs["d2d_sigma_ln"] < hrs["d2d_sigma_ln"]
    assert lrs["g_median_S"] == pytest.approx(100e-6, rel=0.2)  # 100 uA compliance
    assert hrs["g_median_S"] < lrs["g_median_S"] / 10
    # The summary is the documented function of the cycle rows.
    again = summarize(cycles).set_index("state")
    assert np.allclose(again["c2c_sigma_ln"], summary["c2c_sigma_ln"].astype(float))
    assert cycles["row"].dtype == "Int64" and summary["n_cells"].dtype == "Int64"


def test_summarize_recovers_known_spreads():
    rng = np.random.default_rng(0)
    cells = 40
    medians = 1e-6 * np.exp(0.5 * rng.standard_normal(cells))  # d2d 0.5
    rows = []
    for k, median in enumerate(medians):
        hrs = median * np.exp(0.3 * rng.standard_normal(200))  # c2c 0.3
        lrs = 1e-4 * np.exp(0.07 * rng.standard_normal(200))
        rows.append(pd.DataFrame({"row": 0, "col": k, "g_lrs_S": lrs, "g_hrs_S": hrs}))
    data = pd.concat(rows, ignore_index=True)
    data.loc[0, "g_hrs_S"] = 0.0  # below the read's resolution: left out
    s = summarize(data).set_index("state")
    assert s.loc["hrs", "c2c_sigma_ln"] == pytest.approx(0.3, rel=0.1)
    assert s.loc["lrs", "c2c_sigma_ln"] == pytest.approx(0.07, rel=0.1)
    assert s.loc["hrs", "d2d_sigma_ln"] == pytest.approx(0.5, rel=0.25)
    assert s.loc["lrs", "d2d_sigma_ln"] < 0.03
    assert s.loc["hrs", "n_cells"] == cells


@pytest.mark.parametrize(
    "values",
    [
        {"cycles": 1},  # a spread needs two cycles
        {"set_V": -1.0},
        {"reset_V": 0.0},
        {"set_compliance_A": 0.0},
    ],
)
def test_impossible_parameters_are_refused_when_made(values):
    with pytest.raises(ValueError):
        VariabilityParams(**values)


@pytest.mark.parametrize(
    "values",
    [
        {"rows": 5},
        {"via": "smu"},  # 1 us pulses: the 2450's shortest is 1 ms
        {"reset_V": -5.5},
        {"cells": ((0, 0), (4, 4))},
    ],
)
def test_bad_parameters_fail_before_anything_is_sent(station, values):
    seen = station.bench.array.max_voltage_seen_V
    with pytest.raises(ValueError):
        VariabilityParams(**values).check_station(station)
    assert np.array_equal(station.bench.array.max_voltage_seen_V, seen)


def test_abort(station, run):
    abort = threading.Event()

    def stop(fraction: float, what: str) -> None:
        abort.set()

    with pytest.raises(Aborted):
        run(station, SPEC, VariabilityParams(cycles=10), abort=abort, progress=stop)


def test_run_protocol_keeps_both_kinds_of_rows(station, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.run_log import load_run
    from rramlab.runner import run_protocol

    result = run_protocol(station, "variability", {"cycles": "5", "rows": "1"}, out_dir=tmp_path)
    data, meta = load_run(result.path)
    assert meta["status"] == "completed" and len(data) == 4 * 5 + 2
    summary = data[data["kind"] == "summary"].set_index("state")
    expected = summarize(data).set_index("state")
    assert np.allclose(summary["c2c_sigma_ln"].astype(float), expected["c2c_sigma_ln"])
    assert list(data[data["kind"] == "cycle"]["cycle"].unique()) == list(range(5))
