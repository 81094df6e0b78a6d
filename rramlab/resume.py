"""Continuing an interrupted run where it stopped: :func:`resume_run` (and
``rramlab run --resume RUN``).

Only a run that did not complete (status ``aborted``, ``failed``, or ``running`` left
by a process that died) of a *resumable* protocol (one whose
:class:`~rramlab.protocols.base.ProtocolSpec` has a ``resume``: program-levels,
endurance, retention) can be resumed, with the parameters recorded in its
``meta.json``, on a station that matches the one it ran on.

**Where the rows go.** Into the same run folder: new part files after the existing ones
(nothing already written is touched), ``meta.json`` gaining an entry in ``resumes``
per resume (see :mod:`rramlab.run_log`), its top-level status that of the last attempt.
One folder keeps one experiment on one set of cells, whatever interrupted it;
:func:`rramlab.load_run` returns all rows, in order, with an ``attempt`` column. It is
safe: part files are only ever added, ``meta.json`` is replaced atomically, the folder
is locked while written (a run another process is writing cannot be resumed), and a
resume that is interrupted in turn leaves the run as resumable as before.

**The station.** The run's instruments must be the ones it ran on: the station
descriptions and the instruments' identities (model, serial number) are compared
(simulated bench settings, instrument drivers, roles, wiring, the board's tile, the
array size). The station's limits may differ (the parameters are checked against the
new ones). On the simulated bench, a clock that reads less than when the run last
stopped means a new bench, not the one whose cells the run worked on (a bench lives
as long as its process: use ``rramlab sim serve`` to keep one between commands). Any
difference refuses the resume (:class:`StationMismatch`) unless ``force=True``, which
records the differences in the resume's entry.

**Time since the start.** A protocol that logs times (retention) counts them from the
run's start, not the resume's. On the simulated bench's virtual clock that is the
bench clock's reading at the start (``start_clock_s`` in ``meta.json``), so the
interruption lasts as long as the bench's clock moved meanwhile; on any other clock (a
real bench) it is the wall-clock time since ``start_time`` (UTC) in ``meta.json``, so
the interruption counts in full (a change of the computer's clock during it shifts the
times by as much). Either way times never go back: at least as much time has passed
as the run had reached when it stopped.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rramlab.clock import VirtualClock
from rramlab.errors import RramlabError
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext
from rramlab.run_files import META_NAME, RunInUse, read_meta
from rramlab.run_log import RunWriter, load_run
from rramlab.runner import RunResult, execute, handling_signals
from rramlab.station import Station

__all__ = [
    "NotResumable",
    "StationMismatch",
    "check_resumable",
    "open_recorded_station",
    "resume_run",
    "station_differences",
]


class NotResumable(RramlabError, ValueError):
    """The run cannot be resumed: it completed, its protocol cannot continue, its
    parameters no longer load, or another process is writing it."""


class StationMismatch(NotResumable):
    """The station differs from the run's in a way that matters; ``differences`` lists
    them (``force=True`` resumes anyway)."""

    def __init__(self, folder: Path, differences: list[str]) -> None:
        self.differences = differences
        lines = "\n".join(f"  - {d}" for d in differences)
        super().__init__(
            f"{folder}: this station is not the one the run used:\n{lines}\n"
            "(force=True, or --force on the command line, resumes anyway)"
        )


def run_folder(path: str | Path) -> Path:
    folder = Path(path)
    return folder.parent if folder.name == META_NAME and folder.is_file() else folder


def check_resumable(
    path: str | Path, meta: dict[str, Any] | None = None
) -> tuple[ProtocolSpec, ProtocolParams]:
    """The protocol and parameters to resume the run at ``path`` with, or
    :class:`NotResumable` saying why it cannot be (:class:`RunFileError` if it is not a
    readable run)."""
    from rramlab.protocols.registry import get, names

    folder = run_folder(path)
    meta = read_meta(folder) if meta is None else meta
    status = meta.get("status")
    if status == "completed":
        raise NotResumable(f"{folder}: the run completed; there is nothing to resume")
    if status not in ("aborted", "failed", "running"):
        raise NotResumable(f"{folder}: status {status!r} is not one a run can be resumed from")
    try:
        spec = get(str(meta["protocol"]))
    except ValueError:
        raise NotResumable(
            f"{folder}: protocol {meta['protocol']!r} is not one this rramlab knows"
        ) from None
    if not spec.resumable:
        able = ", ".join(n for n in names() if get(n).resumable)
        raise NotResumable(
            f"{folder}: {spec.name} runs cannot be resumed (resumable protocols: {able}); "
            f"start a new run instead"
        )
    try:
        params = spec.params.from_mapping(meta.get("params") or {})
    except (TypeError, ValueError) as error:
        raise NotResumable(
            f"{folder}: the run's parameters do not load in this rramlab: {error}"
        ) from None
    return spec, params


def station_differences(meta: dict[str, Any], station: Station) -> list[str]:
    """What differs between the station recorded in a run's ``meta`` and ``station``,
    in the respects that matter for continuing it (empty: the same bench). See the
    module docs."""
    then: dict[str, Any] = meta.get("station") or {}
    now: dict[str, Any] = station.description or {}
    out: list[str] = []
    sim_then, sim_now = then.get("simulation"), now.get("simulation")
    if (sim_then is None) != (sim_now is None):
        out.append(f"simulated bench: {_bench(sim_then)} in the run, {_bench(sim_now)} now")
    elif sim_then is not None and sim_now is not None:
        for key in sorted(set(sim_then) | set(sim_now)):
            if sim_then.get(key) != sim_now.get(key):
                out.append(
                    f"simulation.{key}: {sim_then.get(key)!r} in the run, {sim_now.get(key)!r} now"
                )
    inst_then, inst_now = then.get("instruments") or {}, now.get("instruments") or {}
    if set(inst_then) != set(inst_now):
        out.append(
            f"instruments: {', '.join(inst_then) or 'none'} in the run, "
            f"{', '.join(inst_now) or 'none'} now"
        )
    for name in [n for n in inst_then if n in inst_now]:
        a, b = inst_then[name] or {}, inst_now[name] or {}
        if a.get("driver") != b.get("driver"):
            out.append(
                f"instruments.{name}.driver: {a.get('driver')!r} in the run, "
                f"{b.get('driver')!r} now"
            )
        tile_a, tile_b = (a.get("options") or {}).get("tile"), (b.get("options") or {}).get("tile")
        if tile_a != tile_b:
            out.append(f"instruments.{name} tile: {tile_a!r} in the run, {tile_b!r} now")
    for section in ("roles", "wiring"):
        a, b = then.get(section) or {}, now.get(section) or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{section}.{key}: {a.get(key)!r} in the run, {b.get(key)!r} now")
    ids_then, ids_now = meta.get("instruments") or {}, station.identities()
    for name in [n for n in ids_then if n in ids_now]:
        if ids_then[name] != ids_now[name]:
            out.append(f"{name} is {ids_now[name]!r} now, was {ids_then[name]!r}")
    shape = meta.get("array_shape")
    if shape is not None and tuple(shape) != tuple(station.array_shape):
        out.append(
            f"array: {shape[0]} x {shape[1]} in the run, "
            f"{station.array_shape[0]} x {station.array_shape[1]} now"
        )
    if _new_bench(meta, station):
        last = _last_reading(meta)
        out.append(
            f"the simulated bench's clock reads {station.clock.now():.6g} s, less than the "
            f"{last:.6g} s it read when the run last stopped: it is a new bench, its cells "
            "not the ones the run worked on (keep one bench between commands with "
            "`rramlab sim serve`)"
        )
    return out


def resume_run(
    station: Station,
    run_path: str | Path,
    *,
    progress: Callable[[float, str], None] | None = None,
    abort: threading.Event | None = None,
    handle_signals: bool = False,
    force: bool = False,
) -> RunResult:
    """Continue the interrupted run in folder ``run_path`` on ``station``, writing into
    the same folder, and return all its rows (every attempt, with an ``attempt``
    column), its folder and metadata. Refuses with :class:`NotResumable` (a
    ``ValueError``) a run that completed or whose protocol cannot be resumed, with
    :class:`StationMismatch` a different station (unless ``force``), and with
    ``ValueError`` parameters the station cannot do; nothing is written then. Stops,
    failures and signals (``handle_signals``) are handled as by
    :func:`~rramlab.runner.run_protocol`: outputs off, rows kept, the attempt marked."""
    folder = run_folder(run_path)
    meta = read_meta(folder)
    spec, params = check_resumable(folder, meta)
    differences = station_differences(meta, station)
    if differences and not force:
        raise StationMismatch(folder, differences)
    params.check_station(station)
    with handling_signals(handle_signals, abort) as stop:
        origin = _origin_clock_s(meta, station)
        details: dict[str, Any] = {"origin_clock_s": origin}
        if differences:
            details.update(
                forced=differences,
                station=station.description,
                instruments=station.identities(),
                array_shape=list(station.array_shape),
            )
        try:
            writer = RunWriter.resume(
                folder,
                clock=station.clock,
                details=details,
                check=lambda current: check_resumable(folder, current),
            )
        except RunInUse as error:
            raise NotResumable(str(error)) from None
        previous, _ = load_run(folder)
        ctx = RunContext(
            station,
            writer=writer,
            progress=progress,
            abort=stop.abort if stop is not None else abort,
            origin_clock_s=origin,
            attempt=writer.attempt,
        )
        assert spec.resume is not None
        execute(station, writer, lambda: spec.resume(ctx, params, previous))
    data, meta = load_run(folder)
    return RunResult(data, folder, meta)


def open_recorded_station(meta: dict[str, Any], *, source: str = "the run") -> Station:
    """Open the station a run's ``meta.json`` describes (its instruments at the
    resources recorded; a simulated bench is built anew from its settings)."""
    from rramlab.station_file import open_spec
    from rramlab.station_schema import parse_station

    description = dict(meta.get("station") or {})
    file = description.pop("file", None)
    description["instruments"] = {
        name: {k: v for k, v in (spec or {}).items() if v is not None}
        for name, spec in (description.get("instruments") or {}).items()
    }
    if description.get("simulation") is None:
        description.pop("simulation", None)
    for key in ("roles", "wiring"):
        if description.get(key) is None:
            description.pop(key, None)
    return open_spec(parse_station(description, source=source, file=file))


def _bench(simulation: dict[str, Any] | None) -> str:
    if simulation is None:
        return "none (instruments)"
    return f"seed {simulation.get('seed')}, {simulation.get('rows')} x {simulation.get('cols')}"


# ------------------------------------------------------------------ the clock
def _attempt_clocks(meta: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """(origin, start, end) station-clock readings of each attempt, in its own clock's
    frame (None where unknown)."""
    resumes = meta.get("resumes") or []
    origins = [meta.get("start_clock_s")] + [r.get("origin_clock_s") for r in resumes]
    starts = [meta.get("start_clock_s")] + [r.get("start_clock_s") for r in resumes]
    ends = [(r.get("previous") or {}).get("end_clock_s") for r in resumes]
    return list(zip(origins, starts, [*ends, meta.get("end_clock_s")], strict=True))


def _last_reading(meta: dict[str, Any]) -> float:
    _, start, end = _attempt_clocks(meta)[-1]
    return float(end if end is not None else start if start is not None else 0.0)


def _reached_s(meta: dict[str, Any]) -> float:
    """How far into the run (s since its start) its attempts got, as far as known."""
    reached = [
        float(end if end is not None else start) - float(origin)
        for origin, start, end in _attempt_clocks(meta)
        if origin is not None and (end is not None or start is not None)
    ]
    return max([0.0, *reached])


def _virtual(meta: dict[str, Any], station: Station) -> bool:
    return isinstance(station.clock, VirtualClock) and meta.get("clock") == "VirtualClock"


def _new_bench(meta: dict[str, Any], station: Station) -> bool:
    """A virtual clock reading less than when the run last stopped: not its bench."""
    if not _virtual(meta, station):
        return False
    return float(station.clock.now()) < _last_reading(meta) - 1e-12


def _origin_clock_s(meta: dict[str, Any], station: Station) -> float:
    """The run's start (t = 0) on ``station``'s clock; see the module docs."""
    now = float(station.clock.now())
    reached = _reached_s(meta)
    if _virtual(meta, station):
        origin = _attempt_clocks(meta)[-1][0]
        if origin is not None and not _new_bench(meta, station):
            return float(origin)
        return now - reached  # a new bench (forced): continue where the run got to
    try:
        start = dt.datetime.fromisoformat(str(meta["start_time"]))
        elapsed = (dt.datetime.now(dt.UTC) - start).total_seconds()
    except (KeyError, TypeError, ValueError):
        elapsed = 0.0
    return now - max(elapsed, reached)
