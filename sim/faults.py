"""Fault injection on the simulated bench: one mechanism for every transport.

A :class:`FaultInjector` sits between a simulated instrument and every transport that
reaches it (the ``@rramsim`` pyvisa backend, the TCP servers, the ``rramsim://`` port).
The transports ask it about each program message before the instrument sees it
(:func:`on_message`: deliver it, swallow it because the instrument hangs, or lose the
link) and about each reply on its way out (:func:`on_reply`: the bytes that leave,
possibly none, and the wall-clock delay before they do). Faults act on the bytes of
the link, so every transport gets the same ones; two act on the instrument itself
through small hooks (:mod:`rramlab.sim.fault_hooks`): an error pushed into its error
queue (:func:`queue_error`) and an output that stays on (:func:`set_stuck`).

Injectors are kept per instrument object, so faults follow the instrument whichever
transport reaches it::

    inject(bench.smus["2450"], FaultSpec(drop=0.05, seed=1))   # or parse_fault("...")
    inject_bench(bench, "board:hang=1,limit=1,match=READ")

Reproducible: each rule draws from its own ``numpy.random.Generator`` seeded from its
seed and the instrument's name, the same number of draws for every message it applies
to, so the same seed and the same messages give the same faults (:attr:`events`).
See docs/faults.md.
"""

from __future__ import annotations

import threading
import time
import weakref
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rramlab.sim.fault_hooks import queue_error, set_stuck, simulated_channels
from rramlab.sim.fault_spec import FAULT_KINDS, FaultSpec, parse_fault

__all__ = [
    "PASS",
    "Fate",
    "FaultEvent",
    "FaultInjector",
    "LinkLost",
    "clear_faults",
    "inject",
    "inject_bench",
    "injector_for",
    "on_message",
    "on_reply",
    "queue_error",
    "set_stuck",
    "simulated_channels",
]

#: Error codes queued by ``error=`` when the rule gives none.
DEFAULT_SMU_CODE = -300  # SCPI/TSP "Device-specific error"
DEFAULT_BOARD_CODE = 400  # board protocol: hardware fault
_SHOWN_CHARS = 80


class LinkLost(Exception):
    """Raised inside a transport when the injector disconnects the link."""


@dataclass(frozen=True)
class Fate:
    """What becomes of one program message: wait ``wait_s`` seconds (a hang holds the
    instrument's input), then ``deliver`` it to the instrument (False: a hang until
    cleared swallowed it) and queue ``error`` (code, message) after it; or lose the
    link first (``disconnect``)."""

    deliver: bool = True
    disconnect: bool = False
    error: tuple[int, str] | None = None
    wait_s: float = 0.0


#: A message no fault touches.
PASS = Fate()

_REPLY_KINDS = ("drop", "truncate", "garble", "late")


@dataclass(frozen=True)
class FaultEvent:
    """One injected fault: the instrument's message number (0-based, every message
    counted), the fault's kind and the message it met (clipped)."""

    index: int
    kind: str
    message: str


@dataclass
class _ReplyPlan:
    kind: str | None  # drop / truncate / garble / late, for the first reply of the message
    delay_s: float  # for every reply of the message
    details: np.ndarray  # uniform draws: [jitter, truncation, (position, value) per byte]
    rule: _Rule | None


class _Rule:
    """One :class:`FaultSpec` on one instrument, with its generator and counters."""

    def __init__(self, spec: FaultSpec, name: str) -> None:
        self.spec = spec
        self.rng = np.random.default_rng([spec.seed, zlib.crc32(name.encode())])
        self.match = spec.match.casefold()
        self.seen = 0  # messages the rule applied to
        self.injected = 0  # faults it injected

    @property
    def exhausted(self) -> bool:
        return self.spec.limit is not None and self.injected >= self.spec.limit

    def applies(self, text: str) -> bool:
        """Whether ``text`` is one of the rule's messages (past ``skip``)."""
        if self.match and self.match not in text.casefold():
            return False
        self.seen += 1
        return self.seen > self.spec.skip

    def draw(self) -> tuple[dict[str, bool], np.ndarray]:
        """Which faults this message meets, and the detail draws: always the same number
        of draws per message, so outcomes depend only on the seed and the messages."""
        kinds = self.rng.random(len(FAULT_KINDS))
        details = self.rng.random(2 + 2 * self.spec.garble_bytes)
        hit = {k: bool(u < getattr(self.spec, k)) for k, u in zip(FAULT_KINDS, kinds, strict=True)}
        return hit, details


