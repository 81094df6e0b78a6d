"""resume_run in one process: an interrupted program-levels, endurance or retention run
continues in its own folder where it stopped, and the run reads as one uninterrupted
run would; runs that must not be resumed are refused before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import rramlab
from rramlab.protocols.base import Aborted, AbortEvent
from rramlab.resume import NotResumable, StationMismatch, resume_run
from rramlab.run_log import RunWriter, load_run
from rramlab.runner import run_protocol
from rramlab.sim.forming_recipe import form_every_cell
from rramlab.station import open_station


@pytest.fixture
def station():
    """An 8 x 8 simulated bench, every cell formed."""
    with open_station(seed=1, rows=8, cols=8) as st:
        form_every_cell(st.board)
        yield st


def interrupted(station, protocol, params, out, *, after: int, reason: str = "test stop"):
    """Run ``protocol`` and abort it at its ``after``-th progress report; the folder."""
    abort, calls = AbortEvent(), []

    def progress(fraction, what):
        calls.append(fraction)
        if len(calls) == after:
            abort.set(reason)

    with pytest.raises(Aborted) as stop:
        run_protocol(station, protocol, params, out_dir=out, abort=abort, progress=progress)
    return stop.value.run_path


def meta_of(folder) -> dict:
    return json.loads((folder / "meta.json").read_text())


# ------------------------------------------------------------ the three protocols
def test_program_levels_resumes_with_the_cells_not_yet_programmed(station, tmp_path):
    params = {"rows_per_step": 1, "pattern": "ramp"}
    folder = interrupted(station, "program-levels", params, tmp_path, after=3)
    before, meta = load_run(folder)
    assert meta["status"] == "aborted" and meta["error"] == "test stop"
    assert len(before) == 3 * 8  # three rows of the region programmed, then the stop

    result = resume_run(station, folder)
    data, meta = load_run(folder)
    assert result.path == folder and len(result.data) == len(data) == 64
    assert meta["status"] == "completed" and meta["error"] is None
    # the rows before the stop are untouched, the resume's follow them
    pd.testing.assert_frame_equal(data.iloc[:24].drop(columns="attempt"), before)
    assert list(data["attempt"]) == [1] * 24 + [2] * 40
    # one row per cell, as an uninterrupted run: the cells already programmed are left
    assert not data.duplicated(["row", "col"]).any()
    assert sorted(zip(data["row"], data["col"], strict=True)) == [
        (r, c) for r in range(8) for c in range(8)
    ]
    assert data["inside_tolerance"].mean() >= 0.95  # healthy cells inside tolerance
    assert (data.loc[data["attempt"] == 2, "pulses"] > 0).all()  # programmed by the resume
    # the board's own view: the cells sit at their targets, read right after
    g = np.array(
        [station.board.read(r, c) / 0.2 for r, c in zip(data["row"], data["col"], strict=True)]
    )
    assert np.median(np.abs(g / data["g_target_S"] - 1)) < 0.05


def test_endurance_resumes_after_its_last_verified_cycle(station, tmp_path):
    params = {"cols": 3, "max_cycles": 200, "verify_every": 10}
    folder = interrupted(station, "endurance", params, tmp_path, after=4)
    before, _ = load_run(folder)
    assert sorted(before["cycle"].unique()) == [1, 10, 20, 30]
    wear_before = station.bench.array.cycles[0, :3].copy()

    data = resume_run(station, folder).data
    assert sorted(data["cycle"].unique()) == [1, *range(10, 201, 10)]
    assert data.loc[data["attempt"] == 2, "cycle"].min() == 40
    for _, cell in data.groupby(["row", "col"]):  # every cell's count goes on, once each
        assert cell["cycle"].is_monotonic_increasing and cell["cycle"].is_unique
    # the cells were cycled again, at most the 170 cycles 31..200 (the bench's wear
    # counts full-window cycles: a protocol cycle wears a cell by at most one)
    worn = station.bench.array.cycles[0, :3] - wear_before
    assert np.all((worn > 50) & (worn <= 170))


def test_endurance_keeps_failed_cells_alone_and_counts_low_verifies_on(station, tmp_path):
    writer = RunWriter.create(
        tmp_path,
        protocol="endurance",
        params={"cols": 2, "max_cycles": 30, "verify_every": 10, "n_failures": 2},
        station=station.description,
        instruments=station.identities(),
        seed=station.seed,
        clock=station.clock,
        array_shape=station.array_shape,
    )
    folder = writer.path
    # cell (0, 0) failed at cycle 10; cell (0, 1) had one low verify at cycle 10
    writer.log(
        pd.DataFrame(
            {
                "cycle": [1, 1, 10, 10],
                "row": [0, 0, 0, 0],
                "col": [0, 1, 0, 1],
                "g_on_S": [1e-5] * 4,
                "g_off_S": [1e-6, 1e-6, 1e-5, 1e-5],
                "window": [10.0, 10.0, 1.0, 1.0],
                "failed": [False, False, True, False],
            }
        )
    )
    writer.finish("aborted", error="test stop")
    data = resume_run(station, folder).data
    later = data[data["attempt"] == 2]
    assert set(later["col"]) == {1}  # the failed cell is not cycled any more
    assert list(later["cycle"]) == [20, 30][: len(later)]


def test_retention_resumes_on_its_schedule_counting_from_the_runs_start(station, tmp_path):
    params = {"rows": 2, "cols": 2, "points": 10, "t_min_s": 1.0, "t_max_s": 1e4}
    folder = interrupted(station, "retention", params, tmp_path, after=4)
    start = meta_of(folder)["start_clock_s"]
    station.clock.sleep(300.0)  # the bench sits idle for 5 minutes before the resume

    data, meta = (lambda r: (r.data, r.meta))(resume_run(station, folder))
    times = data.drop_duplicates("t_s")
    assert times["t_s"].is_monotonic_increasing and times["t_s"].is_unique
    assert (data.groupby("t_s").size() == 4).all()  # every read holds every cell
    first_resumed = times.loc[times["attempt"] == 2, "t_s"].iloc[0]
    # t counts from the run's start on the bench clock: the idle 300 s are in it, and the
    # scheduled reads that fell into them are replaced by one read at the resume
    resumed_at = meta["resumes"][0]["start_clock_s"] - start
    assert first_resumed == pytest.approx(resumed_at, abs=0.1) and first_resumed > 300
    assert times["t_s"].iloc[-1] == pytest.approx(1e4, rel=1e-6)  # covers t_max_s
    assert len(times) < 11  # the missed times are not all read at once
    assert meta["resumes"][0]["origin_clock_s"] == start


# --------------------------------------------------------- run files and meta
def test_meta_records_each_attempt_and_load_run_numbers_them(station, tmp_path):
    params = {"rows_per_step": 1}
    folder = interrupted(station, "program-levels", params, tmp_path, after=2, reason="first")
    abort, calls = AbortEvent(), []

    def stop_again(fraction, what):
        calls.append(fraction)
        if len(calls) == 4:
            abort.set("second")

    with pytest.raises(Aborted):
        resume_run(station, folder, abort=abort, progress=stop_again)
    meta = meta_of(folder)
    assert meta["status"] == "aborted" and meta["error"] == "second"  # the last attempt
    result = resume_run(station, folder)

    meta = meta_of(folder)
    assert meta["status"] == "completed" and meta["error"] is None
    first, second = meta["resumes"]
    assert [first["attempt"], second["attempt"]] == [2, 3]
    assert first["previous"]["status"] == "aborted" and first["previous"]["error"] == "first"
    assert first["status"] == "aborted" and first["error"] == "second"
    assert second["previous"]["error"] == "second" and second["status"] == "completed"
    for entry in (first, second):
        assert entry["start_time"] < entry["end_time"]
        assert entry["start_clock_s"] <= entry["end_clock_s"]
    assert meta["end_time"] == second["end_time"]
    counts = result.data["attempt"].value_counts().sort_index()
    assert list(counts) == [16, first["rows"], second["rows"]] and counts.sum() == meta["rows"]
    assert 1 < first["first_part"] < second["first_part"] <= meta["parts"]
    assert meta["rows"] == 64


def test_a_run_whose_process_died_is_resumed_with_every_row_written(station, tmp_path):
    writer = RunWriter.create(
        tmp_path,
        protocol="retention",
        params={"rows": 1, "cols": 2, "points": 3},
        station=station.description,
        instruments=station.identities(),
        seed=station.seed,
        clock=station.clock,
        array_shape=station.array_shape,
    )
    writer.log(pd.DataFrame({"t_s": [0.0, 0.0], "row": [0, 0], "col": [0, 1], "g_S": [1e-5] * 2}))
    writer.flush()
    writer._lock.release()  # the process "dies": its lock goes, meta.json says running
    (writer.path / "data" / ".part-000002.parquet.tmp").write_bytes(b"half a part")
    assert meta_of(writer.path)["status"] == "running"

    data = resume_run(station, writer.path).data
    meta = meta_of(writer.path)
    assert meta["status"] == "completed"
    assert meta["resumes"][0]["previous"]["status"] == "failed"
    assert "ended without marking" in meta["resumes"][0]["previous"]["error"]
    assert list(data["attempt"][:2]) == [1, 1] and data["t_s"].max() >= 1e4
    assert not list((writer.path / "data").glob(".*.tmp"))


def test_a_run_being_written_cannot_be_resumed(station, tmp_path):
    writer = RunWriter.create(
        tmp_path,
        protocol="retention",
        params={},
        station=station.description,
        instruments=station.identities(),
        seed=station.seed,
        clock=station.clock,
    )
    with pytest.raises(NotResumable, match=r"process \d+ is writing this run"):
        resume_run(station, writer.path)
    writer.finish("aborted", error="test stop")
    assert meta_of(writer.path).get("resumes") is None  # nothing was written


# ------------------------------------------------------------------ refusals
def test_a_completed_run_is_refused(station, tmp_path):
    result = run_protocol(
        station, "retention", {"rows": 1, "cols": 1, "points": 2}, out_dir=tmp_path
    )
    before = (result.path / "meta.json").read_text()
    with pytest.raises(NotResumable, match="completed; there is nothing to resume"):
        resume_run(station, result.path)
    assert (result.path / "meta.json").read_text() == before


def test_a_protocol_that_cannot_resume_is_refused(station, tmp_path):
    folder = interrupted(station, "read-map", {"n_reads": 50}, tmp_path, after=2)
    with pytest.raises(NotResumable, match="read-map runs cannot be resumed") as refused:
        resume_run(station, folder)
    assert "endurance" in str(refused.value) and "program-levels" in str(refused.value)


def test_a_different_station_is_refused_unless_forced(station, tmp_path):
    folder = interrupted(
        station, "program-levels", {"rows_per_step": 1, "rows": 4}, tmp_path, after=1
    )
    with open_station(seed=2, rows=8, cols=8) as other:
        with pytest.raises(StationMismatch) as refused:
            resume_run(other, folder)
        assert "simulation.seed: 1 in the run, 2 now" in str(refused.value)
        assert any("serial SIM1" in d and "SIM2" in d for d in refused.value.differences)
    with open_station(seed=1, rows=16, cols=16) as bigger:
        with pytest.raises(StationMismatch, match="array: 8 x 8 in the run, 16 x 16 now"):
            resume_run(bigger, folder)
    assert meta_of(folder).get("resumes") is None  # nothing was written

    with open_station(seed=2, rows=8, cols=8) as other:
        form_every_cell(other.board)
        result = resume_run(other, folder, force=True)
    entry = result.meta["resumes"][0]
    assert result.meta["status"] == "completed" and len(result.data) == 32
    assert any("simulation.seed" in d for d in entry["forced"])
    assert entry["station"]["simulation"]["seed"] == 2  # what it was resumed on


def test_a_new_simulated_bench_is_not_the_runs_and_time_goes_on_when_forced(station, tmp_path):
    params = {"rows": 1, "cols": 2, "points": 6, "t_min_s": 1.0, "t_max_s": 100.0}
    folder = interrupted(station, "retention", params, tmp_path, after=4)
    with open_station(seed=1, rows=8, cols=8) as fresh:  # same settings, a new bench
        with pytest.raises(StationMismatch, match="it is a new bench"):
            resume_run(fresh, folder)
        data = resume_run(fresh, folder, force=True).data
    times = data.drop_duplicates("t_s")["t_s"]
    assert times.is_monotonic_increasing and times.is_unique  # never back in time
    assert times.iloc[-1] == pytest.approx(100.0)


# ------------------------------------------------------------------ failures
def test_a_failing_driver_call_leaves_outputs_off_rows_kept_and_the_run_resumable(
    station, tmp_path, monkeypatch
):
    real, calls = station.board.write_verify, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            station.smu.source_voltage(0.2, current_limit_A=1e-4)
            station.smu.enable_output()  # the SMU sources when the board call fails
            raise OSError("board link lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(station.board, "write_verify", flaky)
    with pytest.raises(OSError) as failure:
        run_protocol(station, "program-levels", {"rows_per_step": 1}, out_dir=tmp_path)
    folder = failure.value.run_path
    data, meta = load_run(folder)
    assert meta["status"] == "failed" and meta["error"] == "OSError: board link lost"
    assert len(data) == 16  # the two rows programmed before
    assert not station.bench.smus["2450"].channel.output_on

    monkeypatch.setattr(station.board, "write_verify", real)
    result = resume_run(station, folder)
    assert result.meta["status"] == "completed" and len(result.data) == 64
    assert result.meta["resumes"][0]["previous"]["status"] == "failed"


def test_an_instrument_that_dies_mid_run_fails_the_run_and_keeps_its_rows(station, tmp_path):
    calls = []

    def unplug(fraction, what):
        calls.append(fraction)
        if len(calls) == 3:
            station.smu.connection.close()  # the SMU's cable is pulled

    params = {
        "via": "smu",
        "set_width_s": 1e-3,
        "reset_width_s": 1e-3,
        "max_cycles": 20,
        "verify_every": 1,
    }
    with pytest.raises(Exception) as failure:
        run_protocol(station, "endurance", params, out_dir=tmp_path, progress=unplug)
    data, meta = load_run(failure.value.run_path)
    assert meta["status"] == "failed" and type(failure.value).__name__ in meta["error"]
    assert list(data["cycle"]) == [1, 2, 3]
    assert " ".join(station.board.link.command("ROUTE?").fields) in ("OFF", "NONE")


def test_resume_run_is_public_api():
    assert rramlab.resume_run is resume_run
