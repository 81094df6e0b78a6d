"""What every protocol shares: validated parameters, the run context it works in, and
its entry in the registry.

A protocol is a :class:`ProtocolSpec`: a name (as on the command line), a parameter
dataclass (a :class:`ProtocolParams`) and a function ``run(ctx, params)`` that talks
to the station's roles only (``ctx.station.smu``, ``ctx.station.board``,
``ctx.station.clock``), logs every measured point with ``ctx.log(...)`` as it goes, and
calls ``ctx.check_abort()`` between steps. :func:`rramlab.runner.run_protocol` runs it:
it validates the parameters against the station before anything is sent, keeps the
rows in the run folder, turns every output off on any failure and marks the run.

A *resumable* protocol also has ``resume(ctx, params, previous)``: it continues an
interrupted run from ``previous``, the rows its earlier attempts logged (as
:func:`rramlab.load_run` returns them), so that the run's rows, all attempts together,
read as one uninterrupted run's would. :func:`rramlab.resume_run` calls it.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rramlab.clock import VirtualClock
from rramlab.errors import RramlabError


class Aborted(RramlabError):
    """The run was stopped on request (Ctrl-C, SIGTERM, an abort event); the message
    says why."""


class AbortEvent(threading.Event):
    """An abort flag that keeps why it was set: ``set("SIGTERM")``. A protocol that
    checks it (:meth:`RunContext.check_abort`) stops with that reason, which the run's
    ``meta.json`` records. A plain :class:`threading.Event` works as an abort flag too
    (reason: "the run was aborted")."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def set(self, reason: str | None = None) -> None:
        """Ask the run to stop; the first reason given is kept."""
        if reason is not None and self.reason is None:
            self.reason = reason
        super().set()


@dataclass(frozen=True)
class ProtocolParams:
    """Base class of protocol parameters: a frozen dataclass whose fields carry their
    units in their names and whose ``__post_init__`` checks each value (a wrong one
    raises ``ValueError`` naming the field). ``check_station`` adds the checks that
    need the station (its safety limits, its array size)."""

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Station-independent checks; override and raise ValueError naming the field."""

    def check_station(self, station: Any) -> None:
        """Checks against the station (limits, array size); override as needed."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ProtocolParams:
        """Parameters from a mapping of names to values; strings (the command line's
        ``--set name=value``) are converted to each field's type. Unknown names are an
        error naming them."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: no such parameter; {cls.__name__} takes "
                f"{', '.join(sorted(fields))}"
            )
        hints = typing.get_type_hints(cls)
        return cls(
            **{
                name: _convert(name, value, hints[name]) if isinstance(value, str) else value
                for name, value in values.items()
            }
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly values (tuples become lists)."""
        return json_friendly(dataclasses.asdict(self))


def json_friendly(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_friendly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_friendly(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _convert(name: str, text: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if text.strip().lower() in ("none", "null", "") and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if hint is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            return lowered in ("true", "1", "yes", "on")
        if hint in (int, float, str):
            return hint(text)
        if origin is tuple:
            inner = args[0] if args else float
            if inner is tuple or typing.get_origin(inner) is tuple:
                # pairs such as cells: "0,0; 1,2" (pairs by ';', members by ',')
                kinds = typing.get_args(inner) or (float, float)
                return tuple(
                    tuple(kind(v) for kind, v in zip(kinds, _split(pair, ","), strict=True))
                    for pair in _split(text, ";")
                )
            return tuple(inner(p) for p in _split(text.replace(";", ","), ","))
    except (TypeError, ValueError):
        raise ValueError(f"{name}={text!r}: expected {getattr(hint, '__name__', hint)}") from None
    raise ValueError(f"{name} cannot be set from the command line")


def _split(text: str, separator: str) -> list[str]:
    return [part.strip(" ()[]") for part in text.split(separator) if part.strip(" ()[]")]


class RunContext:
    """What a protocol works with: the station, the run's row log, progress reporting
    and the abort flag. :meth:`dataframe` gives every row logged, in order.

    ``origin_clock_s`` is the station-clock reading at the run's start (t = 0 of
    protocols that log a time), None outside a run (the protocol then takes its own
    start); when a run is resumed it is that start mapped onto this attempt's clock
    (:mod:`rramlab.resume`). ``attempt`` is 1 for a run's first attempt, 2 for its
    first resume, ..."""

    def __init__(
        self,
        station: Any,
        *,
        writer: Any = None,
        progress: Callable[[float, str], None] | None = None,
        abort: threading.Event | None = None,
        origin_clock_s: float | None = None,
        attempt: int = 1,
    ) -> None:
        self.station = station
        self.writer = writer
        self._progress = progress
        self.abort = abort if abort is not None else AbortEvent()
        self.origin_clock_s = origin_clock_s
        self.attempt = attempt
        self._frames: list[pd.DataFrame] = []

    def log(self, rows: pd.DataFrame | Iterable[dict[str, Any]] | dict[str, Any]) -> None:
        """Keep measured rows (one per point, units in the column names): in memory and
        in the run folder, at once."""
        if isinstance(rows, dict):
            rows = [rows]
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if frame.empty:
            return
        self._frames.append(frame)
        if self.writer is not None:
            self.writer.log(frame)

    def dataframe(self) -> pd.DataFrame:
        """All rows logged so far."""
        if not self._frames:
            return pd.DataFrame()
        return pd.concat(self._frames, ignore_index=True)

    def progress(self, fraction: float, what: str = "") -> None:
        """Report how far the protocol is (0..1) and what it is doing."""
        if self._progress is not None:
            self._progress(min(max(float(fraction), 0.0), 1.0), what)

    def check_abort(self) -> None:
        """Raise :class:`Aborted` if the run was asked to stop (its message: the
        abort's reason, e.g. "SIGTERM")."""
        if self.abort.is_set():
            raise Aborted(getattr(self.abort, "reason", None) or "the run was aborted")

    def origin(self) -> float:
        """The station-clock reading of the run's t = 0: ``origin_clock_s``, or now if
        the context belongs to no run."""
        if self.origin_clock_s is None:
            self.origin_clock_s = float(self.station.clock.now())
        return self.origin_clock_s

    def sleep(self, seconds: float, *, slice_s: float = 0.5) -> None:
        """Let time pass on the station's clock, checking for aborts in between. Rows
        logged so far reach the disk first: a long wait is when a crash costs most."""
        if self.writer is not None and seconds >= 1.0:
            self.writer.flush()
        if isinstance(self.station.clock, VirtualClock):
            # Virtual time passes at once: nothing to interrupt in between.
            self.check_abort()
            self.station.clock.sleep(seconds)
            return
        remaining = float(seconds)
        while remaining > 0:
            self.check_abort()
            step = min(remaining, slice_s)
            self.station.clock.sleep(step)
            remaining -= step


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol: its command-line name, parameters and what it does. Each protocol
    module defines one as ``SPEC``; :mod:`rramlab.protocols.registry` finds it.
    ``resume(ctx, params, previous)``, for a protocol that can continue an interrupted
    run from the rows already logged (``previous``); None if it cannot."""

    name: str
    params: type[ProtocolParams]
    run: Callable[[RunContext, Any], None]
    summary: str
    resume: Callable[[RunContext, Any, pd.DataFrame], None] | None = None

    @property
    def resumable(self) -> bool:
        return self.resume is not None
