"""Stopping a run on SIGINT (Ctrl-C) and SIGTERM (``kill``, a batch scheduler, systemd).

While a :class:`StopOnSignals` block is active, the first of these signals sets the
abort flag with the signal's name as the reason: the protocol stops at its next abort
check (between pulses, reads and waits), the runner turns every output off and marks
the run aborted with that reason. A second signal raises :class:`StopSignal` (a
``KeyboardInterrupt``) wherever the program is: it stops at once, and the runner still
turns every output off and keeps the rows. During that clean-up
(:func:`signals_deferred`) further signals are only noted, so a third Ctrl-C cannot cut
it short.

Handlers are installed only in the main thread (Python delivers signals there and
nowhere else); elsewhere the block does nothing. The handlers in place before are put
back on leaving the block. Without such a block Python's own handlers apply: Ctrl-C
raises ``KeyboardInterrupt`` at once (the runner still cleans up) and SIGTERM ends the
process on the spot, outputs as they were: long unattended runs from Python should
pass ``handle_signals=True`` to :func:`rramlab.runner.run_protocol`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rramlab.protocols.base import AbortEvent

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

_active: list[StopOnSignals] = []  # the blocks in force, innermost last (main thread)


class StopSignal(KeyboardInterrupt):
    """A second stop signal arrived: stop at once. ``signal_name`` says which."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"{signal_name} (a second stop signal: stopped at once)")
        self.signal_name = signal_name


def exit_code(signal_name: str | None) -> int:
    """The shell's exit code of a process ended by that signal: 128 + its number (130
    for SIGINT, 143 for SIGTERM); 130 when unknown (a plain KeyboardInterrupt)."""
    try:
        return 128 + int(signal.Signals[signal_name or "SIGINT"])
    except KeyError:
        return 128 + int(signal.SIGINT)


def set_abort(abort: threading.Event, reason: str) -> None:
    """Set ``abort``, keeping ``reason`` (an :class:`AbortEvent` keeps the first one)."""
    if isinstance(abort, AbortEvent):
        abort.set(reason)
        return
    if getattr(abort, "reason", None) is None:
        abort.reason = reason  # type: ignore[attr-defined]  # a plain Event takes it too
    abort.set()


class StopOnSignals:
    """``with StopOnSignals() as stop:`` the first SIGINT or SIGTERM sets
    ``stop.abort`` (reason: the signal's name) and calls ``on_first(name)``; the next
    one raises :class:`StopSignal`. ``stop.received`` is the first signal's name (None
    if none came), ``stop.exit_code`` the matching shell exit code."""

    def __init__(
        self,
        abort: threading.Event | None = None,
        *,
        signals: Iterable[int] = STOP_SIGNALS,
        on_first: Callable[[str], None] | None = None,
    ) -> None:
        self.abort = abort if abort is not None else AbortEvent()
        self.signals = tuple(signal.Signals(s) for s in signals)
        self.on_first = on_first
        self.received: str | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._deferred = 0

    @property
    def installed(self) -> bool:
        """Whether the handlers are in place (only in the main thread)."""
        return bool(self._previous)

    @property
    def exit_code(self) -> int:
        return exit_code(self.received)

    def _handler(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:  # a second signal
            if self._deferred:
                return  # the clean-up is under way: let it finish
            raise StopSignal(name)
        self.received = name
        set_abort(self.abort, name)
        if self.on_first is not None:
            try:
                self.on_first(name)
            except Exception:  # a display problem must not lose the stop request
                pass

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            try:
                for sig in self.signals:
                    self._previous[sig] = signal.signal(sig, self._handler)
            except BaseException:
                self._restore()
                raise
            _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        if self in _active:
            _active.remove(self)
        while self._previous:
            sig, handler = self._previous.popitem()
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Within the block a further stop signal does not raise (it is noted by the
    innermost :class:`StopOnSignals` in force): for clean-up that must run to its end."""
    block = (
        _active[-1] if _active and threading.current_thread() is threading.main_thread() else None
    )
    if block is not None:
        block._deferred += 1
    try:
        yield
    finally:
        if block is not None:
            block._deferred -= 1
