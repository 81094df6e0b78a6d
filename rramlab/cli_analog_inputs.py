"""Reading and checking the inputs of ``rramlab solve`` and ``rramlab mimo``: matrix and
vector files (.npy or .csv), the SNR range. Every problem is a click usage error
(exit code 2) naming the file or option, raised before any instrument is opened.

Only numpy is imported here, so the checks cost nothing before the command's real work.
"""

from __future__ import annotations

import math
from pathlib import Path

import click
import numpy as np

SUFFIXES = (".npy", ".csv")
MAX_SNR_POINTS = 1000
MAX_CONDITION = 1e12  # a matrix worse conditioned than this is treated as singular


def load_array(path: str, option: str) -> np.ndarray:
    """The real, finite float64 array in ``path`` (.npy: ``numpy.save``; .csv: numbers
    separated by commas, one matrix row per line). ``option`` names the command-line
    option in messages."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise click.BadParameter(
            f"{path}: expected a .npy or .csv file, got {suffix or 'no suffix'!r}",
            param_hint=option,
        )
    try:
        if suffix == ".npy":
            raw = np.load(path, allow_pickle=False)
        else:
            raw = np.loadtxt(path, delimiter=",", dtype=float, ndmin=1, comments="#")
    except (OSError, ValueError, EOFError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise click.BadParameter(f"{path}: cannot read it: {first}", param_hint=option) from None
    if not isinstance(raw, np.ndarray):  # an .npz archive
        raise click.BadParameter(f"{path}: holds several arrays, not one", param_hint=option)
    if np.iscomplexobj(raw):
        raise click.BadParameter(f"{path}: complex entries; give a real matrix", param_hint=option)
    try:
        values = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise click.BadParameter(
            f"{path}: entries of type {raw.dtype} are not numbers", param_hint=option
        ) from None
    if values.size == 0:
        raise click.BadParameter(f"{path}: is empty", param_hint=option)
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        where = ", ".join(str(int(i)) for i in bad)
        raise click.BadParameter(
            f"{path}: entry ({where}) is {values[tuple(bad)]}; every entry must be finite",
            param_hint=option,
        )
    return values


def load_system(matrix_path: str, vector_path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` from their files: ``A`` square and not singular, ``b`` of its size
    (a row or a column of a .csv, or a 1-D .npy array)."""
    a = load_array(matrix_path, "'--matrix'")
    b = load_array(vector_path, "'--vector'")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise click.BadParameter(
            f"{matrix_path}: A must be a square matrix, got shape {a.shape}",
            param_hint="'--matrix'",
        )
    if b.ndim == 2 and 1 in b.shape:
        b = b.reshape(-1)
    if b.ndim != 1:
        raise click.BadParameter(
            f"{vector_path}: b must be a vector (one row or one column), got shape {b.shape}",
            param_hint="'--vector'",
        )
    if b.shape[0] != a.shape[0]:
        raise click.BadParameter(
            f"{vector_path}: b has {b.shape[0]} entries but A ({matrix_path}) is "
            f"{a.shape[0]} x {a.shape[1]}",
            param_hint="'--vector'",
        )
    check_not_singular(a, matrix_path)
    return a, b


def check_not_singular(a: np.ndarray, name: str) -> float:
    """The 2-norm condition number of ``a``; a usage error if it is (nearly) singular."""
    with np.errstate(all="ignore"):
        kappa = float(np.linalg.cond(a))
    if not kappa < MAX_CONDITION:
        raise click.BadParameter(
            f"{name}: A is singular (condition number {kappa:.3g}); A x = b has no unique solution",
            param_hint="'--matrix'",
        )
    return kappa


def parse_snr(text: str) -> list[float]:
    """SNRs in dB from ``start:stop:step`` (stop included when on the grid, step > 0),
    a comma-separated list, or one value."""
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError("expected start:stop:step")
            start, stop, step = parts
            if not all(math.isfinite(v) for v in parts):
                raise ValueError("start, stop and step must be finite")
            if step <= 0:
                raise ValueError(f"step must be > 0, got {step:g}")
            if stop < start:
                raise ValueError(f"stop ({stop:g}) is below start ({start:g})")
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_SNR_POINTS:
                raise ValueError(f"{count} points; at most {MAX_SNR_POINTS}")
            values = [round(start + i * step, 12) for i in range(count)]
        else:
            values = [float(p) for p in text.split(",")]
            if not all(math.isfinite(v) for v in values):
                raise ValueError("values must be finite")
    except ValueError as error:
        raise click.BadParameter(
            f"{text!r}: {error} (give start:stop:step in dB, e.g. 0:25:5, or a list 0,10,20)",
            param_hint="'--snr'",
        ) from None
    return values
