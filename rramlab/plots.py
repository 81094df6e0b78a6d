"""Figures of a run, chosen by its protocol: ``plot_run(folder)`` writes them as PNG.

| protocol | figures |
|---|---|
| forming | g after each pulse vs amplitude (per cell, by compliance); forming voltages |
| iv-sweep | I-V loops on log abs(I), per cell, per cycle; detected SET/RESET points |
| pulse, switch-seeker, write-verify | g and pulse amplitude vs pulse number, per cell |
| program-levels | conductance map; histogram and CDFs of g by level, targets marked |
| read-map | conductance map (mean of the reads) |
| retention | g vs log t per cell with the mean; change since t = 0 (median, quartiles) |
| read-disturb | g vs read count per cell with the mean; change since the first sample |
| endurance | on/off window and g_on, g_off vs cycle, per cell |
| variability | CDFs of g_lrs and g_hrs (every cycle, and each cell's median) |

:func:`figures` returns the matplotlib figures without writing them. Styles and shared
helpers are in :mod:`rramlab.plot_styles`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from rramlab.errors import RramlabError
from rramlab.plot_styles import (
    CDF_LABEL,
    G_LABEL,
    LEVEL_COLORMAP,
    MAX_CELL_LINES,
    TIME_LABEL,
    US,
    V_PULSE_LABEL,
    cdf,
    cell_name,
    colors,
    new_figure,
    note,
    positive,
    save,
    title,
)

CELL = ["row", "col"]


class NoPlotError(RramlabError, ValueError):
    """The run has nothing rramlab can draw: an unknown protocol, or no rows."""


def plot_run(run: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write the figures of the run in folder ``run`` as PNG files and return their
    paths: into ``<run>/plots``, or with ``out_dir`` into ``<out_dir>/<run name>`` (so
    that the figures of many runs can share one folder). :class:`NoPlotError` if the
    protocol has no figures or the run has no rows."""
    from rramlab.run_log import load_run

    folder = Path(run)
    data, meta = load_run(folder)
    drawn = figures(data, meta)
    out = Path(out_dir) / folder.resolve().name if out_dir is not None else folder / "plots"
    return [save(figure, out / f"{name}.png") for name, figure in drawn.items()]


