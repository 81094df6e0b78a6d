"""SCPI command engine of the simulated instruments.

Generic and reusable: a personality subclasses :class:`ScpiInstrument`, registers its
commands on ``self.tree`` with their manual syntax (short/long forms, ``[:OPTional]``
nodes, ``<lo-hi>`` numeric suffixes) and gets the IEEE 488.2 message grammar, common
commands, status registers and the SCPI error queue.

Modules: :mod:`.lexer` (program messages into units), :mod:`.values` (parameter types),
:mod:`.tree` (header tree and registration), :mod:`.call` (what a handler receives),
:mod:`.errors` (codes and the error queue), :mod:`.status` (ESR/STB), :mod:`.common`
(``*IDN?``, ``*RST``, ``:SYSTem:ERRor?``...), :mod:`.responses` (response formatting),
:mod:`.engine` (execution).
"""

from rramlab.sim.scpi.call import Call
from rramlab.sim.scpi.engine import ScpiInstrument
from rramlab.sim.scpi.errors import ScpiError
from rramlab.sim.scpi.responses import ResponseStyle
from rramlab.sim.scpi.values import Boolean, Channels, Choice, Numeric, Text

__all__ = [
    "Boolean",
    "Call",
    "Channels",
    "Choice",
    "Numeric",
    "ResponseStyle",
    "ScpiError",
    "ScpiInstrument",
    "Text",
]
