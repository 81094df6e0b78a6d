"""Reading and checking a station file (docs/station-file.md) into a :class:`StationSpec`.

A station file, YAML (``.yaml``/``.yml``) or TOML (``.toml``), names the bench's
instruments (driver, resource, options), which of them protocols use (``roles``), how
the SMU is cabled to the array board (``wiring``), the safety limits and, optionally, a
simulated bench to run on. Everything is checked here, before any instrument is
opened: every problem is reported at once as a :class:`~rramlab.errors.StationFileError`
whose lines read ``<file>: <field path>: <what was expected>, got <what was found>``.

This module only reads and checks; :mod:`rramlab.station_file` opens the instruments.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rramlab.errors import StationFileError
from rramlab.limits import SafetyLimits

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

SIM_BACKEND = "@rramsim"  # an SMU's pyvisa backend on the station's simulated bench
SIM_BOARD = "rramsim://"  # the board's resource on the station's simulated bench
SUFFIXES = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}
LIMIT_FIELDS = ("max_voltage_V", "max_current_A", "max_pulse_width_s")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


@dataclass(frozen=True)
class DriverInfo:
    """What a station file's ``driver:`` value stands for."""

    name: str
    cls: str  # "module:Class" of the driver
    kind: str  # "smu" or "board"
    channels: tuple[str, ...] = ()  # attribute names of its SMU channels; () = itself
    sim_model: str | None = None  # its model on a SimulatedBench
    options: tuple[str, ...] = ("timeout_s", "name")


DRIVERS: dict[str, DriverInfo] = {
    d.name: d
    for d in (
        DriverInfo("keithley2450", "rramlab.drivers.keithley2450:Keithley2450", "smu", (), "2450"),
        DriverInfo(
            "keithley2636b",
            "rramlab.drivers.keithley2636b:Keithley2636B",
            "smu",
            ("smua", "smub"),
            "2636B",
        ),
        DriverInfo(
            "keysight_b2902a",
            "rramlab.drivers.keysight_b2900:KeysightB2902A",
            "smu",
            ("ch1", "ch2"),
            "B2902A",
        ),
        DriverInfo(
            "array_board",
            "rramlab.drivers.array_board:ArrayBoard",
            "board",
            options=("timeout_s", "name", "tile"),
        ),
    )
}


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


# ---------------------------------------------------------------------------- reading


def load_station_file(path: str | Path) -> StationSpec:
    """Read and check the station file at ``path`` (see docs/station-file.md).

    Raises :class:`~rramlab.errors.StationFileError` for a malformed file (syntax or
    content) and ``OSError`` if it cannot be read.
    """
    path = Path(path)
    data = read_station_file(path)
    return parse_station(data, source=str(path), file=str(path.resolve()))


