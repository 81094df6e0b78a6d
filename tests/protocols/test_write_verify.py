"""write-verify on the simulated bench: healthy cells end inside the band on both access
paths (checked against the model's true conductance too), a stuck cell is reported
outside honestly, bad parameters fail before anything is sent, aborts stop the loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rramlab.errors import LimitError
from rramlab.protocols import write_verify
from rramlab.protocols.base import Aborted, RunContext


def program_one(station, run, cell, target, **changes):
    """Program one cell; returns its rows and the model's conductance right after (a
    run over many cells would let the first ones relax while the others program)."""
    params = write_verify.WriteVerifyParams(cells=(cell,), g_target_S=(target,), **changes)
    data = run(station, write_verify.SPEC, params)
    return data, station.bench.array.conductance_S[cell]


@pytest.mark.parametrize(
    ("via", "targets"),
    [
        ("smu", (2e-6, 8e-6, 30e-6)),
        # the board reads through 12-bit ADCs of 0.24 uS steps at 0.2 V: targets where
        # the 5% band spans several steps
        ("board", (10e-6, 20e-6, 35e-6)),
    ],
)
def test_healthy_cells_end_inside_the_band(station, form, run, via, targets):
    cells = ((0, 0), (1, 2), (3, 3))
    form(station, cells)
    for cell, target in zip(cells, targets, strict=True):
        data, g_true = program_one(station, run, cell, target, via=via)
        last = data.iloc[-1]
        assert last.final and last.inside
        assert abs(last.g_read_S - target) <= 0.05 * target
        assert data.final.sum() == 1 and data.inside.sum() == 1  # stops when inside
        # the cell really is there (read noise and relaxation allowed for)
        assert g_true == pytest.approx(target, rel=0.1), (cell, target, g_true)
        assert last.iteration == len(data) - 1 <= 200
    assert not station.smu.output_enabled


def test_rows_per_iteration(station, form, run):
    form(station, ((2, 2),))
    data, _ = program_one(station, run, (2, 2), 5e-6)
    first = data.iloc[0]
    assert first.iteration == 0 and first.action == "read"  # the read before any pulse
    pulses = data.iloc[1:]
    assert list(pulses.iteration) == list(range(1, len(data)))
    assert set(pulses.action) <= {"set", "reset"}
    assert pulses.action.iloc[0] == "reset"  # formed at 100 uS, above 5 uS
    # SET below the band, RESET above it, as the previous verify said
    before = data.g_read_S.shift().iloc[1:]
    assert ((pulses.action == "set") == (before < 5e-6)).all()
    assert (pulses[pulses.action == "set"].v_pulse_V > 0).all()
    assert (pulses[pulses.action == "reset"].v_pulse_V < 0).all()
    # SET limit: set_headroom x target x 1 V; RESET: the station's limit
    np.testing.assert_allclose(pulses[pulses.action == "set"].i_compliance_A, 2 * 5e-6)
    assert (pulses[pulses.action == "reset"].i_compliance_A == 1e-3).all()
    assert (pulses.v_pulse_V.abs() <= 2.5).all()
    assert data.error_rel.iloc[-1] == pytest.approx(data.g_read_S.iloc[-1] / 5e-6 - 1)


def test_stuck_cell_is_reported_outside(station, form, run, plant_defect):
    form(station, ((0, 1),))
    plant_defect(station, 1, 1, "stuck low")
    params = write_verify.WriteVerifyParams(
        cells=((1, 1), (0, 1)), g_target_S=(20e-6,), max_pulses=40, via="board"
    )
    data = run(station, write_verify.SPEC, params)
    stuck = data[(data.row == 1) & (data.col == 1)]
    assert len(stuck) == 41  # the first read, then every pulse it was allowed
    assert not stuck.inside.any()
    last = stuck.iloc[-1]
    assert last.final and not last.inside
    assert last.g_read_S < 1e-6
    # it tried hard: the amplitude climbed to the maximum
    assert stuck.v_pulse_V.max() == pytest.approx(params.v_max_V)
    healthy = data[(data.row == 0) & (data.col == 1)].iloc[-1]
    assert healthy.final and healthy.inside


def test_one_target_for_all_cells_or_one_each():
    params = write_verify.WriteVerifyParams(cells=((0, 0), (0, 1)), g_target_S=(5e-6,))
    assert params.targets() == [5e-6, 5e-6]
    params = write_verify.WriteVerifyParams(cells=((0, 0), (0, 1)), g_target_S=(5e-6, 7e-6))
    assert params.targets() == [5e-6, 7e-6]
    assert write_verify.WriteVerifyParams(g_target_S=3e-6).g_target_S == (3e-6,)
    from_cli = write_verify.WriteVerifyParams.from_mapping(
        {"cells": "0,0; 0,1", "g_target_S": "5e-6, 7e-6", "width_s": "none"}
    )
    assert from_cli.targets() == [5e-6, 7e-6] and from_cli.width_s is None


def test_default_width_is_the_path_shortest_but_100ns(station):
    assert write_verify.WriteVerifyParams(via="board").pulse_width_s(station) == 100e-9
    assert write_verify.WriteVerifyParams().pulse_width_s(station) == 1e-3


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"v_max_V": 6.0}, LimitError),
        ({"width_s": 1e-7}, LimitError),  # via the 2450: 1 ms at the shortest
        ({"via": "board", "width_s": 1e-8}, LimitError),  # the board: 50 ns
        ({"g_target_S": (1e-3,)}, LimitError),  # SET limit 2 mA > the station's 1 mA
        ({"i_reset_compliance_A": 5e-3}, LimitError),
        ({"cells": ((0, 0), (4, 4)), "g_target_S": (1e-5,)}, LimitError),
    ],
)
def test_bad_station_values_fail_before_anything_is_sent(station, nothing_sent, changes, error):
    params = write_verify.WriteVerifyParams(**changes)
    with nothing_sent(station), pytest.raises(error):
        params.check_station(station)


@pytest.mark.parametrize(
    "changes",
    [
        {"g_target_S": (1e-5, 2e-5)},  # two targets for one cell
        {"g_target_S": (0.0,)},
        {"tol_rel": 0.0},
        {"max_pulses": 0},
        {"v_set_start_V": 3.0},  # above v_max_V
        {"v_reset_start_V": 0.5},
        {"v_step_min_V": 0.1},  # above v_step_V
        {"set_headroom": 0.5},
        {"verify_reads": 0},
    ],
)
def test_bad_values_fail_when_made(changes):
    with pytest.raises(ValueError):
        write_verify.WriteVerifyParams(**changes)


def test_abort_stops_the_loop_with_outputs_off(station, form):
    form(station, ((0, 0),))
    abort = threading.Event()
    ctx = RunContext(station, abort=abort)
    original = ctx.log

    def log(rows):
        original(rows)
        if len(ctx.dataframe()) == 2:
            abort.set()

    ctx.log = log
    with pytest.raises(Aborted):
        write_verify.SPEC.run(ctx, write_verify.WriteVerifyParams(g_target_S=(2e-6,)))
    assert len(ctx.dataframe()) == 2
    assert not station.smu.output_enabled


def test_through_run_protocol(station, form, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.runner import run_protocol

    form(station, ((0, 0),))
    result = run_protocol(
        station, "write-verify", {"g_target_S": "1.5e-5", "via": "board"}, out_dir=tmp_path
    )
    assert result.data.inside.iloc[-1]
    with pytest.raises(LimitError):
        run_protocol(station, "write-verify", {"v_max_V": "7"}, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
