"""program-levels on the simulated bench: healthy cells end at their level, the level
order holds, defective cells are reported outside, the region alone is touched."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from rramlab.protocols.base import Aborted
from rramlab.protocols.program_levels import DEFAULT_LEVELS_S, SPEC, ProgramLevelsParams
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import Station, open_station


@pytest.fixture
def station():
    with open_station(seed=5, rows=8, cols=8) as st:
        form_every_cell(st.board)
        yield st


def test_healthy_cells_reach_their_level_and_defective_ones_are_reported(run):
    stuck = {"frac_stuck_low": 0.04, "frac_stuck_high": 0.04}
    progress = []
    with open_station(seed=7, rows=8, cols=8, params=stuck) as st:
        form_every_cell(st.board)
        data = run(
            st, SPEC, ProgramLevelsParams(rows_per_step=4), progress=lambda f, _: progress.append(f)
        )
        array = st.bench.array
        g_true = pd.Series(array.conductance_S[data["row"], data["col"]])
        healthy = pd.Series((array.defects == "healthy")[data["row"], data["col"]])
    assert len(data) == 64 and progress == [0.5, 1.0]
    assert np.allclose(data["g_target_S"], np.asarray(DEFAULT_LEVELS_S)[data["level"]])
    error = np.abs(g_true - data["g_target_S"]) / data["g_target_S"]
    # Relaxation goes on after the last verify: allow a little more than tol_rel.
    assert np.all(error[healthy] <= 0.08)
    assert data["inside_tolerance"][healthy].all()
    assert (~healthy).sum() >= 3 and not data["inside_tolerance"][~healthy].any()
    # The board's reported reads agree with the cells within the band.
    inside = data["inside_tolerance"]
    target = data["g_target_S"][inside]
    assert np.all(np.abs(data["g_S"][inside] - target) <= 0.05 * target)
    means = g_true[healthy].groupby(data["level"][healthy]).mean()
    assert list(means.index) == list(range(8)) and np.all(np.diff(means) > 0)


def test_a_region_is_programmed_and_nothing_else(station, run):
    before = station.bench.array.conductance_S
    levels = (2e-6, 10e-6, 30e-6)
    params = ProgramLevelsParams(levels_S=levels, pattern="rows", row0=2, col0=3, rows=3, cols=4)
    data = run(station, SPEC, params)
    after = station.bench.array.conductance_S
    region = np.zeros((8, 8), dtype=bool)
    region[2:5, 3:7] = True
    rows, cols = np.nonzero(region)
    assert sorted(zip(data["row"], data["col"], strict=True)) == sorted(
        zip(rows, cols, strict=True)
    )
    assert list(data["level"]) == [0] * 4 + [1] * 4 + [2] * 4  # level = row % 3
    assert data["inside_tolerance"].all() and data["pulses"].min() >= 1
    # Outside the region only aging (drift, relaxation) moves the cells: well under 5%.
    assert np.allclose(after[~region], before[~region], rtol=0.05)
    targets = np.asarray(levels)[data["level"]]
    assert np.allclose(after[data["row"], data["col"]], targets, rtol=0.08)


def test_patterns_lay_out_the_levels(station):
    def levels(**values):
        return ProgramLevelsParams(levels_S=(1e-6, 2e-6, 3e-6), rows=2, cols=4, **values).levels(
            station
        )

    assert levels(pattern="rows").tolist() == [[0] * 4, [1] * 4]
    assert levels(pattern="cols").tolist() == [[0, 1, 2, 0]] * 2
    assert levels(pattern="ramp").tolist() == [[0, 1, 2, 0], [1, 2, 0, 1]]
    assert levels(pattern="checkerboard").tolist() == [[0, 2, 0, 2], [2, 0, 2, 0]]
    random = levels(pattern="random", seed=3)
    assert random.shape == (2, 4) and np.array_equal(random, levels(pattern="random", seed=3))
    explicit = ((0, 1, 2, 2), (2, 1, 0, 0))
    assert levels(pattern="map", level_map=explicit).tolist() == [list(r) for r in explicit]
    assert levels(pattern="map", level_map=np.array(explicit)).tolist() == [
        list(r) for r in explicit
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"levels_S": (2e-6, 1e-6)},  # level 0 must be the lowest
        {"levels_S": (1e-6, -1e-6)},
        {"levels_S": ()},
        {"pattern": "spiral"},
        {"pattern": "map"},  # without a level_map
        {"level_map": ((0, 1),)},  # without pattern="map"
        {"pattern": "map", "level_map": ((0, 9),)},  # no level 9
        {"pattern": "map", "level_map": ((0, 1.5),)},
        {"tol_rel": 0.0},
        {"max_pulses": 0},
        {"v_read_V": 0.0},
    ],
)
def test_impossible_parameters_are_refused_when_made(values):
    with pytest.raises(ValueError):
        ProgramLevelsParams(**values)


@pytest.mark.parametrize(
    "values",
    [
        {"rows": 9},
        {"pattern": "map", "level_map": ((0, 1), (1, 0))},  # 2 x 2, the region is 8 x 8
        {"max_pulses": 1001},  # the board allows 1000 write-verify pulses per cell
        {"v_read_V": 1.2},  # beyond the read DAC
        {"levels_S": (1e-6, 600e-6)},  # 120 uA at 0.2 V: beyond the 100 uA ADC
    ],
)
def test_bad_parameters_fail_before_anything_is_sent(station, values):
    seen = station.bench.array.max_voltage_seen_V
    with pytest.raises(ValueError):
        ProgramLevelsParams(**values).check_station(station)
    assert np.array_equal(station.bench.array.max_voltage_seen_V, seen)


def test_a_station_without_a_board_cannot_program_levels(station):
    probe = Station(name="probe", limits=station.limits, clock=station.clock, smu=station.smu)
    with pytest.raises(ValueError, match="write-verify"):
        ProgramLevelsParams().check_station(probe)


def test_abort_between_steps(station, run):
    abort = threading.Event()

    def stop(fraction: float, what: str) -> None:
        abort.set()

    with pytest.raises(Aborted):
        run(station, SPEC, ProgramLevelsParams(rows_per_step=2), abort=abort, progress=stop)
    assert not station.smu.output_enabled


def test_run_protocol_records_the_levels(station, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.run_log import load_run
    from rramlab.runner import run_protocol

    values = {"rows": "1", "levels_S": "5e-6,20e-6"}
    result = run_protocol(station, "program-levels", values, out_dir=tmp_path)
    data, meta = load_run(result.path)
    assert meta["status"] == "completed" and len(data) == 8
    assert set(data["g_target_S"]) <= {5e-6, 20e-6} and data["inside_tolerance"].all()
