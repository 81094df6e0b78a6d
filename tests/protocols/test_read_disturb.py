"""read-disturb on the simulated bench: 0.2 V reads leave the cells alone; reads at a
raised voltage push them up (towards SET)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rramlab.protocols.base import Aborted
from rramlab.protocols.read_disturb import SPEC, ReadDisturbParams
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import open_station

G_PROGRAMMED_S = 50e-6


@pytest.fixture
def station():
    """Every cell formed and programmed to 50 uS: below the SET state (~250 uS under
    the reads' 1 mA limit), and where the model's relaxation is small (~1 %)."""
    with open_station(seed=5, rows=4, cols=4) as st:
        form_every_cell(st.board)
        wv = st.board.write_verify(np.full((4, 4), G_PROGRAMMED_S), tol_rel=0.05, max_pulses=100)
        assert not wv.outside.any() and (st.bench.array.defects == "healthy").all()
        yield st


def by_count(data):
    return data.pivot(index="read_count", columns="col", values="g_S")


def test_reads_at_0_2_V_barely_change_g(station, run):
    params = ReadDisturbParams(
        via="smu", cols=2, v_read_V=0.2, nplc=1.0, n_reads=100, sample_every=25
    )
    g = by_count(run(station, SPEC, params))
    assert list(g.index) == [0, 25, 50, 75, 100]
    change = (g.iloc[-1] - g.iloc[0]) / g.iloc[0]
    assert np.all(np.abs(change) < 0.03)  # retention drift and noise only


def test_reads_at_a_raised_voltage_set_the_cells(station, run):
    params = ReadDisturbParams(
        via="smu", cols=2, v_read_V=0.7, nplc=10.0, n_reads=100, sample_every=25
    )
    data = run(station, SPEC, params)
    g = by_count(data)
    assert (data["v_read_V"] == 0.7).all()
    # 0.7 V held for 0.2 s per read, a little below the 1 V SET threshold: each read
    # moves the cells part of the way to the SET state (soft bounds), never down.
    assert np.all(g.iloc[-1] > 2 * g.iloc[0])
    assert np.all(np.diff(g.to_numpy(), axis=0) > -0.05 * g.to_numpy()[:-1])
    assert np.allclose(g.iloc[-1], station.bench.array.conductance_S[0, :2], rtol=0.05)


def test_board_reads_only_the_selected_cells(station, run):
    before = station.bench.array.conductance_S
    data = run(
        station,
        SPEC,
        ReadDisturbParams(row0=1, col0=2, v_read_V=1.0, n_reads=1000, sample_every=500),
    )
    after = station.bench.array.conductance_S
    assert list(data["read_count"]) == [0, 500, 1000]
    assert after[1, 2] > 1.2 * before[1, 2]  # 1 ms at 1 V in 1 us reads: SET creeps
    others = np.ones((4, 4), dtype=bool)
    others[1, 2] = False
    assert np.allclose(after[others], before[others], rtol=0.05)


def test_the_last_sample_is_taken_after_the_last_read(station, run):
    data = run(station, SPEC, ReadDisturbParams(n_reads=7, sample_every=3))
    assert list(data["read_count"]) == [0, 3, 6, 7]


@pytest.mark.parametrize(
    "values",
    [
        {"n_reads": 0},
        {"sample_every": 0},
        {"v_sample_V": 0.0},
        {"nplc": 10.0},  # the board's reads have a fixed width
    ],
)
def test_impossible_parameters_are_refused_when_made(values):
    with pytest.raises(ValueError):
        ReadDisturbParams(**values)


@pytest.mark.parametrize(
    "values",
    [
        {"v_read_V": 1.5},  # beyond the board's 1 V read DAC
        {"v_sample_V": -1.2},
        {"via": "smu", "nplc": 11.0},  # the 2450 integrates at most 10 PLC
        {"via": "smu", "v_read_V": 5.5},  # beyond the station's 5 V
        {"row0": 4},
    ],
)
def test_bad_parameters_fail_before_anything_is_sent(station, values):
    seen = station.bench.array.max_voltage_seen_V
    with pytest.raises(ValueError):
        ReadDisturbParams(**values).check_station(station)
    assert np.array_equal(station.bench.array.max_voltage_seen_V, seen)


def test_abort_leaves_the_smu_output_off(station, run):
    abort = threading.Event()

    def stop(fraction: float, what: str) -> None:
        abort.set()

    with pytest.raises(Aborted):
        run(
            station,
            SPEC,
            ReadDisturbParams(via="smu", n_reads=50, sample_every=10),
            abort=abort,
            progress=stop,
        )
    assert not station.smu.output_enabled
    channel = station.bench.smus["2450"]
    assert not getattr(channel, "channel", channel).output_on
