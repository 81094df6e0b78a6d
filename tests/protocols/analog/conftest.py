"""Fixtures for the analog-computing tests: simulated benches reached through the real
drivers (``open_station``), with default device parameters, and board engines on them.

Programming a board takes seconds of wall time, so the boards the tests share are
module-scoped: each is programmed once and asked many questions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from rramlab.protocols.analog.board_engine import BoardEngine
from rramlab.station import Station, open_station


@pytest.fixture(scope="module")
def board_engine() -> Iterator[Callable[..., tuple[BoardEngine, Station]]]:
    """``board_engine(seed=, rows=, cols=, **config)``: a BoardEngine on a fresh
    simulated station with one ``rows`` x ``cols`` tile; stations close after the
    module."""
    opened: list[Station] = []

    def make(seed: int = 0, rows: int = 8, cols: int = 48, **config) -> tuple[BoardEngine, Station]:
        station = open_station(seed=seed, rows=rows, cols=cols)
        opened.append(station)
        return BoardEngine(station.board, clock=station.clock, **config), station

    yield make
    for station in opened:
        station.close()


@pytest.fixture(scope="session")
def board_4x4() -> Iterator[dict]:
    """One simulated board (default device parameters) holding a 4 x 4 problem of
    condition number 8 for HP-INV: its 24-bit slices for HP-MVM and its 3-bit A0 on an
    INV block. Keys: solver, a, b, engine, station."""
    from rramlab.protocols.analog.hp_inv import HpInvSolver
    from rramlab.protocols.analog.problems import random_problem

    station = open_station(seed=0, rows=8, cols=48)
    engine = BoardEngine(station.board, clock=station.clock)
    a, b = random_problem(4, 8.0, seed=0)
    solver = HpInvSolver(engine, a)
    yield {"solver": solver, "a": a, "b": b, "engine": engine, "station": station}
    station.close()
