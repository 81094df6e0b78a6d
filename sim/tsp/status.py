"""The 2600B status model, as far as programs read it.

``status.measurement.instrument.smua.condition`` carries the compliance bits
(VLMT 1, ILMT 2) and BAV (256, a dedicated buffer holds readings);
``status.measurement.condition`` summarises them over the channels (INST 8192);
``status.condition`` is the status byte (EAV 4 while errors are queued, MAV 16 while
output is). Enable and transition registers are stored but drive nothing: the
simulator raises no service requests. Sweeps finish inside ``initiate()``, so
``status.operation.sweeping.condition`` is always 0.
"""

from __future__ import annotations

from collections.abc import Callable

from rramlab.sim.tsp.objects import HostObject, setting_number
from rramlab.sim.tsp.smu import Smu2600

SMU_BITS = {
    "VOLTAGE_LIMIT": 1.0,
    "VLMT": 1.0,
    "CURRENT_LIMIT": 2.0,
    "ILMT": 2.0,
    "READING_OVERFLOW": 128.0,
    "ROF": 128.0,
    "BUFFER_AVAILABLE": 256.0,
    "BAV": 256.0,
}
SUMMARY_BITS = {**SMU_BITS, "INSTRUMENT_SUMMARY": 8192.0, "INST": 8192.0}


def register(path: str, condition: Callable[[], float], bits: dict[str, float]) -> HostObject:
    """A status register set: condition/event read ``condition()``; enable, ntr and
    ptr are stored."""
    reg = HostObject(path)
    for name, value in bits.items():
        reg.const(name, value)
    reg.attr("condition", condition)
    reg.attr("event", condition)
    for name in ("enable", "ntr", "ptr"):
        store = {"value": 0.0}

        def set_value(value: object, store: dict[str, float] = store, name: str = name) -> None:
            store["value"] = setting_number(value, f"{path}.{name}")

        reg.attr(name, lambda store=store: store["value"], set_value)
    return reg


def status_object(smus: list[Smu2600], status_byte: Callable[[], int]) -> HostObject:
    """The ``status`` object for an instrument with channels ``smus``."""
    status = HostObject("status")
    status.attr("condition", lambda: float(status_byte()))
    status.function("reset", lambda args: None)

    def summary() -> float:
        bits = 0
        for smu in smus:
            bits |= int(smu.status_bits())
        return float(bits | (8192 if bits else 0))

    measurement = register("status.measurement", summary, SUMMARY_BITS)
    status.child("measurement", measurement)
    instrument_bits = {smu.path.upper(): float(2 << i) for i, smu in enumerate(smus)}

    def instrument_summary() -> float:
        return float(sum(2 << i for i, smu in enumerate(smus) if smu.status_bits()))

    instrument = register("status.measurement.instrument", instrument_summary, instrument_bits)
    measurement.child("instrument", instrument)
    for smu in smus:
        instrument.child(
            smu.path,
            register(f"status.measurement.instrument.{smu.path}", smu.status_bits, SMU_BITS),
        )
    operation = register("status.operation", lambda: 0.0, {})
    operation.child("sweeping", register("status.operation.sweeping", lambda: 0.0, {}))
    status.child("operation", operation)
    status.child("questionable", register("status.questionable", lambda: 0.0, {}))
    status.child("standard", register("status.standard", lambda: 0.0, {}))
    return status
