"""Checking a station file's instruments, roles and wiring: each instrument's driver,
resource and options, whether they are on the simulated bench, and which SMU channel and
board protocols use (:class:`_InstrumentChecker`)."""

from __future__ import annotations

import re
from typing import Any

from rramlab.station_drivers import DRIVERS, SIM_BACKEND, SIM_BOARD
from rramlab.station_fields import _FieldChecker, _got, _suggest
from rramlab.station_spec import ChannelRef, InstrumentSpec

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_INSTRUMENT = ("driver", "resource", "backend", "options")
_ROLES = ("smu", "board")
_WIRING = ("board_smu",)


class _InstrumentChecker(_FieldChecker):
    """Checks the ``instruments``, ``roles`` and ``wiring`` sections."""

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
