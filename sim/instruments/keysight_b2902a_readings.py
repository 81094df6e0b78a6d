"""Readings of the simulated Keysight B2902A: ``:FETCh[:SCALar|:ARRay]?``, ``:READ...?``
(INIT then FETCh), ``:MEASure?`` (spot measurement), each also per element, with a
channel list; ``:FORMat:ELEMents:SENSe``, ``:FORMat[:DATA]`` and ``:SYSTem:LFRequency?``.

:class:`KeysightB2902AReadings` is mixed into
:class:`~rramlab.sim.instruments.keysight_b2902a.KeysightB2902ASim`; it uses the
instrument's ``tree``, ``states``, ``_channels``, the trigger's ``_initiate`` and the
bench time origin ``_t0``, and owns ``elements``.
"""

from __future__ import annotations

from rramlab.sim.instruments.keysight_b2902a_state import (
    LINE_FREQUENCY_HZ,
    SENSE_NAMES,
    ChannelState,
    Point,
)
from rramlab.sim.scpi import Call, Choice
from rramlab.sim.scpi.responses import NOT_A_NUMBER
from rramlab.sim.smu_channel import Reading

ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT", "SOUR")  # fixed response order
ELEMENT_NAMES = ("VOLTage", "CURRent", "RESistance", "TIME", "STATus", "SOURce")
STATUS_COMPLIANCE = 8  # [assume] status word bit reported for a limited reading


class KeysightB2902AReadings:
    """The B2902A's readings (a mixin of ``KeysightB2902ASim``)."""

    states: list[ChannelState]
    elements: list[str]
    _t0: float

    def _point(self, s: ChannelState, r: Reading) -> Point:
        """What FETCh returns for a reading (time from the instrument's power-on)."""
        status = STATUS_COMPLIANCE if r.tripped else 0
        return Point(r.voltage_V, r.current_A, r.time_s - self._t0, status, r.source_V_or_A)

    def _register_data(self) -> None:
        tree = self.tree
        variants = [("", None)] + [
            (f":{n}", e) for n, e in zip(ELEMENT_NAMES, ELEMENTS, strict=True)
        ]
        for suffix, element in variants:
            el = (element,) if element else None
            tree.add(
                f":FETCh:ARRay{suffix}",
                query=lambda c, el=el: self._fetch(c, el, True),
                query_args=(0, 1),
            )
            tree.add(
                f":FETCh[:SCALar]{suffix}",
                query=lambda c, el=el: self._fetch(c, el, False),
                query_args=(0, 1),
            )
            tree.add(
                f":READ:ARRay{suffix}",
                query=lambda c, el=el: self._read(c, el, True),
                query_args=(0, 1),
            )
            tree.add(
                f":READ[:SCALar]{suffix}",
                query=lambda c, el=el: self._read(c, el, False),
                query_args=(0, 1),
            )
        tree.add(":MEASure", query=lambda c: self._measure(c, None), query_args=(0, 1))
        for name, element in (
            ("CURRent[:DC]", "CURR"),
            ("VOLTage[:DC]", "VOLT"),
            ("RESistance", "RES"),
        ):
            tree.add(
                f":MEASure:{name}",
                query=lambda c, e=element: self._measure(c, (e,)),
                query_args=(0, 1),
            )
        tree.add(
            ":FORMat:ELEMents:SENSe",
            command=self._set_elements,
            query=lambda call: ",".join(self.elements),
            args=(1, len(ELEMENTS)),
        )
        tree.setting(
            ":FORMat[:DATA]", Choice(("ASCii",)), get=lambda call: "ASC", put=lambda call, v: None
        )
        tree.add(":SYSTem:LFRequency", query=lambda c: c.style.nr1(int(LINE_FREQUENCY_HZ)))

    def _set_elements(self, call: Call) -> None:
        chosen = {call.arg(i, Choice(ELEMENT_NAMES)) for i in range(len(call.params))}
        self.elements = [e for e in ELEMENTS if e in chosen]

    def _fetch(self, call: Call, elements: tuple[str, ...] | None, array: bool) -> str:
        parts = []
        for c in self._channels(call):
            s = self.states[c - 1]
            points = s.data if array else s.data[-1:]
            if not points:  # no data: SCPI's NaN
                points = [None]
            parts += [self._format(call, s, p, elements) for p in points]
        return ",".join(parts)

    def _read(self, call: Call, elements: tuple[str, ...] | None, array: bool) -> str:
        self._initiate(call)
        return self._fetch(call, elements, array)

    def _measure(self, call: Call, elements: tuple[str, ...] | None) -> str:
        """A spot measurement on each channel at its present output."""
        parts = []
        for c in self._channels(call):
            s = self.states[c - 1]
            s.sync()
            if not s.channel.output_on and s.on_auto:
                s.channel.set_output(True)
            point = self._point(s, s.channel.measure())
            s.data = [point]
            # :MEASure:<f>? measures <f> whether or not its function is on.
            parts.append(self._format(call, s, point, elements, forced=elements is not None))
        return ",".join(parts)

    def _format(
        self,
        call: Call,
        s: ChannelState,
        p: Point | None,
        elements: tuple[str, ...] | None,
        forced: bool = False,
    ) -> str:
        chosen = elements if elements is not None else tuple(self.elements)
        return ",".join(call.style.nr3(self._value(s, p, e, forced)) for e in chosen)

    @staticmethod
    def _value(s: ChannelState, p: Point | None, element: str, forced: bool) -> float:
        if p is None:
            return NOT_A_NUMBER
        if element in SENSE_NAMES and not forced and element not in s.sense_on:
            return NOT_A_NUMBER  # the measurement function is off
        if element == "VOLT":
            return p.voltage_V
        if element == "CURR":
            return p.current_A
        if element == "RES":
            return p.voltage_V / p.current_A if p.current_A != 0 else NOT_A_NUMBER
        if element == "TIME":
            return p.time_s
        if element == "STAT":
            return float(p.status)
        return p.source
