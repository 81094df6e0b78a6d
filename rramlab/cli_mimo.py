"""``rramlab mimo``: massive-MIMO zero-forcing detection by HP-INV, bit error rate per
SNR and per refinement cycle beside double-precision zero forcing
(:func:`~rramlab.protocols.analog.mimo.zf_ber_sweep`, docs/analog.md).

One Rayleigh channel (``--antennas`` x ``--users``, CN(0, 1) entries); per SNR,
``--vectors`` symbol vectors of Gray-mapped square QAM. The real 2U x 2U form of the
Gram matrix is programmed once; each cycle's estimate is decided and its bit errors
counted. HP-INV uses 18-bit slices and 6-bit corrections (plenty for the ~15 bits the
decisions need, docs/analog.md) on both engines; the board drives 4 rows per bit-level
MVM when the real system is at most 8 x 8 (2 otherwise, the engine's default).
"""

from __future__ import annotations

import time
from typing import Any

import click

from rramlab.cli_analog_engine import analog_engine, engine_options
from rramlab.cli_analog_inputs import parse_snr
from rramlab.cli_analog_output import Failure, dumps, one_line
from rramlab.cli_output import add_row, new_console

QAM_ORDERS = ("4", "16", "64", "256")
SOLVER_OPTIONS = {"matrix_bits": 18, "input_bits": 6}
WIDE_DRIVE_MAX_N = 8  # real systems up to this size drive 4 rows per bit-level MVM


@click.command("mimo")
@click.option(
    "--antennas",
    type=click.IntRange(1, 1024),
    default=16,
    show_default=True,
    help="Receive antennas (rows of the channel H).",
)
@click.option(
    "--users",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Users, one transmit antenna each (columns of H); at most --antennas.",
)
@click.option(
    "--qam",
    type=click.Choice(QAM_ORDERS),
    default="256",
    show_default=True,
    help="Square QAM order (Gray mapping, unit average energy).",
)
@click.option(
    "--snr",
    "snr_text",
    default="0:25:5",
    show_default=True,
    metavar="START:STOP:STEP",
    help="SNR per receive antenna, dB: a range with STOP included, or a list 0,10,20.",
)
@click.option(
    "--vectors",
    type=click.IntRange(1, 100_000),
    default=64,
    show_default=True,
    help="Symbol vectors detected per SNR.",
)
@click.option(
    "--cycles",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="HP-INV refinement cycles (the BER after each is reported).",
)
@click.option(
    "--inv-copies",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Cells in parallel per INV entry (29 levels with 4 instead of 8 with 1); capped at "
    "what the board offers (CAPS? inv_copies_max).",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Seed of the channel, symbols and noise, and of the simulated bench.",
)
@engine_options
def mimo(
    antennas: int,
    users: int,
    qam: str,
    snr_text: str,
    vectors: int,
    cycles: int,
    inv_copies: int,
    seed: int,
    engine: str,
    station_file: str | None,
    as_json: bool,
) -> None:
    """Zero-forcing MIMO detection by HP-INV: bit error rate per SNR after each cycle,
    beside double-precision zero forcing (Zuo et al., Nature Electronics 2025).

    \b
    Examples:
      rramlab mimo                                  # 16 x 4, 256-QAM, 0-25 dB: ~16 s
      rramlab mimo --qam 16 --snr 10:20:10 --vectors 8 --engine exact --json

    Exit codes: 0 done; 1 the refinement or the bench failed; 2 bad options.
    """
    snr_db = parse_snr(snr_text)
    if users > antennas:
        raise click.BadParameter(
            f"zero forcing needs at least as many antennas as users, got {users} users "
            f"and {antennas} antennas",
            param_hint="'--users'",
        )
    if station_file is not None and engine != "board":
        raise click.UsageError("--station is for --engine board")
    order = int(qam)
    n = 2 * users
    board_options = {"rows_per_mvm": 4} if n <= WIDE_DRIVE_MAX_N else {}
    solver = {**SOLVER_OPTIONS, "inv_copies": inv_copies}
    out: dict[str, Any] = {
        "antennas": antennas,
        "users": users,
        "qam": order,
        "snr_db": snr_db,
        "vectors": vectors,
        "max_cycles": cycles,
        "seed": seed,
        "engine": engine,
        "solver": solver,
        "board": board_options if engine == "board" else {},
    }
    log = new_console(stderr=True)
    from rramlab.errors import RramlabError
    from rramlab.protocols.analog.mimo import zf_ber_sweep

    try:
        with analog_engine(
            engine,
            station_file=station_file,
            seed=seed,
            n=n,
            tile=None,
            solver_options=solver,
            board_options=board_options,
        ) as (analog, info):
            out["bench"] = info.bench
            offered = int(getattr(analog, "max_inv_copies", 1))
            if offered < inv_copies:
                log.print(
                    f"note: the board offers {offered} cell(s) per INV entry, not {inv_copies}"
                )
                solver["inv_copies"] = offered
            log.print(
                f"Detecting {vectors} vectors at {len(snr_db)} SNR(s), {antennas} x {users} "
                f"{order}-QAM, on {info.describe()}...",
                soft_wrap=True,
            )
            t0 = time.perf_counter()
            try:
                sweep = zf_ber_sweep(
                    analog,
                    antennas=antennas,
                    users=users,
                    order=order,
                    snr_db=snr_db,
                    vectors=vectors,
                    max_cycles=cycles,
                    seed=seed,
                    **solver,
                )
            except (RramlabError, ValueError) as error:
                raise Failure(one_line(error)) from None
            out["wall_time_s"] = time.perf_counter() - t0
            out["ops_total"] = analog.stats.as_dict()
    except Failure as failure:
        if as_json:
            click.echo(dumps({**out, "error": failure.message}))
        raise
    out.update(_lists(sweep, snr_db))
    if as_json:
        click.echo(dumps(out))
    else:
        _print(out, info.describe())


