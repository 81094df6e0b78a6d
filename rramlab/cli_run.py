"""``rramlab run`` and ``rramlab protocols``: run a protocol from the command line.

``run`` checks the ``--set`` values with the protocol's parameter class before anything
is opened, opens the station (a station file, or the simulated bench), checks the
parameters against it, then runs the protocol through
:func:`rramlab.runner.run_protocol` under a transient progress bar. Exit codes: 0 done,
1 the run failed (marked failed), 2 bad parameters or station file (nothing opened or
written), 130 interrupted (Ctrl-C: outputs off, rows kept, marked aborted).

Ctrl-C during a run asks the protocol to stop at its next step (it checks between
pulses, reads and waits); a second Ctrl-C stops it at once. Either way the runner turns
every output off and keeps the rows measured so far.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rramlab.cli_output import DEFAULT_RUNS, STATUS_STYLE, add_row, figures_table, new_console
from rramlab.cli_params import params_help

INTERRUPTED = 130  # the shell's code for a process stopped by SIGINT (128 + 2)


class StationProblem(click.ClickException):
    """A station file that cannot be used: a usage error (exit code 2)."""

    exit_code = 2


# ------------------------------------------------------------------- protocols
@click.command("protocols")
def protocols() -> None:
    """List the protocols `rramlab run` runs."""
    new_console().print(_protocol_table())


def _protocol_table() -> Table:
    from rramlab.protocols.registry import get, names

    table = Table(title="Protocols (rramlab run PROTOCOL --help-params lists the parameters)")
    table.add_column("protocol", style="bold", no_wrap=True)
    table.add_column("what it does")
    for name in names():
        add_row(table, name, get(name).summary)
    return table


# ------------------------------------------------------------------------ run
@click.command("run")
@click.argument("protocol", required=False)
@click.option(
    "--station",
    "station_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Station file (YAML or TOML). Default: the simulated 16 x 16 bench.",
)
@click.option(
    "--seed", type=click.IntRange(0), help="Seed of the simulated bench (without --station)."
)
@click.option(
    "--set",
    "-s",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A protocol parameter (repeatable); see --help-params.",
)
@click.option(
    "--out",
    default=DEFAULT_RUNS,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder the run folder is made in.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
@click.option("--list", "list_", is_flag=True, help="List the protocols and exit.")
@click.option("--help-params", is_flag=True, help="List PROTOCOL's parameters and exit.")
def run(
    protocol: str | None,
    station_file: str | None,
    seed: int | None,
    settings: tuple[str, ...],
    out: str,
    debug: bool,
    list_: bool,
    help_params: bool,
) -> None:
    """Run PROTOCOL on a station and keep its rows in a new run folder under --out.

    PROTOCOL: one of those `rramlab run --list` (or `rramlab protocols`) lists.

    \b
    Examples:
      rramlab run --list
      rramlab run forming --help-params
      rramlab run forming --set cells="0,0; 0,1" --set via=board
      rramlab run retention --station station.yaml --set t_max_s=3600 --out runs

    Exit codes: 0 completed; 1 the run failed; 2 bad parameters or station file
    (nothing opened or written); 130 interrupted by Ctrl-C (outputs off, rows kept,
    run marked aborted).
    """
    try:
        _command(protocol, station_file, seed, settings, Path(out), debug, list_, help_params)
    except KeyboardInterrupt:  # before the run (imports, checks, opening the station)
        new_console(stderr=True).print("Interrupted before the run started; nothing was run.")
        sys.exit(INTERRUPTED)


def _command(
    protocol: str | None,
    station_file: str | None,
    seed: int | None,
    settings: tuple[str, ...],
    out: Path,
    debug: bool,
    list_: bool,
    help_params: bool,
) -> None:
    console = new_console()
    if list_:
        console.print(_protocol_table())
        return
    if protocol is None:
        raise click.UsageError("give a PROTOCOL (rramlab run --list lists them)")
    from rramlab.protocols.registry import get  # imports pandas: not for every command

    try:
        spec = get(protocol)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'PROTOCOL'") from None
    if help_params:
        for part in params_help(spec):
            console.print(part)
        return
    try:
        params = spec.params.from_mapping(_parse_settings(settings))
    except (ValueError, TypeError) as error:
        raise click.BadParameter(str(error), param_hint="'--set'") from None
    if station_file is not None and seed is not None:
        raise click.UsageError("--seed is for the simulated bench; a station file sets its own")
    _run(console, spec, params, station_file, seed, out, debug)


def _parse_settings(settings: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="'--set'")
        if name in values:
            raise click.BadParameter(f"{name}: given twice", param_hint="'--set'")
        values[name] = value.strip()
    return values


def _open(station_file: str | None, seed: int | None) -> Any:
    from rramlab.errors import StationFileError
    from rramlab.station import open_station

    try:
        if station_file is not None:
            return open_station(station_file)
        return open_station() if seed is None else open_station(seed=seed)
    except StationFileError as error:
        raise StationProblem(f"station file: {error}") from None
    except (OSError, ValueError, ImportError) as error:  # ImportError: an optional driver
        where = station_file or "the simulated bench"
        raise click.ClickException(f"cannot open {where}: {error}") from error


def _run(
    console: Console,
    spec: Any,
    params: Any,
    station_file: str | None,
    seed: int | None,
    out: Path,
    debug: bool,
) -> None:
    from rramlab.progress import ProgressBar
    from rramlab.protocols.base import Aborted
    from rramlab.runner import run_protocol

    errors = new_console(stderr=True)
    before = _folders(out)  # to find the run folder if the runner could not say it
    outcome: str | None = None
    failure: BaseException | None = None
    # Ctrl-C from here on: the first asks to stop (the station still opens and closes
    # cleanly, a running protocol stops at its next step), a second one stops at once.
    with _SigintStop() as stop, _open(station_file, seed) as station:
        try:
            params.check_station(station)  # run_protocol checks again; a bad value is ours
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--set'") from None
        if stop.abort.is_set():
            raise KeyboardInterrupt  # Ctrl-C while the station was opening
        try:
            with ProgressBar(spec.name, console=errors) as stop.bar:
                result = run_protocol(
                    station, spec, params, out_dir=out, progress=stop.bar, abort=stop.abort
                )
        except (KeyboardInterrupt, Aborted) as error:
            outcome, failure = "aborted", error
        except Exception as error:
            outcome, failure = "failed", error
            if debug:
                traceback.print_exception(error, file=sys.stderr)
        finally:
            stop.bar = None
    # The station is closed here: every output off, every instrument released.
    if outcome is None:
        _print_result(console, result.path, result.meta, result.data)
        return
    # The runner names the run folder on the exception it re-raises; without it (the
    # stop came before the folder was made, or after the run) look for a new one.
    path = getattr(failure, "run_path", None) or _new_run(out, before, spec.name)
    rows = _rows_of(path)
    where = f"run {path} marked {outcome}, {rows} rows kept" if path else "no run folder written"
    if outcome == "aborted":
        errors.print(f"Interrupted: outputs off; {where}.", soft_wrap=True, markup=False)
        sys.exit(INTERRUPTED)
    errors.print(f"Error: {type(failure).__name__}: {failure}", soft_wrap=True, markup=False)
    errors.print(f"Outputs off; {where}.", soft_wrap=True, markup=False)
    sys.exit(1)


class _SigintStop:
    """While in the block, the first SIGINT sets :attr:`abort` (a protocol stops at its
    next step) and says so on :attr:`bar`, if any; the next one raises
    KeyboardInterrupt at once. Outside the main thread (no signals there) it does
    nothing."""

    def __init__(self) -> None:
        self.abort = threading.Event()
        self.bar: Any = None
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.abort.is_set():
            raise KeyboardInterrupt
        self.abort.set()
        if self.bar is not None:
            self.bar(self.bar.fraction, "stopping at the next step (Ctrl-C again: at once)")

    def __enter__(self) -> _SigintStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _folders(out: Path) -> set[Path]:
    return set(out.iterdir()) if out.is_dir() else set()


def _new_run(out: Path, before: set[Path], protocol: str) -> Path | None:
    """The run folder the run just made (the newest new one of ``protocol``)."""
    from rramlab.run_files import RunFileError, read_meta

    found = []
    for folder in _folders(out) - before:
        try:
            if read_meta(folder).get("protocol") == protocol:
                found.append(folder)
        except RunFileError:
            continue
    return max(found, key=lambda p: p.name) if found else None


def _rows_of(path: Path | None) -> int | str:
    """The rows a finished run recorded ("?" if its metadata cannot be read)."""
    from rramlab.run_files import RunFileError, read_meta

    if path is None:
        return 0
    try:
        return int(read_meta(path)["rows"])
    except (RunFileError, KeyError, TypeError, ValueError):
        return "?"


def _print_result(console: Console, path: Path, meta: dict[str, Any], data: Any) -> None:
    status = meta.get("status", "?")
    console.print(f"run folder: {path}", soft_wrap=True, markup=False)
    console.print(
        Text.assemble(
            "status: ",
            (status, STATUS_STYLE.get(status, "")),
            f", {len(data)} rows, protocol {meta.get('protocol')}",
        )
    )
    summary = figures_table(meta.get("protocol", ""), data)
    if summary is not None:
        console.print(summary)
    console.print(
        f"(rramlab show {path} / rramlab plot {path})", soft_wrap=True, style="dim", markup=False
    )
