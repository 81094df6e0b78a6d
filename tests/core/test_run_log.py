"""Run folders: rows reach the disk as they are measured, survive a crash, and come back
from load_run exactly as logged; meta.json says what ran and how it ended."""

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rramlab
from rramlab import run_files
from rramlab.clock import VirtualClock
from rramlab.run_log import RunFileError, RunWriter, list_runs, load_run

META_KEYS = {
    "format",
    "name",
    "protocol",
    "status",
    "error",
    "params",
    "station",
    "instruments",
    "seed",
    "rramlab_version",
    "start_time",
    "end_time",
    "start_clock_s",
    "end_clock_s",
    "clock",
    "array_shape",
    "rows",
    "parts",
    "columns",
}


class FrozenWall:
    """Stands in for time.monotonic so only the row count triggers writes."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make_writer(out_dir, protocol="forming", *, clock=None, params=None, **kwargs):
    writer = RunWriter.create(
        Path(out_dir),
        protocol=protocol,
        params={"v_max_V": 3.0, "i_compliance_A": 1e-4} if params is None else params,
        station={"name": "sim", "simulation": {"seed": 7, "rows": 4, "cols": 4}},
        instruments={"smu": "KEITHLEY INSTRUMENTS,MODEL 2450,0,1.0", "board": "RRAMBOARD"},
        seed=7,
        clock=VirtualClock() if clock is None else clock,
        **kwargs,
    )
    writer._monotonic = FrozenWall()
    writer._last_write = writer._monotonic()
    return writer


def points(start, n, **extra):
    """n tidy rows: a running index, a cell, a voltage and a current."""
    index = np.arange(start, start + n)
    frame = pd.DataFrame(
        {
            "point": index,
            "row": index % 4,
            "col": index // 4 % 4,
            "v_V": index * 0.01,
            "i_A": index * 1e-6,
            "step": ["set"] * n,
            "in_compliance": index % 2 == 0,
        }
    )
    for name, value in extra.items():
        frame[name] = value
    return frame


def same_meta(a, b):
    return json.dumps(run_files.jsonable(a), sort_keys=True) == json.dumps(
        run_files.jsonable(b), sort_keys=True
    )


def test_rows_and_meta_round_trip(tmp_path):
    clock = VirtualClock(5.0)
    writer = make_writer(tmp_path / "new" / "runs", clock=clock)
    assert re.fullmatch(r"\d{8}-\d{6}-forming-[0-9a-f]{4}", writer.path.name)
    assert writer.path.parent == tmp_path / "new" / "runs"  # out_dir was created
    assert json.loads((writer.path / "meta.json").read_text())["status"] == "running"
    frames = [points(0, 3), points(3, 1), points(4, 5)]
    frames[1]["label"] = pd.Series(["odd"], dtype=object)  # Parquet alone gives str back
    for frame in frames:
        writer.log(frame)
        clock.sleep(10.0)
    writer.finish("completed")

    data, meta = load_run(str(writer.path))
    pd.testing.assert_frame_equal(data, pd.concat(frames, ignore_index=True))
    assert set(meta) == META_KEYS
    assert meta["format"] == run_files.FORMAT_VERSION
    assert meta["status"] == "completed" and meta["error"] is None
    assert meta["protocol"] == "forming" and meta["name"] == writer.path.name
    assert meta["params"] == {"v_max_V": 3.0, "i_compliance_A": 1e-4}
    assert meta["station"]["simulation"] == {"seed": 7, "rows": 4, "cols": 4}
    assert meta["instruments"]["board"] == "RRAMBOARD"
    assert meta["seed"] == 7 and meta["rramlab_version"] == rramlab.__version__
    assert (meta["start_clock_s"], meta["end_clock_s"]) == (5.0, 35.0)  # virtual time
    assert meta["clock"] == "VirtualClock"
    start = pd.Timestamp(meta["start_time"])
    end = pd.Timestamp(meta["end_time"])
    assert start.tz is not None and start.utcoffset().total_seconds() == 0
    assert start <= end
    assert writer.path.name.startswith(start.strftime("%Y%m%d-%H%M%S"))
    assert meta["rows"] == 9 and meta["parts"] == 1
    assert meta["columns"] == {c: str(d) for c, d in data.dtypes.items()}
    assert meta["columns"]["label"] == "object" and meta["columns"]["step"] == "str"
    assert same_meta(meta, writer.meta)
    # the meta.json path works too
    pd.testing.assert_frame_equal(load_run(writer.path / "meta.json")[0], data)


def test_run_folders_never_overwrite_one_another(tmp_path, monkeypatch):
    suffixes = iter(["aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr(run_files.secrets, "token_hex", lambda n: next(suffixes))
    first = make_writer(tmp_path, protocol="analog/mvm")
    second = make_writer(tmp_path, protocol="analog/mvm")
    assert first.path.name.endswith("-analog-mvm-aaaa")
    assert second.path != first.path and second.path.name.endswith("-analog-mvm-bbbb")
    assert json.loads((first.path / "meta.json").read_text())["name"] == first.path.name


def test_many_log_calls_write_several_parts_and_read_back_in_order(tmp_path):
    writer = make_writer(tmp_path, flush_rows=256)
    frames = [points(10 * k, 10) for k in range(100)]
    for frame in frames:
        writer.log(frame)
    # a part is written each time 256 or more rows are buffered
    assert [p.name for p in run_files.part_paths(writer.path)] == [
        "part-000001.parquet",
        "part-000002.parquet",
        "part-000003.parquet",
    ]
    writer.finish("completed")
    parts = run_files.part_paths(writer.path)
    assert [len(pd.read_parquet(p)) for p in parts] == [260, 260, 260, 220]
    data, meta = load_run(writer.path)
    assert data["point"].tolist() == list(range(1000))
    pd.testing.assert_frame_equal(data, pd.concat(frames, ignore_index=True))
    assert (meta["rows"], meta["parts"]) == (1000, 4)


def test_rows_are_written_once_a_second_has_passed(tmp_path):
    writer = make_writer(tmp_path)
    wall = writer._monotonic
    wall.t = 0.5
    writer.log(points(0, 1))
    assert run_files.part_paths(writer.path) == []
    wall.t = 1.2
    writer.log(points(1, 1))
    assert len(pd.read_parquet(writer.path / "data" / "part-000001.parquet")) == 2
    wall.t = 1.5
    writer.log(points(2, 1))  # 0.3 s since that write: buffered
    assert len(run_files.part_paths(writer.path)) == 1


@pytest.mark.parametrize("flush_rows", [1, 3, 10_000])
def test_columns_added_midway_come_back_as_if_concatenated_in_memory(tmp_path, flush_rows):
    frames = [
        points(0, 2),
        points(2, 2, g_S=1e-5),  # a float column appears
        points(4, 2, pulse=7, verified=True, note="retry"),  # int, bool and str appear
        points(6, 2, g_S=2e-5),
        points(8, 1, pulse=9, verified=False, note="ok"),
    ]
    writer = make_writer(tmp_path, flush_rows=flush_rows)
    for frame in frames:
        writer.log(frame)
    writer.finish("completed")
    data, meta = load_run(writer.path)
    # identical whatever the chunking: same values, dtypes and column order
    expected = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(data, expected)
    assert list(data.columns)[-4:] == ["g_S", "pulse", "verified", "note"]
    assert data["point"].dtype == np.int64
    assert data["pulse"].dtype == np.float64  # int column with missing values: NaN
    missing = [True, True, False, False, True, True, False, False, True]
    assert data["g_S"].isna().tolist() == missing
    assert meta["columns"]["pulse"] == "float64"


def test_a_killed_process_keeps_every_row_written_before_it(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np, pandas as pd
        from rramlab.clock import VirtualClock
        from rramlab.run_log import RunWriter

        writer = RunWriter.create(
            {str(tmp_path)!r}, protocol="retention", params={{}}, station={{}},
            instruments={{}}, seed=1, clock=VirtualClock(), flush_interval_s=1e9, flush_rows=256,
        )
        print(writer.path, flush=True)
        for k in range(30):  # 300 rows: one part written at 260 rows
            writer.log(pd.DataFrame({{"t_s": np.arange(10 * k, 10 * k + 10) * 1.0}}))
        writer.flush()  # the other 40
        writer.log(pd.DataFrame({{"t_s": [300.0, 301.0]}}))  # still buffered when killed
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0, done.stderr
    folder = Path(done.stdout.strip())
    data, meta = load_run(folder)
    assert data["t_s"].tolist() == [float(t) for t in range(300)]
    assert meta["status"] == "running" and meta["end_time"] is None
    assert (meta["rows"], meta["parts"]) == (300, 2)
    assert meta["columns"] == {"t_s": "float64"}


def test_an_abandoned_writer_leaves_a_running_run_with_its_written_rows(tmp_path):
    writer = make_writer(tmp_path)
    writer.log(points(0, 5))
    writer.flush()
    writer.log(points(5, 5))  # never flushed
    folder = writer.path
    del writer
    # a part interrupted while being written is a hidden temporary file: never read
    (folder / "data" / ".part-000002.parquet.tmp").write_bytes(b"PAR1 half a part")
    data, meta = load_run(folder)
    assert data["point"].tolist() == [0, 1, 2, 3, 4]
    assert meta["status"] == "running" and meta["rows"] == 5


def test_a_part_interrupted_while_written_never_counts(tmp_path, monkeypatch):
    writer = make_writer(tmp_path)
    writer.log(points(0, 3))

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        writer.flush()
    monkeypatch.undo()
    assert list((writer.path / "data").iterdir()) == []  # no part, no temporary file
    writer.log(points(3, 2))
    writer.finish("aborted")  # the rows kept in the buffer are written now
    assert load_run(writer.path)[0]["point"].tolist() == [0, 1, 2, 3, 4]


def test_finish_records_failure_and_abort_and_writes_buffered_rows(tmp_path):
    failed = make_writer(tmp_path)
    failed.log(points(0, 4))
    failed.finish("failed", error="InstrumentError: smu: error -222, Data out of range")
    data, meta = load_run(failed.path)
    assert len(data) == 4
    assert meta["status"] == "failed"
    assert meta["error"] == "InstrumentError: smu: error -222, Data out of range"
    assert meta["end_time"] is not None

    aborted = make_writer(tmp_path)
    aborted.log(points(0, 1))
    aborted.finish("aborted", error="interrupted by the user")
    assert load_run(aborted.path)[1]["status"] == "aborted"

    with pytest.raises(RuntimeError, match="finished"):
        aborted.log(points(1, 1))
    with pytest.raises(RuntimeError, match="finished"):
        aborted.finish("completed")
    with pytest.raises(ValueError, match="status"):
        make_writer(tmp_path).finish("done")


def test_rows_that_cannot_be_stored_fail_the_run_but_keep_its_meta(tmp_path):
    writer = make_writer(tmp_path)
    writer.log(points(0, 2))
    writer.flush()
    writer.log(pd.DataFrame({"x": [1, "a"]}))  # mixed object column: no Parquet type
    with pytest.raises(Exception, match="x"):
        writer.finish("completed")
    data, meta = load_run(writer.path)
    assert meta["status"] == "failed" and "could not write the last 2 rows" in meta["error"]
    assert len(data) == 2
    assert [p.name for p in (writer.path / "data").iterdir()] == ["part-000001.parquet"]

    other = make_writer(tmp_path)
    other.log(pd.DataFrame({"x": [1, "a"]}))
    other.finish("failed", error="RuntimeError: boom")  # the caller's error stays the news
    meta = load_run(other.path)[1]
    assert meta["error"].startswith("RuntimeError: boom; could not write the last 2 rows")


def test_an_empty_run_loads_as_an_empty_table(tmp_path):
    writer = make_writer(tmp_path)
    writer.log(points(0, 0))
    writer.finish("completed")
    data, meta = load_run(writer.path)
    assert data.empty and meta["rows"] == 0 and meta["parts"] == 0


def test_log_rejects_what_parquet_cannot_name(tmp_path):
    writer = make_writer(tmp_path)
    with pytest.raises(ValueError, match="strings"):
        writer.log(pd.DataFrame({0: [1.0]}))
    with pytest.raises(ValueError, match="duplicate"):
        writer.log(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(TypeError, match="DataFrame"):
        writer.log({"a": 1})


def test_meta_rewrite_is_atomic(tmp_path, monkeypatch):
    writer = make_writer(tmp_path)
    writer.log(points(0, 3))
    before = (writer.path / "meta.json").read_text()
    calls = []
    real_replace = os.replace

    def interrupted_fsync(fd):  # the new file is written but not yet renamed
        calls.append("fsync")
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        writer.finish("completed")
    monkeypatch.undo()
    assert calls  # the temporary file is fsynced before it replaces meta.json
    assert (writer.path / "meta.json").read_text() == before
    assert load_run(writer.path)[1]["status"] == "running"

    # the rename is what publishes it: old or new, never a mix
    order = []
    monkeypatch.setattr(os, "fsync", lambda fd: order.append("fsync"))
    monkeypatch.setattr(
        os, "replace", lambda a, b: (order.append(Path(b).name), real_replace(a, b))
    )
    run_files.write_meta(writer.path, {**writer.meta, "status": "completed"})
    assert order[:2] == ["fsync", "meta.json"]
    assert not (writer.path / ".meta.json.tmp").exists()
    assert load_run(writer.path)[1]["status"] == "completed"


def test_nan_inf_and_numpy_values_survive_json(tmp_path):
    params = {
        "v_V": np.float64(1.5),
        "n_pulses": np.int64(3),
        "verify": np.bool_(True),
        "g_min_S": math.nan,
        "timeout_s": math.inf,
        "floor": -np.inf,
        "targets_S": np.array([1e-5, np.nan]),
        "cells": ((0, 1), (2, 3)),
        "file": Path("targets.npy"),
        "by_row": {np.int64(0): 1.0},
    }
    writer = make_writer(tmp_path, params=params)
    writer.finish("completed")
    text = (writer.path / "meta.json").read_text()

    def reject(token):
        raise AssertionError(f"meta.json is not strict JSON: {token}")

    json.loads(text, parse_constant=reject)
    back = load_run(writer.path)[1]["params"]
    assert back["v_V"] == 1.5 and back["n_pulses"] == 3 and back["verify"] is True
    assert type(back["n_pulses"]) is int
    assert math.isnan(back["g_min_S"])
    assert back["timeout_s"] == math.inf and back["floor"] == -math.inf
    assert back["targets_S"][0] == 1e-5 and math.isnan(back["targets_S"][1])
    assert back["cells"] == [[0, 1], [2, 3]]
    assert back["file"] == "targets.npy" and back["by_row"] == {"0": 1.0}
    assert math.isnan(writer.meta["params"]["g_min_S"])  # the writer's meta says the same


def corrupt_part_run(tmp_path):
    writer = make_writer(tmp_path)
    writer.log(points(0, 3))
    writer.flush()
    (writer.path / "data" / "part-000001.parquet").write_bytes(b"not parquet at all")
    return writer


def test_errors_name_the_offending_file(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RunFileError, match=r"plain: not a run folder \(it has no meta.json\)"):
        load_run(plain)
    with pytest.raises(RunFileError, match="does not exist"):
        load_run(tmp_path / "missing")

    writer = make_writer(tmp_path)
    writer.log(points(0, 3))
    writer.finish("completed")
    meta_path = writer.path / "meta.json"
    good = meta_path.read_text()
    for text, what in [
        (good[: len(good) // 2], "not valid JSON"),
        ("[1, 2]", "holds a JSON list"),
        ('{"format": 1}', "not run metadata (missing protocol, status, start_time)"),
        (good.replace('"format": 1', '"format": 99'), "format 99 is newer than this rramlab reads"),
    ]:
        meta_path.write_text(text)
        with pytest.raises(RunFileError, match=re.escape(f"{meta_path}: {what}")):
            load_run(writer.path)
    meta_path.write_text(good)

    part = writer.path / "data" / "part-000001.parquet"
    saved = part.read_bytes()
    part.unlink()
    with pytest.raises(RunFileError, match=re.escape(f"{meta_path}: records 1 part files")):
        load_run(writer.path)
    part.write_bytes(saved[:-20])
    with pytest.raises(RunFileError, match=re.escape(f"{part}: not a readable Parquet")):
        load_run(writer.path)
    assert issubclass(RunFileError, ValueError)


def test_list_runs_tabulates_good_running_failed_and_damaged_runs(tmp_path):
    completed = make_writer(tmp_path, protocol="forming")
    completed.log(points(0, 4))
    completed.finish("completed")
    running = make_writer(tmp_path, protocol="retention")
    running.log(points(0, 6))
    running.flush()
    running.log(points(6, 1))  # buffered, not on disk
    failed = make_writer(tmp_path, protocol="write_verify")
    failed.finish("failed", error="InstrumentTimeout: board")
    corrupt = make_writer(tmp_path, protocol="iv_sweep")
    (corrupt.path / "meta.json").write_text("{ truncated")
    damaged = corrupt_part_run(tmp_path)  # still running, with an unreadable part
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a run")
    (tmp_path / "summary.csv").write_text("a,b\n")

    table = list_runs(tmp_path)
    assert list(table.columns) == [
        "path",
        "name",
        "protocol",
        "status",
        "start_time",
        "end_time",
        "rows",
        "seed",
        "error",
    ]
    assert table["name"].tolist()[:3] == [w.path.name for w in (completed, running, failed)]
    assert set(table["name"].tolist()[3:]) == {corrupt.path.name, damaged.path.name}
    by_name = table.set_index("name")
    assert by_name.loc[completed.path.name, ["status", "rows"]].tolist() == ["completed", 4]
    assert by_name.loc[running.path.name, ["status", "rows"]].tolist() == ["running", 6]
    assert pd.isna(by_name.loc[running.path.name, "end_time"])
    assert by_name.loc[failed.path.name, "error"] == "InstrumentTimeout: board"
    assert by_name.loc[completed.path.name, "seed"] == 7
    bad = by_name.loc[corrupt.path.name]
    assert bad["status"] == "unreadable" and "meta.json: not valid JSON" in bad["error"]
    assert by_name.loc[damaged.path.name, "status"] == "unreadable"
    assert "part-000001.parquet" in by_name.loc[damaged.path.name, "error"]
    assert str(table["start_time"].dtype).startswith("datetime64")
    assert table["start_time"].iloc[:3].is_monotonic_increasing
    assert load_run(table["path"].iloc[0])[1]["protocol"] == "forming"

    assert list_runs(tmp_path / "notes").empty
    with pytest.raises(FileNotFoundError):
        list_runs(tmp_path / "nowhere")


def test_import_rramlab_loads_the_run_log_only_when_used():
    code = (
        "import sys, rramlab\n"
        "print('rramlab.run_log' in sys.modules)\n"
        "from rramlab import load_run, list_runs\n"
        "import rramlab.run_log as r\n"
        "print(load_run is r.load_run and list_runs is r.list_runs)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"], done.stderr
