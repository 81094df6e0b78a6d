"""Fixtures for protocol tests: small simulated benches reached through the real drivers,
a way to run a protocol without a run folder, defects planted in a cell, and a check
that nothing reached the instruments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rramlab.protocols.base import ProtocolSpec, RunContext
from rramlab.sim.population import STUCK_HIGH, STUCK_LOW, UNFORMABLE
from rramlab.sim.state import NOT_STUCK
from rramlab.station import Station, open_station


@pytest.fixture
def make_station() -> Iterator[Callable[..., Station]]:
    """``make_station(seed=, rows=, cols=)``: a simulated bench (2450 SMU + array
    board), closed after the test."""
    opened: list[Station] = []

    def make(seed: int = 8, rows: int = 4, cols: int = 4, smu: str = "2450") -> Station:
        station = open_station(seed=seed, rows=rows, cols=cols, smu=smu)
        opened.append(station)
        return station

    yield make
    for station in opened:
        station.close()


@pytest.fixture
def station(make_station) -> Station:
    """A 4 x 4 simulated bench, every cell healthy and pristine (seed 8 has no defect:
    tests plant the ones they need)."""
    station = make_station()
    assert (station.bench.array.defects == "healthy").all()
    return station


@pytest.fixture
def smu_only_station(station) -> Station:
    """The same SMU without an array board: a single-device probe station."""
    return Station(
        name="probe station",
        limits=station.limits,
        clock=station.clock,
        smu=station.smu,
        board=None,
        instruments={"smu": station.smu},
    )


def run_spec(station: Station, spec: ProtocolSpec, params: Any, **context: Any) -> pd.DataFrame:
    """Check ``params`` against the station as run_protocol does, run the protocol with
    its rows kept in memory, and return them."""
    params.check_station(station)
    ctx = RunContext(station, **context)
    spec.run(ctx, params)
    return ctx.dataframe()


@pytest.fixture
def run() -> Callable[..., pd.DataFrame]:
    """``run(station, SPEC, params)``: see :func:`run_spec`."""
    return run_spec


@pytest.fixture
def form() -> Callable[..., pd.DataFrame]:
    """``form(station, cells, compliance_A=100e-6)``: form cells through the board
    (fast), so they start in a compliance-limited LRS near I_cc / 1 V."""
    from rramlab.protocols import forming

    def form_cells(station: Station, cells, compliance_A: float = 100e-6) -> pd.DataFrame:
        params = forming.FormingParams(
            cells=cells,
            via="board",
            compliance_start_A=compliance_A,
            compliance_max_A=compliance_A,
        )
        data = run_spec(station, forming.SPEC, params)
        formed = data.groupby(["row", "col"]).formed.any()
        assert formed.all(), f"setup: cells did not form: {formed[~formed].index.tolist()}"
        return data

    return form_cells


@pytest.fixture
def plant_defect() -> Callable[[Station, int, int, str], None]:
    """``plant_defect(station, row, col, kind)``: make one cell of the bench "unformable",
    "stuck low" or "stuck high", as the model samples such defects."""

    def plant(station: Station, row: int, col: int, kind: str) -> None:
        array = station.bench.array
        snap = array.snapshot()
        code = {"unformable": UNFORMABLE, "stuck low": STUCK_LOW, "stuck high": STUCK_HIGH}[kind]
        snap.population.defect[row, col] = code
        if kind == "unformable":
            snap.population.v_form_V[row, col] = np.inf
        else:
            p = array.params
            snap.cells.stuck[row, col] = code
            snap.cells.formed[row, col] = True
            snap.cells.g_S[row, col] = p.g_stuck_low_S if code == STUCK_LOW else p.g_stuck_high_S
        array.restore(snap)
        assert array.defects[row, col] == kind
        assert kind == "unformable" or array.cells.stuck[row, col] != NOT_STUCK

    return plant


@dataclass
class BenchState:
    """What sending anything to the bench would change."""

    t_s: float
    v_seen_V: np.ndarray
    smu_on: bool


def bench_state(station: Station) -> BenchState:
    return BenchState(
        station.clock.now(),
        station.bench.array.max_voltage_seen_V,
        station.smu.output_enabled,
    )


@pytest.fixture
def nothing_sent() -> Callable[[Station], Any]:
    """``with nothing_sent(station): ...``: asserts that the block sent nothing to the
    instruments. Every command costs virtual time on the simulated bench, so an
    unchanged clock means no byte reached an instrument; no cell saw a voltage either."""
    from contextlib import contextmanager

    @contextmanager
    def check(station: Station) -> Iterator[None]:
        before = bench_state(station)
        yield
        after = bench_state(station)
        assert after.t_s == before.t_s, "a command reached an instrument"
        np.testing.assert_array_equal(after.v_seen_V, before.v_seen_V)
        assert after.smu_on == before.smu_on

    return check
