"""``rramlab solve``: ``A x = b`` by HP-INV on an array board (docs/analog.md).

The system comes from files (``--matrix``, ``--vector``: .npy or .csv) or is drawn at
random (``--random N --kappa K --seed S``: :func:`~rramlab.protocols.analog.problems.
random_problem`). Everything about the input is checked first (exit code 2, nothing
opened); then the mapping is tried on the exact engine, so a matrix whose 3-bit version
cannot converge is refused before any cell is programmed (exit code 1). Then ``A`` is
programmed (its 3-bit ``A0`` on INV blocks of at most ``--tile``, BlockAMC above that;
its 24-bit slices for HP-MVM) and refined for at most ``--cycles`` cycles, until the
relative residual is at most ``2^-tol_bits``. It prints the precision of every cycle
against ``numpy.linalg.solve`` and the analog operations spent, or one JSON object
(``--json``). A refinement that diverges, an INV circuit that cannot settle, or any
bench error ends with exit code 1 and a one-line message (after the cycles so far).
"""

from __future__ import annotations

import time
from typing import Any

import click
import numpy as np

from rramlab.cli_analog_engine import EngineInfo, analog_engine, engine_options
from rramlab.cli_analog_inputs import check_not_singular, load_system
from rramlab.cli_analog_output import Failure, dumps, one_line
from rramlab.cli_output import add_row, new_console

DEFAULT_KAPPA = 8.0
# Two rows per bit-level drive halve HP-MVM's drives, but a product then sums two
# cells' residual errors (each up to the engine's off_levels); on 64 x 64 (40 704
# cells, minutes of relaxation before use) that fails integer recovery, on 16 x 16
# it does not (docs/analog.md, "BlockAMC, 64 x 64").
OPS_SHOWN = (  # EngineStats field, what it counts
    ("inv_runs", "INV operations (one input vector each)"),
    ("mvm_drives", "MVM drives (one input vector each)"),
    ("analog_drives", "  of which real-valued (BlockAMC)"),
    ("inv_settling_s", "INV settling time, total (s)"),
    ("calibration_ops", "calibration MVM/INV operations"),
    ("write_verify_runs", "write-verify commands"),
    ("refreshes", "refreshes of programmed cells"),
)


CYCLE_NOTE = (
    "precision = log2 ||x*|| / ||x - x*|| with x* = numpy.linalg.solve(A, b); residual = "
    "||b - A x|| / ||b||; INV ops: INV operations of the cycle's LP-INV step; MVM "
    "vectors: bit-level vectors HP-MVM drove"
)


