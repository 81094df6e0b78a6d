"""Opening the station a station file describes (format: docs/station-file.md).

:func:`open_station_file` reads and checks the file (:mod:`rramlab.station_schema`;
nothing is opened if it is malformed), builds the simulated bench if the file has a
``simulation`` section, then opens every instrument in file order through its driver.
If one fails to open, the ones already open get their outputs turned off and are
closed, and the error (with a note naming the instrument) propagates.
"""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path
from typing import Any

from rramlab.clock import WallClock
from rramlab.limits import SafetyLimits
from rramlab.station import Station
from rramlab.station_schema import (
    SIM_BACKEND,
    ChannelRef,
    InstrumentSpec,
    StationSpec,
    load_station_file,
)

__all__ = ["open_spec", "open_station_file"]

_bench_ids = itertools.count()


def open_station_file(path: str | Path) -> Station:
    """Open the station described by the station file at ``path``."""
    return open_spec(load_station_file(path))


def open_spec(spec: StationSpec) -> Station:
    """Open a checked station description: its simulated bench (if any), then every
    instrument; see the module docs."""
    station = Station(
        name=spec.name,
        limits=spec.limits,
        clock=WallClock(),
        description=spec.description(),
    )
    current = None
    try:
        if spec.simulation is not None:
            _start_bench(station, spec)
        for current in spec.instruments.values():
            station.instruments[current.name] = _open(current, spec.limits, station.bench_name)
        current = None
        station.smu = _channel(station.instruments[spec.smu.instrument], spec.smu)
        station.board = station.instruments[spec.board] if spec.board is not None else None
    except BaseException as error:
        if current is not None and isinstance(error, Exception):
            error.add_note(
                f"while opening instruments.{current.name} of {spec.source} "
                f"({current.driver} at {current.resource!r}); the instruments opened "
                "before it were turned off and closed"
            )
        station.close()
        raise
    return station


def _start_bench(station: Station, spec: StationSpec) -> None:
    """Build the simulated bench of ``spec.simulation``, with one simulated SMU per SMU
    driver the file lists, and register it for ``@rramsim`` and ``rramsim://``."""
    # Importing the simulator happens here only: this builds a bench, the one thing
    # outside sim/ that may (DESIGN.md). Drivers reach it through their transports.
    from rramlab.sim.bench import SimulatedBench
    from rramlab.sim.visa_backend import register_bench

    sim = spec.simulation
    assert sim is not None
    models = tuple(
        dict.fromkeys(i.info.sim_model for i in spec.instruments.values() if i.info.sim_model)
    )
    bench = SimulatedBench(
        seed=sim.seed,
        smu_models=models,
        rows=sim.rows,
        cols=sim.cols,
        params=sim.crossbar_params(),
        access=sim.access,
    )
    name = f"station-{next(_bench_ids)}"
    register_bench(name, bench)
    station.bench, station.bench_name = bench, name
    station.clock, station.seed = bench.clock, sim.seed


def _open(inst: InstrumentSpec, limits: SafetyLimits, bench_name: str | None) -> Any:
    """Open one instrument with its driver; on a simulated bench its resource is
    pointed at that bench."""
    module, _, name = inst.info.cls.partition(":")
    driver = getattr(importlib.import_module(module), name)
    kwargs: dict[str, Any] = {"limits": limits, "name": inst.options.get("name", inst.name)}
    if "timeout_s" in inst.options:
        kwargs["timeout_s"] = inst.options["timeout_s"]
    if inst.info.kind == "board":
        url = inst.resource if bench_name is None else f"rramsim://bench={bench_name}"
        board = driver(url, **kwargs)
        if "tile" in inst.options:
            try:
                board.select_tile(inst.options["tile"])
            except BaseException:
                board.close()
                raise
        return board
    backend = inst.backend
    if bench_name is not None and backend == SIM_BACKEND:
        backend = f"bench={bench_name}{SIM_BACKEND}"
    return driver(inst.resource, backend=backend, **kwargs)


def _channel(instrument: Any, ref: ChannelRef) -> Any:
    return instrument if ref.channel is None else getattr(instrument, ref.channel)
