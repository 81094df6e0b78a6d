"""Fake instruments for the transport tests: enough grammar to tell replies apart, no
physics, so the transports are tested without the real personalities."""

from __future__ import annotations

import uuid

import numpy as np
import pytest


class FakeSMU:
    """A MessageInstrument with a toy grammar (``;`` separates commands):

    ``*IDN?``, ``ECHO? <text>`` (replies text), ``SET <v>`` / ``GET?`` (a setting),
    ``RAND?`` (a draw from the bench's generator), ``ERR?`` (error queue), ``*TRG``,
    ``BOOM`` (raises, like a bug in a personality); anything else queues -113.
    """

    def __init__(self, model: str = "2450", rng: np.random.Generator | None = None) -> None:
        self.model = model
        self.name = f"Fake {model}"
        self.rng = rng
        self.messages: list[str] = []
        self.errors: list[str] = []
        self.value = "0"
        self.cleared = 0
        self.triggers = 0
        self._out: list[str] = []

    def write(self, message: str) -> None:
        self.messages.append(message)
        for command in message.split(";"):
            self._execute(command.strip())

    def _execute(self, command: str) -> None:
        header, _, arg = command.partition(" ")
        header = header.upper()
        if header == "*IDN?":
            self._out.append(f"FAKE,MODEL {self.model},0001,1.0")
        elif header == "ECHO?":
            self._out.append(arg)
        elif header == "SET":
            self.value = arg
        elif header == "GET?":
            self._out.append(self.value)
        elif header == "RAND?":
            assert self.rng is not None
            self._out.append(f"{self.rng.random():.17g}")
        elif header == "ERR?":
            self._out.append(self.errors.pop(0) if self.errors else '0,"No error"')
        elif header == "*TRG":
            self.triggers += 1
        elif header == "BOOM":
            raise RuntimeError("a bug in the personality")
        else:
            self.errors.append('-113,"Undefined header"')

    def read(self) -> str | None:
        return self._out.pop(0) if self._out else None

    def clear(self) -> None:
        self._out.clear()
        self.cleared += 1


class OverrunAwareSMU(FakeSMU):
    """A FakeSMU that, like a real one, knows the input-overrun error."""

    def __init__(self, model: str = "2450") -> None:
        super().__init__(model)
        self.overruns = 0

    def input_overrun(self) -> None:
        self.overruns += 1
        self.errors.append('-363,"Input buffer overrun"')


class FakeBench:
    """What the transports need of a bench: SMUs by model name."""

    def __init__(self) -> None:
        self.smus = {m: FakeSMU(m) for m in ("2450", "2636B", "B2902A")}


@pytest.fixture
def fakes():
    """The fake classes, for tests that build their own."""
    return {"FakeSMU": FakeSMU, "OverrunAwareSMU": OverrunAwareSMU, "FakeBench": FakeBench}


@pytest.fixture
def fake_bench():
    return FakeBench()


@pytest.fixture
def rm(fake_bench):
    """A pyvisa ResourceManager on ``fake_bench`` through ``bench=<name>@rramsim``."""
    import pyvisa

    from rramlab.sim.visa_backend import register_bench, unregister_bench

    name = f"t{uuid.uuid4().hex[:12]}"
    register_bench(name, fake_bench)
    manager = pyvisa.ResourceManager(f"bench={name}@rramsim")
    yield manager
    manager.close()
    unregister_bench(name)


@pytest.fixture
def fake_personalities(monkeypatch):
    """Benches built from a spec get FakeSMUs drawing on the bench's generator; the
    backend's cache of built benches starts empty and is restored afterwards."""
    import rramlab.sim.bench as bench_module
    import rramlab.sim.visa_backend as backend

    monkeypatch.setattr(
        bench_module, "make_smu", lambda model, probes, clock, rng: FakeSMU(model, rng)
    )
    monkeypatch.setattr(backend, "_built", {})
