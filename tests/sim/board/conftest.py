"""Helpers for the board tests: a raw-bytes protocol client (no driver exists yet), a
fake SMU that measures through its bench probes, and benches opened as rramsim:// ports."""

from __future__ import annotations

import re
import uuid
import zlib

import numpy as np
import pytest
import serial

import rramlab.sim.protocol_rramsim  # noqa: F401  (registers rramsim://)
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.params import CrossbarParams

_BLOCK = re.compile(r" BLOCK (\d+) ([0-9a-f]{8})$")


def crc(data: bytes) -> str:
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


def f32(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


class BoardClient:
    """Speaks docs/board-protocol.md over any pyserial port, byte by byte."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port

    def send(self, line: str | bytes, block: bytes | None = None, *, crc_hex: str | None = None):
        raw = line.encode() if isinstance(line, str) else line
        if block is not None:
            raw += f" BLOCK {len(block)} {crc_hex or crc(block)}".encode()
        self.port.write(raw + b"\n" + (block or b""))

    def line(self) -> str:
        raw = self.port.readline()
        assert raw.endswith(b"\n"), f"no complete reply line, got {raw!r}"
        return raw[:-1].decode("ascii")

    def reply(self) -> tuple[str, bytes | None]:
        """One reply line (without its BLOCK suffix) and its block, CRC checked."""
        text = self.line()
        found = _BLOCK.search(text)
        if found is None:
            return text, None
        n, announced = int(found.group(1)), found.group(2)
        data = self.port.read(n)
        assert len(data) == n, f"block short: {len(data)} of {n} bytes"
        assert crc(data) == announced
        return text[: found.start()], data

    def query(self, line: str | bytes, block: bytes | None = None) -> tuple[str, bytes | None]:
        self.send(line, block)
        return self.reply()

    def ok(self, line: str, block: bytes | None = None) -> str:
        """Send a command that must succeed without a block; its values."""
        text, data = self.query(line, block)
        assert text.startswith("OK") and data is None, f"{line!r} -> {text!r}"
        return text[2:].strip()

    def floats(self, line: str, block: bytes | None = None) -> tuple[str, np.ndarray]:
        text, data = self.query(line, block)
        assert data is not None, f"{line!r} -> {text!r} without a block"
        return text, np.frombuffer(data, dtype="<f4").astype(float)

    def form(self, rows: int, gate_V: float = 1.2) -> None:
        """Form every row: 100 us pulses of 3.6, 4.0 and 4.4 V under the gate's
        compliance (~50 uA: formed cells land near 50 uS)."""
        self.ok(f"GATE {gate_V}")
        for v in (3.6, 4.0, 4.4):
            for r in range(rows):
                self.ok(f"PULSE {v} 1e-4 ROW {r}")

    def in_waiting(self) -> int:
        return self.port.in_waiting


class FakeSMU:
    """Stands in for a simulated SMU: it measures through the probes it was given."""

    name = "Fake SMU"

    def __init__(self, model: str, probes) -> None:
        self.model, self.probes = model, probes

    def measure_current(self, v_V: float = 0.2) -> float:
        return self.probes[0].force_voltage(v_V, 1e-3, 1e-3).current_A

    def write(self, message: str) -> None:  # the MessageInstrument interface, unused
        pass

    def read(self) -> str | None:
        return None

    def clear(self) -> None:
        pass


@pytest.fixture
def client_class():
    """The BoardClient class, for tests that open their own ports."""
    return BoardClient


@pytest.fixture
def fake_smus(monkeypatch):
    """Benches get FakeSMUs (the real personalities are not needed here) and the
    backend's cache of built benches starts empty."""
    import rramlab.sim.bench as bench_module
    import rramlab.sim.visa_backend as backend

    monkeypatch.setattr(
        bench_module, "make_smu", lambda model, probes, clock, rng: FakeSMU(model, probes)
    )
    monkeypatch.setattr(backend, "_built", {})


@pytest.fixture
def open_board():
    """``open_board(bench)`` -> (BoardClient on rramsim://bench=<name>, bench)."""
    from rramlab.sim.visa_backend import register_bench, unregister_bench

    names, ports = [], []

    def make(bench: SimulatedBench) -> BoardClient:
        name = f"b{uuid.uuid4().hex[:12]}"
        register_bench(name, bench)
        names.append(name)
        port = serial.serial_for_url(f"rramsim://bench={name}", timeout=5)
        ports.append(port)
        return BoardClient(port)

    yield make
    for port in ports:
        port.close()
    for name in names:
        unregister_bench(name)


@pytest.fixture
def bench16():
    """A 16 x 16 bench without SMUs."""
    return SimulatedBench(seed=11, smu_models=(), rows=16, cols=16)


@pytest.fixture
def quiet_params():
    """Default physics without defects (every cell can be programmed)."""
    return CrossbarParams(frac_stuck_low=0.0, frac_stuck_high=0.0, frac_unformable=0.0)
