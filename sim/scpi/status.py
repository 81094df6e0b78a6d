"""IEEE 488.2 status reporting: the standard event status register (ESR) with its
enable mask, the status byte (STB) with its service request enable (SRE), and the
SCPI OPERation/QUEStionable enable registers that ``:STATus:PRESet`` resets.

Status byte bits (IEEE 488.2 11.2, SCPI-99 9.1): 2 EAV (error/event queue not empty),
3 QSB (questionable summary), 4 MAV (message available), 5 ESB (an enabled ESR bit is
set), 6 MSS/RQS (an enabled STB bit is set), 7 OSB (operation summary).
"""

from __future__ import annotations

from rramlab.sim.scpi.errors import ESR_PON, esr_bit

STB_EAV = 4
STB_QSB = 8
STB_MAV = 16
STB_ESB = 32
STB_MSS = 64
STB_OSB = 128


class StatusRegisters:
    """The registers; the engine tells them about errors and the output queue."""

    def __init__(self) -> None:
        self.esr = ESR_PON  # the power-on bit stays set until read or cleared
        self.ese = 0
        self.sre = 0
        self.operation_enable = 0
        self.questionable_enable = 0
        self.operation_event = 0
        self.questionable_event = 0

    def record_error(self, code: int) -> None:
        self.esr |= esr_bit(code)

    def read_esr(self) -> int:
        """``*ESR?``: the register's value; reading clears it."""
        value, self.esr = self.esr, 0
        return value

    def status_byte(self, errors_queued: bool, message_available: bool) -> int:
        stb = 0
        if errors_queued:
            stb |= STB_EAV
        if self.questionable_event & self.questionable_enable:
            stb |= STB_QSB
        if message_available:
            stb |= STB_MAV
        if self.esr & self.ese:
            stb |= STB_ESB
        if self.operation_event & self.operation_enable:
            stb |= STB_OSB
        if stb & self.sre & ~STB_MSS:
            stb |= STB_MSS
        return stb

    def clear_events(self) -> None:
        """``*CLS``: event registers cleared; enable masks kept."""
        self.esr = 0
        self.operation_event = 0
        self.questionable_event = 0

    def preset(self) -> None:
        """``:STATus:PRESet``: SCPI enable registers back to their preset (0)."""
        self.operation_enable = 0
        self.questionable_enable = 0
