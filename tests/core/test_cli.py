"""The rramlab command: --help, --version and the demo."""

import re
import subprocess
import sys

from click.testing import CliRunner

import rramlab
from rramlab.cli import main


def test_version_prints_the_package_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"rramlab, version {rramlab.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", rramlab.__version__)


def test_help_lists_the_demo():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output


def test_demo_forms_programs_and_computes_on_the_simulated_array():
    from rich.console import Console

    from rramlab.demo import run_demo

    console = Console(file=open("/dev/null", "w"))
    figures = run_demo(seed=5, rows=8, cols=8, console=console)
    assert figures["cells formed"] >= 60  # ~1% of cells are made defective
    assert figures["MVM relative error vs G^T v"] < 0.05
    assert figures["INV relative error vs numpy.linalg.solve"] < 0.2
    assert 10e-9 < figures["INV settling time (s)"] < 2e-6


def test_demo_command_prints_its_tables():
    result = CliRunner().invoke(main, ["demo", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "8 levels" in result.output and "INV relative error" in result.output


def test_demo_refuses_a_too_small_array():
    result = CliRunner().invoke(main, ["demo", "--rows", "2"])
    assert result.exit_code == 2
    assert "--rows" in result.output and "2 is not in the range 4<=x<=256" in result.output


def test_console_script_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "rramlab", "--version"], capture_output=True, text=True, check=True
    )
    assert "rramlab, version" in proc.stdout
