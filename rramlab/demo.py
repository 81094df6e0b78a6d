"""``rramlab demo``: the main job, end to end, on the simulated bench with no setup.

Opens the default simulated station (a 16 x 16 1T1R array behind a simulated SMU and
array board, reached through the real drivers), then runs the protocols a lab runs on
a new chip, each through :func:`rramlab.runner.run_protocol` into its own run folder:

1. ``forming`` of a block of cells (8 x 8 by default) through the board's pulse
   generator: a 10 us pulsed ramp under an escalating compliance;
2. ``program-levels``: the block to eight levels, 0.5-35 uS (3-bit cells), by the
   board's write-verify, +-5 %;
3. ``read-map`` of the whole array, 8 reads averaged: the programmed levels read back
   independently, and the never-formed cells around the block;
4. an analog matrix-vector product on the block (``board.mvm``) against numpy with the
   conductances read in step 3;
5. ``retention`` of the block over 10^4 s (virtual time: it takes a moment);
6. the closed-loop inversion circuit (``board.inv``) on a 4 x 4 diagonally dominant
   block (``program-levels`` with a level map, then ``read-map``) against
   ``numpy.linalg.solve``.

It then prints what came out and, last, solves a 4 x 4 system by HP-INV on a second
simulated bench sized for it, its precision per cycle beside the PKU chip's published
figures (:mod:`rramlab.demo_analog`); :func:`run_demo` returns the same figures.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from rramlab.demo_analog import run_analog_demo
from rramlab.progress import ProgressBar
from rramlab.protocols.program_levels import DEFAULT_LEVELS_S
from rramlab.runner import run_protocol
from rramlab.station import open_station

FORMING = {"via": "board", "width_s": 10e-6}  # 10 us pulses: the board's own generator
TOL_REL = 0.05
READS = 8  # read-map reads averaged per cell
RETENTION_S = 1e4
INV_SIZE = 4
INV_LEVELS_S = (3e-6, 35e-6)  # off-diagonal, diagonal: diagonally dominant, so stable
INV_INPUT_A = 2e-6  # INV input currents drawn from +-this
MVM_INPUT_V = 0.2  # MVM row voltages drawn from 0..this
RESOLVED_S = 5e-6  # the forming threshold; drift is quoted on cells at least this conductive


def run_demo(
    seed: int = 1,
    console: Console | None = None,
    out: str | Path = "runs",
    block: int = 8,
) -> dict[str, Any]:
    """Run the demo (see the module docs) on a simulated bench seeded ``seed``, write its
    runs under ``out``, print its tables on ``console`` and return its figures: counts,
    fractions, conductances in S, errors as relative numbers, ``levels`` (one dict per
    level), ``runs`` (step name -> run folder) and ``analog`` (the HP-INV solve,
    :func:`rramlab.demo_analog.run_analog_demo`)."""
    console = console or Console()
    if not 4 <= block <= 16:
        raise ValueError(f"block must be 4..16 (cells on a side), got {block}")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    runs: dict[str, Path] = {}
    region = {"rows": block, "cols": block}
    console.print(
        f"[bold]rramlab demo[/]: simulated 16 x 16 1T1R bench, seed {seed}; "
        f"block rows 0-{block - 1} x cols 0-{block - 1}"
    )
    with open_station(seed=seed) as station:

        def step(name: str, protocol: str, params: dict[str, Any]) -> pd.DataFrame:
            t0 = time.perf_counter()
            with ProgressBar(name, console=console) as bar:
                result = run_protocol(station, protocol, params, out_dir=out, progress=bar)
            runs[name] = result.path
            console.print(
                f"  {name:<16} {len(result.data):>6} rows  {time.perf_counter() - t0:5.2f} s"
                f"  -> {result.path}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            return result.data

        cells = tuple((r, c) for r in range(block) for c in range(block))
        forming = step("forming", "forming", {"cells": cells, **FORMING})
        programmed = step(
            "program-levels",
            "program-levels",
            {**region, "seed": seed, "tol_rel": TOL_REL, "rows_per_step": 1},
        )
        read = step("read-map", "read-map", {"n_reads": READS})
        g_map = read.groupby(["row", "col"])["g_S"].mean().unstack().to_numpy()
        mvm_error = _mvm_error(station.board, g_map[:block, :block], rng)
        kept = step("retention", "retention", {**region, "t_max_s": RETENTION_S, "points": 12})
        diagonal = tuple(tuple(int(i == j) for j in range(INV_SIZE)) for i in range(INV_SIZE))
        inv_block = {"rows": INV_SIZE, "cols": INV_SIZE}
        step(
            "program-inv",
            "program-levels",
            {**inv_block, "pattern": "map", "level_map": diagonal, "levels_S": INV_LEVELS_S},
        )
        inv_read = step("read-inv", "read-map", {**inv_block, "n_reads": READS})
        g_inv = inv_read.groupby(["row", "col"])["g_S"].mean().unstack().to_numpy()
        inv_error, settling_s = _inv_error(station.board, g_inv, rng)

    figures = _figures(forming, programmed, read, kept, block)
    figures.update(
        {
            "seed": seed,
            "MVM relative error": mvm_error,
            "INV relative error": inv_error,
            "INV settling time (s)": settling_s,
            "runs": runs,
            "wall time (s)": time.perf_counter() - started,
        }
    )
    _print(console, figures, block, out)
    figures["analog"] = run_analog_demo(seed, console)
    return figures


def _mvm_error(board: Any, g_S: np.ndarray, rng: np.random.Generator) -> float:
    """Relative error of the board's MVM on the block against ``v @ g_S``."""
    v = rng.uniform(0.0, MVM_INPUT_V, size=g_S.shape[0])
    i = board.mvm(v, row0=0, col0=0, n_cols=g_S.shape[1])
    ideal = v @ g_S
    return float(np.linalg.norm(i - ideal) / np.linalg.norm(ideal))


