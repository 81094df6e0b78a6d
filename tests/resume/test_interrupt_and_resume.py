"""Real signals to ``python -m rramlab run`` on a served simulated bench, then
``rramlab run --resume`` in another process: the interrupted run keeps every row it had
written, is marked aborted with the signal's name, leaves every output off on the
bench, and the resume completes it as one uninterrupted run would read.

The bench is ``rramlab sim serve`` in its own process (tests/resume/conftest.py), so it
outlives the runs; its station has the wall clock."""

from __future__ import annotations

import datetime as dt
import signal

import numpy as np
import pandas as pd

from rramlab.run_log import load_run

REGION = 32 * 32  # the served bench's cells


def test_sigint_then_resume_programs_every_cell_once(served_bench, rramlab_run, tmp_path):
    out = tmp_path / "runs"
    # an output left on by someone: whatever the protocol touched, it must go off
    served_bench.scpi(":SOUR:VOLT 0.1", ":OUTP ON")
    assert served_bench.smu_output_on()
    run = rramlab_run(
        "program-levels", "--station", served_bench.station_file,
        "--set", "rows_per_step=1", "--set", "pattern=ramp", "--out", out,
    )  # fmt: skip
    folder, _ = run.wait_for_rows(out)
    on_disk, _ = load_run(folder)  # every row written before the signal
    code, _, stderr = run.stop(signal.SIGINT)

    assert code == 130, stderr
    data, meta = load_run(folder)
    assert meta["status"] == "aborted" and meta["error"] == "SIGINT"
    assert 0 < len(on_disk) <= len(data) < REGION and len(data) % 32 == 0  # whole steps
    pd.testing.assert_frame_equal(data.iloc[: len(on_disk)], on_disk)  # no row lost
    assert f"rramlab run --resume {folder}" in stderr
    assert served_bench.outputs_off()

    code, stdout, stderr = rramlab_run("--resume", folder).finish()
    assert code == 0, stdout + stderr
    final, meta = load_run(folder)
    assert meta["status"] == "completed"
    assert [(r["previous"]["status"], r["status"]) for r in meta["resumes"]] == [
        ("aborted", "completed")
    ]
    pd.testing.assert_frame_equal(final.iloc[: len(data)].drop(columns="attempt"), data)
    assert (final["attempt"] == 1).sum() == len(data)
    # one row per cell, every cell programmed once: as an uninterrupted run
    assert len(final) == REGION and not final.duplicated(["row", "col"]).any()
    # ~1-2% of the simulated chip's cells are defective (stuck, unformable), and the
    # resumed part is a random few hundred of them: leave room for that, not more
    assert final["inside_tolerance"].mean() > 0.95
    resumed = final[final["attempt"] == 2]
    assert resumed["inside_tolerance"].mean() > 0.95
    # really programmed by the resume: pulsed, unless a cell already sat on its level
    assert (resumed["pulses"] > 0).mean() > 0.98
    assert served_bench.outputs_off()


def test_sigterm_then_a_killed_resume_then_a_resume_completes_endurance(
    served_bench, rramlab_run, tmp_path
):
    out = tmp_path / "runs"
    run = rramlab_run(
        "endurance", "--station", served_bench.station_file, "--set", "via=board",
        "--set", "cols=4", "--set", "max_cycles=3000", "--set", "verify_every=5", "--out", out,
    )  # fmt: skip
    folder, _ = run.wait_for_rows(out)
    on_disk, _ = load_run(folder)
    code, _, stderr = run.stop(signal.SIGTERM)

    assert code == 143, stderr
    first, meta = load_run(folder)
    assert meta["status"] == "aborted" and meta["error"] == "SIGTERM"
    assert "Interrupted (SIGTERM)" in stderr
    pd.testing.assert_frame_equal(first.iloc[: len(on_disk)], on_disk)
    assert first["cycle"].max() < 3000
    assert served_bench.outputs_off()

    # a resume killed outright (SIGKILL: no clean-up at all) ...
    killed = rramlab_run("--resume", folder)
    killed.wait_for_rows(out, rows=len(first) + 4)
    written, _ = load_run(folder)
    killed.stop(signal.SIGKILL)
    _, meta = load_run(folder)
    assert meta["status"] == "running" and meta["resumes"][0]["status"] == "running"

    # ... leaves the run resumable once its process is gone
    code, stdout, stderr = rramlab_run("--resume", folder).finish()
    assert code == 0, stdout + stderr
    final, meta = load_run(folder)
    assert meta["status"] == "completed"
    assert [r["status"] for r in meta["resumes"]] == ["failed", "completed"]
    assert "ended without marking" in meta["resumes"][0]["error"]
    pd.testing.assert_frame_equal(final.iloc[: len(written)], written)  # no row lost
    # the verified cycles of all attempts: each once per cell, in order, on one grid
    assert sorted(final["cycle"].unique()) == [1, *range(5, 3001, 5)]
    for _, cell in final.groupby(["row", "col"]):
        assert cell["cycle"].is_monotonic_increasing and cell["cycle"].is_unique
    starts = final.groupby("attempt")["cycle"].agg(["min", "max"])
    assert list(starts.index) == [1, 2, 3]
    assert np.all(starts["min"].to_numpy()[1:] > starts["max"].to_numpy()[:-1])
    assert served_bench.outputs_off()


def test_two_sigterms_stop_retention_at_once_and_the_resume_keeps_its_clock(
    served_bench, rramlab_run, tmp_path
):
    out = tmp_path / "runs"
    run = rramlab_run(
        "retention", "--station", served_bench.station_file, "--set", "rows=4",
        "--set", "cols=4", "--set", "t_min_s=0.05", "--set", "t_max_s=3", "--set", "points=10",
        "--out", out,
    )  # fmt: skip
    folder, _ = run.wait_for_rows(out)
    on_disk, _ = load_run(folder)
    code, _, stderr = run.stop(signal.SIGTERM, signal.SIGTERM, pause_s=0.01)

    assert code == 143, stderr
    data, meta = load_run(folder)
    assert meta["status"] == "aborted" and meta["error"].startswith("SIGTERM")
    pd.testing.assert_frame_equal(data.iloc[: len(on_disk)], on_disk)
    assert data["t_s"].max() < 3
    assert served_bench.outputs_off()

    code, stdout, stderr = rramlab_run("--resume", folder).finish()
    assert code == 0, stdout + stderr
    final, meta = load_run(folder)
    assert meta["status"] == "completed"
    pd.testing.assert_frame_equal(final.iloc[: len(data)].drop(columns="attempt"), data)
    reads = final.groupby("t_s").agg(cells=("row", "size"), attempt=("attempt", "first"))
    assert (reads["cells"] == 16).all()  # whole reads only
    assert final["t_s"].is_monotonic_increasing and reads.index[-1] >= 3.0  # covers t_max_s
    # on a real (wall) clock the time since the start includes the interruption: the
    # resume's first read is at least as late as the resume started after the run did
    start = dt.datetime.fromisoformat(meta["start_time"])
    resumed = dt.datetime.fromisoformat(meta["resumes"][0]["start_time"])
    first_resumed = reads.index[reads["attempt"] == 2][0]
    assert first_resumed >= (resumed - start).total_seconds() - 0.01
    assert served_bench.outputs_off()
