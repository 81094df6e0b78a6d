"""The files of a run folder: its name, ``meta.json`` (strict JSON, replaced atomically)
and the Parquet part files under ``data/``. :mod:`rramlab.run_log` builds on these.

A run folder looks like::

    20261128-153512-forming-7f3a/      UTC start, protocol, random suffix
        meta.json                      what ran, on what, when, and how it ended
        data/part-000001.parquet       rows, in the order they were measured
        data/part-000002.parquet
        data/.part-000003.parquet.tmp  (a part being written; never read)
        .writer.lock                   held by the process writing the run (POSIX)

A resumed run (:mod:`rramlab.resume`) keeps writing into the same folder: its parts
continue the numbering, and ``meta.json`` lists the resumes.

The writer holds an exclusive ``flock`` on ``.writer.lock`` while it writes: a second
process cannot resume a run another one is still writing, and the lock goes away with
its process however that ends (a run left marked ``"running"`` whose lock is free was
abandoned by a process that died). There is no such lock where ``fcntl`` is missing
(Windows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import os
import re
import secrets
import weakref
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: runs are not locked
    fcntl = None  # type: ignore[assignment]

import numpy as np
import pandas as pd

from rramlab.errors import RramlabError

FORMAT_VERSION = 1
META_NAME = "meta.json"
DATA_DIR = "data"
LOCK_NAME = ".writer.lock"
PART_PATTERN = re.compile(r"part-(\d+)\.parquet")
# Strict JSON has no NaN or infinities: they are written as these strings, read back as floats.
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
REQUIRED_KEYS = ("format", "protocol", "status", "start_time")


class RunFileError(RramlabError, ValueError):
    """A run folder, its ``meta.json`` or one of its part files is missing or unreadable.
    The message starts with the offending path."""


def new_run_folder(out_dir: Path, protocol: str, start: dt.datetime) -> Path:
    """Create (never reuse) a folder ``<UTC yyyymmdd-hhmmss>-<protocol>-<4 hex>`` under
    ``out_dir``, creating ``out_dir`` if needed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.]+", "-", protocol).strip("-.")[:40] or "run"
    stamp = start.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        path = out_dir / f"{stamp}-{slug}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{out_dir}: no free run folder name for {stamp}-{slug}")


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def part_paths(folder: Path) -> list[Path]:
    """The run's finished part files in order (by number, not by name)."""
    data = folder / DATA_DIR
    if not data.is_dir():
        return []
    found = [(int(m[1]), p) for p in data.iterdir() if (m := PART_PATTERN.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def part_index(path: Path) -> int:
    """The number of part file ``path`` (1 for ``part-000001.parquet``)."""
    match = PART_PATTERN.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path}: not a part file name")
    return int(match[1])


def remove_partial_parts(folder: Path) -> None:
    """Delete the temporary files of parts a dead writer did not finish (never read)."""
    data = folder / DATA_DIR
    if data.is_dir():
        for tmp in data.glob(".part-*.parquet.tmp"):
            tmp.unlink(missing_ok=True)


class RunInUse(RunFileError):
    """Another process (or another writer in this one) is writing the run."""


class RunLock:
    """The exclusive lock of a run folder's writer (see the module docs). :meth:`acquire`
    raises :class:`RunInUse` if it is held; the lock is released by :meth:`release`,
    when the object is collected, or when the process ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._finalizer: weakref.finalize | None = None

    def acquire(self) -> RunLock:
        if fcntl is None or self._fd is not None:
            return self
        path = self.folder / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 100).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunInUse(f"{self.folder}: {who} is writing this run") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)
        return self

    def release(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # closing the descriptor releases the lock
        self._fd = self._finalizer = None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_part(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as Parquet to a hidden temporary name, fsync, then rename it to
    ``path``: a part file either holds all its rows or does not exist."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as file:
            frame.to_parquet(file, index=False)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_part(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for damaged files
        raise RunFileError(f"{path}: not a readable Parquet part file ({error})") from error


def part_rows(path: Path) -> int:
    """Rows in a part file, from its footer (without reading the data)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception as error:
        raise RunFileError(f"{path}: not a readable Parquet part file ({error})") from error


def part_schema(path: Path) -> pd.DataFrame:
    """Zero rows with the columns and dtypes of a part file (read from its footer)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path).empty_table().to_pandas()
    except Exception as error:
        raise RunFileError(f"{path}: not a readable Parquet part file ({error})") from error


def jsonable(value: Any) -> Any:
    """``value`` as strict-JSON data: numpy scalars and arrays become Python numbers and
    lists, NaN/±inf the strings in :data:`NONFINITE`, tuples and sets lists, paths,
    enums and times their plain values; anything else unknown its ``str``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    key = jsonable(key)
    return key if isinstance(key, str) else json.dumps(key)


def from_json(value: Any) -> Any:
    """Undo :func:`jsonable`'s encoding of non-finite floats."""
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def write_meta(folder: Path, meta: Mapping[str, Any]) -> None:
    """Replace ``folder/meta.json`` atomically: write a temporary file, fsync it, rename
    it over the old one. An interruption leaves the old file or the new one, never a
    mix."""
    text = json.dumps(jsonable(meta), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    tmp = folder / f".{META_NAME}.tmp"
    with open(tmp, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, folder / META_NAME)
    _fsync_dir(folder)


def read_meta(folder: Path) -> dict[str, Any]:
    """The run's metadata; :class:`RunFileError` naming the file if it is not a run or
    its ``meta.json`` is unreadable."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise RunFileError(f"{folder}: {what}, so it is not a run folder")
    path = folder / META_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError(f"{folder}: not a run folder (it has no {META_NAME})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RunFileError(f"{path}: cannot be read ({error})") from error
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise RunFileError(f"{path}: not valid JSON ({error})") from error
    except (ValueError, RecursionError) as error:  # a 5000-digit number, deep nesting
        raise RunFileError(f"{path}: not readable JSON ({str(error)[:80]})") from None
    if not isinstance(meta, dict):
        raise RunFileError(f"{path}: holds a JSON {type(meta).__name__}, not an object")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise RunFileError(f"{path}: not run metadata (missing {', '.join(missing)})")
    version = meta["format"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RunFileError(f"{path}: format {version!r} is not a format version")
    if version > FORMAT_VERSION:
        raise RunFileError(
            f"{path}: format {version} is newer than this rramlab reads "
            f"({FORMAT_VERSION}); upgrade rramlab"
        )
    problem = _meta_shape_problem(meta)
    if problem:
        raise RunFileError(f"{path}: damaged metadata: {problem}")
    return from_json(meta)


def _meta_shape_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with the types of the keys readers rely on, or None."""

    def count(value: Any) -> bool:
        return value is None or (isinstance(value, int) and not isinstance(value, bool))

    if not isinstance(meta["status"], str):
        return f"status is {type(meta['status']).__name__}, not text"
    for key in ("rows", "parts"):
        if not count(meta.get(key)):
            return f"{key} is {meta[key]!r}, not a count"
    columns = meta.get("columns")
    if columns is not None and not (
        isinstance(columns, dict) and all(isinstance(v, str) for v in columns.values())
    ):
        return "columns is not a mapping of column names to dtype names"
    resumes = meta.get("resumes")
    if resumes is not None and not (
        isinstance(resumes, list)
        and all(isinstance(r, dict) and count(r.get("first_part")) for r in resumes)
    ):
        return "resumes is not a list of resume records"
    return None
