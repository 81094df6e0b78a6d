"""Fixtures for the recorded-protocol driver tests: pyvisa-sim resources opened from the
YAML dialogues in drivers/recorded/, and a spy that records every message written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pyvisa

import rramlab.drivers

RECORDED = Path(rramlab.drivers.__file__).parent / "recorded"


class WriteSpy:
    """Records every message a resource sends (termination stripped), queries included:
    pyvisa routes both through ``write_raw``."""

    def __init__(self, resource: pyvisa.resources.MessageBasedResource) -> None:
        self.messages: list[str] = []
        original = resource.write_raw

        def write_raw(data: bytes) -> int:
            self.messages.append(data.decode().rstrip("\n"))
            return original(data)

        resource.write_raw = write_raw

    @property
    def commands(self) -> list[str]:
        """The messages without the error-queue and output-off checks between them."""
        checks = ("SYST:ERR?", "print(errorqueue.count)", "print(errorqueue.next())")
        outputs = (":OUTP?", ":OUTP1?", ":OUTP2?")
        outputs += ("print(smua.source.output)", "print(smub.source.output)")
        return [m for m in self.messages if m not in (*checks, *outputs)]

    def clear(self) -> None:
        self.messages.clear()


@pytest.fixture(scope="session")
def sim_rm() -> Callable[[str], pyvisa.ResourceManager]:
    """``sim_rm("keithley2450.yaml")``: one pyvisa-sim manager per recording, kept for
    the session (pyvisa-sim keeps device state anyway; the drivers drain what they use)."""
    managers: dict[str, pyvisa.ResourceManager] = {}

    def get(name: str) -> pyvisa.ResourceManager:
        if name not in managers:
            managers[name] = pyvisa.ResourceManager(f"{RECORDED / name}@sim")
        return managers[name]

    return get


@pytest.fixture
def open_sim(sim_rm) -> Iterator[Callable[[str, str], pyvisa.resources.MessageBasedResource]]:
    """``open_sim("keithley2450.yaml", "GPIB0::18::INSTR")`` -> an open resource, closed
    after the test."""
    opened = []

    def open_(name: str, resource: str) -> pyvisa.resources.MessageBasedResource:
        res = sim_rm(name).open_resource(resource)
        opened.append(res)
        return res

    yield open_
    for res in opened:
        res.close()


@pytest.fixture
def spy_on() -> Callable[[pyvisa.resources.MessageBasedResource], WriteSpy]:
    """``spy_on(resource)`` -> a :class:`WriteSpy` recording what is sent from now on."""
    return WriteSpy