@click.command("solve")
@click.option(
    "--matrix",
    "matrix_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A, an n x n matrix: .npy (numpy.save) or .csv (comma-separated rows).",
)
@click.option(
    "--vector",
    "vector_file",
    type=click.Path(exists=True, dir_okay=False),
    help="b, n numbers: .npy, or .csv (one row or one column).",
)
@click.option(
    "--random",
    "random_n",
    type=click.IntRange(1, 1024),
    metavar="N",
    help="Instead of files: a random N x N system whose symmetric part is positive "
    "definite, entries on a 2^-20 grid (random_problem).",
)
@click.option(
    "--kappa",
    type=click.FloatRange(1.0),
    help=f"With --random: the condition number of A.  [default: {DEFAULT_KAPPA:g}]",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Seed of the random system and of the simulated bench.",
)
@click.option(
    "--tile",
    type=click.IntRange(1),
    help="Largest INV block (cells on a side); a larger A is partitioned by BlockAMC. "
    "Default: A in one block.",
)
@click.option(
    "--schur",
    type=click.Choice(["m4", "exact"]),
    default="m4",
    show_default=True,
    help="BlockAMC: approximate the Schur complement by M4, or compute it digitally.",
)
@click.option(
    "--scaling",
    type=click.Choice(["balance", "none"]),
    default="balance",
    show_default=True,
    help="A single INV block maps D A D, D a diagonal chosen so the 3-bit levels fit A "
    "best (exact digital work on its input and output; kept only when it inverts "
    "better), or A itself.",
)
@click.option(
    "--inv-signs",
    type=click.Choice(["auto", "pairs", "bias"]),
    default="auto",
    show_default=True,
    help="How INV blocks hold signed entries: differential cell pairs (a second column "
    "set on inverted outputs), a bias column removed by Sherman-Morrison, or auto: pairs "
    "when the engine has them and a stable pair mapping exists.",
)
@click.option(
    "--cycles",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Most refinement cycles.",
)
@click.option(
    "--tol-bits",
    type=click.FloatRange(0, 52),
    default=0.0,
    help="Stop early once the relative residual ||b - A x|| / ||b|| is at most "
    "2^-TOL_BITS, e.g. 24. Default: run all --cycles (or until the residual reaches "
    "2^-50, float64's floor).",
)
@click.option(
    "--rows-per-mvm",
    type=click.IntRange(1, 8),
    help="Rows driven together per bit-level MVM on the board. Default: the board "
    "engine's choice, 2 unless the tile took over 1 s of bench time to write-verify "
    "(64 x 64 and up), then 1: its cells relax longer before use.",
)
@engine_options
def solve(
    matrix_file: str | None,
    vector_file: str | None,
    random_n: int | None,
    kappa: float | None,
    seed: int,
    tile: int | None,
    schur: str,
    scaling: str,
    inv_signs: str,
    cycles: int,
    tol_bits: float,
    engine: str,
    station_file: str | None,
    rows_per_mvm: int | None,
    as_json: bool,
) -> None:
    """Solve A x = b by HP-INV: a 3-bit analog inversion refined by bit-sliced analog
    products, to double precision (Zuo et al., Nature Electronics 2025).

    \b
    Examples:
      rramlab solve --random 4 --kappa 8 --seed 0
      rramlab solve --random 16 --kappa 2 --tile 4 --json
      rramlab solve --matrix A.npy --vector b.csv --engine exact

    Prints the precision (bits: log2 ||x*|| / ||x - x*||, x* = numpy.linalg.solve),
    relative error and relative residual of every cycle, and the analog operations.
    Exit codes: 0 solved (with --tol-bits not reached in --cycles: a note on stderr);
    1 the refinement cannot or did not converge, or the bench failed; 2 bad input.
    """
    a, b, source = _system(matrix_file, vector_file, random_n, kappa, seed)
    if station_file is not None and engine != "board":
        raise click.UsageError("--station is for --engine board")
    kappa_a = check_not_singular(a, matrix_file or "the random matrix")
    tol = tol_bits if tol_bits > 0 else None
    log = new_console(stderr=True)
    settings = {"engine": engine, "seed": seed, "schur": schur, "max_cycles": cycles}
    settings |= {"scaling": scaling, "inv_signs": inv_signs}
    pairs = {"auto": None, "pairs": True, "bias": False}[inv_signs]
    mapping = {"schur": schur, "scaling": scaling, "inv_differential": pairs}
    out: dict[str, Any] = {"n": a.shape[0], "kappa": kappa_a, "source": source, **settings}
    out["tol_bits"] = tol
    if engine == "board":
        out["board"] = {"rows_per_mvm": rows_per_mvm}  # filled in with the engine's choice
    try:
        if engine == "board":
            _check_on_exact_engine(a, tile, mapping)
        with analog_engine(
            engine,
            station_file=station_file,
            seed=seed,
            n=a.shape[0],
            tile=tile,
            solver_options=mapping,
            board_options={"rows_per_mvm": rows_per_mvm} if rows_per_mvm else {},
        ) as (analog, info):
            out["bench"] = info.bench
            result = _solve(analog, info, a, b, tile, mapping, cycles, tol, out, log)
    except Failure as failure:
        _report_failure(failure, out, as_json)
        raise
    if as_json:
        click.echo(dumps(out))
    else:
        _print(out, info, result)
    if tol is not None and not result.converged:
        log.print(
            f"Note: the relative residual {out['residual'][-1]:.3g} did not reach 2^-{tol:g} "
            f"in {cycles} cycles (raise --cycles)",
            soft_wrap=True,
        )


