"""Running a protocol on a station: parameters checked before anything is sent, rows
kept in a run folder as they are measured, outputs off whatever happens, and the run
marked completed, aborted or failed. :func:`rramlab.resume.resume_run` continues an
interrupted run through the same machinery (:func:`execute`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rramlab.protocols.base import Aborted, ProtocolParams, ProtocolSpec, RunContext
from rramlab.protocols.registry import get
from rramlab.run_log import RunWriter
from rramlab.station import Station
from rramlab.stop_signals import StopOnSignals, StopSignal, signals_deferred

DEFAULT_RUNS_DIR = Path("runs")
INTERRUPTED_BY_USER = "interrupted by the user"  # a KeyboardInterrupt from Python's handler


@dataclass(frozen=True)
class RunResult:
    """What a run measured (one row per point), where it is kept, and its metadata."""

    data: pd.DataFrame
    path: Path
    meta: dict[str, Any]


def make_params(
    spec: ProtocolSpec, params: ProtocolParams | Mapping[str, Any] | None
) -> ProtocolParams:
    """The protocol's parameters from an instance, a mapping of values (strings are
    converted as on the command line) or None (the defaults)."""
    if isinstance(params, spec.params):
        return params
    if params is None:
        return spec.params()
    if isinstance(params, ProtocolParams):
        raise TypeError(f"{spec.name} takes {spec.params.__name__}, not {type(params).__name__}")
    return spec.params.from_mapping(params)


def run_protocol(
    station: Station,
    protocol: str | ProtocolSpec,
    params: ProtocolParams | Mapping[str, Any] | None = None,
    *,
    out_dir: str | Path = DEFAULT_RUNS_DIR,
    progress: Callable[[float, str], None] | None = None,
    abort: threading.Event | None = None,
    handle_signals: bool = False,
) -> RunResult:
    """Run ``protocol`` on ``station`` and keep its rows in a new folder under
    ``out_dir``. Bad parameters raise before anything is sent or written. On any
    exception or Ctrl-C every output is turned off, the rows measured so far are kept,
    the run is marked aborted or failed, and the exception propagates with the run
    folder as its ``run_path`` attribute.

    ``handle_signals``: while the run lasts, SIGINT and SIGTERM ask the protocol to stop
    at its next step (a second one: at once) and the run is marked aborted with the
    signal's name (:mod:`rramlab.stop_signals`; main thread only)."""
    spec = get(protocol) if isinstance(protocol, str) else protocol
    values = make_params(spec, params)
    with handling_signals(handle_signals, abort) as stop:
        values.check_station(station)
        writer = RunWriter.create(
            Path(out_dir),
            protocol=spec.name,
            params=values.as_dict(),
            station=station.description,
            instruments=station.identities(),
            seed=station.seed,
            clock=station.clock,
            array_shape=station.array_shape,
        )
        ctx = RunContext(
            station,
            writer=writer,
            progress=progress,
            abort=stop.abort if stop is not None else abort,
            origin_clock_s=writer.meta["start_clock_s"],
        )
        execute(station, writer, lambda: spec.run(ctx, values))
    return RunResult(ctx.dataframe(), writer.path, writer.meta)


@contextlib.contextmanager
def handling_signals(handle: bool, abort: threading.Event | None) -> Iterator[StopOnSignals | None]:
    """A :class:`StopOnSignals` block setting ``abort`` if ``handle``; else nothing."""
    if not handle:
        yield None
        return
    with StopOnSignals(abort) as stop:
        yield stop


def execute(station: Station, writer: RunWriter, body: Callable[[], None]) -> None:
    """Run ``body`` (a protocol's run or resume) and end ``writer``'s attempt: completed,
    or on any exception every output off, the rows kept, the attempt marked aborted
    (Ctrl-C, SIGTERM, an abort) or failed, and the exception re-raised with the run
    folder as its ``run_path``."""
    try:
        body()
    except (KeyboardInterrupt, Aborted) as stop:
        _wind_down(station, writer, "aborted", stop_reason(stop))
        stop.run_path = writer.path  # where the rows measured before the stop are
        raise
    except BaseException as error:
        _wind_down(station, writer, "failed", f"{type(error).__name__}: {error}")
        error.run_path = writer.path
        raise
    with signals_deferred():
        writer.finish("completed")


def stop_reason(stop: BaseException) -> str:
    """Why a run stopped, as ``meta.json`` records it: the abort's reason ("SIGINT",
    "SIGTERM", "the run was aborted"), a second signal's name and that it stopped at
    once, or "interrupted by the user" for a KeyboardInterrupt."""
    if isinstance(stop, (Aborted, StopSignal)):
        return str(stop) or INTERRUPTED_BY_USER
    return INTERRUPTED_BY_USER


def _wind_down(station: Station, writer: RunWriter, status: str, error: str) -> None:
    """Every output off and the attempt marked, even if a Ctrl-C comes meanwhile: under
    a signal handler it is deferred; Python's own KeyboardInterrupt makes the outputs
    go off again from the start (a few tries)."""
    with signals_deferred():
        for _ in range(3):
            try:
                station.all_outputs_off()
                break
            except KeyboardInterrupt:
                continue
        writer.finish(status, error=error)