def _inv_error(board: Any, g_S: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Relative error of the board's INV circuit against ``numpy.linalg.solve`` (the
    circuit settles at V = -G^-1 I) and its settling time (s)."""
    i_in = rng.uniform(-INV_INPUT_A, INV_INPUT_A, size=g_S.shape[0])
    reading = board.inv(i_in, row0=0, col0=0)
    exact = np.linalg.solve(g_S, -i_in)
    error = np.linalg.norm(reading.v_out_V - exact) / np.linalg.norm(exact)
    return float(error), float(reading.settling_time_s)


def _figures(
    forming: pd.DataFrame,
    programmed: pd.DataFrame,
    read: pd.DataFrame,
    kept: pd.DataFrame,
    block: int,
) -> dict[str, Any]:
    """The demo's figures from its runs' tables."""
    outcome = forming.groupby(["row", "col"]).tail(1).set_index(["row", "col"])
    formed = outcome[outcome["formed"]]
    g_read = read.groupby(["row", "col"])["g_S"].mean()
    in_block = (g_read.index.get_level_values("row") < block) & (
        g_read.index.get_level_values("col") < block
    )
    never_formed = g_read[~in_block]

    cells = programmed.set_index(["row", "col"]).loc[formed.index]
    cells = cells.assign(g_read_S=g_read.reindex(cells.index))
    start = kept[kept["t_s"] == kept["t_s"].min()].set_index(["row", "col"])["g_S"]
    end = kept[kept["t_s"] == kept["t_s"].max()].set_index(["row", "col"])["g_S"]
    cells = cells.assign(g_start_S=start.reindex(cells.index), g_end_S=end.reindex(cells.index))
    cells["error_rel"] = cells["g_read_S"] / cells["g_target_S"] - 1
    cells["read_inside"] = cells["error_rel"].abs() <= TOL_REL

    levels = []
    for level, target in enumerate(DEFAULT_LEVELS_S):
        at = cells[cells["level"] == level]
        # A cell the board could not program (stuck, worn) is counted, not averaged.
        ok = at[at["inside_tolerance"]]
        g = ok["g_read_S"]
        levels.append(
            {
                "level": level,
                "target_S": target,
                "cells": len(at),
                "failed": len(at) - len(ok),
                "mean_S": float(g.mean()) if len(ok) else math.nan,
                "spread_S": float(g.std()) if len(ok) > 1 else math.nan,
                "inside_tolerance": float(at["read_inside"].mean()) if len(at) else math.nan,
                "drift": _drift(ok),
            }
        )
    # Drift: the geometric mean of g(end) / g(start) - 1 over the cells the ADC resolves
    # well (a median of single reads would stick at 0 on the converter's steps).
    drift = _drift(cells[cells["g_start_S"] >= RESOLVED_S])
    return {
        "cells in block": block * block,
        "cells formed": len(formed),
        "median forming voltage (V)": float(formed["v_pulse_V"].median()),
        "min g of formed cells (S)": float(formed["g_read_S"].min()),
        "median g of never-formed cells (S)": float(never_formed.median())
        if len(never_formed)
        else float("nan"),
        "never-formed cells": len(never_formed),
        "never-formed cells conducting": int((never_formed >= RESOLVED_S).sum()),
        "levels": levels,
        "inside tolerance (board verify)": float(cells["inside_tolerance"].mean()),
        "inside tolerance (read-map)": float(cells["read_inside"].mean()),
        f"drift after {RETENTION_S:g} s": drift,
    }


def _drift(cells: pd.DataFrame) -> float:
    """exp(mean ln(g_end / g_start)) - 1 over ``cells`` that read > 0 at both ends."""
    ratio = cells["g_end_S"] / cells["g_start_S"]
    ratio = ratio[(ratio > 0) & np.isfinite(ratio)]
    return math.expm1(float(np.log(ratio).mean())) if len(ratio) else math.nan


def _print(console: Console, figures: dict[str, Any], block: int, out: str | Path) -> None:
    us = 1e6
    levels = Table(title=f"Levels: write-verify +-{TOL_REL:.0%}, read back ({READS} reads)")
    columns = ("level", "target uS", "cells", "failed", "mean uS", "spread uS", "in tol", "drift")
    for name in columns:
        levels.add_column(name, justify="right")
    for row in figures["levels"]:
        levels.add_row(
            str(row["level"]),
            f"{row['target_S'] * us:.2f}",
            str(row["cells"]),
            str(row["failed"]),
            _fmt(row["mean_S"] * us, ".2f"),
            _fmt(row["spread_S"] * us, ".2f"),
            _fmt(row["inside_tolerance"], ".0%"),
            _fmt(row["drift"], "+.1%"),
        )
    levels.caption = (
        "failed: cells the board's write-verify left outside tolerance (stuck, worn); "
        "mean and spread: the others, by read-map; in tol: read-map within tolerance; "
        f"drift: geometric mean change over {RETENTION_S:g} s"
    )
    console.print(levels)

    summary = Table(title="Summary")
    summary.add_column("quantity")
    summary.add_column("value", justify="right")
    rows = [
        ("cells formed", f"{figures['cells formed']} of {figures['cells in block']}"),
        ("median forming voltage", f"{figures['median forming voltage (V)']:.2f} V"),
        (
            "formed cells after forming, min g",
            _us(figures["min g of formed cells (S)"]),
        ),
        ("never-formed cells, median g", _us(figures["median g of never-formed cells (S)"])),
        (
            f"never-formed cells conducting (>= {RESOLVED_S * us:g} uS: stuck)",
            f"{figures['never-formed cells conducting']} of {figures['never-formed cells']}"
            if figures["never-formed cells"]
            else "-",
        ),
        ("inside tolerance, board verify", f"{figures['inside tolerance (board verify)']:.1%}"),
        ("inside tolerance, read-map", f"{figures['inside tolerance (read-map)']:.1%}"),
        (
            f"drift after {RETENTION_S:g} s (geometric mean, cells >= {RESOLVED_S * us:g} uS)",
            f"{figures[f'drift after {RETENTION_S:g} s']:+.2%}",
        ),
        (f"MVM {block}x{block} relative error vs numpy", f"{figures['MVM relative error']:.2%}"),
        (
            f"INV {INV_SIZE}x{INV_SIZE} relative error vs numpy.linalg.solve",
            f"{figures['INV relative error']:.2%}",
        ),
        ("INV settling time", f"{figures['INV settling time (s)'] * 1e9:.0f} ns"),
        ("wall time", f"{figures['wall time (s)']:.1f} s"),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)

    console.print(
        f"Runs written to {out}/ (list them: rramlab runs {out}):", soft_wrap=True, markup=False
    )
    for name, path in figures["runs"].items():
        console.print(f"  {name:<16} {path}", highlight=False, soft_wrap=True, markup=False)
    first = figures["runs"]["program-levels"]
    console.print(f"Draw one: rramlab plot {first}", highlight=False, soft_wrap=True, markup=False)


def _fmt(value: float, spec: str) -> str:
    return "-" if value != value else format(value, spec)  # NaN: no cells


def _us(value_S: float) -> str:
    return "-" if value_S != value_S else f"{value_S * 1e6:.2f} uS"