class FaultInjector:
    """The faults of one instrument (see the module docstring).

    ``name`` seeds the rules' generators with the seeds and names the instrument in
    :attr:`events`; ``board`` selects the board's defaults (error code 400)."""

    def __init__(self, name: str, *, board: bool = False) -> None:
        self.name = name
        self.board = board
        self.rules: list[_Rule] = []
        self.events: list[FaultEvent] = []
        self.counts: Counter[str] = Counter()  # per kind, plus "swallowed" and "delayed"
        self.messages = 0  # every message seen
        self.epoch = 0  # links lost so far: transports opened before a loss are dead
        self._hung_until_clear = False  # hung until a device clear or a reopened link
        self._held_until = 0.0  # monotonic time a hang with a duration ends
        self._plan: _ReplyPlan | None = None
        self._last = (0, "")  # the message the next reply answers: (index, text)
        self._lock = threading.RLock()

    # -- configuration -----------------------------------------------------------------

    def add(self, spec: FaultSpec) -> None:
        """Add a rule."""
        with self._lock:
            self.rules.append(_Rule(spec, self.name))

    @property
    def stuck(self) -> bool:
        """Whether a rule keeps the output stuck on."""
        return any(r.spec.stuck for r in self.rules)

    @property
    def hung(self) -> bool:
        """Whether the instrument hangs until cleared (it takes and sends nothing)."""
        return self._hung_until_clear

    def device_clear(self) -> None:
        """A device clear reached the instrument: a hang without duration ends."""
        with self._lock:
            self._hung_until_clear = False
            self._plan = None

    def link_opened(self) -> None:
        """The host opened the link again (a new connection, a reopened port, which
        resets a board as DTR does): a hang without duration ends."""
        self.device_clear()

    def end_faults(self) -> None:
        """Forget every rule and end any hang (what :func:`clear_faults` does)."""
        with self._lock:
            self.rules.clear()
            self._hung_until_clear = False
            self._held_until = 0.0
            self._plan = None

    # -- the two questions a transport asks --------------------------------------------

    def message(self, text: str) -> Fate:
        """The fate of program message ``text`` (ask before delivering it)."""
        with self._lock:
            index = self.messages
            self.messages += 1
            self._plan = None
            if self._hung_until_clear:
                self.counts["swallowed"] += 1
                return Fate(deliver=False)
            wait = max(self._held_until - time.monotonic(), 0.0)
            error: tuple[int, str] | None = None
            delay = 0.0
            reply: tuple[str, np.ndarray, _Rule] | None = None
            for rule in self.rules:
                if not rule.applies(text):
                    continue
                hit, details = rule.draw()
                spec = rule.spec
                delay += spec.latency_s + spec.jitter_s * float(details[0])
                if rule.exhausted:
                    continue
                if hit["disconnect"]:
                    self._record(rule, index, "disconnect", text)
                    self.epoch += 1
                    return Fate(deliver=False, disconnect=True)
                if hit["hang"]:
                    self._record(rule, index, "hang", text)
                    if not spec.hang_s:
                        self._hung_until_clear = True
                        self.counts["swallowed"] += 1
                        return Fate(deliver=False)
                    self._held_until = time.monotonic() + wait + spec.hang_s
                    wait += spec.hang_s
                if hit["error"] and error is None and not rule.exhausted:
                    self._record(rule, index, "error", text)
                    error = self._error(spec)
                if reply is None and not rule.exhausted:
                    kind = next((k for k in _REPLY_KINDS if hit[k]), None)
                    if kind is not None:
                        reply = (kind, details, rule)
            if delay or reply:
                kind, details, rule_ = reply if reply else (None, np.zeros(0), None)
                self._plan = _ReplyPlan(kind, delay, details, rule_)
            self._last = (index, text)
            return Fate(error=error, wait_s=wait)

    def reply(self, data: bytes) -> tuple[bytes | None, float]:
        """One reply on its way out (its terminator included): the bytes that leave
        (None: lost whole) and the seconds to wait before they do."""
        with self._lock:
            plan = self._plan
            if plan is None:
                return data, 0.0
            kind, rule, delay = plan.kind, plan.rule, plan.delay_s
            plan.kind = None  # only the first reply of a message meets the fault
            if delay:
                self.counts["delayed"] += 1
            if kind is None or rule is None or rule.exhausted:
                return data, delay
            index, text = self._last
            self._record(rule, index, kind, text)
        u = plan.details
        if kind == "drop":
            return None, delay
        if kind == "truncate":
            return data[: int(u[1] * max(len(data) - 1, 0))], delay
        if kind == "late":
            return data, delay + rule.spec.late_s
        return _garble(data, u[2:]), delay

    # -- internals ---------------------------------------------------------------------

    def _record(self, rule: _Rule, index: int, kind: str, text: str) -> None:
        rule.injected += 1
        self.counts[kind] += 1
        self.events.append(FaultEvent(index, kind, text[:_SHOWN_CHARS]))

    def _error(self, spec: FaultSpec) -> tuple[int, str]:
        if spec.code is not None:
            code = spec.code
        else:
            code = DEFAULT_BOARD_CODE if self.board else DEFAULT_SMU_CODE
        if self.board:
            return code, "hardware fault (injected)"
        from rramlab.sim.scpi.errors import message_for

        return code, message_for(code)


