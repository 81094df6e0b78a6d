"""What a simulated message-based instrument offers its transports.

Every simulated instrument (SMUs now, the array board later) is a
:class:`MessageInstrument`: the transports (the pyvisa backend, the TCP server, the
pyserial URL handler) turn bytes into program messages and back, and know nothing of
SCPI, TSP or physics.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class MessageInstrument(Protocol):
    """A simulated instrument, one program message at a time.

    ``write`` takes one program message with its terminator removed (a line of text;
    it may hold several ``;``-separated commands). Replies are queued; ``read`` returns
    the next one without its terminator, or ``None`` when nothing is queued (a real
    transport then times out). ``clear`` is a device clear: empty the input and output
    queues without resetting settings. ``name`` is a short human name ("Keithley 2450").
    """

    name: str

    def write(self, message: str) -> None: ...

    def read(self) -> str | None: ...

    def clear(self) -> None: ...
