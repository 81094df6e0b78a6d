"""The drivers a station file's ``driver:`` may name (docs/station-file.md): each
one's class, kind (SMU or board), channels, options and simulated model, and the
resources that reach the simulated bench."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DRIVERS", "SIM_BACKEND", "SIM_BOARD", "DriverInfo"]

SIM_BACKEND = "@rramsim"  # an SMU's pyvisa backend on the station's simulated bench
SIM_BOARD = "rramsim://"  # the board's resource on the station's simulated bench


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
