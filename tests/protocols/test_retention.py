"""retention on the simulated bench: the model's retention drift shows in the reads,
and the waits run on the bench's virtual clock."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rramlab.protocols.base import Aborted
from rramlab.protocols.retention import SPEC, RetentionParams
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import open_station

# Above the model's relax_g_scale_S (40 uS) relaxation adds ~1 % per cell, small
# against the drift; mid-range (~20 uS) it adds ~10 % and would swamp a 5 % drift.
G_PROGRAMMED_S = 60e-6


@pytest.fixture
def station():
    """Every cell formed and just programmed to 60 uS (drift runs from programming)."""
    with open_station(seed=4, rows=8, cols=8) as st:
        form_every_cell(st.board)
        st.board.write_verify(np.full((8, 8), G_PROGRAMMED_S), tol_rel=0.05, max_pulses=100)
        yield st


def test_drift_lowers_ln_g_by_nu_ln_t_on_the_virtual_clock(station, run):
    array = station.bench.array
    healthy = (array.defects == "healthy") & array.formed
    age_before = array.cells.age_s.copy()  # s since each cell was programmed
    t0, wall0 = station.clock.now(), time.perf_counter()
    data = run(station, SPEC, RetentionParams(t_min_s=1.0, t_max_s=1e4, points=20))
    wall = time.perf_counter() - wall0
    elapsed = station.clock.now() - t0
    assert 1e4 <= elapsed < 1e4 + 1.0 and wall < 5.0  # virtual time, not wall time

    times = np.sort(data["t_s"].unique())
    assert len(times) == 21 and times[0] == 0.0
    assert np.all(times[1:] >= np.geomspace(1.0, 1e4, 20) * (1 - 1e-9))  # never early
    ok = healthy[data["row"], data["col"]]
    mean_ln_g = data[ok].assign(ln_g=np.log(data["g_S"][ok])).groupby("t_s")["ln_g"].mean()
    drop = mean_ln_g.iloc[-1] - mean_ln_g.iloc[0]
    # The model: ln g falls by nu * ln(1 + age / 1 s); nu is 0.005 +- 0.003 per cell.
    nu = array.population.drift_nu[healthy]
    age_after = array.cells.age_s[healthy]
    expected = -np.mean(nu * (np.log1p(age_after) - np.log1p(age_before[healthy])))
    assert drop < 0
    assert abs(drop - expected) < 0.25 * abs(expected)
    assert abs(drop + 0.005 * np.log1p(1e4)) < 0.4 * 0.005 * np.log1p(1e4)  # ~ -0.046
    # Drift is logarithmic in time: 0 -> 100 s and 100 s -> 10^4 s are each a factor
    # ~100 in (1 + t / 1 s), so each drops ln g by about as much.
    at_100 = mean_ln_g[mean_ln_g.index >= 100].iloc[0]
    first, second = at_100 - mean_ln_g.iloc[0], mean_ln_g.iloc[-1] - at_100
    assert first < 0 and second < 0 and 0.4 < first / second < 2.5


def test_via_smu_reads_cell_0_0_by_default(station, run):
    data = run(station, SPEC, RetentionParams(via="smu", t_max_s=100.0, points=3))
    assert data[["row", "col"]].drop_duplicates().values.tolist() == [[0, 0]]
    assert len(data) == 4
    g0 = station.bench.array.conductance_S[0, 0]
    assert np.allclose(data["g_S"], g0, rtol=0.05)
    assert not station.smu.output_enabled


@pytest.mark.parametrize(
    "values",
    [
        {"t_min_s": 0.0},
        {"t_min_s": 10.0, "t_max_s": 10.0},
        {"t_max_s": float("inf")},
        {"points": 1},
    ],
)
def test_impossible_parameters_are_refused_when_made(values):
    with pytest.raises(ValueError):
        RetentionParams(**values)


@pytest.mark.parametrize("values", [{"col0": 8}, {"via": "board", "v_read_V": 2.0}])
def test_bad_parameters_fail_before_anything_is_sent(station, values):
    seen = station.bench.array.max_voltage_seen_V
    with pytest.raises(ValueError):
        RetentionParams(**values).check_station(station)
    assert np.array_equal(station.bench.array.max_voltage_seen_V, seen)


def test_abort_while_waiting(station, run):
    abort = threading.Event()
    reads = []

    def progress(fraction: float, what: str) -> None:
        reads.append(what)
        if len(reads) == 3:
            abort.set()

    t0 = station.clock.now()
    with pytest.raises(Aborted):
        run(station, SPEC, RetentionParams(via="smu", t_max_s=1e6), abort=abort, progress=progress)
    assert station.clock.now() - t0 < 100  # stopped long before 10^6 s
    assert not station.smu.output_enabled
