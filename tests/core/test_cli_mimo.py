"""``rramlab mimo``: zero-forcing detection by HP-INV from the command line: BER per SNR
and per cycle beside double-precision zero forcing, and clear refusals of bad options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rramlab.cli import main

SIMULATED = Path(__file__).parents[2] / "docs" / "examples" / "simulated.yaml"


def mimo(*args: str):
    return CliRunner().invoke(main, ["mimo", *args])


def mimo_json(*args: str) -> dict:
    result = mimo(*args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def test_exact_engine_sweep_has_one_ber_per_snr_and_cycle_and_ends_at_zero_forcing():
    out = mimo_json(
        "--qam", "16", "--snr", "10:20:10", "--vectors", "8", "--cycles", "5",
        "--engine", "exact",
    )  # fmt: skip
    assert out["snr_db"] == [10.0, 20.0]
    assert (out["antennas"], out["users"], out["qam"], out["vectors"]) == (16, 4, 16, 8)
    assert out["bits"] == [8 * 4 * 4] * 2  # vectors x users x bits per symbol
    assert np.shape(out["ber"]) == (2, 5) and np.shape(out["precision_bits"]) == (2, 5)
    assert len(out["ber_reference"]) == 2
    for ber, errors, reference, bits in zip(
        out["ber"], out["bit_errors"], out["reference_errors"], out["bits"], strict=True
    ):
        assert ber == [e / bits for e in errors]
        assert errors[-1] == reference  # five cycles: zero forcing's decisions
    assert out["ber"][1][-1] == out["ber_reference"][1]
    # Precision rises every cycle until it reaches what the 18-bit Gram matrix allows.
    for bits in out["precision_bits"]:
        rising = np.flatnonzero(np.asarray(bits) < bits[-1] - 1)
        assert np.all(np.diff(bits)[rising] > 0) and bits[-1] > 12


def test_text_output_is_a_table_of_ber_beside_zero_forcing():
    result = mimo(
        "--qam", "4", "--snr", "0,10", "--vectors", "4", "--cycles", "2", "--engine", "exact"
    )
    assert result.exit_code == 0, result.output
    for text in (
        "Bit error rate",
        "SNR (dB)",
        "cycle 1",
        "cycle 2",
        "ZF, float64",
        "worst precision",
    ):
        assert text in result.stdout, text
    assert "after cycle 2: the same bit errors" in result.stdout
    assert "Detecting" in result.stderr


@pytest.mark.slow
def test_a_small_board_sweep_reports_ber_lists_of_the_right_shape():
    out = mimo_json("--qam", "16", "--snr", "20", "--vectors", "4", "--cycles", "3")
    assert out["engine"] == "board" and out["bench"]["rows"] >= 8
    assert np.shape(out["ber"]) == (1, 3) and len(out["ber_reference"]) == 1
    assert out["ops_total"]["inv_runs"] >= 3 and out["ops_total"]["write_verify_runs"] > 0
    assert out["precision_bits"][0][-1] > out["precision_bits"][0][0]
    assert out["bit_errors"][0][-1] == out["reference_errors"][0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--snr", "0:25"], "expected start:stop:step"),
        (["--snr", "a:b:c"], "could not convert"),
        (["--snr", "20:0:5"], "stop (0) is below start (20)"),
        (["--snr", "0:10:0"], "step must be > 0"),
        (["--snr", "0,nan"], "values must be finite"),
        (["--qam", "32"], "'32' is not one of '4', '16', '64', '256'"),
        (["--users", "8", "--antennas", "4"], "at least as many antennas as users"),
        (["--vectors", "0"], "0 is not in the range"),
        (["--engine", "exact", "--station", str(SIMULATED)], "--station is for"),
    ],
)
def test_bad_options_are_usage_errors(args, message):
    result = mimo(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Detecting" not in result.stderr  # nothing ran
