"""Checking a whole station file (:class:`_Checker`): its top-level fields, limits and
simulation section; instruments, roles and wiring are checked by
:mod:`rramlab.station_instrument_checks`, single fields by :mod:`rramlab.station_fields`."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from rramlab.limits import SafetyLimits
from rramlab.station_fields import _got, is_finite
from rramlab.station_instrument_checks import _InstrumentChecker
from rramlab.station_spec import LIMIT_FIELDS, InstrumentSpec, SimulationSpec, StationSpec

_TOP = ("station", "limits", "simulation", "instruments", "roles", "wiring")
_SIMULATION = ("seed", "rows", "cols", "access", "ideal", "params")


class _Checker(_InstrumentChecker):
    """Builds a :class:`StationSpec` from parsed station-file content, collecting every
    ``(field path, message)`` problem in :attr:`problems`."""

    def station(self, data: Any, source: str) -> StationSpec | None:
        if data is None:
            self.fail(
                "",
                "the file is empty; expected a station description (see "
                "docs/station-file.md): station, limits, instruments, roles",
            )
            return None
        top = self.mapping(
            data,
            "",
            allowed=_TOP,
            required=("limits", "instruments", "roles"),
            what="station fields (station, limits, simulation, instruments, roles, wiring)",
        )
        if top is None:
            return None
        name = Path(source).stem or "station"
        if "station" in top:
            name = self.text(top["station"], "station") or name
        limits = self.limits(top["limits"]) if "limits" in top else None
        simulation = self.simulation(top["simulation"]) if "simulation" in top else None
        instruments: dict[str, InstrumentSpec] = {}
        known: set[str] = set()  # names given, valid or not (roles may name them)
        if "instruments" in top:
            instruments, known = self.instruments(top["instruments"])
        self.simulated_resources(instruments, "simulation" in top)
        smu = board = board_smu = None
        if "roles" in top:
            smu, board = self.roles(top["roles"], instruments, known)
        board_smu = self.wiring(top.get("wiring"), "wiring" in top, instruments, known, smu, board)
        if self.problems or limits is None or smu is None:
            return None
        return StationSpec(
            name=name,
            limits=limits,
            instruments=instruments,
            smu=smu,
            board=board,
            board_smu=board_smu,
            simulation=simulation,
        )

    def limits(self, value: Any) -> SafetyLimits | None:
        raw = self.mapping(
            value, "limits", allowed=LIMIT_FIELDS, required=LIMIT_FIELDS, what="limits"
        )
        if raw is None:
            return None
        units = {"max_voltage_V": " (V)", "max_current_A": " (A)", "max_pulse_width_s": " (s)"}
        values = {k: self.positive(v, f"limits.{k}", units[k]) for k, v in raw.items()}
        if len(values) != len(LIMIT_FIELDS) or None in values.values():
            return None
        return SafetyLimits(**values)

    def simulation(self, value: Any) -> SimulationSpec | None:
        raw = self.mapping(value, "simulation", allowed=_SIMULATION, what="simulation settings")
        if raw is None:
            return None
        before = len(self.problems)
        settings: dict[str, Any] = {}
        if "seed" in raw:
            settings["seed"] = self.integer(raw["seed"], "simulation.seed", 0)
        for key in ("rows", "cols"):
            if key in raw:
                settings[key] = self.integer(raw[key], f"simulation.{key}", 1)
        if "access" in raw:
            from rramlab.sim.biasing import ACCESS_TYPES

            settings["access"] = self.choice(raw["access"], "simulation.access", ACCESS_TYPES)
        if "ideal" in raw:
            if not isinstance(raw["ideal"], bool):
                self.fail("simulation.ideal", f"expected true or false, got {_got(raw['ideal'])}")
            settings["ideal"] = raw["ideal"]
        if "params" in raw:
            settings["params"] = self.crossbar_params(raw["params"], bool(raw.get("ideal")))
        if len(self.problems) > before:
            return None
        return SimulationSpec(**settings)

    def crossbar_params(self, value: Any, ideal: bool) -> dict[str, float] | None:
        from rramlab.sim.params import CrossbarParams

        names = tuple(f.name for f in dataclasses.fields(CrossbarParams))
        raw = self.mapping(
            value,
            "simulation.params",
            allowed=names,
            what="CrossbarParams fields",
            known="a field of rramlab.sim.params.CrossbarParams",
        )
        if raw is None:
            return None
        params: dict[str, float] = {}
        for key, item in raw.items():
            path = f"simulation.params.{key}"
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                self.fail(path, f"expected a number, got {_got(item)}")
            elif not is_finite(item):
                self.fail(path, f"expected a finite number, got {_got(item)}")
            else:
                params[key] = float(item)
        if len(params) == len(raw):
            try:
                (CrossbarParams.ideal() if ideal else CrossbarParams()).replace(**params)
            except (TypeError, ValueError) as error:
                message = str(error)
                named = re.match(r"CrossbarParams\.(\w+) (.*)", message)
                if named and named.group(1) in params:
                    what = re.sub(r"^must be ", "expected a value ", named.group(2))
                    self.fail(f"simulation.params.{named.group(1)}", what)
                else:
                    self.fail("simulation.params", message)
        return params
