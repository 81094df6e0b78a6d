"""Reliability and safety report (issue 7): measured on the simulated bench, not assumed.

a. Faults injected and survived (reliability_faults): protocols run while one kind of
   fault at a time (latency, dropped, cut, garbled and late replies, hangs, lost links,
   instrument errors, a stuck output) hits the SMU's and the board's links, seeded.
   Each run must complete or fail cleanly: a clear error, every output off (or known
   to be on), rows kept, ``meta.json`` marked failed.
b. Runs interrupted and resumed (reliability_resume): program-levels, endurance and
   retention in subprocesses, stopped by SIGINT/SIGTERM at random (seeded) points and
   resumed with ``rramlab run --resume`` until complete; rows lost must be 0.
c. Fuzz inputs tried and d. limit violations (reliability_fuzz): the parser fuzzers and
   the property-based safety test of tests/robustness, sized here.

Prints one section per part and a summary table (Markdown); exits 1 if any row was
lost, any limit violated, any fuzz input crashed or hung, or any run ended uncleanly.

    .venv/bin/python benchmarks/bench_reliability.py [--quick | --thorough] [--seed N]

Default: about 1.5 minutes; ``--quick`` about 30 s; ``--thorough`` several minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import reliability_faults
import reliability_fuzz
import reliability_resume

#: size -> (fault seeds per kind and run, resumed runs per protocol, most signals per
#: run, fuzz examples per test)
SIZES = {
    "quick": (1, 1, 1, 20),
    "default": (3, 2, 2, 100),
    "thorough": (10, 5, 3, 400),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="size", const="quick")
    size.add_argument("--thorough", action="store_const", dest="size", const="thorough")
    parser.add_argument("--seed", type=int, default=0, help="seed of faults and signals")
    args = parser.parse_args(argv)
    name = args.size or "default"
    fault_seeds, resume_runs, max_stops, examples = SIZES[name]
    t0 = time.perf_counter()

    # the fuzzers first, alone: their inputs have wall-time budgets
    fuzz = reliability_fuzz.measure(examples)
    t_fuzz = time.perf_counter() - t0
    with ThreadPoolExecutor(1) as pool:  # faults wait on timeouts; resumes on processes
        pending = pool.submit(reliability_faults.measure, fault_seeds, args.seed)
        resumes = reliability_resume.measure(resume_runs, max_stops, args.seed)
        faults = pending.result()
    elapsed = time.perf_counter() - t0

    print(f"Reliability report ({name}: seed {args.seed}; {elapsed:.0f} s, fuzzing {t_fuzz:.0f} s)")
    print()
    failures = print_faults(faults)
    failures += print_resumes(resumes)
    failures += print_fuzz(fuzz)
    failures += print_summary(faults, resumes, fuzz)
    for line in failures:
        print(f"PROBLEM: {line}")
    return 1 if failures else 0


def print_faults(faults: dict[str, reliability_faults.FaultTally]) -> list[str]:
    print("a. Faults injected (per kind: every protocol run of reliability_faults.PROTOCOLS)")
    head = ("fault", "runs", "faults", "survived", "clean fail", "unclean")
    print("   {:22s} {:>5s} {:>7s} {:>9s} {:>11s} {:>8s}  errors raised".format(*head))
    problems = []
    for kind, t in faults.items():
        errors = ", ".join(f"{e} {n}" for e, n in sorted(t.errors.items()))
        print(
            f"   {kind:22s} {t.runs:5d} {t.injected:7d} {t.survived:9d} {t.failed_cleanly:11d}"
            f" {t.unclean:8d}  {errors}"
        )
        problems += t.problems
    print()
    return problems


def print_resumes(resumes: dict[str, reliability_resume.ResumeTally]) -> list[str]:
    print("b. Runs interrupted (SIGINT / SIGTERM / two SIGTERMs) and resumed")
    head = ("protocol", "runs", "stopped", "signals", "resumes", "completed", "rows", "lost")
    print("   {:16s} {:>5s} {:>8s} {:>8s} {:>8s} {:>10s} {:>7s} {:>5s}".format(*head), end="")
    print(" {:>6s} {:>8s}".format("twice", "left on"))
    problems = []
    for protocol, t in resumes.items():
        print(
            f"   {protocol:16s} {t.runs:5d} {t.interrupted:8d} {t.interruptions:8d}"
            f" {t.resumes:8d} {t.completed:10d} {t.rows:7d} {t.rows_lost:5d} {t.twice:6d}"
            f" {t.left_on:8d}"
        )
        problems += t.problems
        if t.completed < t.runs:
            problems.append(f"{protocol}: {t.runs - t.completed} run(s) never completed")
    print()
    return problems


def print_fuzz(fuzz: reliability_fuzz.FuzzReport) -> list[str]:
    print("c. Fuzz inputs tried (tests/robustness)")
    print(f"   {'parser':36s} {'inputs':>7s} {'accepted':>9s} {'clear error':>12s}")
    for parser in reliability_fuzz.PARSERS.values():
        c = fuzz.parsers.get(parser)
        if c is not None:
            total = c["accepted"] + c["clear error"]
            print(f"   {parser:36s} {total:7d} {c['accepted']:9d} {c['clear error']:12d}")
    print(f"   crashes {fuzz.crashes}, hangs {fuzz.hangs}")
    print()
    print("d. Random parameter sets at every protocol (tests/robustness/test_safety_limits.py)")
    runs = ", ".join(f"{k} {n}" for k, n in sorted(fuzz.safety_runs.items()))
    print(f"   {sum(fuzz.safety_runs.values())} runs ({runs})")
    print(f"   {fuzz.wrong_values} single wrong parameter values checked")
    print(f"   limit violations in the bench's per-cell record: {fuzz.violations}")
    print()
    return [f"test failed: {line}" for line in fuzz.failures]


def print_summary(faults, resumes, fuzz: reliability_fuzz.FuzzReport) -> list[str]:
    f = _total(faults.values(), "runs", "injected", "survived", "failed_cleanly", "unclean")
    delayed = faults["latency"].injected if "latency" in faults else 0
    r = _total(resumes.values(), "runs", "interrupted", "interruptions", "resumes")
    lost = _total(resumes.values(), "rows_lost", "twice", "left_on")
    tried = sum(c["accepted"] + c["clear error"] for c in fuzz.parsers.values())
    rows = [
        (
            f"faults injected ({len(faults) - 1} kinds, {f['runs']} runs; "
            f"besides {delayed} replies delayed)",
            f["injected"] - delayed,
            "",
        ),
        ("  runs that survived them (completed)", f["survived"], ""),
        ("  runs that failed cleanly", f["failed_cleanly"], ""),
        ("  runs that did not (unclean)", f["unclean"], "0"),
        (
            f"runs interrupted and resumed ({r['interruptions']} signals, {r['resumes']} resumes)",
            r["interrupted"],
            "",
        ),
        ("  rows lost", lost["rows_lost"], "0"),
        ("  cells programmed / cycles verified twice", lost["twice"], "0"),
        ("  outputs left on after a signal", lost["left_on"], "0"),
        (f"fuzz inputs tried ({len(fuzz.parsers)} parsers)", tried, ""),
        ("  crashes + hangs", fuzz.crashes + fuzz.hangs, "0"),
        ("random parameter sets run (safety test)", sum(fuzz.safety_runs.values()), ""),
        ("  limit violations", fuzz.violations, "0"),
    ]
    print("Summary")
    print()
    print("| measured | count | must be |")
    print("|---|---:|---:|")
    problems = []
    for label, value, must in rows:
        print(f"| {label} | {value} | {must} |")
        if must and value != int(must):
            problems.append(f"{label.strip()}: {value}")
    print()
    return problems


def _total(tallies, *names: str) -> dict[str, int]:
    tallies = list(tallies)
    return {n: sum(getattr(t, n) for t in tallies) for n in names}


if __name__ == "__main__":
    sys.exit(main())
