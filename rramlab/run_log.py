"""Runs are folders: a :class:`RunWriter` keeps a protocol's rows on disk as they are
measured, :func:`load_run` reads one run back, :func:`list_runs` tabulates a folder of
runs. The file layout is described in :mod:`rramlab.run_files`.

Rows reach the disk in chunks. :meth:`RunWriter.log` buffers them and writes a Parquet
part file once the buffer holds ``flush_rows`` (4096) rows or ``flush_interval_s`` (1 s,
wall time) has passed since the last write, checked at each ``log`` call;
:meth:`RunWriter.finish` writes the rest whatever the status. A process killed between
two writes (SIGKILL, power cut, ``os._exit``) therefore loses only the rows still in
the buffer: fewer than 4096, logged less than a second after the previous write, or
logged just before a long pause without further ``log`` calls (call
:meth:`RunWriter.flush` before such a pause). Its ``meta.json`` keeps status
``"running"``; :func:`load_run` still reads every part written.

A run can be continued after an interruption (:func:`rramlab.resume.resume_run`):
:meth:`RunWriter.resume` reopens its folder and appends parts after the existing ones.
``meta.json`` then holds ``resumes``, one entry per resume (``attempt`` 2, 3, ...; its
``start_time``/``end_time``, ``start_clock_s``/``end_clock_s``, ``status``, ``error``,
``first_part``, the ``rows`` it added, and ``previous``: the status, error and end of
the attempt it continued); the top-level ``status``, ``error``, ``end_time`` and
``end_clock_s`` are those of the last attempt, ``rows``/``parts``/``columns`` count all
of them. :func:`load_run` returns the rows of every attempt in order, with an
``attempt`` column (1 for the first) when the run was resumed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rramlab.run_files import (
    DATA_DIR,
    FORMAT_VERSION,
    META_NAME,
    RunFileError,
    RunLock,
    from_json,
    jsonable,
    new_run_folder,
    part_index,
    part_name,
    part_paths,
    part_rows,
    part_schema,
    read_meta,
    read_part,
    remove_partial_parts,
    write_meta,
    write_part,
)

__all__ = ["RunFileError", "RunWriter", "list_runs", "load_run"]

ATTEMPT_COLUMN = "attempt"

END_STATUSES = ("completed", "aborted", "failed")
DIED = (
    "the process writing the run ended without marking it "
    "(killed, or the computer stopped); the rows it wrote are kept"
)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RunWriter:
    """One run folder being written. Make one with :meth:`create`; hand it each batch
    of measured rows with :meth:`log`; end with :meth:`finish`. ``meta`` is the
    metadata as ``meta.json`` holds it (rows, parts and columns counted so far). Use it
    from one thread. :meth:`resume` reopens an unfinished run to add an attempt."""

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        clock: Any,
        flush_rows: int,
        flush_interval_s: float,
        *,
        lock: RunLock | None = None,
        schema: pd.DataFrame | None = None,
    ) -> None:
        self.path = path
        self.meta = meta
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._lock = lock
        self._monotonic = time.monotonic  # wall time for the flush interval
        self._last_write = self._monotonic()
        self._buffer: list[pd.DataFrame] = []
        self._buffered_rows = 0
        self._schema = schema  # zero rows, the dtypes of all rows so far
        self._rows_before = meta["rows"]  # rows of the earlier attempts
        self._finished = False

    @classmethod
    def create(
        cls,
        out_dir: Path,
        *,
        protocol: str,
        params: dict,
        station: dict,
        instruments: dict[str, str],
        seed: int | None,
        clock: Any,
        array_shape: tuple[int, int] | None = None,
        flush_rows: int = 4096,  # each part costs an fsync: bound the loss by time first
        flush_interval_s: float = 1.0,
    ) -> RunWriter:
        """Make a new run folder under ``out_dir`` (created if missing) and write its
        ``meta.json`` with status ``"running"``. ``array_shape``: (rows, cols) of the
        array the station reaches, recorded for resumes to compare."""
        from rramlab import __version__

        _check_flush(flush_rows, flush_interval_s)
        start = _utc_now()
        path = new_run_folder(Path(out_dir), protocol, start)
        lock = RunLock(path).acquire()
        (path / DATA_DIR).mkdir()
        meta = {
            "format": FORMAT_VERSION,
            "name": path.name,
            "protocol": protocol,
            "status": "running",
            "error": None,
            "params": params,
            "station": station,
            "instruments": instruments,
            "seed": seed,
            "rramlab_version": __version__,
            "start_time": start.isoformat(),
            "end_time": None,
            "start_clock_s": _clock_reading(clock),
            "end_clock_s": None,
            "clock": type(clock).__name__ if clock is not None else None,
            "array_shape": list(array_shape) if array_shape is not None else None,
            "rows": 0,
            "parts": 0,
            "columns": {},
        }
        meta = from_json(jsonable(meta))  # exactly what load_run will give back
        write_meta(path, meta)
        return cls(path, meta, clock, flush_rows, flush_interval_s, lock=lock)

    @classmethod
    def resume(
        cls,
        path: str | Path,
        *,
        clock: Any,
        details: dict[str, Any] | None = None,
        check: Callable[[dict[str, Any]], Any] | None = None,
        flush_rows: int = 4096,
        flush_interval_s: float = 1.0,
    ) -> RunWriter:
        """Reopen the run in folder ``path`` for one more attempt: its rows stay, new
        parts follow them, ``meta.json`` gains an entry in ``resumes`` (with
        ``details``, e.g. what differs about the station) and status ``"running"``.
        Raises :class:`~rramlab.run_files.RunInUse` if a writer holds the run, and
        :class:`RunFileError` if its files do not add up (damaged). Whether the run
        should be resumed at all is the caller's business (:mod:`rramlab.resume`):
        ``check(meta)``, called under the lock before anything changes, may refuse by
        raising."""
        from rramlab import __version__

        _check_flush(flush_rows, flush_interval_s)
        folder = Path(path)
        if folder.name == META_NAME and folder.is_file():
            folder = folder.parent
        read_meta(folder)  # a clear error if it is no run, before the lock file is made
        lock = RunLock(folder).acquire()
        try:
            meta = read_meta(folder)  # again: under the lock
            if check is not None:
                check(meta)
            remove_partial_parts(folder)
            (folder / DATA_DIR).mkdir(exist_ok=True)
            parts = part_paths(folder)
            numbers = [part_index(p) for p in parts]
            if numbers != list(range(1, len(parts) + 1)):
                raise RunFileError(
                    f"{folder / DATA_DIR}: part files {numbers} are not numbered 1..n"
                )
            counts = [part_rows(p) for p in parts]
            rows = sum(counts)
            if meta["status"] != "running":  # a finished attempt counted its rows: check
                for key, found in (("parts", len(parts)), ("rows", rows)):
                    if meta.get(key) is not None and meta[key] != found:
                        raise RunFileError(
                            f"{folder / META_NAME}: records {meta[key]} {key}, "
                            f"the part files hold {found}"
                        )
            schema = _schema(meta, parts)
            start = _utc_now()
            resumes = list(meta.get("resumes") or [])
            previous = {k: meta.get(k) for k in ("status", "error", "end_time", "end_clock_s")}
            if meta["status"] == "running":  # its writer is gone (we hold the lock)
                previous.update(status="failed", error=DIED)
                if resumes:
                    first = resumes[-1].get("first_part") or len(parts) + 1
                    resumes[-1].update(status="failed", error=DIED, rows=sum(counts[first - 1 :]))
            resumes.append(
                {
                    "attempt": len(resumes) + 2,
                    "start_time": start.isoformat(),
                    "end_time": None,
                    "start_clock_s": _clock_reading(clock),
                    "end_clock_s": None,
                    "status": "running",
                    "error": None,
                    "first_part": len(parts) + 1,
                    "rows": 0,
                    "previous": previous,
                    "rramlab_version": __version__,
                    **(details or {}),
                }
            )
            meta.update(
                status="running",
                error=None,
                end_time=None,
                end_clock_s=None,
                rows=rows,
                parts=len(parts),
                columns={c: str(d) for c, d in schema.dtypes.items()} if schema is not None else {},
                resumes=resumes,
            )
            meta = from_json(jsonable(meta))
            write_meta(folder, meta)
        except BaseException:
            lock.release()
            raise
        return cls(folder, meta, clock, flush_rows, flush_interval_s, lock=lock, schema=schema)

    @property
    def attempt(self) -> int:
        """1 for a run's first attempt, 2 for its first resume, ..."""
        return len(self.meta.get("resumes") or []) + 1

    def log(self, frame: pd.DataFrame) -> None:
        """Keep rows measured just now (column names are kept as given). They reach the
        disk at the next flush (see the module docstring)."""
        if self._finished:
            raise RuntimeError(f"{self.path}: the run is finished; no more rows can be logged")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"log() takes a pandas DataFrame, not {type(frame).__name__}")
        if len(frame) == 0:
            return
        bad = [c for c in frame.columns if not isinstance(c, str)]
        if bad:
            raise ValueError(f"column names must be strings, got {bad!r}")
        if frame.columns.has_duplicates:
            dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
            raise ValueError(f"duplicate column names {dupes!r}")
        self._buffer.append(frame)
        self._buffered_rows += len(frame)
        if (
            self._buffered_rows >= self.flush_rows
            or self._monotonic() - self._last_write >= self.flush_interval_s
        ):
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows to a new part file now."""
        if not self._buffer:
            return
        part = pd.concat(self._buffer, ignore_index=True, sort=False)
        index = self.meta["parts"] + 1
        path = self.path / DATA_DIR / part_name(index)
        if not path.exists():  # it does if an interrupt came between the rename and here
            write_part(path, part)
        self._buffer.clear()
        self._buffered_rows = 0
        self._last_write = self._monotonic()
        # Zero-row concatenation gives the dtypes of concatenating all rows (a column
        # missing from some rows turns int64 to float64, bool to object, ...).
        empty = part.iloc[:0]
        self._schema = (
            empty if self._schema is None else pd.concat([self._schema, empty], sort=False)
        )
        self.meta["parts"] = index
        self.meta["rows"] += len(part)
        self.meta["columns"] = {c: str(d) for c, d in self._schema.dtypes.items()}

    def finish(self, status: str, error: str | None = None) -> None:
        """Write the remaining rows and the final ``meta.json``: ``status`` is
        ``"completed"``, ``"aborted"`` or ``"failed"``; ``error`` says why. If the last
        rows cannot be written the run is recorded as failed and, for a run that had
        completed, the error propagates."""
        if status not in END_STATUSES:
            raise ValueError(f"status must be one of {END_STATUSES}, got {status!r}")
        if self._finished:
            raise RuntimeError(f"{self.path}: the run is already finished")
        self._finished = True
        problem: BaseException | None = None
        try:
            self.flush()
        except BaseException as exc:  # KeyboardInterrupt too: meta.json must still be written
            note = f"could not write the last {self._buffered_rows} rows: {exc}"
            # A run that had completed now failed, and says so; a run that was already
            # failing keeps its own exception (the caller is handling it).
            if status == "completed" or not isinstance(exc, Exception):
                problem = exc
            error = f"{error}; {note}" if error else note
            status = "failed" if status == "completed" else status
        self.meta.update(
            status=status,
            error=error,
            end_time=_utc_now().isoformat(),
            end_clock_s=_clock_reading(self._clock),
        )
        if self.meta.get("resumes"):  # this attempt is a resume: its own record too
            self.meta["resumes"][-1].update(
                {k: self.meta[k] for k in ("status", "error", "end_time", "end_clock_s")},
                rows=self.meta["rows"] - self._rows_before,
            )
        self.meta = from_json(jsonable(self.meta))
        try:
            write_meta(self.path, self.meta)
        finally:
            if self._lock is not None:
                self._lock.release()
        if problem is not None:
            raise problem

    def __repr__(self) -> str:
        state = self.meta["status"]
        return f"RunWriter({str(self.path)!r}, {state}, {self.meta['rows']} rows written)"


def _check_flush(flush_rows: int, flush_interval_s: float) -> None:
    if flush_rows < 1 or not flush_interval_s >= 0:
        raise ValueError(
            f"flush_rows must be >= 1 and flush_interval_s >= 0, "
            f"got {flush_rows!r} and {flush_interval_s!r}"
        )


def _schema(meta: dict[str, Any], parts: list[Path]) -> pd.DataFrame | None:
    """Zero rows with the dtypes of all rows written so far: from ``meta.json`` for a
    finished attempt, from the part files' schemas for one whose process died."""
    if not parts:
        return None
    if meta["status"] != "running" and meta.get("columns"):
        return pd.DataFrame({c: pd.Series(dtype=_dtype(d)) for c, d in meta["columns"].items()})
    return pd.concat([part_schema(p) for p in parts], sort=False)


