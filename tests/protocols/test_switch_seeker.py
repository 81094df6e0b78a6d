"""switch-seeker on the simulated bench: the detected SET and RESET voltages lie in the
range the model's per-cell thresholds give for the pulse width; rows and detection
bookkeeping; bad parameters; abort."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rramlab.errors import LimitError
from rramlab.protocols import switch_seeker
from rramlab.protocols.base import Aborted, RunContext

V_KINETIC_V, T_REF_S = 0.04, 1e-3  # the model's kinetics (docs/crossbar-model.md)
V_RESET_DEPTH_V = 0.1  # RESET depth: e-fold per 0.1 V of overdrive


def expected_ranges(station, row, col, width_s, params, g_lrs_S):
    """(lo, hi) for v_set and for |v_reset| from the cell's thresholds in the model, for
    pulses of ``width_s`` (a faster cell, rate > 1, switches earlier, as a longer pulse).

    SET: a partial SET already multiplies a deep HRS ``factor``-fold below threshold
    (e-fold progress per 40 mV), so down to ~0.25 V below it. RESET: gradual; a
    ``factor``-fold drop from g_lrs needs the RESET depth to pass g_lrs / factor, up to
    ``depth * ln(ceiling / (g_lrs / factor))`` above threshold, and a slow cell lags."""
    pop = station.bench.array.population
    shift = V_KINETIC_V * math.log(pop.rate[row, col] * width_s / T_REF_S)
    v_set = pop.v_set_V[row, col] - shift
    v_reset = pop.v_reset_V[row, col] - shift
    depth = V_RESET_DEPTH_V * math.log(pop.g_ceiling_S[row, col] * params.factor / g_lrs_S)
    step = params.v_step_V
    return (v_set - 0.25, v_set + step + 0.05), (v_reset - 0.1, v_reset + depth + step + 0.1)


@pytest.mark.parametrize(("via", "width_s"), [("smu", 1e-3), ("board", 1e-6)])
def test_detected_voltages_lie_in_the_model_range(station, form, run, via, width_s):
    cells = ((0, 0), (1, 3), (2, 1))
    form(station, cells)
    params = switch_seeker.SwitchSeekerParams(cells=cells, cycles=3, via=via, width_s=width_s)
    data = run(station, switch_seeker.SPEC, params)
    found = switch_seeker.switching_voltages(data).set_index(["row", "col", "cycle"])
    for row, col in cells:
        rows = data[(data.row == row) & (data.col == col)]
        held = rows.width_s.iloc[0]  # the SMU holds a little longer than asked
        assert held >= width_s
        # Formed cells start in LRS: the first SET ramp finds nothing to switch.
        assert math.isnan(found.loc[(row, col, 0)].v_set_V)
        for cycle in range(params.cycles):
            # A RESET's range depends on the state the SET ramp left the cell in.
            resets = rows[(rows.cycle == cycle) & (rows.phase == "reset")]
            g_lrs = resets.g_start_S.iloc[0]
            set_range, reset_range = expected_ranges(station, row, col, held, params, g_lrs)
            v_reset = found.loc[(row, col, cycle)].v_reset_V
            assert reset_range[0] <= -v_reset <= reset_range[1], (row, col, cycle, v_reset)
            if cycle:
                v_set = found.loc[(row, col, cycle)].v_set_V
                assert set_range[0] <= v_set <= set_range[1], (row, col, cycle, v_set)
    assert not station.smu.output_enabled


def test_rows_record_the_ramp_and_the_switch(station, form, run):
    form(station, ((3, 3),))
    params = switch_seeker.SwitchSeekerParams(cells=((3, 3),), cycles=3)
    data = run(station, switch_seeker.SPEC, params)
    for (_, phase), ramp in data.groupby(["cycle", "phase"], sort=False):
        sign = 1 if phase == "set" else -1
        amplitudes = ramp.v_pulse_V.to_numpy()
        np.testing.assert_allclose(np.diff(amplitudes), sign * params.v_step_V, atol=1e-12)
        assert amplitudes[0] == (params.v_set_start_V if sign > 0 else params.v_reset_start_V)
        assert (ramp.g_start_S == ramp.g_start_S.iloc[0]).all()
        column = "v_set_V" if sign > 0 else "v_reset_V"
        if not ramp.switched.any():
            assert len(ramp) == len(params.ramp_V(phase))  # ran to its end
            assert ramp[column].isna().all()
            continue
        # one switch: the first pulse to move the cell factor-fold, its amplitude recorded
        assert ramp.switched.sum() == 1
        hit = int(np.flatnonzero(ramp.switched)[0])
        assert ramp.ratio.iloc[hit] >= params.factor > ramp.ratio.iloc[:hit].max()
        assert ramp[column].iloc[hit] == ramp.v_pulse_V.iloc[hit]
        assert ramp[column].drop(ramp.index[hit]).isna().all()
        # SET stops there; RESET goes on until the cell fell reset_stop_factor-fold
        stop = params.factor if sign > 0 else params.reset_stop_factor
        assert ramp.ratio.iloc[-1] >= stop > ramp.ratio.iloc[:-1].max()
    assert data[data.phase == "reset"].switched.sum() == params.cycles
    # every SET after the first cycle (a formed cell starts in LRS) was found
    assert data[(data.phase == "set") & (data.cycle > 0)].switched.sum() == params.cycles - 1


def test_ratios_floor_deep_reads():
    # A deep HRS reading 0 (below the ADC's resolution) must not look like a huge rise.
    assert switch_seeker._ratio("set", 0.0, 1e-6, 0.5e-6) == pytest.approx(2.0)
    assert switch_seeker._ratio("reset", 1e-4, 0.0, 0.5e-6) == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"v_set_stop_V": 5.5}, LimitError),
        ({"v_reset_stop_V": -5.5}, LimitError),
        ({"width_s": 1e-4}, LimitError),
        ({"i_set_compliance_A": 2e-3}, LimitError),
        ({"i_reset_compliance_A": 2e-3}, LimitError),
        ({"cells": ((5, 0),)}, LimitError),
    ],
)
def test_bad_station_values_fail_before_anything_is_sent(station, nothing_sent, changes, error):
    params = switch_seeker.SwitchSeekerParams(**changes)
    with nothing_sent(station), pytest.raises(error):
        params.check_station(station)


@pytest.mark.parametrize(
    "changes",
    [
        {"v_set_start_V": -0.5},
        {"v_set_stop_V": 0.4},
        {"v_reset_start_V": 0.5},
        {"v_reset_stop_V": -0.4},
        {"v_step_V": 0},
        {"factor": 1.0},
        {"cycles": 0},
        {"g_floor_S": 0},
        {"reset_stop_factor": 4.0},  # below factor
    ],
)
def test_bad_values_fail_when_made(changes):
    with pytest.raises(ValueError):
        switch_seeker.SwitchSeekerParams(**changes)


def test_abort_before_start(station):
    ctx = RunContext(station)
    ctx.abort.set()
    with pytest.raises(Aborted):
        switch_seeker.SPEC.run(ctx, switch_seeker.SwitchSeekerParams())
    assert ctx.dataframe().empty and not station.smu.output_enabled
    assert station.bench.array.max_voltage_seen_V.max() == 0


def test_through_run_protocol(station, form, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.runner import run_protocol

    form(station, ((2, 2),))
    values = {"cells": "2,2", "cycles": "2", "via": "board"}
    result = run_protocol(station, "switch-seeker", values, out_dir=tmp_path / "ok")
    assert result.data.v_reset_V.notna().sum() == 2
    with pytest.raises(LimitError):
        run_protocol(station, "switch-seeker", {"width_s": "1e-5"}, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
