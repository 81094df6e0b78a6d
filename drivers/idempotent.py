"""Which queries may be sent again after their reply was lost, late or unreadable: those
that only read state (docs/faults.md, "What the drivers do")."""

from __future__ import annotations

import re

#: an idempotent query is sent at most this many more times after a failed attempt
QUERY_RETRIES = 2

#: Queries that only read state, so sending one again after its reply was lost, late or
#: unreadable changes nothing. Matched (case-insensitive) against the whole message.
#: Not here, on purpose: measurements (``:READ?``, ``:MEAS?``, ``smuX.measure.iv()``:
#: each one holds the source on the device for another integration time), destructive
#: reads (``SYST:ERR?``, ``errorqueue.next()``: a lost reply takes its entry with it),
#: ``*OPC?`` (it waits for an operation; a timeout there is a real problem) and
#: anything with ``;`` or a setting in it. See docs/faults.md.
IDEMPOTENT_QUERIES: tuple[str, ...] = (
    r"\*IDN\?",
    r"\*LANG\?",
    r"\*STB\?",
    r":?SYST(EM)?:ERR(OR)?:COUN(T)?\?",
    r":?OUTP(UT)?[12]?(:STAT(E)?)?\?",
    r":?SOUR(CE)?[12]?:FUNC(TION)?(:MODE)?\?",
    r":?SOUR(CE)?[12]?:PULS(E)?:WIDT(H)?\?",
    r":?SOUR(CE)?[12]?:(VOLT|CURR)(AGE|ENT)?:(ILIM|VLIM)(IT)?:TRIP(PED)?\?",
    r":?SENS(E)?[12]?:(VOLT|CURR)(AGE|ENT)?:PROT(ECTION)?:TRIP(PED)?\?",
    r":?TRAC(E)?:DATA\?[^;]*",  # reading a buffer leaves it as it is
    r":?FETC(H)?(:ARR(AY)?)?\?[^;]*",  # the last acquisition, again
    r"print\((errorqueue\.count|smu[ab]\.source\.(compliance|output))\)",
    r"waitcomplete\(\) printbuffer\([^;]*\)",
)
_IDEMPOTENT = re.compile("|".join(f"(?:{q})" for q in IDEMPOTENT_QUERIES), re.IGNORECASE)


def is_idempotent(command: str) -> bool:
    """Whether ``command`` is a query that may be sent again (:data:`IDEMPOTENT_QUERIES`)."""
    return _IDEMPOTENT.fullmatch(command.strip()) is not None