def _lists(sweep: Any, snr_db: list[float]) -> dict[str, Any]:
    """Per-SNR lists (and per-SNR, per-cycle lists of lists) from the sweep's rows."""
    by_snr = [sweep[sweep["snr_db"] == snr].sort_values("cycle") for snr in snr_db]
    return {
        "cycles": int(by_snr[0]["cycle"].max()) if len(sweep) else 0,
        "bits": [int(rows["bits"].iloc[0]) for rows in by_snr],
        "ber": [[float(v) for v in rows["ber"]] for rows in by_snr],
        "ber_reference": [float(rows["ber_reference"].iloc[0]) for rows in by_snr],
        "bit_errors": [[int(v) for v in rows["bit_errors"]] for rows in by_snr],
        "reference_errors": [int(rows["reference_errors"].iloc[0]) for rows in by_snr],
        "precision_bits": [[float(v) for v in rows["precision_bits"]] for rows in by_snr],
    }


def _print(out: dict[str, Any], where: str) -> None:
    from rich.table import Table

    console = new_console()
    console.print(
        f"Zero-forcing detection by HP-INV: {out['antennas']} antennas x {out['users']} users, "
        f"{out['qam']}-QAM, {out['vectors']} vectors ({out['bits'][0]} bits) per SNR, on {where}",
        soft_wrap=True,
    )
    cycles = out["cycles"]
    table = Table(title="Bit error rate (bit errors)")
    table.add_column("SNR (dB)", justify="right")
    for c in range(1, cycles + 1):
        table.add_column(f"cycle {c}", justify="right")
    table.add_column("ZF, float64", justify="right")
    for i, snr in enumerate(out["snr_db"]):
        cells = [_ber(out["ber"][i][c], out["bit_errors"][i][c]) for c in range(cycles)]
        reference = _ber(out["ber_reference"][i], out["reference_errors"][i])
        add_row(table, f"{snr:g}", *cells, reference)
    worst = [min(p[c] for p in out["precision_bits"]) for c in range(cycles)]
    add_row(table, "worst precision (bits)", *(f"{p:.1f}" for p in worst), "")
    console.print(table)
    same = sum(
        out["bit_errors"][i][-1] == out["reference_errors"][i] for i in range(len(out["snr_db"]))
    )
    console.print(
        f"after cycle {cycles}: the same bit errors as double-precision zero forcing at "
        f"{same} of {len(out['snr_db'])} SNR(s); {out['wall_time_s']:.1f} s",
        soft_wrap=True,
    )


def _ber(ber: float, errors: int) -> str:
    return f"{ber:.2e} ({errors})"
