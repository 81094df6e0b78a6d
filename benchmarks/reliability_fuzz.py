"""Fuzz inputs tried and limit violations (bench_reliability parts c and d).

Both come from the robustness tests themselves (tests/robustness, docs/safety.md), run
here with pytest in a subprocess: the parser fuzzers (SCPI engine, TSP interpreter,
board protocol, station files, run folders) and the property-based safety test (random
parameter sets at every protocol on simulated benches, each run checked against the
bench's per-cell record of the largest |V| and |I| and a stricter start-of-bias record;
every wrong value of every parameter). ``RRAMLAB_FUZZ_EXAMPLES`` sizes them and
``RRAMLAB_FUZZ_REPORT`` has them write their tally (inputs tried, by outcome), so no
generator is copied here.

A parser input that crashes or hangs (beyond its time budget) fails its test, and
hypothesis stops that test at the first such input: each failed fuzz test counts as
one crash or hang (its message tells which); the tally of a limit violation is
written before the test asserts, so every one is counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ_TESTS = [
    "tests/robustness/test_fuzz_instruments.py",
    "tests/robustness/test_fuzz_board.py",
    "tests/robustness/test_fuzz_files.py",
]
SAFETY_TESTS = ["tests/robustness/test_safety_limits.py"]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

#: tally name (prefix) -> parser, in the order they are printed
PARSERS = {
    "fuzz SCPI": "SCPI engine (2450, B2902A)",
    "fuzz TSP": "TSP interpreter (2636B)",
    "fuzz board": "board protocol (framing, firmware)",
    "fuzz station": "station files (YAML, TOML)",
    "fuzz run folder": "run folders",
}
#: tally outcomes that mean the input was taken (anything else: a clear error)
ACCEPTED = {"accepted", "loaded", "split", "garbage, ignored"}


@dataclass
class FuzzReport:
    """Parts (c) and (d)."""

    parsers: dict[str, Counter] = field(default_factory=dict)  # parser -> outcome counts
    crashes: int = 0
    hangs: int = 0
    safety_runs: Counter = field(default_factory=Counter)  # outcome -> runs
    wrong_values: int = 0  # single wrong values checked
    violations: int = 0
    failures: list[str] = field(default_factory=list)  # failed tests, first line


def measure(examples: int) -> FuzzReport:
    """Run the fuzzers and the safety test with ``examples`` examples per test."""
    with tempfile.TemporaryDirectory(prefix="rramlab-fuzz-") as tmp:
        tally_file, junit = Path(tmp) / "tally.json", Path(tmp) / "junit.xml"
        env = {
            **os.environ,
            "RRAMLAB_FUZZ_EXAMPLES": str(examples),
            "RRAMLAB_FUZZ_REPORT": str(tally_file),
        }
        subprocess.run(
            [*PYTEST, f"--junitxml={junit}", *FUZZ_TESTS, *SAFETY_TESTS],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        if not tally_file.exists():
            raise RuntimeError("the robustness tests wrote no tally (did pytest start?)")
        tally = json.loads(tally_file.read_text())
        report = FuzzReport()
        _read_tally(tally, report)
        _read_failures(ET.parse(junit), report)
    return report


def _read_tally(tally: dict[str, dict[str, int]], report: FuzzReport) -> None:
    for name, counts in tally.items():
        parser = next((label for key, label in PARSERS.items() if name.startswith(key)), None)
        if parser is not None:
            out = report.parsers.setdefault(parser, Counter())
            for outcome, n in counts.items():
                out["accepted" if outcome in ACCEPTED else "clear error"] += n
        elif name == "safety: limit violations":
            report.violations += sum(counts.values())
        elif name.startswith("safety wrong values"):
            report.wrong_values += sum(counts.values())
        elif name.startswith("safety "):
            for outcome, n in counts.items():
                report.safety_runs[outcome.split(":")[0]] += n


def _read_failures(junit: ET.ElementTree, report: FuzzReport) -> None:
    for case in junit.iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is None:
            continue
        text = f"{failure.get('message', '')}\n{failure.text or ''}"
        report.failures.append(f"{case.get('name')}: {failure.get('message', '')[:200]}")
        if "safety" in (case.get("classname") or ""):
            # a violation is in the tally already; any other failure (an output left
            # on, bytes sent before a refusal) is in ``failures``
            continue
        if "took" in text and " s" in text:  # beyond the time budget
            report.hangs += 1
        else:
            report.crashes += 1
