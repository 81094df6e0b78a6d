"""``rramlab solve``: A x = b by HP-INV from the command line. The board reaches the
precision the protocol does, the exact engine matches numpy, files round-trip, bad input
is refused before anything is opened, and a failure is one line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rramlab.analog_bench import tile_size
from rramlab.cli import main
from rramlab.protocols.analog.problems import random_problem

SIMULATED = Path(__file__).parents[2] / "docs" / "examples" / "simulated.yaml"


def solve(*args: str):
    return CliRunner().invoke(main, ["solve", *args])


def solve_json(*args: str) -> dict:
    result = solve(*args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)  # one object, nothing else on stdout


def relative(x, ref) -> float:
    return float(np.linalg.norm(np.asarray(x) - ref) / np.linalg.norm(ref))


@pytest.fixture(scope="module")
def board_4x4() -> dict:
    """The board solve of the docs' 4 x 4, condition number 8, seed 0 (~2 s)."""
    return solve_json("--random", "4", "--kappa", "8", "--seed", "0")


def test_board_solve_reaches_20_bits_within_10_cycles_with_precision_rising(board_4x4):
    out = board_4x4
    rows, cols = tile_size(4)
    assert out["engine"] == "board" and out["bench"] == {"rows": rows, "cols": cols, "seed": 0}
    assert (out["n"], out["tile"], out["stages"]) == (4, 4, 0)
    assert out["cycles"] == 10
    for key in ("precision_bits", "relative_error", "residual", "lp_inv_ops", "mvm_vectors"):
        assert len(out[key]) == 10, key
    assert np.all(np.diff(out["precision_bits"]) > 0)
    assert out["relative_error"][-1] < 2.0**-20
    assert out["precision_bits"][-1] == pytest.approx(-np.log2(out["relative_error"][-1]))
    a, b = random_problem(4, 8.0, seed=0)
    assert relative(out["x"], np.linalg.solve(a, b)) < 2.0**-20
    # the reported residual is the true one of the returned x
    true_residual = np.linalg.norm(b - a @ np.array(out["x"])) / np.linalg.norm(b)
    assert out["residual"][-1] == pytest.approx(true_residual, rel=1e-3, abs=1e-14)


def test_one_row_per_bit_level_drive_needs_more_drives_for_the_same_precision(board_4x4):
    assert board_4x4["board"] == {"rows_per_mvm": 2}  # the default up to N = 16
    single = solve_json("--random", "4", "--kappa", "8", "--seed", "0", "--rows-per-mvm", "1")
    assert single["board"] == {"rows_per_mvm": 1}
    assert single["relative_error"][-1] < 2.0**-20
    # one 0/1 row per drive: every bit plane of a 4-row input takes more drives
    assert sum(single["mvm_vectors"]) > sum(board_4x4["mvm_vectors"])


def test_board_solve_reports_its_analog_operations(board_4x4):
    ops, total = board_4x4["ops"], board_4x4["ops_total"]
    assert ops["inv_runs"] >= 10  # one LP-INV per cycle (auto-ranging may add runs)
    assert ops["mvm_drives"] >= sum(board_4x4["mvm_vectors"])
    assert ops["write_verify_runs"] == 0 < total["write_verify_runs"]  # programming came first
    assert total["inv_runs"] >= ops["inv_runs"] and total["calibration_ops"] > 0


def test_exact_engine_matches_numpy_solve():
    out = solve_json("--random", "6", "--kappa", "4", "--seed", "3", "--engine", "exact")
    a, b = random_problem(6, 4.0, seed=3)
    assert out["bench"] == {} and out["engine"] == "exact"
    assert relative(out["x"], np.linalg.solve(a, b)) < 2.0**-24
    assert out["relative_error"][-1] == pytest.approx(relative(out["x"], np.linalg.solve(a, b)))


def test_blockamc_stages_follow_from_n_and_the_tile():
    out = solve_json("--random", "16", "--kappa", "2", "--tile", "4", "--engine", "exact")
    assert (out["tile"], out["stages"]) == (4, 2)
    assert out["inv_ops_per_lp_inv"] == 9  # 3^stages INV operations per LP-INV
    assert out["lp_inv_ops"] == [9] * out["cycles"]
    assert out["relative_error"][-1] < 1e-7


def test_tol_bits_stops_at_the_residual_tolerance():
    out = solve_json(
        "--random", "4", "--kappa", "4", "--seed", "2", "--engine", "exact", "--cycles", "30",
        "--tol-bits", "30",
    )  # fmt: skip
    assert out["converged"] is True and out["cycles"] < 30
    assert out["residual"][-1] <= 2.0**-30 < out["residual"][-2]


