"""read-map on the simulated bench through the real drivers: the map is the cells' true
conductance within read noise and ADC resolution; bad parameters fail before anything
is sent."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rramlab.protocols.base import Aborted
from rramlab.protocols.read_map import SPEC, ReadMapParams
from rramlab.sim.cell import iv_shape, read_noise_sigma
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import Station, open_station


@pytest.fixture
def station():
    with open_station(seed=11, rows=8, cols=8) as st:
        form_every_cell(st.board)
        yield st


def test_board_map_is_the_true_conductance_within_noise_and_adc_resolution(station, run):
    truth = station.bench.array.conductance_S
    data = run(station, SPEC, ReadMapParams())
    assert len(data) == 64 and set(data["read"]) == {0}
    assert list(data.columns) == ["read", "row", "col", "v_read_V", "i_A", "g_S"]
    g_true = truth[data["row"], data["col"]]
    sigma = read_noise_sigma(g_true, station.bench.array.params)
    lsb_S = 100e-6 / 2047 / 0.2  # 12-bit ADC over +-100 uA, read at 0.2 V
    assert np.all(np.abs(data["g_S"] - g_true) <= 4 * sigma + lsb_S)
    assert np.allclose(data["g_S"], data["i_A"] / data["v_read_V"])


def test_averaging_reads_shrinks_the_error(station, run):
    truth = station.bench.array.conductance_S
    data = run(station, SPEC, ReadMapParams(n_reads=16))
    assert sorted(set(data["read"])) == list(range(16))
    mean = data.groupby(["row", "col"])["g_S"].mean()
    g_true = truth[mean.index.get_level_values(0), mean.index.get_level_values(1)]
    sigma = read_noise_sigma(g_true, station.bench.array.params)
    lsb_S = 100e-6 / 2047 / 0.2
    assert np.all(np.abs(mean - g_true) <= sigma + lsb_S)  # 4 sigma / sqrt(16)


def test_a_cell_beyond_the_adc_range_reads_nan_and_the_map_is_kept(station, run):
    station.connect_smu_to(2, 3)  # SET one cell hard: ~250 uS under a 300 uA limit
    station.smu.pulse_voltage(1.5, 1e-3, current_limit_A=300e-6)
    truth = station.bench.array.conductance_S
    data = run(station, SPEC, ReadMapParams(v_read_V=0.6))
    clipped = data["g_S"].isna().to_numpy()
    # At 0.6 V that cell carries more than the ADC's 100 uA; the others ~35 uA.
    assert data[clipped][["row", "col"]].values.tolist() == [[2, 3]]
    assert truth[2, 3] > 200e-6
    g_true = truth[data["row"], data["col"]][~clipped]
    # I / V at 0.6 V is above g (defined at 0.2 V): the model's sinh I-V, ~1.22 x.
    superlinear = iv_shape(0.6, station.bench.array.params) / 0.6
    assert np.allclose(data["g_S"][~clipped], superlinear * g_true, rtol=0.1)


def test_smu_reads_a_region_cell_by_cell(station, run):
    truth = station.bench.array.conductance_S
    data = run(station, SPEC, ReadMapParams(via="smu", row0=2, col0=5, rows=2, cols=3, nplc=1.0))
    assert list(zip(data["row"], data["col"], strict=True)) == [
        (r, c) for r in (2, 3) for c in (5, 6, 7)
    ]
    assert np.allclose(data["g_S"], truth[2:4, 5:8].ravel(), rtol=0.02)
    assert not station.smu.output_enabled


def test_explicit_cells_are_read_in_the_order_given(station, run):
    data = run(station, SPEC, ReadMapParams(cells=((4, 1), (0, 7))))
    assert list(zip(data["row"], data["col"], strict=True)) == [(4, 1), (0, 7)]
    assert ReadMapParams(cells="4,1; 0,7").cells == ((4, 1), (0, 7))


@pytest.mark.parametrize(
    "values",
    [
        {"rows": 9},  # outside the 8 x 8 array
        {"row0": 6, "rows": 3},
        {"via": "board", "v_read_V": 1.5},  # beyond the board's 1 V read DAC
        {"via": "smu", "v_read_V": 6.0},  # beyond the station's 5 V limit
        {"via": "smu", "nplc": 20.0},  # the 2450 integrates 0.01..10 PLC
    ],
)
def test_bad_parameters_fail_before_anything_is_sent(station, values):
    seen = station.bench.array.max_voltage_seen_V
    with pytest.raises(ValueError):
        ReadMapParams(**values).check_station(station)
    assert np.array_equal(station.bench.array.max_voltage_seen_V, seen)


@pytest.mark.parametrize(
    "values",
    [
        {"v_read_V": 0.0},
        {"n_reads": 0},
        {"via": "probe"},
        {"nplc": 1.0},  # the board's reads have no NPLC
        {"cells": ((0, 0),), "rows": 2},  # cells or a region, not both
        {"rows": 0},
    ],
)
def test_impossible_parameters_are_refused_when_made(values):
    with pytest.raises(ValueError):
        ReadMapParams(**values)


def test_no_board_means_via_smu_and_cell_0_0_only(station):
    probe = Station(name="probe", limits=station.limits, clock=station.clock, smu=station.smu)
    with pytest.raises(ValueError, match="no array board"):
        ReadMapParams().check_station(probe)
    params = ReadMapParams(via="smu")
    params.check_station(probe)
    assert params.selected(probe).tolist() == [[0, 0]]


def test_abort_stops_the_run_with_the_smu_output_off(station, run):
    abort = threading.Event()
    with pytest.raises(Aborted):
        run(
            station,
            SPEC,
            ReadMapParams(via="smu", rows=1, n_reads=5),
            abort=abort,
            progress=lambda fraction, what: abort.set(),
        )
    assert not station.smu.output_enabled


def test_run_protocol_keeps_the_map_in_a_run_folder(station, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.run_log import load_run
    from rramlab.runner import run_protocol

    result = run_protocol(station, "read-map", {"rows": "2", "n_reads": "2"}, out_dir=tmp_path)
    assert len(result.data) == 2 * 8 * 2
    data, meta = load_run(result.path)
    assert meta["status"] == "completed" and len(data) == 32
    with pytest.raises(ValueError):
        run_protocol(station, "read-map", {"rows": 9}, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