def _clock_reading(clock: Any) -> float | None:
    if clock is None:
        return None
    try:
        return float(clock.now())
    except Exception:  # a broken bench clock must not lose the run's metadata
        return None


def load_run(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of the run in folder ``path`` (one per measured point, in the order
    measured) and its metadata. Parts with different columns are joined (missing values
    NaN, columns in order of first appearance). A resumed run gives the rows of all its
    attempts, in order, and an ``attempt`` column last (1: the first attempt, 2: the
    first resume, ...; not stored in the part files: the parts' attempts follow from
    ``meta["resumes"]``). A run still marked ``"running"`` (its
    process died) loads with the rows written so far; its ``rows``, ``parts`` and
    ``columns`` are counted from the data. Raises :class:`RunFileError` (a
    ``ValueError``) naming the file when the folder is not a run or a file is damaged."""
    folder = Path(path)
    if folder.name == META_NAME and folder.is_file():
        folder = folder.parent
    meta = read_meta(folder)
    parts = part_paths(folder)
    frames = [read_part(p) for p in parts]
    columns: dict[str, str] = meta.get("columns") or {}
    if frames:
        data = pd.concat(frames, ignore_index=True, sort=False)
    else:
        data = pd.DataFrame({c: pd.Series(dtype=_dtype(d)) for c, d in columns.items()})
    if meta["status"] == "running":
        meta.update(rows=len(data), parts=len(parts))
        meta["columns"] = {c: str(d) for c, d in data.dtypes.items()}
        return _with_attempts(_nan_for_missing(data), meta, parts, frames), meta
    where = folder / META_NAME
    if meta.get("parts") is not None and meta["parts"] != len(parts):
        raise RunFileError(
            f"{where}: records {meta['parts']} part files but {folder / DATA_DIR} has {len(parts)}"
        )
    if meta.get("rows") is not None and meta["rows"] != len(data):
        raise RunFileError(
            f"{where}: records {meta['rows']} rows but the part files hold {len(data)}"
        )
    order = [c for c in columns if c in data.columns]
    data = data[order + [c for c in data.columns if c not in columns]]
    for column, dtype in columns.items():  # undo what Parquet changes (object -> str, ...)
        if column in data.columns and str(data[column].dtype) != dtype:
            try:
                data[column] = data[column].astype(_dtype(dtype))
            except (TypeError, ValueError):
                pass
    return _with_attempts(_nan_for_missing(data), meta, parts, frames), meta


def _with_attempts(
    data: pd.DataFrame, meta: dict[str, Any], parts: list[Path], frames: list[pd.DataFrame]
) -> pd.DataFrame:
    """``data`` with an ``attempt`` column (1, 2, ...: which attempt logged each row)
    if the run was resumed; as it is otherwise (or if the protocol has such a column)."""
    resumes = meta.get("resumes") or []
    if not resumes or ATTEMPT_COLUMN in data.columns:
        return data
    firsts = sorted(int(r["first_part"]) for r in resumes if r.get("first_part") is not None)
    attempts = [1 + sum(f <= part_index(p) for f in firsts) for p in parts]
    counts = [len(f) for f in frames]
    data[ATTEMPT_COLUMN] = np.repeat(np.array(attempts, dtype=np.int64), counts)
    return data


def _nan_for_missing(data: pd.DataFrame) -> pd.DataFrame:
    """Missing values in object columns as NaN (Parquet gives None), as concatenating
    the logged frames in memory would: the same table whatever the chunking."""
    for column in [c for c in data.columns if pd.api.types.is_object_dtype(data[c].dtype)]:
        missing = data[column].isna()
        if missing.any():
            data[column] = data[column].mask(missing, np.nan)
    return data


def _dtype(name: str) -> Any:
    try:
        return pd.api.types.pandas_dtype(name)
    except TypeError:
        return object


LIST_COLUMNS = [
    "path",
    "name",
    "protocol",
    "status",
    "start_time",
    "end_time",
    "rows",
    "seed",
    "error",
]


def list_runs(directory: str | Path) -> pd.DataFrame:
    """One row per run folder directly under ``directory``, oldest first: path, name,
    protocol, status, start/end time (UTC), rows, seed, error (unreadable runs last).
    Folders without a
    ``meta.json`` are skipped; a run whose metadata (or, while it is still marked
    running, a part file) cannot be read is listed with status ``"unreadable"`` and
    the reason in ``error``. Only ``meta.json`` and part-file footers are read."""
    directory = Path(directory)
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a folder"
        raise FileNotFoundError(f"{directory}: {what}")
    records = []
    for folder in sorted(directory.iterdir()):
        if not folder.is_dir() or not (folder / META_NAME).exists():
            continue
        record = {"path": str(folder), "name": folder.name}
        try:
            meta = read_meta(folder)
            rows = meta.get("rows")
            if meta["status"] == "running":
                rows = sum(part_rows(p) for p in part_paths(folder))
        except RunFileError as error:
            record.update(status="unreadable", error=str(error))
            records.append(record)
            continue
        record.update(
            protocol=meta.get("protocol"),
            status=meta.get("status"),
            start_time=meta.get("start_time"),
            end_time=meta.get("end_time"),
            rows=rows,
            seed=meta.get("seed"),
            error=meta.get("error"),
        )
        records.append(record)
    table = pd.DataFrame.from_records(records, columns=LIST_COLUMNS)
    for column in ("start_time", "end_time"):
        table[column] = pd.to_datetime(table[column], utc=True, errors="coerce", format="ISO8601")
    for column in ("rows", "seed"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    table = table.sort_values(["start_time", "name"], kind="stable", na_position="last")
    return table.reset_index(drop=True)
