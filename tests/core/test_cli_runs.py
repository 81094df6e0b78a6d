"""``rramlab run``, ``protocols``, ``runs``, ``show`` and ``plot`` on the simulated bench."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import rramlab.station
from rramlab.cli import main
from rramlab.progress import ProgressBar
from rramlab.protocols.registry import names
from rramlab.run_log import RunWriter, list_runs, load_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []


@pytest.fixture
def opened(monkeypatch):
    """The stations the command opens, recorded (their simulated benches stay readable
    after the command closed them)."""
    stations = []
    real = rramlab.station.open_station

    def recording(*args, **kwargs):
        station = real(*args, **kwargs)
        stations.append(station)
        return station

    monkeypatch.setattr(rramlab.station, "open_station", recording)
    return stations


# ------------------------------------------------------------------------ run
def test_run_forming_makes_a_completed_run_whose_formed_cell_conducts(tmp_path, opened):
    out = tmp_path / "runs"
    result = invoke("run", "forming", "--set", "cells=0,0", "--seed", 4, "--out", out)
    assert result.exit_code == 0, result.output
    (folder,) = run_folders(out)
    data, meta = load_run(folder)
    assert meta["status"] == "completed" and meta["seed"] == 4
    assert meta["params"]["cells"] == [[0, 0]]
    assert len(data) == meta["rows"] > 0
    last = data.iloc[-1]
    assert bool(last["formed"]) and last["g_read_S"] >= meta["params"]["formed_threshold_S"]
    # what the command prints: the folder, the status, the rows, key figures
    assert str(folder) in result.output
    assert f"completed, {len(data)} rows" in result.output
    assert "cells formed" in result.output and "1 of 1" in result.output
    # the station was closed: every output off
    (station,) = opened
    assert not station.bench.smus["2450"].channel.output_on


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("bogus=1", "bogus"),  # unknown parameter
        ("width_s=abc", "width_s"),  # not a number
        ("cells=0", "cells"),  # not a (row, col) pair
        ("v_start_V=-1", "v_start_V"),  # out of range
        ("via=laser", "via"),  # not a choice
        ("no-equals-sign", "NAME=VALUE"),
    ],
)
def test_bad_set_values_exit_2_naming_the_parameter_before_anything_opens(
    tmp_path, opened, setting, named
):
    out = tmp_path / "runs"
    result = invoke("run", "forming", "--set", setting, "--out", out)
    assert result.exit_code == 2, result.output
    assert named in result.output and "--set" in result.output
    assert opened == []  # no station was opened
    assert not out.exists()  # no run folder


def test_a_value_the_station_cannot_do_exits_2_and_writes_no_run(tmp_path, opened):
    out = tmp_path / "runs"
    result = invoke("run", "forming", "--set", "v_stop_V=9", "--out", out)  # limit: 5 V
    assert result.exit_code == 2, result.output
    assert "v_stop_V" in result.output and "max_voltage_V" in result.output
    assert not out.exists()
    (station,) = opened
    assert not station.bench.smus["2450"].channel.output_on


def test_a_malformed_station_file_exits_2_naming_file_and_field(tmp_path, opened):
    bad = tmp_path / "bench.yaml"
    example = Path(__file__).parents[2] / "docs" / "examples" / "simulated.yaml"
    bad.write_text(example.read_text().replace("max_voltage_V: 4.0", "max_voltage_V: lots"))
    out = tmp_path / "runs"
    result = invoke("run", "read-map", "--station", bad, "--out", out)
    assert result.exit_code == 2, result.output
    assert str(bad) in result.output and "limits.max_voltage_V" in result.output
    assert opened == [] and not out.exists()


def test_a_station_file_is_used_and_recorded(tmp_path):
    example = Path(__file__).parents[2] / "docs" / "examples" / "simulated.yaml"
    out = tmp_path / "runs"
    result = invoke("run", "read-map", "--station", example, "--set", "rows=2", "--out", out)
    assert result.exit_code == 0, result.output
    (folder,) = run_folders(out)
    _, meta = load_run(folder)
    assert meta["station"]["station"] == "simulated-2636b" and meta["seed"] == 3
    assert "2636B" in json.dumps(meta["instruments"])


def test_seed_and_station_file_together_are_refused(tmp_path):
    example = Path(__file__).parents[2] / "docs" / "examples" / "simulated.yaml"
    result = invoke("run", "read-map", "--station", example, "--seed", 1, "--out", tmp_path)
    assert result.exit_code == 2 and "--seed" in result.output


def test_unknown_protocol_exits_2_listing_the_known_ones():
    result = invoke("run", "forge")
    assert result.exit_code == 2
    assert "'forge'" in result.output and "forming" in result.output


def test_run_list_and_protocols_list_every_protocol_with_its_summary():
    for args in (("run", "--list"), ("protocols",)):
        result = invoke(*args)
        assert result.exit_code == 0
        for name in names():
            assert name in result.output
        assert "escalating compliance" in result.output  # forming's summary


def test_help_params_lists_types_units_defaults_and_meanings():
    result = invoke("run", "forming", "--help-params")
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert {"cells", "v_start_V", "compliance_max_A", "via"} <= set(lines)
    assert "0.0001" in lines["compliance_max_A"] and " A " in lines["compliance_max_A"]
    assert "float" in lines["v_start_V"] and "first pulse amplitude" in lines["v_start_V"]
    assert "r,c; r,c" in lines["cells"]
    result = invoke("run", "program-levels", "--help-params")
    assert "(Python only)" in result.output  # level_map
    assert "RegionParams" in result.output  # docstrings of the bases explain rows, cols


def test_a_failure_exits_1_marks_the_run_failed_and_keeps_rows(tmp_path, monkeypatch, opened):
    calls = []

    def lifted(self, fraction, what=""):
        calls.append(fraction)
        if len(calls) == 3:
            raise RuntimeError("probe lifted")

    monkeypatch.setattr(ProgressBar, "__call__", lifted)
    out = tmp_path / "runs"
    result = invoke("run", "forming", "--set", "cells=0,0; 1,1", "--out", out)
    assert result.exit_code == 1, result.output
    assert "RuntimeError: probe lifted" in result.output
    assert "Traceback" not in result.output
    (folder,) = run_folders(out)
    data, meta = load_run(folder)
    assert meta["status"] == "failed" and "probe lifted" in meta["error"]
    assert len(data) == 3  # forming reports progress after logging each pulse
    assert f"run {folder} marked failed, 3 rows kept" in result.output
    assert not opened[0].bench.smus["2450"].channel.output_on

    calls.clear()
    result = invoke("run", "forming", "--set", "cells=0,0", "--out", out, "--debug")
    assert result.exit_code == 1 and "Traceback" in result.output


def test_ctrl_c_mid_run_exits_130_outputs_off_rows_kept_run_aborted(tmp_path, monkeypatch, opened):
    calls = []

    def interrupted(self, fraction, what=""):
        calls.append(fraction)
        if len(calls) == 5:
            station = opened[0]
            station.smu.source_voltage(0.2, current_limit_A=1e-4)
            station.smu.enable_output()  # interrupted while the SMU sources
            assert station.bench.smus["2450"].channel.output_on
            raise KeyboardInterrupt

    monkeypatch.setattr(ProgressBar, "__call__", interrupted)
    out = tmp_path / "runs"
    result = invoke("run", "forming", "--set", "cells=0,0; 1,1", "--out", out)
    assert result.exit_code == 130, result.output
    (folder,) = run_folders(out)
    data, meta = load_run(folder)
    assert meta["status"] == "aborted"
    assert len(data) == 5 and list(data["pulse"]) == [1, 2, 3, 4, 5]
    assert "Interrupted" in result.output and "5 rows kept" in result.output
    assert not opened[0].bench.smus["2450"].channel.output_on


def test_first_sigint_stops_the_protocol_at_its_next_step(tmp_path, monkeypatch, opened):
    calls = []

    def sigint_after_4(self, fraction, what=""):
        calls.append(fraction)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)  # the handler only sets the abort flag

    monkeypatch.setattr(ProgressBar, "__call__", sigint_after_4)
    out = tmp_path / "runs"
    # whatever this process had (a background job, an xdist worker: SIG_IGN)
    handler_before = signal.getsignal(signal.SIGINT)
    result = invoke("run", "forming", "--set", "cells=0,0; 1,1", "--out", out)
    assert result.exit_code == 130, result.output
    (folder,) = run_folders(out)
    data, meta = load_run(folder)
    # stopped by the protocol's own abort check before its 5th pulse, not by a
    # KeyboardInterrupt wherever the signal landed; the reason is the signal
    assert meta["status"] == "aborted" and meta["error"] == "SIGINT"
    assert len(data) == 4
    assert signal.getsignal(signal.SIGINT) is handler_before  # restored


def test_real_sigint_to_a_running_process_aborts_cleanly(tmp_path):
    """A real Ctrl-C (SIGINT) to ``rramlab run``: exit code 130, the run marked aborted
    and the rows measured so far on disk."""
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "rramlab", "run", "read-disturb"]
    command += ["--set", "n_reads=10000000", "--set", "sample_every=1", "--out", str(out)]
    # cwd off the source tree: there ./rramlab would shadow the installed package
    proc = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not list(out.glob("*/data/part-*.parquet")):  # rows are on disk: it runs
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no rows written in 30 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stdout + stderr
    (folder,) = run_folders(out)
    data, meta = load_run(folder)
    assert meta["status"] == "aborted"
    assert 0 < len(data) < 10_000_000 and meta["rows"] == len(data)
    assert "Interrupted" in stderr and f"{len(data)} rows kept" in stderr


# ----------------------------------------------------------------- runs, show
@pytest.fixture
def two_runs(tmp_path):
    out = tmp_path / "runs"
    for args in (
        ("forming", "--set", "cells=0,0; 0,1", "--set", "via=board", "--set", "width_s=1e-5"),
        ("read-map", "--set", "rows=2", "--set", "cols=2", "--set", "n_reads=3"),
    ):
        result = invoke("run", *args, "--seed", 7, "--out", out)
        assert result.exit_code == 0, result.output
    return out


def test_runs_lists_every_run_with_protocol_status_rows_and_seed(two_runs):
    result = invoke("runs", two_runs)
    assert result.exit_code == 0, result.output
    table = list_runs(two_runs)
    assert len(table) == 2
    for rec in table.itertuples():
        (line,) = [x for x in result.output.splitlines() if rec.name in x]
        cells = [c.strip() for c in line.split("│")]
        assert rec.protocol in cells and "completed" in cells
        assert str(rec.rows) in cells and "7" in cells


def test_runs_of_an_empty_or_missing_folder(tmp_path):
    result = invoke("runs", tmp_path)
    assert result.exit_code == 0 and "no runs" in result.output
    result = invoke("runs", tmp_path / "nowhere")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_show_prints_metadata_params_and_first_rows(two_runs):
    folder = next(p for p in run_folders(two_runs) if "read-map" in p.name)
    data, _ = load_run(folder)
    result = invoke("show", folder, "--head", 4)
    assert result.exit_code == 0, result.output
    for text in ("read-map", "completed", "n_reads", "seed", "MODEL 2450", "g_S"):
        assert text in result.output, text
    assert f"first 4 of {len(data)}" in result.output
    assert "reads per cell" in result.output  # key figures
    first_g = f"{data['g_S'].iloc[0]:.4g}"
    assert first_g in result.output


def test_show_a_run_still_marked_running(tmp_path):
    import pandas as pd

    writer = RunWriter.create(
        tmp_path,
        protocol="read-map",
        params={"n_reads": 1},
        station={"station": "bench"},
        instruments={},
        seed=0,
        clock=None,
    )
    writer.log(pd.DataFrame({"read": [0, 0], "row": [0, 0], "col": [0, 1], "g_S": [1e-5, 2e-5]}))
    writer.flush()  # the process "dies" here: no finish()
    result = invoke("show", writer.path)
    assert result.exit_code == 0, result.output
    assert "still marked running" in result.output and "first 2 of 2" in result.output


def test_show_a_broken_run_says_what_is_wrong(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "meta.json").write_text("{not json")
    result = invoke("show", folder)
    assert result.exit_code == 1
    assert "cannot read this run" in result.output and "not valid JSON" in result.output
    result = invoke("show", tmp_path / "missing")
    assert result.exit_code == 2 and "no such run folder" in result.output


# ----------------------------------------------------------------------- plot
def test_plot_writes_png_files_for_several_protocols(tmp_path):
    out = tmp_path / "runs"
    for args in (
        ("forming", "--set", "cells=0,0; 1,1", "--set", "via=board", "--set", "width_s=1e-5"),
        ("program-levels", "--set", "rows=2", "--set", "cols=2", "--set", "levels_S=1e-6,2e-5"),
        ("read-map", "--set", "rows=4", "--set", "cols=4"),
        ("retention", "--set", "rows=2", "--set", "cols=2", "--set", "points=4"),
        ("iv-sweep", "--set", "cycles=1", "--set", "points_per_branch=6"),
    ):
        result = invoke("run", *args, "--seed", 2, "--out", out)
        assert result.exit_code == 0, result.output
    expected = {
        "forming": ["forming.png"],
        "program-levels": [
            "program-levels-map.png",
            "program-levels-histogram.png",
            "program-levels-cdf.png",
        ],
        "read-map": ["read-map.png"],
        "retention": ["retention.png"],
        "iv-sweep": ["iv-sweep.png"],
    }
    for folder in run_folders(out):
        _, meta = load_run(folder)
        result = invoke("plot", folder)
        assert result.exit_code == 0, result.output
        files = [Path(line) for line in result.output.split()]
        assert [f.name for f in files] == expected[meta["protocol"]]
        for file in files:
            assert file.parent == folder / "plots"
            blob = file.read_bytes()
            assert blob[:8] == PNG_MAGIC and len(blob) > 15_000, file


def test_plot_into_another_folder_keeps_runs_apart(two_runs, tmp_path):
    figures = tmp_path / "figures"
    for folder in run_folders(two_runs):
        assert invoke("plot", folder, "--out", figures).exit_code == 0
    assert sorted(p.name for p in figures.iterdir()) == sorted(
        p.name for p in run_folders(two_runs)
    )


def test_plot_of_a_protocol_without_figures_says_so(tmp_path):
    writer = RunWriter.create(
        tmp_path,
        protocol="mystery",
        params={},
        station={},
        instruments={},
        seed=None,
        clock=None,
    )
    writer.finish("completed")
    result = invoke("plot", writer.path)
    assert result.exit_code == 1
    assert "no plot for protocol 'mystery'" in result.output
    assert not (writer.path / "plots").exists()
