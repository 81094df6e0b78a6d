"""Fixtures for the fault-injection tests: simulated instruments opened through the real
drivers and the real transports, and a log of every message that reached each
instrument (after the faults: a message a hang swallowed never arrives).

(Test modules cannot import one another under ``--import-mode=importlib``, so what the
test files share is here, handed out by fixtures.)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from rramlab.drivers.array_board import ArrayBoard
from rramlab.drivers.keithley2450 import Keithley2450
from rramlab.drivers.keithley2636b import Keithley2636B
from rramlab.drivers.keysight_b2900 import KeysightB2902A
from rramlab.limits import SafetyLimits
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.board_server import BoardServer
from rramlab.sim.faults import clear_faults, inject
from rramlab.sim.tcp_server import InstrumentServer
from rramlab.sim.transport import bench_lock
from rramlab.sim.visa_backend import register_bench, unregister_bench

SMU_LIMITS = SafetyLimits(max_voltage_V=5.0, max_current_A=10e-3, max_pulse_width_s=0.1)
BOARD_LIMITS = SafetyLimits(max_voltage_V=4.0, max_current_A=1e-3, max_pulse_width_s=0.1)
_names = itertools.count()


@dataclass(frozen=True)
class Commands:
    """The messages one SMU model's driver sends for the steps the tests fault."""

    address: str
    level: str  # source_voltage(0.3 V): its level command
    check: str  # the error-queue query after a command
    measure: str  # the measurement query of measure() (a substring of it)
    compliance: str  # the compliance readback of measure()
    output_on: str


COMMANDS = {
    "2450": Commands(
        "GPIB0::18::INSTR",
        ":SOUR:VOLT 0.3",
        "SYST:ERR?",
        ":READ?",
        ":SOUR:VOLT:ILIM:TRIP?",
        ":OUTP ON",
    ),
    "2636B": Commands(
        "GPIB0::26::INSTR",
        "smua.source.levelv = 0.3",
        "print(errorqueue.count)",
        "smua.measure.iv()",
        "print(smua.source.compliance)",
        "smua.source.output = smua.OUTPUT_ON",
    ),
    "B2902A": Commands(
        "GPIB0::23::INSTR",
        ":SOUR1:VOLT 0.3",
        "SYST:ERR?",
        ":MEAS?",
        ":SENS1:CURR:PROT:TRIP?",
        ":OUTP1 ON",
    ),
}


class Received:
    """Every message that reached ``instrument`` (its ``write``), in order."""

    def __init__(self, instrument: Any, method: str = "write") -> None:
        self.messages: list[str] = []
        original = getattr(instrument, method)

        def record(message: Any) -> Any:
            self.messages.append(message if isinstance(message, str) else message.text)
            return original(message)

        setattr(instrument, method, record)

    def count(self, text: str) -> int:
        """How many messages contain ``text``."""
        return sum(text in m for m in self.messages)

    def settings(self) -> list[str]:
        """The messages that change something: not queries, not error-queue reads."""
        return [m for m in self.messages if "?" not in m and not m.startswith("print(")]

    def clear(self) -> None:
        self.messages.clear()


@dataclass
class SmuRig:
    """A simulated SMU opened through a driver: ``smu`` is its first channel."""

    model: str
    bench: SimulatedBench
    instrument: Any  # the simulated instrument (MessageInstrument)
    received: Received
    driver: Any
    smu: Any
    commands: Commands
    resource: str
    backend: str

    def inject(self, *specs: str):
        return inject(self.instrument, *specs)

    def reopen(self, timeout_s: float):
        """A new driver on the same instrument (after a lost connection)."""
        return _open_smu(self.model, self.resource, self.backend, timeout_s)


def _open_smu(model: str, resource: str, backend: str, timeout_s: float) -> tuple[Any, Any]:
    kwargs = {"limits": SMU_LIMITS, "backend": backend, "timeout_s": timeout_s}
    if model == "2450":
        driver = Keithley2450(resource, **kwargs)
        return driver, driver
    if model == "2636B":
        driver = Keithley2636B(resource, **kwargs)
        return driver, driver.smua
    driver = KeysightB2902A(resource, **kwargs)
    return driver, driver.ch1


@pytest.fixture
def smu_rig() -> Iterator[Any]:
    """``smu_rig(model, faults=(), transport="visa"|"tcp", timeout_s=0.05)``: a bench with
    that SMU, ``faults`` injected before the driver opens it, reached through the
    ``@rramsim`` backend or a TCP server and pyvisa-py."""
    cleanup: list[Any] = []

    def make(
        model: str, faults: tuple[str, ...] = (), transport: str = "visa", timeout_s: float = 0.05
    ) -> SmuRig:
        bench = SimulatedBench(seed=3, smu_models=(model,), rows=4, cols=4)
        instrument = bench.smus[model]
        received = Received(instrument)
        if faults:
            inject(instrument, *faults)
        cleanup.append(lambda: clear_faults(instrument))
        if transport == "tcp":
            server = InstrumentServer(instrument, lock=bench_lock(bench))
            server.start()
            cleanup.append(server.stop)
            resource, backend = server.resource_name, "@py"
        else:
            name = f"faults-{next(_names)}"
            register_bench(name, bench)
            cleanup.append(lambda: unregister_bench(name))
            resource, backend = COMMANDS[model].address, f"bench={name}@rramsim"
        driver, smu = _open_smu(model, resource, backend, timeout_s)
        cleanup.append(driver.close)
        return SmuRig(
            model, bench, instrument, received, driver, smu, COMMANDS[model], resource, backend
        )

    yield make
    for step in reversed(cleanup):
        try:
            step()
        except Exception:  # a test that lost its link leaves a driver that cannot close
            pass


@dataclass
class BoardRig:
    """A simulated board opened through :class:`ArrayBoard`."""

    bench: SimulatedBench
    firmware: Any
    received: Received  # command lines the firmware executed
    board: ArrayBoard
    url: str

    def inject(self, *specs: str):
        return inject(self.firmware, *specs)


@pytest.fixture
def board_rig() -> Iterator[Any]:
    """``board_rig(transport="rramsim"|"tcp", timeout_s=0.1, faults=())``: a 4 x 4 bench's
    board through ``rramsim://`` or a :class:`BoardServer` and ``socket://``."""
    cleanup: list[Any] = []

    def make(
        transport: str = "rramsim", timeout_s: float = 0.1, faults: tuple[str, ...] = ()
    ) -> BoardRig:
        bench = SimulatedBench(seed=5, smu_models=(), rows=4, cols=4)
        received = Received(bench.board, "execute")
        if faults:
            inject(bench.board, *faults)
        cleanup.append(lambda: clear_faults(bench.board))
        if transport == "tcp":
            server = BoardServer(bench.board, lock=bench_lock(bench))
            server.start()
            cleanup.append(server.stop)
            url = server.url
        else:
            name = f"faults-board-{next(_names)}"
            register_bench(name, bench)
            cleanup.append(lambda: unregister_bench(name))
            url = f"rramsim://bench={name}"
        board = ArrayBoard(url, limits=BOARD_LIMITS, timeout_s=timeout_s)
        cleanup.append(board.close)
        return BoardRig(bench, bench.board, received, board, url)

    yield make
    for step in reversed(cleanup):
        try:
            step()
        except Exception:
            pass
