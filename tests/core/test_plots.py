"""rramlab.plots: the figures of every protocol's run, drawn from tiny simulated runs."""

import re

import numpy as np
import pandas as pd
import pytest

from rramlab.plots import PLOTTERS, NoPlotError, figures, plot_run
from rramlab.protocols.registry import names
from rramlab.run_log import load_run
from rramlab.runner import run_protocol
from rramlab.station import open_station

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
UNIT = re.compile(r"\((µS|V|A|s|%)\)")

TINY_RUNS = [  # every protocol, a few seconds in all on one 4 x 4 bench
    ("forming", {"cells": "0,0; 0,1; 1,0; 1,1", "via": "board", "width_s": 1e-5}),
    ("iv-sweep", {"cells": "0,0; 0,1", "cycles": 2, "points_per_branch": 11}),
    ("pulse", {"cells": "0,0", "count": 5, "v_pulse_V": -1.5}),
    ("switch-seeker", {"cells": "0,1", "cycles": 2, "v_step_V": 0.1}),
    ("write-verify", {"cells": "0,0; 1,1", "g_target_S": (10e-6, 25e-6), "via": "board"}),
    (
        "program-levels",
        {"rows": 2, "cols": 2, "levels_S": (5e-6, 20e-6), "pattern": "checkerboard"},
    ),
    ("read-map", {"n_reads": 2}),
    ("retention", {"rows": 2, "cols": 2, "t_max_s": 100, "points": 5}),
    ("endurance", {"rows": 2, "cols": 2, "max_cycles": 200, "verify_every": 20}),
    ("read-disturb", {"n_reads": 50, "sample_every": 10, "v_read_V": 0.5}),
    ("variability", {"rows": 2, "cols": 2, "cycles": 5}),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    with open_station(seed=3, rows=4, cols=4) as station:
        return {name: run_protocol(station, name, p, out_dir=out).path for name, p in TINY_RUNS}


def test_every_protocol_has_figures():
    assert set(PLOTTERS) == set(names())
    assert {name for name, _ in TINY_RUNS} == set(names())


@pytest.mark.parametrize("protocol", names())
def test_plot_run_writes_valid_non_trivial_pngs(runs, protocol):
    files = plot_run(runs[protocol])
    assert files and all(f.parent == runs[protocol] / "plots" for f in files)
    for file in files:
        blob = file.read_bytes()
        assert blob[:8] == PNG_MAGIC, file
        assert len(blob) > 15_000, file  # a drawn figure, not an empty canvas


@pytest.mark.parametrize("protocol", names())
def test_every_axis_is_labelled_and_quantities_carry_units(runs, protocol):
    data, meta = load_run(runs[protocol])
    for name, figure in figures(data, meta).items():
        axes = [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        colorbars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
        labels = [ax.get_ylabel() for ax in colorbars]
        for ax in axes:
            shared = ax.get_xlabel() or any(
                other.get_xlabel() for other in ax.get_shared_x_axes().get_siblings(ax)
            )
            assert shared and ax.get_ylabel(), (name, ax.get_title())
            labels += [ax.get_xlabel(), ax.get_ylabel()]
        assert any(UNIT.search(label) for label in labels), (name, labels)


def test_conductance_map_is_the_mean_read_of_each_cell_in_uS(runs):
    data, meta = load_run(runs["read-map"])
    (figure,) = figures(data, meta).values()
    drawn = figure.axes[0].images[0].get_array()
    expected = data.groupby(["row", "col"])["g_S"].mean().unstack().to_numpy() * 1e6
    assert drawn.shape == (4, 4)
    np.testing.assert_allclose(np.ma.filled(drawn, np.nan), expected)
    assert "µS" in figure.axes[1].get_ylabel()  # the colour bar


def test_iv_loops_are_on_log_current_with_the_switches_marked(runs):
    data, meta = load_run(runs["iv-sweep"])
    (figure,) = figures(data, meta).values()
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 2  # one per cell
    for ax in visible:
        assert ax.get_yscale() == "log" and ax.get_ylabel() == "current |I| (A)"
        assert len(ax.lines) == 4  # 2 cycles x (SET, RESET)
    marked = sum(len(ax.collections[0].get_offsets()) for ax in visible)
    assert marked == int(data["switched"].sum())


def test_retention_is_drawn_against_log_time_with_the_mean_of_cells(runs):
    data, meta = load_run(runs["retention"])
    (figure,) = figures(data, meta).values()
    top, bottom = figure.axes[:2]
    assert bottom.get_xscale() == "log"
    mean = next(line for line in top.lines if line.get_label() == "mean of cells")
    later = data[data["t_s"] > 0].groupby("t_s")["g_S"].mean()
    np.testing.assert_allclose(mean.get_xdata(), later.index)
    np.testing.assert_allclose(mean.get_ydata(), later.to_numpy() * 1e6)


def test_program_levels_draws_a_map_a_histogram_and_cdfs_per_level(runs):
    data, meta = load_run(runs["program-levels"])
    drawn = figures(data, meta)
    assert list(drawn) == [
        "program-levels-map",
        "program-levels-histogram",
        "program-levels-cdf",
    ]
    cdf_axes = drawn["program-levels-cdf"].axes[0]
    assert cdf_axes.get_xscale() == "log"
    steps = [line for line in cdf_axes.lines if line.get_label().startswith(("0:", "1:"))]
    assert len(steps) == 2  # one CDF per level
    for line in steps:
        assert line.get_ydata()[-1] == pytest.approx(1.0)


def test_a_protocol_without_figures_and_a_run_without_rows_raise_no_plot_error(runs):
    data, meta = load_run(runs["read-map"])
    with pytest.raises(NoPlotError, match="no plot for protocol 'mystery'"):
        figures(data, {**meta, "protocol": "mystery"})
    with pytest.raises(NoPlotError, match="no rows"):
        figures(pd.DataFrame(), {**meta, "status": "aborted"})


def test_out_dir_gets_a_folder_per_run(runs, tmp_path):
    files = plot_run(runs["pulse"], tmp_path)
    assert [f.relative_to(tmp_path).parts for f in files] == [(runs["pulse"].name, "pulse.png")]
