"""Exceptions that rramlab raises on purpose.

Wrong arguments raise the built-in ``ValueError``/``TypeError`` with a message naming
the argument (:class:`LimitError` is a ``ValueError`` too); the other classes describe
conditions of the bench, the instruments or the physics.
"""


class RramlabError(Exception):
    """Base class of every rramlab-specific error."""


class ConvergenceError(RramlabError):
    """An iterative solve (circuit network, refinement loop) did not converge."""


class InstabilityError(RramlabError):
    """A closed-loop circuit would not settle (e.g. the INV circuit's eigenvalue condition)."""


class LimitError(RramlabError, ValueError):
    """A requested value is outside the station's safety limits or the instrument's
    ranges. Raised before anything is sent to the instrument."""


class InstrumentError(RramlabError):
    """An instrument reported an error (its error queue) or replied in a way that makes no
    sense. ``code`` and ``message`` are the instrument's own; ``instrument`` names it and
    ``command`` is what was sent last, when known."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        instrument: str = "",
        command: str = "",
    ) -> None:
        self.code = code
        self.message = message
        self.instrument = instrument
        self.command = command
        where = f"{instrument}: " if instrument else ""
        what = f"error {code}, " if code is not None else ""
        after = f" (after {command!r})" if command else ""
        super().__init__(f"{where}{what}{message}{after}")


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer in time."""


class ConnectionLost(InstrumentError):
    """The link to an instrument is gone (a cable pulled, the instrument switched off,
    the network down): every later call fails the same way until the link is opened
    again (``ArrayBoard.reconnect()``, or a new driver object)."""


class OutputStuckError(InstrumentError):
    """An output is still on after it was turned off (the instrument says so when
    asked). The driver believes it is on; nothing should touch the device under test
    until someone has looked at the instrument."""


class StationFileError(RramlabError, ValueError):
    """A station file is malformed (raised before any instrument is opened).

    ``path`` is the file as given; ``problems`` lists each ``(where, what)``: ``where``
    is a field path such as ``instruments.k2636.driver`` (or ``line 5``, or ``""`` for
    the file as a whole) and ``what`` says what was expected and what was found. The
    message has one line per problem: ``<path>: <where>: <what>``.
    """

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = [
            f"{self.path}: {where}: {what}" if where else f"{self.path}: {what}"
            for where, what in self.problems
        ]
        super().__init__("\n".join(lines))
