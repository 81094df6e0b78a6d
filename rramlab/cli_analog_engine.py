"""The analog engine ``rramlab solve`` and ``rramlab mimo`` compute on: the exact (numpy)
engine, the board of a station file, or a simulated bench sized for the problem
(:func:`rramlab.analog_bench.tile_size`). The station is closed, every output off,
when the command ends, however it ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from rramlab.cli_station import StationProblem, open_for_command

ENGINES = ("board", "exact")


def engine_options(function: Any) -> Any:
    """The options every analog command shares: ``--engine``, ``--station``, ``--json``
    (applied in this order, so they show last in ``--help``)."""
    function = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object, nothing else."
    )(function)
    function = click.option(
        "--station",
        "station_file",
        type=click.Path(exists=True, dir_okay=False),
        help="Station file (YAML or TOML) whose array board to use instead of the simulated bench.",
    )(function)
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default="board",
        show_default=True,
        help="board: an array board (a simulated bench sized for the problem, or "
        "--station's); exact: numpy, 3-bit quantisation only.",
    )(function)


@dataclass
class EngineInfo:
    """What the command computed on, for its output: ``engine`` ("board" or "exact"),
    ``bench`` (rows and cols of the simulated tile, or the station file), ``seed``."""

    engine: str
    bench: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.engine == "exact":
            return "the exact (numpy) engine"
        if "station" in self.bench:
            return f"the board of station {self.bench['station']}"
        b = self.bench
        return f"a simulated {b['rows']} x {b['cols']} tile (seed {b['seed']})"


@contextmanager
def analog_engine(
    kind: str,
    *,
    station_file: str | None,
    seed: int,
    n: int,
    tile: int | None,
    solver_options: dict[str, Any],
    board_options: dict[str, Any] | None = None,
) -> Iterator[tuple[Any, EngineInfo]]:
    """Yield ``(engine, info)`` for an ``n`` x ``n`` HP-INV problem: ``kind`` "exact"
    (``ExactEngine(seed=seed)``) or "board" (``BoardEngine`` with ``board_options`` on
    the station file's board, or on a new simulated bench of seed ``seed`` whose one
    tile holds the problem's arrays). The station is closed on the way out."""
    from rramlab.protocols.analog.board_engine import BoardEngine
    from rramlab.protocols.analog.exact_engine import ExactEngine

    if kind == "exact":
        yield ExactEngine(seed=seed), EngineInfo("exact")
        return
    if station_file is not None:
        station, info = (
            open_for_command(station_file),
            EngineInfo("board", {"station": station_file}),
        )
    else:
        from rramlab.analog_bench import tile_size
        from rramlab.station import open_station

        rows, cols = tile_size(n, tile, **solver_options)
        station = open_station(seed=seed, rows=rows, cols=cols)
        info = EngineInfo("board", {"rows": rows, "cols": cols, "seed": seed})
    with station:
        if station.board is None:
            raise StationProblem(f"station file {station_file}: it has no array board")
        engine = BoardEngine(station.board, clock=station.clock, **(board_options or {}))
        yield engine, info
