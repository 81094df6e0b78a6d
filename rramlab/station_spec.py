"""The checked content of a station file: :class:`StationSpec` and its parts, as
:mod:`rramlab.station_checks` builds them and :mod:`rramlab.station_file` opens them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rramlab.limits import SafetyLimits
from rramlab.station_drivers import DRIVERS, DriverInfo

__all__ = ["LIMIT_FIELDS", "ChannelRef", "InstrumentSpec", "SimulationSpec", "StationSpec"]

LIMIT_FIELDS = ("max_voltage_V", "max_current_A", "max_pulse_width_s")


@dataclass(frozen=True)
class ChannelRef:
    """An SMU channel: instrument ``k2636`` and channel ``smua``, written ``k2636.smua``
    (a single-channel SMU is written by its instrument name alone, channel None)."""

    instrument: str
    channel: str | None = None

    def __str__(self) -> str:
        return self.instrument if self.channel is None else f"{self.instrument}.{self.channel}"


@dataclass(frozen=True)
class InstrumentSpec:
    """One ``instruments.<name>`` entry, checked."""

    name: str
    driver: str
    resource: str
    backend: str | None = None  # pyvisa backend; None for the default (and for boards)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> DriverInfo:
        return DRIVERS[self.driver]


@dataclass(frozen=True)
class SimulationSpec:
    """The ``simulation`` section: the simulated bench the station runs on."""

    seed: int = 0
    rows: int = 16
    cols: int = 16
    access: str = "1T1R"
    ideal: bool = False  # start from CrossbarParams.ideal() (no randomness but the seed's)
    params: Mapping[str, float] = field(default_factory=dict)  # CrossbarParams overrides

    def crossbar_params(self) -> Any:
        """The :class:`~rramlab.sim.params.CrossbarParams` this section describes."""
        from rramlab.sim.params import CrossbarParams

        base = CrossbarParams.ideal() if self.ideal else CrossbarParams()
        return base.replace(**self.params)


@dataclass(frozen=True)
class StationSpec:
    """A checked station file: what :func:`rramlab.station_file.open_spec` opens."""

    name: str
    limits: SafetyLimits
    instruments: Mapping[str, InstrumentSpec]
    smu: ChannelRef
    board: str | None = None
    board_smu: ChannelRef | None = None  # the SMU channel cabled to the board
    simulation: SimulationSpec | None = None
    source: str = "<station>"  # the file as given (for messages)
    file: str | None = None  # its absolute path (for run metadata)

    def description(self) -> dict[str, Any]:
        """The normalized file content (every field, defaults filled in), JSON-safe."""
        sim = self.simulation
        return {
            "station": self.name,
            "file": self.file,
            "limits": {name: float(getattr(self.limits, name)) for name in LIMIT_FIELDS},
            "simulation": None
            if sim is None
            else {
                "seed": sim.seed,
                "rows": sim.rows,
                "cols": sim.cols,
                "access": sim.access,
                "ideal": sim.ideal,
                "params": dict(sim.params),
            },
            "instruments": {
                name: {
                    "driver": inst.driver,
                    "resource": inst.resource,
                    "backend": inst.backend,
                    "options": dict(inst.options),
                }
                for name, inst in self.instruments.items()
            },
            "roles": {"smu": str(self.smu), "board": self.board},
            "wiring": {} if self.board_smu is None else {"board_smu": str(self.board_smu)},
        }
