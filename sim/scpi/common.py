"""The commands every SCPI instrument has: IEEE 488.2 common commands, the SCPI error
queue (``:SYSTem:ERRor``) and the STATus subsystem's registers.

All operations of the simulated instruments finish before the next command runs (time
passes on the bench clock inside the command), so ``*OPC`` sets the OPC bit at once,
``*OPC?`` answers 1, ``*WAI`` has nothing to wait for and ``*TRG`` nothing to trigger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rramlab.sim.scpi.call import Call
from rramlab.sim.scpi.errors import ESR_OPC
from rramlab.sim.scpi.values import Numeric

if TYPE_CHECKING:
    from rramlab.sim.scpi.engine import ScpiInstrument

_REGISTER = Numeric(0, 255, 0, integer=True, keywords=False)
_WORD = Numeric(0, 65535, 0, integer=True, keywords=False)
SCPI_VERSION = "1999.0"


def add_common_commands(inst: ScpiInstrument) -> None:
    """Register the IEEE 488.2 common commands of ``inst``."""
    tree, status = inst.tree, inst.status
    tree.add("*IDN", query=lambda call: inst.idn)
    tree.add("*RST", command=lambda call: inst.reset())
    tree.add("*CLS", command=lambda call: inst.clear_status())
    tree.add("*OPC", command=lambda call: _set_opc(inst), query=lambda call: "1")
    tree.add("*WAI", command=lambda call: None)
    # Nothing in the simulation waits for a bus trigger, so *TRG has nothing to start.
    tree.add("*TRG", command=lambda call: None)
    tree.add("*TST", query=lambda call: call.style.nr1(inst.self_test()))
    tree.add("*ESR", query=lambda call: call.style.nr1(status.read_esr()))
    tree.add("*STB", query=lambda call: call.style.nr1(inst.status_byte()))

    def set_ese(call: Call) -> None:
        status.ese = int(call.arg(0, _REGISTER))

    def set_sre(call: Call) -> None:
        status.sre = int(call.arg(0, _REGISTER)) & ~64  # bit 6 (RQS) cannot be enabled

    tree.add("*ESE", command=set_ese, query=lambda c: c.style.nr1(status.ese), args=(1, 1))
    tree.add("*SRE", command=set_sre, query=lambda c: c.style.nr1(status.sre), args=(1, 1))


def _set_opc(inst: ScpiInstrument) -> None:
    inst.status.esr |= ESR_OPC


def add_system_error_commands(inst: ScpiInstrument) -> None:
    """``:SYSTem:ERRor[:NEXT]?``, ``:ERRor:ALL?``, ``:ERRor:COUNt?``, ``:ERRor:CODE``."""
    tree, errors = inst.tree, inst.errors

    def next_error(call: Call) -> str:
        entry = errors.pop()
        return call.style.error(entry.code, entry.message)

    def all_errors(call: Call) -> str:
        entries = [errors.pop()]
        while len(errors):
            entries.append(errors.pop())
        return ",".join(call.style.error(e.code, e.message) for e in entries)

    def next_code(call: Call) -> str:
        return call.style.nr1(errors.pop().code)

    def all_codes(call: Call) -> str:
        codes = [errors.pop().code]
        while len(errors):
            codes.append(errors.pop().code)
        return ",".join(call.style.nr1(c) for c in codes)

    tree.add(":SYSTem:ERRor[:NEXT]", query=next_error)
    tree.add(":SYSTem:ERRor:ALL", query=all_errors)
    tree.add(":SYSTem:ERRor:COUNt", query=lambda call: call.style.nr1(len(errors)))
    tree.add(":SYSTem:ERRor:CODE[:NEXT]", query=next_code)
    tree.add(":SYSTem:ERRor:CODE:ALL", query=all_codes)
    tree.add(":SYSTem:VERSion", query=lambda call: SCPI_VERSION)


def add_status_commands(inst: ScpiInstrument) -> None:
    """``:STATus:PRESet`` and the OPERation/QUEStionable registers (no event in the sim
    ever sets their bits, but drivers configure and read them)."""
    tree, status = inst.tree, inst.status
    tree.add(":STATus:PRESet", command=lambda call: status.preset())
    for name, attr in (("OPERation", "operation"), ("QUEStionable", "questionable")):

        def read_event(call: Call, attr: str = attr) -> str:
            value = getattr(status, f"{attr}_event")
            setattr(status, f"{attr}_event", 0)  # reading an event register clears it
            return call.style.nr1(value)

        def condition(call: Call) -> str:
            return call.style.nr1(0)

        tree.add(f":STATus:{name}[:EVENt]", query=read_event)
        tree.add(f":STATus:{name}:CONDition", query=condition)
        tree.setting(
            f":STATus:{name}:ENABle",
            _WORD,
            get=lambda call, attr=attr: getattr(status, f"{attr}_enable"),
            put=lambda call, v, attr=attr: setattr(status, f"{attr}_enable", int(v)),
        )
