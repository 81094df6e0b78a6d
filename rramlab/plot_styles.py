"""The house style of rramlab's figures, and the few helpers every plot shares.

Figures are made with matplotlib's object API on the Agg canvas (no pyplot, no display,
no global backend switch), so plotting works on a headless lab PC, in a test and next
to a user's own pyplot session. Conductances are drawn in uS, the unit a lab reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

US = 1e6  # siemens -> microsiemens
DPI = 120
CELL_COLORMAP = "viridis"
LEVEL_COLORMAP = "plasma"
MAX_CELL_LINES = 64  # more cells than this: their lines are drawn for the first ones only

G_LABEL = "conductance g (µS)"
V_PULSE_LABEL = "pulse amplitude (V)"
TIME_LABEL = "time since the start t (s)"
CDF_LABEL = "cumulative fraction of cells"


def new_figure(
    rows: int = 1,
    cols: int = 1,
    *,
    width_in: float = 6.4,
    height_in: float = 4.4,
    sharex: bool = False,
) -> tuple[Figure, np.ndarray]:
    """A figure on the Agg canvas and its axes as a 2-D array (``rows`` x ``cols``)."""
    figure = Figure(figsize=(width_in, height_in), layout="constrained", dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False, sharex=sharex)
    for ax in axes.flat:
        ax.grid(True, which="major", alpha=0.3)
    return figure, axes


def save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (its folder created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


def colors(n: int, colormap: str = CELL_COLORMAP) -> list[tuple[float, float, float, float]]:
    """``n`` colours evenly spread over ``colormap`` (its bright yellow end left out)."""
    cmap: Colormap = _colormap(colormap)
    return [cmap(x) for x in np.linspace(0.0, 0.85, max(n, 1))]


def _colormap(name: str) -> Colormap:
    from matplotlib import colormaps

    return colormaps[name]


def positive(values: np.ndarray | list[float]) -> np.ndarray:
    """``values`` with those <= 0 (no logarithm: a read below resolution) as NaN."""
    out = np.asarray(values, dtype=float).copy()
    out[~(out > 0)] = np.nan
    return out


def cell_name(row: int, col: int) -> str:
    return f"({int(row)}, {int(col)})"


def title(figure: Figure, what: str, run_name: str) -> None:
    figure.suptitle(f"{what}\n{run_name}", fontsize=10)


def cdf(ax: Axes, values: np.ndarray, **style: object) -> None:
    """The empirical CDF of ``values`` (NaN left out) as a step line."""
    data = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    if data.size:
        ax.step(data, np.arange(1, data.size + 1) / data.size, where="post", **style)
    ax.set_ylim(0, 1.02)


def note(ax: Axes, text: str) -> None:
    """A small remark in the axes' lower right corner."""
    ax.text(0.99, 0.01, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