@pytest.mark.parametrize("matrix_suffix, vector_suffix", [(".npy", ".csv"), (".csv", ".npy")])
def test_a_system_from_files_is_the_system_solved(tmp_path, matrix_suffix, vector_suffix):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((5, 5)) + 6 * np.eye(5)  # positive definite symmetric part
    b = rng.standard_normal(5)
    matrix, vector = tmp_path / f"A{matrix_suffix}", tmp_path / f"b{vector_suffix}"
    for path, value in ((matrix, a), (vector, b[:, None])):  # b as a column
        if path.suffix == ".npy":
            np.save(path, value)
        else:
            np.savetxt(path, value, delimiter=",", fmt="%.17g")
    out = solve_json("--matrix", str(matrix), "--vector", str(vector), "--engine", "exact")
    assert out["source"] == {"matrix": str(matrix), "vector": str(vector)}
    assert out["n"] == 5
    assert relative(out["x"], np.linalg.solve(a, b)) < 2.0**-24


def test_text_output_has_the_cycle_table_and_the_operations():
    result = solve("--random", "4", "--engine", "exact", "--cycles", "6")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("HP-INV: A 4 x 4", "Precision per cycle", "precision (bits)", "Analog operations"):
        assert text in out, text
    assert "after 6 cycle(s): precision" in out
    assert "Programming A" in result.stderr and "Programming A" not in out


def write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "matrix_text, vector_text, message",
    [
        ("1,2\n3,x\n", "1,2\n", "cannot read it"),
        ("1,2,3\n4,5,6\n", "1,2\n", "must be a square matrix, got shape (2, 3)"),
        ("2,1\n1,2\n", "1,2,3\n", "b has 3 entries but A"),
        ("2,1\n1,nan\n", "1,2\n", "entry (1, 1) is nan"),
        ("1,2\n2,4\n", "1,2\n", "A is singular"),
        ("2,1\n1,2\n", "1,2\n3,4\n", "b must be a vector"),
    ],
)
def test_bad_files_are_usage_errors_naming_the_file(tmp_path, matrix_text, vector_text, message):
    matrix = write(tmp_path / "A.csv", matrix_text)
    vector = write(tmp_path / "b.csv", vector_text)
    result = solve("--matrix", matrix, "--vector", vector)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and ("A.csv" in result.stderr or "b.csv" in result.stderr)
    assert "Traceback" not in result.output + result.stderr
    assert "Programming" not in result.stderr  # nothing was opened


def test_missing_and_wrongly_named_files_are_usage_errors(tmp_path):
    result = solve("--matrix", str(tmp_path / "none.npy"), "--vector", str(tmp_path / "b.npy"))
    assert result.exit_code == 2 and "none.npy" in result.stderr
    assert "does not exist" in result.stderr
    text = write(tmp_path / "A.txt", "1\n")
    result = solve("--matrix", text, "--vector", text)
    assert result.exit_code == 2 and "A.txt: expected a .npy or .csv file" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kappa", "4"], "--kappa goes with --random"),
        ([], "give --matrix FILE and --vector FILE, or --random N"),
        (["--random", "4", "--engine", "exact", "--station", str(SIMULATED)], "--station is for"),
        (["--random", "0"], "0 is not in the range"),
        (["--random", "4", "--kappa", "0.5"], "--kappa"),
    ],
)
def test_wrong_option_combinations_are_usage_errors(args, message):
    result = solve(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_matrix_hp_inv_cannot_converge_on_is_refused_before_programming():
    result = solve("--random", "4", "--kappa", "1e5")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1  # one line
    assert "HP-INV will not converge" in result.stderr and "before programming" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    result = solve("--random", "4", "--kappa", "1e5", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert "will not converge" in out["error"] and "cycles" not in out


def test_an_indefinite_symmetric_part_fails_on_the_board_with_one_line(tmp_path):
    a = np.diag([1.0, 1.0, -1.0, 1.0]) + 0.1  # converges on the exact engine, not in the loop
    matrix, vector = tmp_path / "A.npy", tmp_path / "b.npy"
    np.save(matrix, a)
    np.save(vector, np.ones(4))
    result = solve("--matrix", str(matrix), "--vector", str(vector), "--json")
    assert result.exit_code == 1
    assert "INV circuit unstable" in result.stderr and "Traceback" not in result.stderr
    out = json.loads(result.stdout)
    assert "positive definite" in out["error"] and out["cycles"] == 0


def test_a_station_board_without_room_is_a_one_line_failure(tmp_path):
    text = SIMULATED.read_text()
    station = write(
        tmp_path / "small.yaml", text.replace("rows: 16", "rows: 4").replace("cols: 16", "cols: 8")
    )
    result = solve("--random", "4", "--station", station)
    assert result.exit_code == 1
    rows, cols = tile_size(4)
    assert "no room" in result.stderr and f"needs a tile of about {rows} x {cols}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_solve_on_a_station_files_board(tmp_path):
    text = SIMULATED.read_text()
    station = write(
        tmp_path / "bench.yaml",
        text.replace("rows: 16", f"rows: {tile_size(4)[0]}").replace(
            "cols: 16", f"cols: {tile_size(4)[1]}"
        ),
    )
    out = solve_json("--random", "4", "--seed", "1", "--station", station, "--tol-bits", "20")
    assert out["bench"] == {"station": station}
    assert out["converged"] is True and out["residual"][-1] <= 2.0**-20
    assert out["relative_error"][-1] < 2.0**-18
