"""The rramlab command: --help, --version and the demo."""

import re
import subprocess
import sys

from click.testing import CliRunner
from rich.console import Console

import rramlab
from rramlab.analog_bench import tile_size
from rramlab.cli import main
from rramlab.run_log import list_runs, load_run


def test_version_prints_the_package_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"rramlab, version {rramlab.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", rramlab.__version__)


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run", "protocols", "runs", "show", "plot", "sim", "solve", "mimo"):
        assert re.search(rf"^\s+{command}\s", result.output, flags=re.M), command


def test_demo_forms_programs_keeps_and_computes_on_the_simulated_bench(tmp_path):
    from rramlab.demo import run_demo

    with open("/dev/null", "w") as sink:
        figures = run_demo(seed=5, console=Console(file=sink), out=tmp_path)

    # Forming: nearly every cell of the 8 x 8 block forms (~1% of cells are defective),
    # a formed cell conducts, a cell never pulsed does not.
    assert figures["cells in block"] == 64
    assert figures["cells formed"] >= 60
    assert figures["min g of formed cells (S)"] >= 5e-6  # the forming threshold
    assert figures["median g of never-formed cells (S)"] < 0.5e-6
    assert 2.5 < figures["median forming voltage (V)"] < 4.0

    # Eight levels, 0.5-35 uS, programmed within +-5% and read back so by read-map.
    levels = figures["levels"]
    assert [round(lv["target_S"] * 1e6, 2) for lv in (levels[0], levels[-1])] == [0.5, 35.0]
    assert sum(lv["cells"] for lv in levels) == figures["cells formed"]
    for level in levels:
        if level["cells"]:
            assert abs(level["mean_S"] / level["target_S"] - 1) < 0.05, level
    assert figures["inside tolerance (board verify)"] >= 0.95
    assert figures["inside tolerance (read-map)"] >= 0.9

    # Retention: conductance drifts down, by a few percent over 1e4 s.
    assert -0.15 < figures["drift after 10000 s"] < -0.01

    # Computing on the board against numpy.
    assert figures["MVM relative error"] < 0.05
    assert figures["INV relative error"] < 0.15
    assert 10e-9 < figures["INV settling time (s)"] < 2e-6

    # Every step is a completed run folder.
    runs = figures["runs"]
    assert list(runs) == [
        "forming",
        "program-levels",
        "read-map",
        "retention",
        "program-inv",
        "read-inv",
    ]
    for path in runs.values():
        data, meta = load_run(path)
        assert meta["status"] == "completed" and len(data) == meta["rows"] > 0
    assert figures["wall time (s)"] < 20

    # Last, HP-INV on a second simulated bench: 4 x 4, condition number 8, ten cycles,
    # to 24+ bits as the PKU chip ([PKU25]: 24 bits after 9, about 3 bits per cycle;
    # here 4-5 with the balanced scaling and differential pairs, docs/analog.md), and
    # short of double precision's ~52 bits (the cells' 1-2 % error bounds each cycle).
    analog = figures["analog"]
    assert len(analog["precision_bits"]) == len(analog["relative_error"]) == 10
    assert analog["precision_bits"][-1] >= 24 and analog["relative_error"][-1] < 2.0**-24
    assert 2.0 <= analog["bits_per_cycle"] <= 6.0
    assert analog["precision_bits"][0] < 8  # one analog step: a low-precision answer
    assert analog["bench"] == tile_size(4) and analog["ops"]["inv_runs"] >= 10


def test_demo_command_prints_its_tables_and_writes_its_runs(tmp_path):
    out = tmp_path / "demo-runs"
    result = CliRunner().invoke(main, ["demo", "--seed", "2", "--block", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for text in ("Levels", "cells formed", "MVM", "INV", "drift after", "Runs written"):
        assert text in result.output, text
    # it ends with the analog part: HP-INV per cycle beside the published figures
    analog = result.output.index("HP-INV precision per cycle")
    assert analog > result.output.index("Runs written")
    tail = result.output[analog:]
    for text in ("published [PKU25]", "~2.4 (one LP-INV, kappa 7.7)", "Nature Electronics"):
        assert text in tail, text
    assert re.search(r"^\W*10\W+[2-5]\d\.\d\W", tail, flags=re.M)  # cycle 10: 20-59 bits
    table = list_runs(out)
    assert len(table) == 6 and set(table["status"]) == {"completed"}
    assert f"rramlab plot {out}" in result.output


def test_demo_refuses_a_too_small_block():
    result = CliRunner().invoke(main, ["demo", "--block", "2"])
    assert result.exit_code == 2
    assert "--block" in result.output and "2 is not in the range 4<=x<=16" in result.output


def test_console_script_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "rramlab", "--version"], capture_output=True, text=True, check=True
    )
    assert "rramlab, version" in proc.stdout