def _system(
    matrix_file: str | None,
    vector_file: str | None,
    random_n: int | None,
    kappa: float | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(A, b, source)`` from the options; usage errors for the wrong combination."""
    if random_n is not None:
        if matrix_file is not None or vector_file is not None:
            raise click.UsageError("give either --random N or --matrix and --vector, not both")
        from rramlab.protocols.analog.problems import random_problem

        kappa = DEFAULT_KAPPA if kappa is None else kappa
        a, b = random_problem(random_n, kappa, seed=seed)
        return a, b, {"random": random_n, "kappa": kappa, "seed": seed}
    if kappa is not None:
        raise click.UsageError("--kappa goes with --random")
    if matrix_file is None or vector_file is None:
        raise click.UsageError("give --matrix FILE and --vector FILE, or --random N")
    a, b = load_system(matrix_file, vector_file)
    return a, b, {"matrix": matrix_file, "vector": vector_file}


def _check_on_exact_engine(a: np.ndarray, tile: int | None, mapping: dict[str, Any]) -> None:
    """Map ``A`` on the exact engine: its convergence check (rho(I - A A0^-1) < 1 for the
    3-bit A0) refuses a hopeless matrix before the board is opened."""
    from rramlab.errors import RramlabError
    from rramlab.protocols.analog.exact_engine import ExactEngine
    from rramlab.protocols.analog.hp_inv import HpInvSolver

    try:
        HpInvSolver(ExactEngine(), a, tile=tile, **mapping)
    except (RramlabError, ValueError) as error:
        raise Failure(f"{one_line(error)} (checked before programming the board)") from None


def _solve(
    engine: Any,
    info: EngineInfo,
    a: np.ndarray,
    b: np.ndarray,
    tile: int | None,
    mapping: dict[str, Any],
    cycles: int,
    tol: float | None,
    out: dict[str, Any],
    log: Any,
) -> Any:
    """Program ``A``, refine, and fill ``out`` with what the JSON object reports."""
    from rramlab.errors import RramlabError
    from rramlab.protocols.analog.hp_inv import HpInvSolver

    n = a.shape[0]
    log.print(f"Programming A ({n} x {n}) on {info.describe()}...", soft_wrap=True)
    t0 = time.perf_counter()
    try:
        solver = HpInvSolver(engine, a, tile=tile, **mapping)
        out.update(_structure(solver))
        if "board" in out:
            out["board"]["rows_per_mvm"] = int(engine.rows_per_mvm(solver.hp.array))
        t1 = time.perf_counter()
        log.print(f"Programmed in {t1 - t0:.1f} s; refining (at most {cycles} cycles)...")
        result = solver.solve(b, max_cycles=cycles, tol_bits=tol)
    except (RramlabError, ValueError) as error:
        out["ops_total"] = engine.stats.as_dict()
        out.update(_cycles(getattr(error, "cycles", None)))
        raise Failure(one_line(error) + _room_hint(error, n, tile)) from None
    t2 = time.perf_counter()
    out.update(_cycles(result.cycles))
    out.update(
        {
            "converged": bool(result.converged),
            "rho_estimate": result.rho_estimate,
            "x": result.x.tolist(),
            "ops": result.ops,
            "ops_total": engine.stats.as_dict(),
            "wall_time_s": {"program": t1 - t0, "solve": t2 - t1},
        }
    )
    return result


def _room_hint(error: BaseException, n: int, tile: int | None) -> str:
    """For a board without room: the tile the problem needs."""
    from rramlab.analog_bench import tile_size
    from rramlab.protocols.analog.errors import AllocationError

    if not isinstance(error, AllocationError):
        return ""
    rows, cols = tile_size(n, tile)
    return (
        f" (this problem needs a tile of about {rows} x {cols} cells; a smaller --tile "
        "only shrinks the INV blocks)"
    )


def _structure(solver: Any) -> dict[str, Any]:
    """INV tile, BlockAMC stages and analog operations per LP-INV of a mapped solver."""
    lp = solver.lp
    leaf = lp
    while hasattr(leaf, "p1"):  # BlockAMC: the top-left leaf is a full tile
        leaf = leaf.p1
    return {
        "tile": int(leaf.n),
        "stages": int(lp.stages),
        "inv_ops_per_lp_inv": int(lp.inv_ops),
        "mvm_ops_per_lp_inv": int(lp.mvm_ops),
        "rho_estimate": float(solver.rho_estimate),
        "inv_signs_used": "pairs" if leaf.array.differential else "bias",
        "scaled": bool(np.any(leaf.scale != 1.0)),
    }


def _cycles(table: Any) -> dict[str, Any]:
    """The per-cycle lists of a cycles table (empty lists for none)."""
    columns = ("precision_bits", "relative_error", "residual", "lp_inv_ops", "mvm_vectors")
    if table is None or len(table) == 0:
        return {"cycles": 0, **{c: [] for c in columns}}
    counts = ("lp_inv_ops", "mvm_vectors")
    lists = {c: [int(v) if c in counts else float(v) for v in table[c]] for c in columns}
    return {"cycles": len(table), **lists}


def _report_failure(failure: Failure, out: dict[str, Any], as_json: bool) -> None:
    """The cycles so far (a table, or the JSON object with ``error``) on stdout."""
    out["error"] = failure.message
    if as_json:
        click.echo(dumps(out))
    elif out.get("cycles"):
        new_console().print(_cycle_table(out, "HP-INV until it failed"))


def _print(out: dict[str, Any], info: EngineInfo, result: Any) -> None:
    console = new_console()
    n = out["n"]
    blocks = (
        f"one {out['tile']} x {out['tile']} INV block"
        if out["stages"] == 0
        else f"BlockAMC, {out['stages']} stage(s) on {out['tile']} x {out['tile']} INV blocks "
        f"({out['inv_ops_per_lp_inv']} INV, {out['mvm_ops_per_lp_inv']} MVM per LP-INV)"
    )
    signs = "differential cell pairs" if out["inv_signs_used"] == "pairs" else "a bias column"
    scaled = ", A scaled to D A D" if out["scaled"] else ""
    console.print(
        f"HP-INV: A {n} x {n}, condition number {out['kappa']:.3g}, {blocks} (signs on "
        f"{signs}{scaled}), on {info.describe()}",
        soft_wrap=True,
    )
    console.print(_cycle_table(out, "Precision per cycle"))
    console.print(CYCLE_NOTE, soft_wrap=True, style="dim")
    last = out["cycles"]
    residual = out["residual"][-1]
    tol = out["tol_bits"]
    if tol is None:
        verdict = f"after {last} cycle(s)"
    elif result.converged:
        verdict = (
            f"converged after {last} cycle(s) (relative residual {residual:.2g} <= 2^-{tol:g})"
        )
    else:
        verdict = (
            f"NOT converged after {last} cycle(s) (relative residual {residual:.2g} > 2^-{tol:g})"
        )
    console.print(
        f"{verdict}: precision {out['precision_bits'][-1]:.1f} bits (relative error "
        f"{out['relative_error'][-1]:.2g} against numpy.linalg.solve); estimated "
        f"rho(I - A A0^-1) {out['rho_estimate']:.3f}",
        soft_wrap=True,
    )
    console.print(_ops_table(out))
    wall = out["wall_time_s"]
    console.print(f"wall time: programming {wall['program']:.2f} s, solve {wall['solve']:.2f} s")


def _cycle_table(out: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for name in (
        "cycle",
        "precision (bits)",
        "relative error",
        "residual",
        "INV ops",
        "MVM vectors",
    ):
        table.add_column(name, justify="right")
    for i in range(out["cycles"]):
        add_row(
            table,
            i + 1,
            f"{out['precision_bits'][i]:.1f}",
            f"{out['relative_error'][i]:.2e}",
            _fmt(out["residual"][i], ".2e"),
            int(out["lp_inv_ops"][i]),
            int(out["mvm_vectors"][i]),
        )
    return table


def _ops_table(out: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="Analog operations")
    table.add_column("operation")
    table.add_column("solve", justify="right")
    table.add_column("with programming", justify="right")
    for key, what in OPS_SHOWN:
        solve_value, total = out["ops"].get(key, 0), out["ops_total"].get(key, 0)
        spec = ".3g" if key.endswith("_s") else "g"
        add_row(table, what, format(solve_value, spec), format(total, spec))
    return table


def _fmt(value: float, spec: str) -> str:
    return "-" if value != value else format(value, spec)
