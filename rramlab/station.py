"""A station: the instruments of one bench, the roles protocols use, its safety limits
and its clock.

Protocols see a :class:`Station` only through its roles: ``station.smu`` (a
:class:`~rramlab.drivers.source_meter.SourceMeter`), ``station.board`` (an
:class:`~rramlab.drivers.array_board.ArrayBoard`, or None on a single-device probe
station), ``station.clock`` and ``station.limits``. ``open_station("station.yaml")``
opens the bench a station file describes (docs/station-file.md; read and checked by
:mod:`rramlab.station_schema`, opened by :mod:`rramlab.station_file`);
``open_station()`` with no file opens the simulated bench through the same drivers and
transports a real bench uses.

Closing a station (``with open_station(...) as station:``) turns every output off and
closes every instrument, also on an exception or Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rramlab.clock import Clock
from rramlab.drivers.array_board import ArrayBoard
from rramlab.drivers.source_meter import SourceMeter
from rramlab.limits import SafetyLimits

log = logging.getLogger(__name__)

#: The simulated bench ``open_station()`` opens when given no station file.
DEFAULT_SIMULATION = {"seed": 0, "rows": 16, "cols": 16, "smu": "2450", "params": None}
DEFAULT_SIM_LIMITS = SafetyLimits(max_voltage_V=5.0, max_current_A=1e-3, max_pulse_width_s=1.0)


@dataclass
class Station:
    """The opened instruments of a bench, by role. See the module docs."""

    name: str
    limits: SafetyLimits
    clock: Clock
    smu: SourceMeter | None = None
    board: ArrayBoard | None = None
    instruments: dict[str, Any] = field(default_factory=dict)
    description: dict[str, Any] = field(default_factory=dict)  # the normalized station file
    seed: int | None = None  # the simulated bench's seed; None on real hardware
    bench: Any = None  # the SimulatedBench behind a simulated station (tests, demo)
    bench_name: str | None = None  # the name its bench is registered under (@rramsim)
    _closed: bool = False

    @property
    def simulated(self) -> bool:
        return self.bench is not None

    @property
    def array_shape(self) -> tuple[int, int]:
        """(rows, cols) of the cells the station reaches: the board's current tile, or
        the single probed device of a station without a board."""
        if self.board is None:
            return (1, 1)
        return (self.board.tile.rows, self.board.tile.cols)

    def identities(self) -> dict[str, str]:
        """Each instrument's identification, for run metadata."""
        out = {}
        for name, instrument in self.instruments.items():
            identity = getattr(instrument, "identity", None)
            out[name] = str(identity) if identity is not None else type(instrument).__name__
        return out

    def connect_smu_to(self, row: int, col: int) -> None:
        """Route the SMU's terminals to cell (row, col) (through the board's switch
        matrix). Without a board only cell (0, 0), the probed device, exists."""
        if self.board is not None:
            self.board.route(row, col)
        elif (row, col) != (0, 0):
            raise ValueError(
                f"station {self.name!r} has no array board: only cell (0, 0), the probed "
                f"device, can be reached, not ({row}, {col})"
            )

    def all_outputs_off(self) -> None:
        """Turn every source off, whatever state the instruments are in; errors are
        logged, not raised, so every instrument gets its chance."""
        for name, instrument in self.instruments.items():
            for channel in _source_channels(instrument):
                try:
                    channel.disable_output()
                except Exception as error:
                    log.warning("turning off the output of %s failed: %s", name, error)
            if isinstance(instrument, ArrayBoard):
                try:
                    instrument.unroute()
                    instrument.ground()
                except Exception as error:
                    log.warning("grounding %s failed: %s", name, error)

    def close(self) -> None:
        """Every output off, then every instrument closed. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self.all_outputs_off()
        finally:
            for name, instrument in self.instruments.items():
                try:
                    instrument.close()
                except Exception as error:
                    log.warning("closing %s failed: %s", name, error)
            if self.bench_name is not None:
                from rramlab.sim.visa_backend import unregister_bench

                unregister_bench(self.bench_name)

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _source_channels(instrument: Any) -> list[SourceMeter]:
    if isinstance(instrument, SourceMeter):
        return [instrument]
    channels = [getattr(instrument, n, None) for n in ("smua", "smub", "ch1", "ch2")]
    return [c for c in channels if isinstance(c, SourceMeter)]


def open_station(path: str | Path | None = None, **simulation: Any) -> Station:
    """Open the station described by the station file at ``path`` (YAML or TOML,
    docs/station-file.md); with no file, the simulated bench (keyword arguments override
    :data:`DEFAULT_SIMULATION`: ``seed``, ``rows``, ``cols``, ``smu``, and ``params``, a
    mapping of :class:`~rramlab.sim.params.CrossbarParams` fields). A malformed file
    raises :class:`~rramlab.errors.StationFileError` before anything is opened."""
    if path is not None:
        from rramlab.station_file import open_station_file

        if simulation:
            raise TypeError("simulation settings come from the station file when one is given")
        return open_station_file(Path(path))
    return open_simulated_station({**DEFAULT_SIMULATION, **simulation})


#: simulated SMU model -> (driver, resource, channel of the smu role, driver's name)
_SIMULATED_SMUS = {
    "2450": ("keithley2450", "GPIB0::18::INSTR", None, "Keithley 2450"),
    "2636B": ("keithley2636b", "GPIB0::26::INSTR", "smua", "Keithley 2636B"),
    "B2902A": ("keysight_b2902a", "GPIB0::23::INSTR", "ch1", "Keysight B2902A"),
}


def open_simulated_station(
    settings: dict[str, Any],
    *,
    limits: SafetyLimits = DEFAULT_SIM_LIMITS,
    name: str = "simulated bench",
) -> Station:
    """A station on a new simulated bench, reached through the real drivers: the SMU
    (``settings["smu"]``: "2450", "2636B" or "B2902A"; its first channel) through the
    ``@rramsim`` pyvisa backend, the board through ``rramsim://``. It is opened as the
    station file with these settings would be (docs/station-file.md), so its
    ``description`` has the same fields."""
    from rramlab.station_file import open_spec
    from rramlab.station_schema import parse_station

    unknown = set(settings) - set(DEFAULT_SIMULATION)
    if unknown:
        raise TypeError(
            f"unknown simulation setting(s) {sorted(unknown)}; known: {sorted(DEFAULT_SIMULATION)}"
        )
    model = str(settings["smu"])
    if model not in _SIMULATED_SMUS:
        raise ValueError(
            f"unknown simulated SMU {model!r}; expected one of {list(_SIMULATED_SMUS)}"
        )
    driver, resource, channel, driver_name = _SIMULATED_SMUS[model]
    data = {
        "station": name,
        "limits": dataclasses.asdict(limits),
        "simulation": {
            **{key: _integral(settings[key]) for key in ("seed", "rows", "cols")},
            **({"params": dict(settings["params"])} if settings.get("params") else {}),
        },
        "instruments": {
            "smu": {
                "driver": driver,
                "resource": resource,
                "backend": "@rramsim",
                "options": {"name": driver_name},
            },
            "board": {
                "driver": "array_board",
                "resource": "rramsim://",
                "options": {"name": "array board"},
            },
        },
        "roles": {"smu": f"smu.{channel}" if channel else "smu", "board": "board"},
    }
    return open_spec(parse_station(data, source="open_station()"))


def _integral(value: Any) -> Any:
    """An integer given as any integral type (numpy too); anything else as is, for the
    station checks to report."""
    try:
        return operator.index(value)
    except TypeError:
        return value
