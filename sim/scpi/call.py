"""What a command handler receives: one resolved program message unit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rramlab.sim.scpi.errors import ScpiError
from rramlab.sim.scpi.lexer import Param
from rramlab.sim.scpi.responses import ResponseStyle
from rramlab.sim.scpi.values import ValueType

_MISSING: Any = object()


@dataclass
class Call:
    """One command or query to execute.

    ``suffixes`` maps each suffixed node of the command (upper-case long form, e.g.
    ``"SOURCE"``) that appeared in the header to its numeric suffix (1 when the suffix
    was omitted); ``channel`` is the first of them, 1 if none.
    """

    header: str  # the resolved header as sent, e.g. "SOUR2:VOLT"
    query: bool
    params: tuple[Param, ...]
    style: ResponseStyle
    suffixes: dict[str, int] = field(default_factory=dict)

    @property
    def channel(self) -> int:
        return next(iter(self.suffixes.values()), 1)

    def suffix(self, node: str, default: int = 1) -> int:
        """The numeric suffix given to ``node`` (long form, any case), else ``default``."""
        return self.suffixes.get(node.upper(), default)

    def arg(self, index: int, kind: ValueType, default: Any = _MISSING, current: Any = None) -> Any:
        """Parameter ``index`` parsed as ``kind``; ``default`` when it was not sent (a
        missing parameter without a default is -109)."""
        if index >= len(self.params):
            if default is _MISSING:
                raise ScpiError(-109, f"parameter {index + 1} of {self.header}")
            return default
        return kind.parse(self.params[index], current)


Handler = Callable[[Call], str | None]
