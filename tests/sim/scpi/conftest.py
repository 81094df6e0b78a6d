"""A toy SCPI instrument on the generic engine, so engine tests depend on no personality."""

from __future__ import annotations

import pytest

from rramlab.sim.scpi import (
    Boolean,
    Call,
    Channels,
    Choice,
    Numeric,
    ScpiError,
    ScpiInstrument,
    Text,
)
from rramlab.sim.scpi.lexer import Kind


class Toy(ScpiInstrument):
    """Two source channels with a level, a limit, a function and an output switch."""

    def __init__(self, **kwargs) -> None:
        super().__init__("Toy", "ACME,TOY,1234,1.0", **kwargs)
        self.measurements: list[float] = []
        self._register()
        self.reset()

    def reset(self) -> None:
        self.level = {1: 0.0, 2: 0.0}
        self.limit = {1: 1e-4, 2: 1e-4}
        self.function = {1: "VOLT", 2: "VOLT"}
        self.output = {1: False, 2: False}
        self.text = ""
        self.closed: tuple[int, ...] = ()
        self.block = b""
        self.count = 1
        self.commands_run = 0

    def before_command(self, call: Call) -> None:
        self.commands_run += 1

    def _register(self) -> None:
        t = self.tree
        src = ":SOURce<1-2>"
        t.setting(
            f"{src}:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
            Numeric(-10.0, 10.0, 0.0, unit="V", step=0.5),
            get=lambda c: self.level[c.channel],
            put=self._set_level,
        )
        t.setting(
            f"{src}:VOLTage:ILIMit[:LEVel]",
            Numeric(1e-9, 1.0, 1e-4, unit="A", magnitude=True),
            get=lambda c: self.limit[c.channel],
            put=self._set_limit,
        )
        t.setting(
            f"{src}:FUNCtion[:MODE]",
            Choice(("VOLTage", "CURRent")),
            get=lambda c: self.function[c.channel],
            put=lambda c, v: self.function.__setitem__(c.channel, v),
        )
        t.setting(
            ":OUTPut<1-2>[:STATe]",
            Boolean(),
            get=lambda c: self.output[c.channel],
            put=lambda c, v: self.output.__setitem__(c.channel, v),
        )
        t.setting(
            ":DISPlay:TEXT",
            Text(),
            get=lambda c: self.text,
            put=lambda c, v: setattr(self, "text", v),
        )
        t.setting(
            ":SENSe:COUNt",
            Numeric(1, 100, 1, integer=True),
            get=lambda c: self.count,
            put=lambda c, v: setattr(self, "count", int(v)),
        )
        t.add(":ROUTe:CLOSe", command=self._close, query=lambda c: str(self.closed), args=(1, 1))
        t.add(":DATA:BLOCk", command=self._block, args=(1, 1))
        t.add(":MEASure:VOLTage[:DC]", query=self._measure)
        t.add(":FETCh", query=self._fetch)
        t.add(":TEST:CRASh", command=lambda c: 1 / 0)

    def _set_level(self, call: Call, value: float) -> None:
        if abs(value) > 5 and self.limit[call.channel] > 0.5:
            raise ScpiError(-221, "more than 5 V needs a limit below 0.5 A")
        self.level[call.channel] = value

    def _set_limit(self, call: Call, value: float) -> None:
        if abs(self.level[call.channel]) > 5 and value > 0.5:
            raise ScpiError(-221)
        self.limit[call.channel] = value

    def _close(self, call: Call) -> None:
        self.closed = call.arg(0, Channels((1, 2, 3, 4)))

    def _block(self, call: Call) -> None:
        param = call.params[0]
        if param.kind is not Kind.BLOCK:
            raise ScpiError(-104)
        self.block = bytes(param.value)  # type: ignore[arg-type]

    def _measure(self, call: Call) -> str:
        self.measurements.append(self.level[1])
        return call.style.nr3(self.level[1])

    def _fetch(self, call: Call) -> str:
        if not self.measurements:
            raise ScpiError(-230, "nothing measured yet")
        return call.style.nr3(self.measurements[-1])

    # ------------------------------------------------------------------ test helpers
    def ask(self, message: str) -> str:
        """Write ``message`` and return the response line it must produce."""
        self.write(message)
        response = self.read()
        assert response is not None, f"no response to {message!r}"
        return response

    def error_codes(self) -> list[int]:
        """Every queued error code, oldest first (the queue is empty afterwards)."""
        codes = []
        while (code := int(self.ask(":SYST:ERR:CODE?"))) != 0:
            codes.append(code)
        return codes


@pytest.fixture
def make_toy() -> type[Toy]:
    return Toy


@pytest.fixture
def toy() -> Toy:
    inst = Toy()
    inst.write("*CLS")  # forget the power-on bit
    return inst
