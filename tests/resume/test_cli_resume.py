"""``rramlab run --resume RUN`` refusals and options, in this process: a run that cannot or
should not be resumed exits with code 2, a clear message, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rramlab.cli import main
from rramlab.progress import ProgressBar
from rramlab.run_log import load_run

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "simulated.yaml"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def meta_text(folder: Path) -> str:
    return (folder / "meta.json").read_text()


@pytest.fixture
def aborted(tmp_path, monkeypatch) -> Path:
    """A retention run on the default simulated bench, Ctrl-C after its third read."""
    calls = []

    def ctrl_c(self, fraction, what=""):
        calls.append(fraction)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ProgressBar, "__call__", ctrl_c)
    out = tmp_path / "runs"
    result = invoke("run", "retention", "--set", "points=6", "--set", "t_max_s=100", "--out", out)
    assert result.exit_code == 130, result.output
    monkeypatch.undo()
    (folder,) = out.iterdir()
    return folder


def test_a_new_simulated_bench_is_refused_and_force_resumes_on_it(aborted):
    before = meta_text(aborted)
    # each `rramlab run` without --station builds its bench anew: not the run's cells
    result = invoke("run", "--resume", aborted)
    assert result.exit_code == 2, result.output
    assert "this station is not the one the run used" in result.output
    assert "it is a new bench" in result.output and "--force" in result.output
    assert meta_text(aborted) == before

    result = invoke("run", "--resume", aborted, "--force")
    assert result.exit_code == 0, result.output
    assert "Warning (--force)" in result.output
    assert "attempt 2:" in result.output and "completed" in result.output
    data, meta = load_run(aborted)
    assert meta["status"] == "completed"
    times = data.drop_duplicates("t_s")
    assert list(times["attempt"]) == [1, 1, 1, 2, 2, 2, 2]  # t = 0, 1, 2.5 s, then on
    assert times["t_s"].is_monotonic_increasing and times["t_s"].iloc[-1] == 100


def test_a_different_station_file_is_refused_naming_the_differences(aborted):
    result = invoke("run", "--resume", aborted, "--station", EXAMPLE)
    assert result.exit_code == 2, result.output
    for text in ("simulation.seed: 0 in the run, 3 now", "instruments: smu, board in the run"):
        assert text in result.output, text


def test_a_completed_run_is_refused(tmp_path):
    out = tmp_path / "runs"
    assert invoke("run", "retention", "--set", "points=2", "--out", out).exit_code == 0
    (folder,) = out.iterdir()
    before = meta_text(folder)
    result = invoke("run", "--resume", folder)
    assert result.exit_code == 2
    assert "cannot resume" in result.output and "the run completed" in result.output
    assert meta_text(folder) == before


def test_a_protocol_that_cannot_resume_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ProgressBar, "__call__", lambda *a: (_ for _ in ()).throw(OSError("x")))
    out = tmp_path / "runs"
    assert invoke("run", "read-map", "--out", out).exit_code == 1
    (folder,) = out.iterdir()
    result = invoke("run", "--resume", folder)
    assert result.exit_code == 2
    assert "read-map runs cannot be resumed" in result.output


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["retention"], "drop PROTOCOL"),
        (["--set", "max_cycles=5"], "drop --set"),
        (["--seed", "3"], "drop --seed"),
        (["--out", "elsewhere"], "drop --out"),
    ],
)
def test_what_comes_from_the_run_cannot_be_given_again(aborted, extra, said):
    result = invoke("run", "--resume", aborted, *extra)
    assert result.exit_code == 2 and said in result.output


def test_force_goes_with_resume_and_a_missing_run_is_named(tmp_path):
    result = invoke("run", "endurance", "--force")
    assert result.exit_code == 2 and "--force goes with --resume" in result.output
    result = invoke("run", "--resume", tmp_path / "nowhere")
    assert result.exit_code == 2 and "no such run folder" in result.output


def test_show_lists_the_resumes_with_rows_before_and_after_and_why_it_stopped(aborted):
    before, _ = load_run(aborted)
    result = invoke("show", aborted)
    assert result.exit_code == 0, result.output
    assert "Resumed" not in result.output  # not resumed yet
    assert invoke("run", "--resume", aborted, "--force").exit_code == 0
    after, meta = load_run(aborted)
    result = invoke("show", aborted, "--head", 0)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # the table may wrap long cells
    assert "Resumed 1 time" in out
    (line,) = [row for row in result.output.splitlines() if row.strip("│ ").startswith("2 ")]
    cells = [c.strip() for c in line.strip("│").split("│")]
    assert cells[0] == "2" and cells[3:6] == [str(len(before)), str(len(after)), "completed"]
    assert cells[1] == meta["resumes"][0]["start_time"][:19].replace("T", " ")
    assert "aborted: interrupted by the user" in out
