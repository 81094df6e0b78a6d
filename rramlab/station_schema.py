"""Reading and checking a station file (docs/station-file.md) into a :class:`StationSpec`.

A station file, YAML (``.yaml``/``.yml``) or TOML (``.toml``), names the bench's
instruments (driver, resource, options), which of them protocols use (``roles``), how
the SMU is cabled to the array board (``wiring``), the safety limits and, optionally, a
simulated bench to run on. Everything is checked here, before any instrument is
opened: every problem is reported at once as a :class:`~rramlab.errors.StationFileError`
whose lines read ``<file>: <field path>: <what was expected>, got <what was found>``.

This module holds the entry points; the work is done by :mod:`rramlab.station_reader`
(YAML/TOML syntax), :mod:`rramlab.station_checks` (content, with
:mod:`rramlab.station_fields` and :mod:`rramlab.station_instrument_checks`),
:mod:`rramlab.station_spec` (the checked result) and :mod:`rramlab.station_drivers`
(the drivers a file may name). It only reads and checks; :mod:`rramlab.station_file`
opens the instruments.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rramlab.errors import StationFileError
from rramlab.station_checks import _Checker
from rramlab.station_drivers import DRIVERS, DriverInfo
from rramlab.station_drivers import SIM_BACKEND as SIM_BACKEND
from rramlab.station_drivers import SIM_BOARD as SIM_BOARD
from rramlab.station_reader import SUFFIXES as SUFFIXES
from rramlab.station_reader import read_station_file
from rramlab.station_spec import LIMIT_FIELDS as LIMIT_FIELDS
from rramlab.station_spec import (
    ChannelRef,
    InstrumentSpec,
    SimulationSpec,
    StationSpec,
)

__all__ = [
    "DRIVERS",
    "ChannelRef",
    "DriverInfo",
    "InstrumentSpec",
    "SimulationSpec",
    "StationSpec",
    "load_station_file",
    "parse_station",
    "read_station_file",
]


def load_station_file(path: str | Path) -> StationSpec:
    """Read and check the station file at ``path`` (see docs/station-file.md).

    Raises :class:`~rramlab.errors.StationFileError` for a malformed file (syntax or
    content) and ``OSError`` if it cannot be read.
    """
    path = Path(path)
    data = read_station_file(path)
    return parse_station(data, source=str(path), file=str(path.resolve()))


def parse_station(data: Any, *, source: str = "<station>", file: str | None = None) -> StationSpec:
    """Check parsed station-file content and return its :class:`StationSpec`; every
    problem is collected and raised together as a :class:`StationFileError`."""
    check = _Checker()
    try:
        spec = check.station(data, source)
    except RecursionError:  # content nested (or aliased into itself) beyond reason
        raise StationFileError(source, [("", "nested too deeply")]) from None
    if check.problems or spec is None:
        raise StationFileError(source, check.problems or [("", "not a station description")])
    return dataclasses.replace(spec, source=source, file=file)