def _garble(data: bytes, draws: np.ndarray) -> bytes:
    """Flip the high bit (and more) of some bytes: line noise no ASCII reply contains.
    Newlines are left alone, so a garbled reply keeps its place in the stream."""
    positions = [i for i, b in enumerate(data) if b != 0x0A]
    out = bytearray(data)
    for k in range(0, len(draws) - 1, 2):
        if not positions:
            break
        # each byte at most once, so its high bit flips exactly once: ASCII never survives
        i = positions.pop(min(int(draws[k] * len(positions)), len(positions) - 1))
        out[i] ^= 0x80 | min(int(draws[k + 1] * 128), 127)
    return bytes(out)


# -- registry --------------------------------------------------------------------------

_injectors: weakref.WeakKeyDictionary[Any, FaultInjector] = weakref.WeakKeyDictionary()
_by_id: dict[int, tuple[Any, FaultInjector]] = {}  # instruments that cannot be weak keys
_registry_lock = threading.Lock()


def injector_for(instrument: Any) -> FaultInjector | None:
    """The injector of ``instrument``, or None if no faults were ever injected."""
    try:
        return _injectors.get(instrument)
    except TypeError:
        entry = _by_id.get(id(instrument))
        return entry[1] if entry is not None else None


def inject(
    instrument: Any, *specs: FaultSpec | str, name: str | None = None, board: bool | None = None
) -> FaultInjector:
    """Add fault rules to ``instrument`` (a simulated SMU or board firmware), from any
    transport on. ``specs`` are :class:`FaultSpec` objects or ``key=value,...`` text.
    ``name`` (default: the instrument's ``name``) seeds the generators; ``board``
    (default: guessed) selects the board's error code. Returns the injector."""
    rules = [s if isinstance(s, FaultSpec) else FaultSpec.from_text(s) for s in specs]
    with _registry_lock:
        injector = injector_for(instrument)
        if injector is None:
            label = name or str(getattr(instrument, "name", type(instrument).__name__))
            is_board = board if board is not None else _looks_like_board(instrument)
            injector = FaultInjector(label, board=is_board)
            try:
                _injectors[instrument] = injector
            except TypeError:
                _by_id[id(instrument)] = (instrument, injector)
    for spec in rules:
        injector.add(spec)
    if injector.stuck:
        set_stuck(instrument, True)
    return injector


