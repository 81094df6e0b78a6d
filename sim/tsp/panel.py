"""Front-panel objects drivers touch in passing: ``display`` and ``beeper``.

They hold what they are told (the screen choice, user text) and do nothing else: a
simulated instrument has no panel. Accepting them keeps driver start-up sequences
(``display.screen = display.SMUA_SMUB``, ``beeper.enable = 0``) free of errors.
"""

from __future__ import annotations

from rramlab.sim.tsp.objects import HostObject, arg_string, setting_number

SCREENS = {"SMUA": 0.0, "SMUB": 1.0, "SMUA_SMUB": 2.0, "USER": 3.0}
MEASURE_FUNCS = {
    "MEASURE_DCAMPS": 0.0,
    "MEASURE_DCVOLTS": 1.0,
    "MEASURE_OHMS": 2.0,
    "MEASURE_WATTS": 3.0,
}


def _stored(obj: HostObject, name: str, default: float) -> None:
    store = {"value": default}

    def set_value(value: object) -> None:
        store["value"] = setting_number(value, f"{obj.path}.{name}")

    obj.attr(name, lambda: store["value"], set_value)


def display_object(channels: list[str]) -> HostObject:
    """``display`` with ``display.<channel>.measure.func`` for each channel name."""
    display = HostObject("display")
    for name, value in {**SCREENS, **MEASURE_FUNCS}.items():
        display.const(name, value)
    _stored(display, "screen", SCREENS["SMUA_SMUB"])
    _stored(display, "locallockout", 0.0)
    text = {"value": ""}

    def settext(args: list[object]) -> None:
        text["value"] = arg_string(args, 1, "display.settext")

    display.function("settext", settext)
    display.function("gettext", lambda args: text["value"])
    display.function("clear", lambda args: text.update(value=""))
    display.function("setcursor", lambda args: None)
    display.function("sendkey", lambda args: None)
    display.function("getlastkey", lambda args: 0.0)
    for channel in channels:
        panel = display.child(channel, HostObject(f"display.{channel}"))
        measure = panel.child("measure", HostObject(f"display.{channel}.measure"))
        _stored(measure, "func", MEASURE_FUNCS["MEASURE_DCAMPS"])
    return display


def beeper_object() -> HostObject:
    beeper = HostObject("beeper")
    beeper.const("ON", 1.0)
    beeper.const("OFF", 0.0)
    _stored(beeper, "enable", 1.0)
    beeper.function("beep", lambda args: None)
    return beeper
