"""What faults to inject into a simulated instrument's link, and the text that says so.

A :class:`FaultSpec` is one rule for one instrument. Each program message (a SCPI/TSP
line, a board command line) that the rule applies to draws, from the rule's own seeded
generator, whether it meets each fault; docs/faults.md describes every kind. The text
form, used by ``rramlab sim serve --fault``, fault files and :func:`parse_fault`, is::

    TARGET:key=value,key=value,...

``TARGET`` names the instrument: an SMU model (``2450``, ``2636B``, ``B2902A``), ``smu``
(every SMU of the bench) or ``board``. Keys (all optional):

==================  =======================================================================
``seed=N``          seed of the rule's generator (default 0)
``latency=S``       seconds of real (wall) delay before every reply
``jitter=S``        up to S seconds more, drawn per message
``drop=P``          probability that a reply is lost whole
``truncate=P``      probability that a reply loses its tail (its terminator included)
``garble=P``        probability that bytes of a reply become line noise (non-ASCII bytes)
``garble_bytes=N``  how many bytes a garbled reply has changed (default 1)
``late=P``          probability that a reply arrives ``late_s`` late
``late_s=S``        how late a late reply is (default 1 s)
``hang=P``          probability that the instrument hangs at a message
``hang_s=S``        how long a hang lasts: the message and what follows it wait, then
                    run; 0 (default): until a device clear or until the link is opened
                    again, and what was sent meanwhile is lost
``disconnect=P``    probability that the link is lost at a message
``error=P``         probability that an error is queued after a message
``code=N``          the code queued (default -300 for an SMU, 400 for the board)
``stuck=1``         the output stays on when turned off (0/1, true/false)
``match=TEXT``      only messages containing TEXT (any case) meet faults
``skip=N``          the first N messages the rule applies to pass untouched
``limit=N``         the rule injects at most N faults (latency aside), then none
==================  =======================================================================

Example: ``2450:latency=0.01,drop=0.01,garble=0.01,seed=7``. A fault file holds one such
rule per line; ``#`` starts a comment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["FAULT_KINDS", "TARGETS", "FaultSpec", "parse_fault", "read_fault_file"]

#: The faults a rule can inject, in the order they take precedence at one message.
FAULT_KINDS = ("disconnect", "hang", "error", "drop", "truncate", "garble", "late")
#: Target names besides the SMU models: every SMU of a bench, and the array board.
TARGETS = ("smu", "board")

# text key -> field name, where they differ
_FIELD_FOR_KEY = {"latency": "latency_s", "jitter": "jitter_s"}
_KEY_FOR_FIELD = {v: k for k, v in _FIELD_FOR_KEY.items()}


@dataclass(frozen=True)
class FaultSpec:
    """One fault rule (see the module docstring for what each field does).

    Probabilities are per message the rule applies to; times are wall-clock seconds.
    """

    seed: int = 0
    latency_s: float = 0.0
    jitter_s: float = 0.0
    drop: float = 0.0
    truncate: float = 0.0
    garble: float = 0.0
    garble_bytes: int = 1
    late: float = 0.0
    late_s: float = 1.0
    hang: float = 0.0
    hang_s: float = 0.0
    disconnect: float = 0.0
    error: float = 0.0
    code: int | None = None
    stuck: bool = False
    match: str = ""
    skip: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        for name in FAULT_KINDS:
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                raise ValueError(f"{name} is a probability in 0..1, got {p!r}")
        for name in ("latency_s", "jitter_s", "hang_s", "late_s"):
            t = getattr(self, name)
            if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t < math.inf:
                raise ValueError(f"{_KEY_FOR_FIELD.get(name, name)} is seconds >= 0, got {t!r}")
        for name, low in (("seed", 0), ("garble_bytes", 1), ("skip", 0)):
            n = getattr(self, name)
            if isinstance(n, bool) or not isinstance(n, int) or n < low:
                raise ValueError(f"{name} is an integer >= {low}, got {n!r}")
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0
        ):
            raise ValueError(f"limit is an integer >= 0, got {self.limit!r}")
        if self.code is not None and (
            isinstance(self.code, bool) or not isinstance(self.code, int)
        ):
            raise ValueError(f"code is an integer error code, got {self.code!r}")
        if not isinstance(self.stuck, bool):
            raise ValueError(f"stuck is true or false, got {self.stuck!r}")
        if not isinstance(self.match, str) or "\n" in self.match:
            raise ValueError(f"match is one line of text, got {self.match!r}")

    @property
    def injects(self) -> bool:
        """Whether the rule can inject any per-message fault (not just latency)."""
        return any(getattr(self, kind) > 0 for kind in FAULT_KINDS)

    def to_text(self) -> str:
        """The ``key=value,...`` form of the fields that differ from the defaults."""
        default = FaultSpec()
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if isinstance(value, bool):
                shown: Any = int(value)
            elif isinstance(value, float):
                shown = f"{value:g}"
            else:
                shown = value
            parts.append(f"{_KEY_FOR_FIELD.get(f.name, f.name)}={shown}")
        return ",".join(parts) or "none"

    @classmethod
    def from_text(cls, body: str) -> FaultSpec:
        """Parse ``key=value,key=value`` (no target). Raises ``ValueError``."""
        values: dict[str, Any] = {}
        known = {_KEY_FOR_FIELD.get(f.name, f.name): f for f in fields(cls)}
        for part in (p.strip() for p in body.split(",")):
            if not part:
                continue
            key, sep, text = part.partition("=")
            key, text = key.strip().lower(), text.strip()
            if not sep:
                raise ValueError(f"expected key=value, got {part!r}")
            if key not in known:
                raise ValueError(f"unknown key {key!r}; keys: {', '.join(known)}")
            name = _FIELD_FOR_KEY.get(key, key)
            if name in values:
                raise ValueError(f"{key!r} given twice")
            values[name] = _value(name, key, text)
        return cls(**values)


def _value(name: str, key: str, text: str) -> Any:
    if name == "match":
        return text
    if name == "stuck":
        word = text.lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"stuck is 0/1 or true/false, got {text!r}")
    if name in ("seed", "garble_bytes", "skip", "limit", "code"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key} must be an integer, got {text!r}") from None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {text!r}") from None


def parse_fault(text: str) -> tuple[str, FaultSpec]:
    """``"2450:drop=0.1,seed=3"`` -> ``("2450", FaultSpec(drop=0.1, seed=3))``.

    The target is returned as written (stripped); which names a bench knows is the
    bench's business. Raises ``ValueError`` with the text in the message."""
    target, sep, body = str(text).partition(":")
    target = target.strip()
    if not sep or not target or any(c in target for c in " =,"):
        raise ValueError(f"expected TARGET:key=value,... (e.g. 2450:drop=0.01), got {text!r}")
    try:
        return target, FaultSpec.from_text(body)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


def read_fault_file(path: str | Path) -> list[tuple[str, FaultSpec]]:
    """The rules of a fault file: one ``TARGET:key=value,...`` per line; blank lines and
    ``#`` comments (a line starting with ``#``, or `` #`` to the end of a line) are
    skipped. Raises ``ValueError`` naming the file and line."""
    path = Path(path)
    rules = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            rules.append(parse_fault(line))
        except ValueError as exc:
            raise ValueError(f"{path}: line {number}: {exc}") from None
    return rules