def clear_faults(instrument: Any) -> None:
    """Remove every rule of ``instrument``: a hang ends, a stuck output is released
    (it stays on until turned off again). Links already lost stay lost."""
    injector = injector_for(instrument)
    if injector is None:
        return
    was_stuck = injector.stuck
    injector.end_faults()
    if was_stuck:
        set_stuck(instrument, False)


def inject_bench(
    bench: Any, *faults: str | tuple[str, FaultSpec] | Iterable[tuple[str, FaultSpec]]
) -> dict[str, FaultInjector]:
    """Add rules to the instruments of ``bench`` by target name: ``"2450:drop=0.1"``
    text, ``(target, FaultSpec)`` pairs, or lists of them (as :func:`read_fault_file`
    returns). Targets: an SMU model of the bench, ``smu`` (every SMU), ``board``.
    Returns the injectors by target. Raises ``ValueError`` for an unknown target."""
    pairs: list[tuple[str, FaultSpec]] = []
    for item in faults:
        if isinstance(item, str):
            pairs.append(parse_fault(item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], FaultSpec):
            pairs.append(item)
        else:
            pairs.extend(item)  # type: ignore[arg-type]
    done: dict[str, FaultInjector] = {}
    for target, spec in pairs:
        for label, instrument in resolve_target(bench, target):
            done[label] = inject(instrument, spec, name=label, board=label == "board")
    return done


def resolve_target(bench: Any, target: str) -> list[tuple[str, Any]]:
    """The (name, instrument) pairs a target names on ``bench``."""
    smus = dict(getattr(bench, "smus", {}))
    key = target.strip()
    if key.lower() == "board":
        board = getattr(bench, "board", None)
        if board is None:
            raise ValueError("this bench has no array board")
        return [("board", board)]
    if key.lower() == "smu":
        if not smus:
            raise ValueError("this bench has no SMU")
        return list(smus.items())
    for model, instrument in smus.items():
        if model.upper() == key.upper():
            return [(model, instrument)]
    known = ", ".join([*smus, "smu", "board"])
    raise ValueError(f"no instrument {target!r} on this bench; targets: {known}")


def _looks_like_board(instrument: Any) -> bool:
    from rramlab.sim.board.firmware import BoardFirmware

    return isinstance(instrument, BoardFirmware)


# -- what transports call (no-ops for an instrument without faults) --------------------


def on_message(instrument: Any, text: str) -> Fate:
    """The fate of one program message to ``instrument``."""
    injector = injector_for(instrument)
    return PASS if injector is None else injector.message(text)


def on_reply(instrument: Any, data: bytes) -> tuple[bytes | None, float]:
    """One reply of ``instrument`` as it leaves: bytes (None: lost) and delay (s)."""
    injector = injector_for(instrument)
    return (data, 0.0) if injector is None else injector.reply(data)


def is_hung(instrument: Any) -> bool:
    """Whether ``instrument`` hangs until cleared (it answers nothing)."""
    injector = injector_for(instrument)
    return injector is not None and injector.hung


def device_clear(instrument: Any) -> None:
    """Tell the injector that a device clear reached ``instrument``."""
    injector = injector_for(instrument)
    if injector is not None:
        injector.device_clear()


def link_opened(instrument: Any) -> int:
    """A transport opened a link to ``instrument``; returns its token for
    :func:`link_alive` (and ends a hang without duration)."""
    injector = injector_for(instrument)
    if injector is None:
        return 0
    injector.link_opened()
    return injector.epoch


def link_alive(instrument: Any, token: int) -> bool:
    """Whether a link opened with ``token`` has not been lost since."""
    injector = injector_for(instrument)
    return injector is None or injector.epoch == token