def read_station_file(path: str | Path) -> Any:
    """The parsed content of a ``.yaml``/``.yml``/``.toml`` file, unchecked; syntax
    errors raise :class:`~rramlab.errors.StationFileError` naming the line."""
    path = Path(path)
    source = str(path)
    language = SUFFIXES.get(path.suffix.lower())
    if language is None:
        raise StationFileError(
            source,
            [("", f"expected a .yaml, .yml or .toml station file, got {path.suffix or 'none'!r}")],
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StationFileError(source, [("", f"not UTF-8 text ({error})")]) from None
    if language == "TOML":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
            if where is None:
                raise StationFileError(source, [("", f"TOML syntax error: {message}")]) from None
            problem = message[: where.start()]
            place = f"line {where.group(1)}, column {where.group(2)}"
            raise StationFileError(source, [(place, f"TOML syntax error: {problem}")]) from None
    try:
        return yaml.load(text, Loader=_StationLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "malformed YAML"
        if error.context and error.problem:
            started = error.context_mark
            if started is not None and mark is not None and started.line != mark.line:
                problem += f" ({error.context} started at line {started.line + 1})"
            else:
                problem += f" ({error.context})"
        place = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
        raise StationFileError(source, [(place, f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as error:
        raise StationFileError(source, [("", f"YAML syntax error: {error}")]) from None


class _StationLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (a typo'd copy would silently win) and
    reads ``1e-3`` as a number (YAML 1.2; PyYAML's YAML 1.1 reads it as a string)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; the base class reports it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_StationLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


# ---------------------------------------------------------------------------- checking


def parse_station(data: Any, *, source: str = "<station>", file: str | None = None) -> StationSpec:
    """Check parsed station-file content and return its :class:`StationSpec`; every
    problem is collected and raised together as a :class:`StationFileError`."""
    check = _Checker()
    spec = check.station(data, source)
    if check.problems or spec is None:
        raise StationFileError(source, check.problems or [("", "not a station description")])
    return dataclasses.replace(spec, source=source, file=file)


_TOP = ("station", "limits", "simulation", "instruments", "roles", "wiring")
_INSTRUMENT = ("driver", "resource", "backend", "options")
_SIMULATION = ("seed", "rows", "cols", "access", "ideal", "params")
_ROLES = ("smu", "board")
_WIRING = ("board_smu",)
_MISSING = {
    "limits": "the station's safety limits: max_voltage_V, max_current_A, max_pulse_width_s",
    "instruments": "a mapping of instrument name to driver, resource and options",
    "roles": "which instrument (and channel) protocols use as the smu, and the board",
    "driver": f"one of {', '.join(DRIVERS)}",
    "resource": "a VISA resource string (SMUs) or a pyserial URL (array_board)",
    "smu": "the SMU channel protocols use, e.g. k2636.smua",
    "max_voltage_V": "the largest |voltage| any protocol may apply, in volts",
    "max_current_A": "the largest |current| any protocol may apply, in amperes",
    "max_pulse_width_s": "the longest pulse any protocol may apply, in seconds",
}


def _got(value: Any) -> str:
    """How a found value is shown in a message."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (str, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(word: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    """Collects ``(field path, message)`` problems while it builds the spec."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    # -- generic ----------------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: str,
        *,
        allowed: tuple[str, ...] | None,
        required: tuple[str, ...] = (),
        what: str = "fields",
        known: str | None = None,
    ) -> dict[str, Any] | None:
        """``value`` as a dict if it is a mapping whose keys are ``allowed`` (None: any
        string) and include ``required``; problems reported, None if not a mapping."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping of {what}, got {_got(value)}")
            return None
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.fail(_join(path, str(key)), f"expected a name (text) as key, got {key!r}")
            elif allowed is not None and key not in allowed:
                self.fail(
                    _join(path, key),
                    f"unknown field; expected {known or 'one of ' + ', '.join(allowed)}"
                    + _suggest(key, allowed),
                )
            else:
                out[key] = item
        for key in required:
            if key not in value:
                hint = _MISSING.get(key)
                self.fail(_join(path, key), "missing" + (f": {hint}" if hint else ""))
        return out

    def text(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected a non-empty text, got {_got(value)}")
            return None
        return value.strip()

    def positive(self, value: Any, path: str, unit: str = "") -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"expected a number{unit}, got {_got(value)}")
            return None
        if not math.isfinite(value) or value <= 0:
            self.fail(path, f"expected a finite number > 0{unit}, got {_got(value)}")
            return None
        return float(value)

    def integer(self, value: Any, path: str, minimum: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected an integer >= {minimum}, got {_got(value)}")
            return None
        if value < minimum:
            self.fail(path, f"expected an integer >= {minimum}, got {value!r}")
            return None
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.fail(
                path,
                f"expected one of {', '.join(choices)}, got {_got(value)}"
                + (_suggest(value, choices) if isinstance(value, str) else ""),
            )
            return None
        return value

    # -- sections ---------------------------------------------------------------------

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
            elif not math.isfinite(item):
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

    def instruments(self, value: Any) -> tuple[dict[str, InstrumentSpec], set[str]]:
        raw = self.mapping(value, "instruments", allowed=None, what="instrument names")
        if raw is None:
            return {}, set()
        if not raw and not any(p == "instruments" for p, _ in self.problems):
            self.fail("instruments", "expected at least one instrument, got none")
        out: dict[str, InstrumentSpec] = {}
        for name, item in raw.items():
            path = f"instruments.{name}"
            if not _NAME.match(name):
                self.fail(
                    path,
                    "an instrument name is letters, digits, '_' and '-', starting with a "
                    f"letter or '_' (roles write <name>.<channel>), got {name!r}",
                )
                continue
            spec = self.instrument(name, item, path)
            if spec is not None:
                out[name] = spec
        return out, {n for n in raw if _NAME.match(n)}

    def instrument(self, name: str, value: Any, path: str) -> InstrumentSpec | None:
        raw = self.mapping(
            value, path, allowed=_INSTRUMENT, required=("driver", "resource"), what="fields"
        )
        if raw is None:
            return None
        before = len(self.problems)
        driver = None
        if "driver" in raw:
            driver = self.choice(raw["driver"], f"{path}.driver", tuple(DRIVERS))
        resource = self.text(raw["resource"], f"{path}.resource") if "resource" in raw else None
        backend = None
        if "backend" in raw:
            backend = self.text(raw["backend"], f"{path}.backend")
            if driver is not None and DRIVERS[driver].kind == "board":
                self.fail(
                    f"{path}.backend",
                    "an array_board has no pyvisa backend: its resource is a pyserial URL",
                )
        options: dict[str, Any] = {}
        if "options" in raw:
            allowed = DRIVERS[driver].options if driver else None
            opts = self.mapping(
                raw["options"], f"{path}.options", allowed=allowed, what="driver options"
            )
            for key, item in (opts or {}).items():
                options[key] = self.option(key, item, f"{path}.options.{key}")
        if len(self.problems) > before or driver is None or resource is None:
            return None
        return InstrumentSpec(name, driver, resource, backend, options)

    def option(self, key: str, value: Any, path: str) -> Any:
        if key == "timeout_s":
            return self.positive(value, path, " (s)")
        if key == "tile":
            return self.integer(value, path, 0)
        if key == "name":
            return self.text(value, path)
        return value  # the driver was unknown: its options are not checked

    def simulated_resources(self, instruments: dict[str, InstrumentSpec], simulated: bool) -> None:
        """With a simulation section every instrument is on its bench; without, none."""
        by_driver: dict[str, str] = {}
        by_resource: dict[tuple[str, str], str] = {}
        for name, inst in instruments.items():
            path = f"instruments.{name}"
            board = inst.info.kind == "board"
            if simulated:
                if board and inst.resource != SIM_BOARD:
                    self.fail(
                        f"{path}.resource",
                        f"with a simulation section the board is the simulated one: expected "
                        f"{SIM_BOARD!r} (seed, rows, cols go in simulation), got {inst.resource!r}",
                    )
                elif not board and inst.backend != SIM_BACKEND:
                    self.fail(
                        f"{path}.backend",
                        "with a simulation section every SMU is simulated: expected "
                        f"{SIM_BACKEND!r}, got {_got(inst.backend)}",
                    )
                if inst.driver in by_driver:
                    self.fail(
                        path,
                        f"the simulated bench has one {inst.driver}, already "
                        f"instruments.{by_driver[inst.driver]}",
                    )
                by_driver.setdefault(inst.driver, name)
                continue
            sim_backend = (inst.backend or "").lower().endswith(SIM_BACKEND)
            if sim_backend or inst.resource.lower().startswith(SIM_BOARD):
                self.fail(
                    f"{path}.backend" if sim_backend else f"{path}.resource",
                    "this reaches the simulator: add a simulation section (seed, rows, cols) "
                    "to run the station on a simulated bench",
                )
                continue
            key = (inst.backend or "", inst.resource.lower())
            if key in by_resource:
                self.fail(
                    f"{path}.resource",
                    f"{inst.resource!r} is already the resource of instruments.{by_resource[key]}",
                )
            by_resource.setdefault(key, name)

    def ref(
        self,
        value: Any,
        path: str,
        instruments: dict[str, InstrumentSpec],
        known: set[str],
    ) -> ChannelRef | None:
        """An SMU channel reference ``name`` or ``name.channel``."""
        smus = [i for i in instruments.values() if i.info.kind == "smu"]
        choices = [
            f"{i.name}.{c}" if c else i.name for i in smus for c in (i.info.channels or (None,))
        ]
        expected = f"an SMU channel ({', '.join(choices)})" if choices else "an SMU channel"
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected {expected}, got {_got(value)}")
            return None
        name, _, channel = value.strip().partition(".")
        if name not in known:
            self.fail(
                path,
                f"expected {expected}, got {value!r}: no instrument {name!r}"
                + _suggest(name, known),
            )
            return None
        inst = instruments.get(name)
        if inst is None:  # its entry is malformed; reported there
            return None
        info = inst.info
        if info.kind != "smu":
            self.fail(path, f"expected {expected}, got {value!r}, an {info.name}")
            return None
        if not info.channels:
            if channel:
                self.fail(
                    path,
                    f"a {info.name} has a single channel: write {name!r}, got {value!r}",
                )
                return None
            return ChannelRef(name)
        options = " or ".join(f"{name}.{c}" for c in info.channels)
        if not channel:
            self.fail(path, f"a {info.name} has two channels: write {options}, got {value!r}")
            return None
        if channel not in info.channels:
            self.fail(
                path,
                f"a {info.name} has channels {', '.join(info.channels)}: expected {options}, "
                f"got {value!r}" + _suggest(channel, info.channels),
            )
            return None
        return ChannelRef(name, channel)

    def roles(
        self, value: Any, instruments: dict[str, InstrumentSpec], known: set[str]
    ) -> tuple[ChannelRef | None, str | None]:
        raw = self.mapping(value, "roles", allowed=_ROLES, required=("smu",), what="roles")
        if raw is None:
            return None, None
        smu = self.ref(raw["smu"], "roles.smu", instruments, known) if "smu" in raw else None
        boards = [i.name for i in instruments.values() if i.info.kind == "board"]
        if "board" not in raw:
            if boards:
                self.fail(
                    "roles.board",
                    f"missing: instruments.{boards[0]} is an array_board; name the board "
                    f"protocols use (board: {boards[0]})",
                )
            return smu, None
        board = raw["board"]
        expected = f"an array_board instrument ({', '.join(boards) or 'none listed'})"
        if not isinstance(board, str) or board not in known:
            self.fail(
                "roles.board",
                f"expected {expected}, got {_got(board)}"
                + (_suggest(board, boards) if isinstance(board, str) else ""),
            )
            return smu, None
        if board in instruments and instruments[board].info.kind != "board":
            self.fail(
                "roles.board",
                f"expected {expected}, got {board!r}, a {instruments[board].driver}",
            )
            return smu, None
        return smu, board

    def wiring(
        self,
        value: Any,
        given: bool,
        instruments: dict[str, InstrumentSpec],
        known: set[str],
        smu: ChannelRef | None,
        board: str | None,
    ) -> ChannelRef | None:
        """The SMU channel cabled to the board's SMU terminals (default: the smu role).
        Protocols route the smu role through the board, so the two must agree."""
        raw = {}
        if given:
            raw = self.mapping(value, "wiring", allowed=_WIRING, what="wiring") or {}
        if "board_smu" not in raw:
            return smu if board is not None else None
        if board is None:
            if not any(p == "roles.board" for p, _ in self.problems):
                self.fail(
                    "wiring.board_smu",
                    "the station has no board (roles.board): nothing to wire an SMU to",
                )
            return None
        wired = self.ref(raw["board_smu"], "wiring.board_smu", instruments, known)
        if wired is not None and smu is not None and wired != smu:
            self.fail(
                "wiring.board_smu",
                f"the board's SMU terminals are wired to {wired}, but roles.smu is {smu}: "
                "protocols reach cells with the smu role through the board, so they must be "
                "the same channel",
            )
        return wired
