"""Running a protocol on a station: parameters checked before anything is sent, rows
kept in a run folder as they are measured, outputs off whatever happens, and the run
marked completed, aborted or failed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rramlab.protocols.base import Aborted, ProtocolParams, ProtocolSpec, RunContext
from rramlab.protocols.registry import get
from rramlab.run_log import RunWriter
from rramlab.station import Station

DEFAULT_RUNS_DIR = Path("runs")


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
) -> RunResult:
    """Run ``protocol`` on ``station`` and keep its rows in a new folder under
    ``out_dir``. Bad parameters raise before anything is sent or written. On any
    exception or Ctrl-C every output is turned off, the rows measured so far are kept,
    the run is marked aborted or failed, and the exception propagates with the run
    folder as its ``run_path`` attribute."""
    spec = get(protocol) if isinstance(protocol, str) else protocol
    values = make_params(spec, params)
    values.check_station(station)
    writer = RunWriter.create(
        Path(out_dir),
        protocol=spec.name,
        params=values.as_dict(),
        station=station.description,
        instruments=station.identities(),
        seed=station.seed,
        clock=station.clock,
    )
    ctx = RunContext(station, writer=writer, progress=progress, abort=abort)
    try:
        spec.run(ctx, values)
    except (KeyboardInterrupt, Aborted) as stop:
        station.all_outputs_off()
        writer.finish("aborted", error=str(stop) or "interrupted by the user")
        stop.run_path = writer.path  # where the rows measured before the stop are
        raise
    except BaseException as error:
        station.all_outputs_off()
        writer.finish("failed", error=f"{type(error).__name__}: {error}")
        error.run_path = writer.path
        raise
    writer.finish("completed")
    return RunResult(ctx.dataframe(), writer.path, writer.meta)
