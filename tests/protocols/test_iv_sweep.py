"""iv-sweep on the simulated bench: after forming, loops SET at the model's threshold
for the sweep's step time and RESET at a negative voltage, respect both compliances and
show hysteresis; the switching-voltage detection on synthetic data; bad parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rramlab.errors import LimitError
from rramlab.protocols import iv_sweep
from rramlab.protocols.base import Aborted, RunContext

V_KINETIC_V, T_REF_S = 0.04, 1e-3  # the model's kinetics (docs/crossbar-model.md)
V_RESET_DEPTH_V = 0.1


@pytest.fixture
def loops(station, form, run):
    """Three loops on two freshly formed cells (LRS ~100 uS)."""
    cells = ((0, 0), (2, 3))
    form(station, cells)
    params = iv_sweep.IvSweepParams(cells=cells, cycles=3)
    return station, params, run(station, iv_sweep.SPEC, params)


def test_rows_are_points_of_bipolar_loops(loops):
    station, params, data = loops
    n = 2 * params.points_per_branch - 1
    assert len(data) == len(params.cells) * params.cycles * 2 * n
    one = data[(data.row == 0) & (data.col == 0) & (data.cycle == 1)]
    assert list(one.branch) == ["set"] * n + ["reset"] * n
    set_v = one[one.branch == "set"].v_source_V.to_numpy()
    reset_v = one[one.branch == "reset"].v_source_V.to_numpy()
    assert set_v[0] == set_v[-1] == 0 and set_v.max() == pytest.approx(params.v_set_peak_V)
    assert reset_v[0] == reset_v[-1] == 0 and reset_v.min() == pytest.approx(params.v_reset_peak_V)
    assert not station.smu.output_enabled


def test_compliance_is_respected(loops):
    _, params, data = loops
    for branch, limit in (("set", params.i_set_compliance_A), ("reset", 1e-3)):
        rows = data[data.branch == branch]
        assert (rows.i_compliance_A == limit).all()
        assert rows.i_A.abs().max() <= limit * 1.001 + 1e-9
    # The SET branch does reach its compliance (the current jumps to it).
    assert (data[data.branch == "set"].i_A >= 0.99 * params.i_set_compliance_A).any()


def test_set_and_reset_voltages_match_the_model(loops):
    station, params, data = loops
    pop = station.bench.array.population
    found = iv_sweep.switching_voltages(data).set_index(["row", "col", "cycle"])
    for row, col in params.cells:
        t_step = data[(data.row == row) & (data.col == col)].t_step_s.iloc[0]
        # Thresholds are for a 1 ms dwell; each sweep point holds t_step (~3 ms).
        v_set = pop.v_set_V[row, col] - V_KINETIC_V * math.log(t_step / T_REF_S)
        v_reset = pop.v_reset_V[row, col] - V_KINETIC_V * math.log(t_step / T_REF_S)
        # A RESET only starts once the depth it aims for is below the present state.
        lrs_depth = V_RESET_DEPTH_V * math.log(pop.g_ceiling_S[row, col] / 100e-6)
        # A formed cell starts in its LRS: no SET in the first cycle.
        assert math.isnan(found.loc[(row, col, 0)].v_set_V)
        for cycle in range(1, params.cycles):
            got = found.loc[(row, col, cycle)].v_set_V
            assert v_set - 0.25 <= got <= v_set + 0.1, (row, col, cycle, got, v_set)
        for cycle in range(params.cycles):
            got = found.loc[(row, col, cycle)].v_reset_V
            assert got < 0
            assert v_reset - 0.1 <= -got <= v_reset + lrs_depth + 0.15, (got, v_reset)
        # The current jumps to compliance soon after the detected SET point (from a deep
        # HRS the chord conductance passes the factor while the SET is under way).
        for cycle in range(1, params.cycles):
            rows = data[(data.row == row) & (data.col == col) & (data.cycle == cycle)]
            rows = rows[rows.branch == "set"].iloc[: params.points_per_branch]
            first_cc = rows[rows.i_A >= 0.99 * params.i_set_compliance_A].v_source_V.iloc[0]
            assert 0 <= first_cc - found.loc[(row, col, cycle)].v_set_V <= 0.25


def test_loops_show_hysteresis(loops):
    _, params, data = loops
    n = params.points_per_branch
    for (_, _, cycle), rows in data.groupby(["row", "col", "cycle"]):
        up = rows[rows.branch == "set"]
        down = rows[rows.branch == "reset"]
        # At +0.5 V: the cell is in HRS going up (after the RESET), LRS coming back.
        i_up = up.i_A.iloc[:n][np.isclose(up.v_source_V.iloc[:n], 0.5)].iloc[0]
        i_back = up.i_A.iloc[n:][np.isclose(up.v_source_V.iloc[n:], 0.5)].iloc[0]
        if cycle > 0:
            assert i_back > 3 * i_up
        # At -0.5 V: LRS going down, HRS coming back.
        j_down = down.i_A.iloc[:n][np.isclose(down.v_source_V.iloc[:n], -0.5)].iloc[0]
        j_back = down.i_A.iloc[n:][np.isclose(down.v_source_V.iloc[n:], -0.5)].iloc[0]
        assert abs(j_down) > 3 * abs(j_back)


def test_detection_on_synthetic_branches():
    v = np.linspace(0, 1.5, 16)
    i_hrs = 2e-6 * v
    assert iv_sweep.detect_set(v, v, i_hrs, 5.0) is None  # no jump
    i = np.where(v >= 0.9, np.minimum(100e-6 * v, 1e-4), i_hrs)
    measured = np.where(i >= 1e-4, 0.7, v)  # the SMU clamps: its voltage drops
    hit = iv_sweep.detect_set(v, measured, i, 5.0)
    assert v[hit] == pytest.approx(0.9)
    # Already in LRS and clamped: the chord conductance barely rises, no SET.
    lrs = np.minimum(100e-6 * v, 1e-4)
    assert iv_sweep.detect_set(v, np.where(lrs >= 1e-4, 1.0, v), lrs, 5.0) is None
    # RESET: the current peaks, then the cell loses conductance.
    vn = -v
    g = np.where(v <= 1.1, 100e-6, 100e-6 * np.exp(-(v - 1.1) * 10))
    peak = iv_sweep.detect_reset(vn, vn, g * vn, 5.0)
    assert vn[peak] == pytest.approx(-1.1)
    assert iv_sweep.detect_reset(vn, vn, 100e-6 * vn, 5.0) is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"v_set_peak_V": 5.5}, LimitError),
        ({"v_reset_peak_V": -5.5}, LimitError),
        ({"i_reset_compliance_A": 5e-3}, LimitError),
        ({"i_set_compliance_A": 1e-10}, LimitError),  # below the 2450's 1 nA
        ({"cells": ((0, 4),)}, LimitError),
        ({"nplc": 20.0}, ValueError),
    ],
)
def test_bad_station_values_fail_before_anything_is_sent(station, nothing_sent, changes, error):
    params = iv_sweep.IvSweepParams(**changes)
    with nothing_sent(station), pytest.raises(error):
        params.check_station(station)


@pytest.mark.parametrize(
    "changes",
    [
        {"v_set_peak_V": -1.0},
        {"v_reset_peak_V": 1.0},
        {"cycles": 0},
        {"points_per_branch": 2},
        {"switch_factor": 1.0},
        {"step_delay_s": -1.0},
        {"i_set_compliance_A": 0.0},
    ],
)
def test_bad_values_fail_when_made(changes):
    with pytest.raises(ValueError):
        iv_sweep.IvSweepParams(**changes)


def test_a_pristine_cell_shows_no_switching(station, run):
    # Below the forming voltage nothing switches; near 0 V the chord |I/V| is the ratio
    # of two noise readings and must not count as a SET.
    data = run(station, iv_sweep.SPEC, iv_sweep.IvSweepParams(cells=((1, 1),), cycles=2))
    assert station.bench.array.conductance_S[1, 1] < 1e-8
    assert data.v_set_V.isna().all() and data.v_reset_V.isna().all()
    assert not data.switched.any()


def test_runs_on_a_station_without_a_board(smu_only_station, station, form, run):
    form(station, ((0, 0),))
    data = run(smu_only_station, iv_sweep.SPEC, iv_sweep.IvSweepParams(cycles=2))
    assert data.v_reset_V.notna().sum() == 2
    with pytest.raises(ValueError, match="outside"):
        iv_sweep.IvSweepParams(cells=((1, 1),)).check_station(smu_only_station)


def test_abort_stops_between_sweeps_with_the_output_off(station):
    ctx = RunContext(station, progress=lambda f, what: ctx.abort.set())
    with pytest.raises(Aborted):
        iv_sweep.SPEC.run(ctx, iv_sweep.IvSweepParams())
    assert set(ctx.dataframe().branch) == {"set"}  # one sweep, then stopped
    assert not station.smu.output_enabled


def test_through_run_protocol(station, form, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.runner import run_protocol

    form(station, ((1, 1),))
    result = run_protocol(
        station, "iv-sweep", {"cells": "1,1", "cycles": "2"}, out_dir=tmp_path / "ok"
    )
    assert result.data.v_reset_V.notna().sum() == 2
    with pytest.raises(LimitError):
        run_protocol(station, "iv-sweep", {"v_set_peak_V": "8"}, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
