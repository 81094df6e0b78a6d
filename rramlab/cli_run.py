"""``rramlab run`` and ``rramlab protocols``: run a protocol from the command line.

``run`` checks the ``--set`` values with the protocol's parameter class before anything
is opened, opens the station (a station file, or the simulated bench), checks the
parameters against it, then runs the protocol through
:func:`rramlab.runner.run_protocol` under a transient progress bar. Exit codes: 0 done,
1 the run failed (marked failed), 2 bad parameters or station file (nothing opened or
written), 130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (both: outputs
off, rows kept, marked aborted with the signal's name).

The first SIGINT or SIGTERM during a run asks the protocol to stop at its next step (it
checks between pulses, reads and waits); a second one stops it at once. Either way the
runner turns every output off and keeps the rows measured so far
(:mod:`rramlab.stop_signals`).

``run --resume RUN`` continues an interrupted run of a resumable protocol in its own
folder (:func:`rramlab.resume.resume_run`), on the station the run recorded or on
``--station FILE``; it refuses (exit code 2, nothing written) a run that completed, a
protocol that cannot resume, or a station that differs from the run's (unless
``--force``).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rramlab.cli_output import DEFAULT_RUNS, STATUS_STYLE, add_row, figures_table, new_console
from rramlab.cli_params import params_help
from rramlab.cli_station import open_for_command
from rramlab.stop_signals import StopOnSignals, exit_code, signals_deferred

INTERRUPTED = 130  # the shell's code for a process stopped by SIGINT (128 + 2)
TERMINATED = 143  # ... and by SIGTERM (128 + 15)


class Refused(click.ClickException):
    """A run that cannot be resumed as asked: a usage error (exit code 2)."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


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
    table.add_column("--resume", no_wrap=True)
    for name in names():
        spec = get(name)
        add_row(table, name, spec.summary, "yes" if spec.resumable else "")
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
@click.option(
    "--resume",
    "resume",
    metavar="RUN",
    help="Continue the interrupted run RUN (its folder, or its name under ./runs) where it "
    "stopped, in the same folder, with its protocol and parameters; on the station it "
    "recorded unless --station is given.",
)
@click.option("--force", is_flag=True, help="With --resume: resume although the station differs.")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
@click.option("--list", "list_", is_flag=True, help="List the protocols and exit.")
@click.option("--help-params", is_flag=True, help="List PROTOCOL's parameters and exit.")
def run(
    protocol: str | None,
    station_file: str | None,
    seed: int | None,
    settings: tuple[str, ...],
    out: str,
    resume: str | None,
    force: bool,
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
      rramlab run --resume runs/20261128-153512-retention-7f3a

    Exit codes: 0 completed; 1 the run failed; 2 bad parameters or station file, or a
    run that cannot be resumed (nothing opened or written); 130 interrupted by Ctrl-C,
    143 stopped by SIGTERM (outputs off, rows kept, run marked aborted).
    """
    try:
        if resume is not None:
            click_ctx = click.get_current_context()
            given = [
                f"--{name.replace('_', '-')}" if name != "settings" else "--set"
                for name in ("seed", "settings", "out", "help_params")
                if click_ctx.get_parameter_source(name) != ParameterSource.DEFAULT
            ]
            if protocol is not None or given:
                what = ", ".join(["PROTOCOL"] * (protocol is not None) + given)
                raise click.UsageError(
                    f"--resume takes the protocol, parameters and folder from the run; drop {what}"
                )
            if not list_:
                _resume(new_console(), resume, station_file, force, debug)
                return
        if force:
            raise click.UsageError("--force goes with --resume")
        _command(protocol, station_file, seed, settings, Path(out), debug, list_, help_params)
    except KeyboardInterrupt as stop:  # before the run (imports, checks, opening the station)
        new_console(stderr=True).print("Interrupted before the run started; nothing was run.")
        sys.exit(exit_code(getattr(stop, "signal_name", None)))


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


def _run(
    console: Console,
    spec: Any,
    params: Any,
    station_file: str | None,
    seed: int | None,
    out: Path,
    debug: bool,
) -> None:
    from rramlab.runner import run_protocol

    before = _folders(out)  # to find the run folder if the runner could not say it

    def check(station: Any) -> None:
        try:
            params.check_station(station)  # run_protocol checks again; a bad value is ours
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--set'") from None

    def start(station: Any, bar: Any, stop: StopOnSignals) -> Any:
        return run_protocol(station, spec, params, out_dir=out, progress=bar, abort=stop.abort)

    _attended(
        console,
        spec,
        lambda: open_for_command(station_file, seed),
        check,
        start,
        lambda: _new_run(out, before, spec.name),
        debug,
    )


def _resume(
    console: Console, run_text: str, station_file: str | None, force: bool, debug: bool
) -> None:
    from rramlab.cli_results import _run_folder
    from rramlab.errors import StationFileError
    from rramlab.resume import (
        NotResumable,
        check_resumable,
        open_recorded_station,
        resume_run,
        station_differences,
    )
    from rramlab.run_files import RunFileError, read_meta

    folder = _run_folder(run_text)
    try:
        meta = read_meta(folder)
        spec, params = check_resumable(folder, meta)
    except (RunFileError, NotResumable) as error:
        raise Refused(f"cannot resume: {error}") from None

    def open_station() -> Any:
        if station_file is not None:
            return open_for_command(station_file, None)
        try:
            return open_recorded_station(meta, source=f"{folder}/meta.json (station)")
        except StationFileError as error:
            raise Refused(f"cannot resume: the station the run recorded: {error}") from None
        except (OSError, ValueError, ImportError) as error:
            raise click.ClickException(
                f"cannot open the station the run recorded ({meta['station'].get('station')}"
                f"): {error}; give --station FILE"
            ) from error

    def check(station: Any) -> None:
        differences = station_differences(meta, station)
        if differences and not force:
            lines = "\n".join(f"  - {d}" for d in differences)
            raise Refused(
                f"cannot resume {folder}: this station is not the one the run used:\n"
                f"{lines}\n--force resumes anyway"
            )
        for line in differences:
            new_console(stderr=True).print(
                f"Warning (--force): {line}", soft_wrap=True, markup=False
            )
        try:
            params.check_station(station)
        except ValueError as error:
            raise Refused(f"cannot resume {folder} on this station: {error}") from None

    def start(station: Any, bar: Any, stop: StopOnSignals) -> Any:
        try:
            return resume_run(station, folder, progress=bar, abort=stop.abort, force=force)
        except NotResumable as error:  # e.g. another process took the run meanwhile
            raise Refused(f"cannot resume: {error}") from None

    _attended(console, spec, open_station, check, start, lambda: folder, debug)


def _attended(
    console: Console,
    spec: Any,
    open_station: Callable[[], Any],
    check: Callable[[Any], None],
    start: Callable[[Any, Any, StopOnSignals], Any],
    find_run: Callable[[], Path | None],
    debug: bool,
) -> None:
    """Open the station, ``check`` it, ``start`` the run under a progress bar with
    SIGINT and SIGTERM asking it to stop, and report how it ended (exit codes)."""
    from rramlab.progress import ProgressBar
    from rramlab.protocols.base import Aborted

    errors = new_console(stderr=True)
    outcome: str | None = None
    failure: BaseException | None = None
    note = _StopNote()
    # A signal from here on: the first asks to stop (the station still opens and closes
    # cleanly, a running protocol stops at its next step), a second one stops at once.
    with StopOnSignals(on_first=note) as stop:
        station = open_station()
        try:
            check(station)
            if stop.abort.is_set():  # a signal while the station was opening
                interrupted = KeyboardInterrupt()
                interrupted.signal_name = stop.received  # type: ignore[attr-defined]
                raise interrupted
            try:
                with ProgressBar(spec.name, console=errors) as note.bar:
                    result = start(station, note.bar, stop)
            except (KeyboardInterrupt, Aborted) as error:
                outcome, failure = "aborted", error
            except click.ClickException:
                raise
            except Exception as error:
                outcome, failure = "failed", error
                if debug:
                    traceback.print_exception(error, file=sys.stderr)
            finally:
                note.bar = None
        finally:
            with signals_deferred():  # a further signal cannot cut the closing short
                station.close()
    # The station is closed here: every output off, every instrument released.
    if outcome is None:
        _print_result(console, result.path, result.meta, result.data)
        return
    # The runner names the run folder on the exception it re-raises; without it (the
    # stop came before the folder was made, or after the run) look for a new one.
    path = getattr(failure, "run_path", None) or find_run()
    rows = _rows_of(path)
    where = f"run {path} marked {outcome}, {rows} rows kept" if path else "no run folder written"
    hint = _resume_hint(spec, path)
    if outcome == "aborted":
        signal_name = getattr(failure, "signal_name", None) or stop.received
        said = "Interrupted" if signal_name in (None, "SIGINT") else f"Interrupted ({signal_name})"
        errors.print(f"{said}: outputs off; {where}.{hint}", soft_wrap=True, markup=False)
        sys.exit(exit_code(signal_name))
    errors.print(f"Error: {type(failure).__name__}: {failure}", soft_wrap=True, markup=False)
    errors.print(f"Outputs off; {where}.{hint}", soft_wrap=True, markup=False)
    sys.exit(1)


class _StopNote:
    """Says on the progress bar, if one is drawn, that a stop was asked for."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, signal_name: str) -> None:
        if self.bar is not None:
            again = "Ctrl-C again" if signal_name == "SIGINT" else "again"
            self.bar(
                self.bar.fraction, f"{signal_name}: stopping at the next step ({again}: at once)"
            )


def _resume_hint(spec: Any, path: Path | None) -> str:
    if path is None or not getattr(spec, "resumable", False):
        return ""
    return f" Continue it with: rramlab run --resume {path}"


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
    resumes = meta.get("resumes") or []
    attempts = (
        f" (attempt {len(resumes) + 1}: {resumes[-1].get('rows')} rows added)" if resumes else ""
    )
    console.print(
        Text.assemble(
            "status: ",
            (status, STATUS_STYLE.get(status, "")),
            f", {len(data)} rows, protocol {meta.get('protocol')}{attempts}",
        )
    )
    summary = figures_table(meta.get("protocol", ""), data)
    if summary is not None:
        console.print(summary)
    console.print(
        f"(rramlab show {path} / rramlab plot {path})", soft_wrap=True, style="dim", markup=False
    )