def figures(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    """The run's figures by file stem (``<protocol>`` or ``<protocol>-<what>``)."""
    protocol = meta.get("protocol")
    draw = PLOTTERS.get(protocol)
    name = meta.get("name", "this run")
    if draw is None:
        raise NoPlotError(
            f"{name}: rramlab has no plot for protocol {protocol!r} "
            f"(it plots {', '.join(PLOTTERS)})"
        )
    if data.empty:
        raise NoPlotError(f"{name}: the run has no rows to plot (status {meta.get('status')})")
    return draw(data, meta)


def _run_label(meta: dict[str, Any]) -> str:
    status = meta.get("status")
    suffix = "" if status == "completed" else f" ({status})"
    return f"{meta.get('name', '')}{suffix}"


def _cells(data: pd.DataFrame) -> list[tuple[int, int]]:
    """The cells of the run in the order first measured."""
    return [tuple(int(v) for v in cell) for cell in data[CELL].drop_duplicates().to_numpy()]


def _capped(cells: list, limit: int, ax: Axes) -> list:
    if len(cells) > limit:
        note(ax, f"first {limit} of {len(cells)} cells drawn")
    return cells[:limit]


def _log_if_wide(ax: Axes, values: np.ndarray, ratio: float = 20.0) -> None:
    """A log y axis when the positive values span more than ``ratio``."""
    good = positive(values)
    good = good[np.isfinite(good)]
    if good.size and good.max() / good.min() > ratio:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


# --------------------------------------------------------------------- forming
def _forming(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    figure, axes = new_figure(1, 2, width_in=10.5)
    ax, hist = axes[0]
    levels = sorted(data["i_compliance_A"].dropna().unique())
    palette = dict(zip(levels, colors(len(levels), LEVEL_COLORMAP), strict=True))
    cells = _capped(_cells(data), MAX_CELL_LINES, ax)
    by_cell = data.groupby(CELL)
    for cell in cells:
        rows = by_cell.get_group(cell)
        for limit, ramp in rows.groupby("i_compliance_A"):
            ax.plot(ramp["v_pulse_V"], ramp["g_read_S"] * US, color=palette[limit], lw=0.8)
    for limit in levels:
        ax.plot([], [], color=palette[limit], label=f"{limit * 1e6:.3g} µA")
    threshold = (meta.get("params") or {}).get("formed_threshold_S")
    if threshold is not None:
        ax.axhline(threshold * US, color="k", ls="--", lw=0.8, label="formed threshold")
    ax.set_xlabel(V_PULSE_LABEL)
    ax.set_ylabel("g read after the pulse (µS)")
    ax.legend(title="compliance", fontsize=7, title_fontsize=7)

    outcome = data.groupby(CELL).tail(1)
    formed = outcome[outcome["formed"].astype(bool)]
    if len(formed):
        step = (meta.get("params") or {}).get("v_step_V") or 0.05
        lo, hi = formed["v_pulse_V"].min(), formed["v_pulse_V"].max()
        bins = np.arange(lo - step / 2, hi + step, step)
        for limit in levels:
            at = formed[formed["i_compliance_A"] == limit]["v_pulse_V"]
            if len(at):
                hist.hist(at, bins=bins, color=palette[limit], alpha=0.8)
    hist.set_xlabel("forming voltage (V)")
    hist.set_ylabel("cells")
    note(hist, f"{len(formed)} of {len(outcome)} cells formed")
    title(figure, "Forming: pulsed ramp with escalating compliance", _run_label(meta))
    return {"forming": figure}


# -------------------------------------------------------------------- iv-sweep
def _iv_sweep(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    cells = _cells(data)
    shown = cells[:9]
    n = math.ceil(math.sqrt(len(shown)))
    m = math.ceil(len(shown) / n)
    figure, axes = new_figure(m, n, width_in=4.2 * n + 1, height_in=3.4 * m + 0.8)
    cycles = sorted(data["cycle"].unique())
    palette = dict(zip(cycles, colors(len(cycles)), strict=True))
    by_cell = data.groupby(CELL)
    for ax, cell in zip(axes.flat, shown, strict=False):
        rows = by_cell.get_group(cell)
        for (cycle, _branch), branch in rows.groupby(["cycle", "branch"], sort=False):
            ax.plot(
                branch["v_source_V"],
                positive(branch["i_A"].abs()),
                color=palette[cycle],
                lw=0.9,
                label=f"cycle {cycle}" if _branch == "set" else None,
            )
        hits = rows[rows["switched"].astype(bool)]
        ax.scatter(hits["v_source_V"], positive(hits["i_A"].abs()), color="k", s=14, zorder=3)
        ax.set_yscale("log")
        ax.set_xlabel("source voltage V (V)")
        ax.set_ylabel("current |I| (A)")
        ax.set_title(f"cell {cell_name(*cell)}", fontsize=9)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    if len(cells) > len(shown):
        note(axes.flat[0], f"first {len(shown)} of {len(cells)} cells drawn")
    title(figure, "I-V loops (dots: detected SET / RESET)", _run_label(meta))
    return {"iv-sweep": figure}


# -------------------------------------------------- pulse, switch-seeker, write-verify
def _trace(
    data: pd.DataFrame,
    meta: dict[str, Any],
    *,
    x: str,
    xlabel: str,
    what: str,
    stem: str,
    marks: str | None = None,
    band: bool = False,
) -> dict[str, Figure]:
    """g read and pulse amplitude against ``x``, one line per cell; ``marks``: a
    boolean column whose rows get a dot; ``band``: shade each target's tolerance."""
    figure, axes = new_figure(2, 1, height_in=6.0, sharex=True)
    ax_g, ax_v = axes[:, 0]
    cells = _capped(_cells(data), MAX_CELL_LINES, ax_g)
    palette = colors(len(cells))
    by_cell = data.groupby(CELL)
    for color, cell in zip(palette, cells, strict=True):
        rows = by_cell.get_group(cell).sort_values(x, kind="stable")
        read = rows.dropna(subset=["g_read_S"])
        label = cell_name(*cell) if len(cells) <= 8 else None
        ax_g.plot(read[x], read["g_read_S"] * US, ".-", color=color, lw=0.8, ms=3, label=label)
        pulsed = rows.dropna(subset=["v_pulse_V"])
        ax_v.plot(pulsed[x], pulsed["v_pulse_V"], ".", color=color, ms=3)
        if marks is not None:
            hit = rows[rows[marks].astype(bool)]
            ax_g.scatter(hit[x], hit["g_read_S"] * US, color="k", s=16, zorder=3)
    if band:
        tol = (meta.get("params") or {}).get("tol_rel", 0.05)
        for target in sorted(data["g_target_S"].unique())[:16]:
            ax_g.axhspan(target * (1 - tol) * US, target * (1 + tol) * US, color="0.8", lw=0)
            ax_g.axhline(target * US, color="0.4", ls="--", lw=0.7)
    _log_if_wide(ax_g, data["g_read_S"].to_numpy() * US)
    ax_g.set_ylabel(G_LABEL)
    ax_v.set_ylabel(V_PULSE_LABEL)
    ax_v.axhline(0, color="0.5", lw=0.6)
    ax_v.set_xlabel(xlabel)
    if len(cells) <= 8:
        ax_g.legend(title="cell", fontsize=7, title_fontsize=7)
    title(figure, what, _run_label(meta))
    return {stem: figure}


def _pulse(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    return _trace(data, meta, x="pulse", xlabel="pulse number", what="Pulse train", stem="pulse")


def _switch_seeker(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    data = data.assign(pulse_number=data.groupby(CELL).cumcount() + 1)
    return _trace(
        data,
        meta,
        x="pulse_number",
        xlabel="pulse number (SET and RESET ramps in turn)",
        what="Switch seeker (dots: detected switches)",
        stem="switch-seeker",
        marks="switched",
    )


def _write_verify(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    return _trace(
        data,
        meta,
        x="iteration",
        xlabel="pulse number (0: the first verify read)",
        what="Write-verify (grey: target bands)",
        stem="write-verify",
        band=True,
    )


# ------------------------------------------------------------ maps and levels
def _map(ax: Axes, figure: Figure, g_S: pd.Series) -> np.ndarray:
    """Draw the per-cell conductances ``g_S`` (indexed by row, col) as a map over
    the block they span; returns the drawn grid (uS, NaN where no cell)."""
    rows = g_S.index.get_level_values("row")
    cols = g_S.index.get_level_values("col")
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    grid = np.full((r1 - r0 + 1, c1 - c0 + 1), np.nan)
    grid[rows - r0, cols - c0] = g_S.to_numpy(dtype=float) * US
    # A few stuck or shorted cells would squash every other colour: past the 99th
    # percentile the scale saturates (the colour bar's arrow says so).
    top = np.nanpercentile(grid, 99) if np.isfinite(grid).any() else 1.0
    clipped = bool(np.nanmax(grid) > 1.5 * top) if np.isfinite(grid).any() else False
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        cmap=colormaps["viridis"].with_extremes(bad="0.85"),  # grey: no cell read
        extent=(c0 - 0.5, c1 + 0.5, r1 + 0.5, r0 - 0.5),
        interpolation="nearest",
        vmax=top if clipped else None,
    )
    ax.set_xlabel("column (bit line)")
    ax.set_ylabel("row (word line)")
    ax.grid(False)
    figure.colorbar(image, ax=ax, label=G_LABEL, extend="max" if clipped else "neither")
    return grid


def _read_map(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    figure, axes = new_figure(height_in=5.2)
    g = data.groupby(CELL)["g_S"].mean()
    _map(axes[0, 0], figure, g)
    reads = data["read"].nunique()
    title(figure, f"Conductance map (mean of {reads} read{'s' * (reads > 1)})", _run_label(meta))
    return {"read-map": figure}


def _program_levels(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    label = _run_label(meta)
    tol = (meta.get("params") or {}).get("tol_rel", 0.05)
    levels = data.groupby("level")["g_target_S"].first().sort_index()
    palette = dict(zip(levels.index, colors(len(levels), LEVEL_COLORMAP), strict=True))

    map_figure, axes = new_figure(height_in=5.2)
    _map(axes[0, 0], map_figure, data.set_index(CELL)["g_S"])
    title(map_figure, "Programmed conductance map (board verify reads)", label)

    hist_figure, axes = new_figure()
    ax = axes[0, 0]
    g = data["g_S"].to_numpy(dtype=float) * US
    finite = g[np.isfinite(g)]
    bins = np.linspace(0, max(finite.max(), levels.max() * US) * 1.05, 80) if finite.size else 10
    stacks = [data.loc[data["level"] == k, "g_S"].dropna() * US for k in levels.index]
    ax.hist(stacks, bins=bins, stacked=True, color=[palette[k] for k in levels.index])
    for k, target in levels.items():
        ax.axvline(target * US, color=palette[k], ls="--", lw=0.8)
    ax.set_xlabel(G_LABEL)
    ax.set_ylabel("cells")
    note(
        ax, f"dashed: targets; {int(data['inside_tolerance'].sum())} of {len(data)} within ±{tol:g}"
    )
    title(hist_figure, "Programmed levels: histogram", label)

    cdf_figure, axes = new_figure()
    ax = axes[0, 0]
    for k, target in levels.items():
        values = positive(data.loc[data["level"] == k, "g_S"].to_numpy() * US)
        cdf(ax, values, color=palette[k], label=f"{k}: {target * US:.3g} µS")
        ax.axvline(target * US, color=palette[k], ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(G_LABEL)
    ax.set_ylabel(CDF_LABEL)
    ax.legend(title="level: target", fontsize=7, title_fontsize=7, loc="lower right")
    title(cdf_figure, "Programmed levels: CDFs (dotted: targets)", label)
    return {
        "program-levels-map": map_figure,
        "program-levels-histogram": hist_figure,
        "program-levels-cdf": cdf_figure,
    }


# ------------------------------------------------------- retention, read-disturb
def _trend(
    data: pd.DataFrame, meta: dict[str, Any], *, x: str, xlabel: str, log_x: bool, what: str
) -> Figure:
    """g per cell against ``x`` with the mean over cells, and the change since the
    first ``x`` (median and quartiles over cells)."""
    table = data.pivot_table(index=x, columns=CELL, values="g_S", aggfunc="mean").sort_index()
    figure, axes = new_figure(2, 1, height_in=6.4, sharex=True)
    ax_g, ax_d = axes[:, 0]
    shown = table if not log_x else table[table.index > 0]
    first = table.iloc[0]
    cells = _capped(list(table.columns), MAX_CELL_LINES, ax_g)
    g0 = positive(first[cells].to_numpy())
    if np.isfinite(g0).any():
        norm = LogNorm(np.nanmin(g0), max(np.nanmax(g0), np.nanmin(g0) * 1.01))
        cmap = colormaps["viridis"]
        for cell, start in zip(cells, g0, strict=True):
            color = cmap(norm(start)) if np.isfinite(start) else "0.6"
            ax_g.plot(shown.index, shown[cell] * US, color=color, lw=0.6, alpha=0.7)
    ax_g.plot(shown.index, shown.mean(axis=1) * US, color="k", lw=2.0, label="mean of cells")
    _log_if_wide(ax_g, shown.to_numpy().ravel() * US)
    ax_g.set_ylabel(G_LABEL)
    ax_g.legend(fontsize=7)

    change = (table / first.where(first > 0) - 1) * 100
    change = change if not log_x else change[change.index > 0]
    quartiles = change.quantile([0.25, 0.5, 0.75], axis=1)
    ax_d.fill_between(
        change.index, quartiles.loc[0.25], quartiles.loc[0.75], color="0.8", label="quartiles"
    )
    ax_d.plot(change.index, quartiles.loc[0.5], color="k", lw=1.5, label="median of cells")
    ax_d.axhline(0, color="0.5", lw=0.6)
    ax_d.set_ylabel("change of g since the first read (%)")
    ax_d.set_xlabel(xlabel)
    ax_d.legend(fontsize=7)
    if log_x:
        ax_d.set_xscale("log")
        note(ax_d, "the read at t = 0 is the reference (not on the log axis)")
    title(figure, what, _run_label(meta))
    return figure


def _retention(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    figure = _trend(
        data,
        meta,
        x="t_s",
        xlabel=TIME_LABEL,
        log_x=True,
        what="Retention (lines coloured by the first read)",
    )
    return {"retention": figure}


def _read_disturb(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    v = data["v_read_V"].iloc[0]
    figure = _trend(
        data,
        meta,
        x="read_count",
        xlabel=f"stress reads at {v:g} V",
        log_x=False,
        what="Read disturb",
    )
    return {"read-disturb": figure}


# ----------------------------------------------------------------- endurance
def _endurance(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    figure, axes = new_figure(2, 1, height_in=6.4, sharex=True)
    ax_w, ax_g = axes[:, 0]
    cells = _capped(_cells(data), MAX_CELL_LINES, ax_w)
    palette = colors(len(cells))
    by_cell = data.groupby(CELL)
    for color, cell in zip(palette, cells, strict=True):
        rows = by_cell.get_group(cell)
        label = cell_name(*cell) if len(cells) <= 8 else None
        ax_w.plot(rows["cycle"], positive(rows["window"]), ".-", color=color, lw=0.8, label=label)
        dead = rows[rows["failed"].astype(bool)]
        ax_w.scatter(dead["cycle"], positive(dead["window"]), marker="x", color="r", zorder=3)
        ax_g.plot(rows["cycle"], positive(rows["g_on_S"] * US), "-", color=color, lw=0.8)
        ax_g.plot(rows["cycle"], positive(rows["g_off_S"] * US), "--", color=color, lw=0.8)
    min_window = (meta.get("params") or {}).get("min_window")
    if min_window is not None:
        ax_w.axhline(min_window, color="k", ls=":", lw=0.8, label="min_window")
    ax_w.set_yscale("log")
    ax_w.set_ylabel("window g_on / g_off")
    ax_w.legend(fontsize=7)
    ax_g.set_yscale("log")
    ax_g.set_ylabel("g_on (solid), g_off (dashed) (µS)")
    ax_g.set_xlabel("cycle")
    cycles = data["cycle"]
    if cycles.max() / max(cycles.min(), 1) >= 100:
        ax_g.set_xscale("log")
    title(figure, "Endurance (x: cell declared failed)", _run_label(meta))
    return {"endurance": figure}


# --------------------------------------------------------------- variability
def _variability(data: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Figure]:
    cycles = data[data["kind"] == "cycle"] if "kind" in data else data
    figure, axes = new_figure()
    ax = axes[0, 0]
    for state, color in (("lrs", "tab:blue"), ("hrs", "tab:red")):
        column = f"g_{state}_S"
        values = positive(cycles[column].to_numpy(dtype=float) * US)
        cdf(ax, values, color=color, lw=1.5, label=f"{state.upper()}, every cycle")
        medians = cycles.assign(g=values).groupby(CELL)["g"].median().to_numpy()
        cdf(ax, medians, color=color, lw=1.0, ls="--", label=f"{state.upper()}, cell medians")
    ax.set_xscale("log")
    ax.set_xlabel(G_LABEL)
    ax.set_ylabel(CDF_LABEL.replace("cells", "reads"))
    ax.legend(fontsize=7, loc="lower right")
    title(
        figure,
        "Variability: cycle to cycle (solid) and device to device (dashed)",
        _run_label(meta),
    )
    return {"variability": figure}


PLOTTERS: dict[str, Callable[[pd.DataFrame, dict[str, Any]], dict[str, Figure]]] = {
    "forming": _forming,
    "iv-sweep": _iv_sweep,
    "pulse": _pulse,
    "switch-seeker": _switch_seeker,
    "write-verify": _write_verify,
    "program-levels": _program_levels,
    "read-map": _read_map,
    "retention": _retention,
    "endurance": _endurance,
    "read-disturb": _read_disturb,
    "variability": _variability,
}
