"""``rramlab runs``, ``show`` and ``plot``: the run folders runs leave behind, from the
command line. Wherever a command takes RUN, it is a run folder, or the name of one
under ./runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from rramlab.cli_output import DEFAULT_RUNS, STATUS_STYLE, add_row, figures_table, new_console
from rramlab.cli_params import as_setting


# ----------------------------------------------------------------------- runs
@click.command("runs")
@click.argument("directory", default=DEFAULT_RUNS, type=click.Path(file_okay=False))
def runs(directory: str) -> None:
    """List the runs in DIRECTORY (default: ./runs), oldest first."""
    from rramlab.run_log import list_runs

    try:
        table = list_runs(directory)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    console = new_console()
    if table.empty:
        console.print(f"no runs in {directory}", markup=False)
        return
    out = Table(title=Text(f"Runs in {directory}"))
    for name in ("name", "protocol", "status", "start (UTC)", "rows", "seed", "error"):
        out.add_column(name, justify="right" if name in ("rows", "seed") else "left")
    for rec in table.itertuples(index=False):
        add_row(
            out,
            rec.name,
            _text(rec.protocol),
            Text(str(rec.status), style=STATUS_STYLE.get(str(rec.status), "")),
            _when(rec.start_time),
            _text(rec.rows),
            _text(rec.seed),
            _text(rec.error),
        )
    console.print(out)


def _text(value: Any) -> str:
    import pandas as pd

    return "" if value is None or value is pd.NA or value != value else str(value)


def _when(value: Any) -> str:
    """A UTC time (datetime, pandas Timestamp or ISO text) as ``yyyy-mm-dd hh:mm:ss``."""
    if value is None or value != value:
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _run_folder(text: str) -> Path:
    """RUN as given, or the run of that name under ./runs."""
    path = Path(text)
    if path.exists():
        return path
    if (Path(DEFAULT_RUNS) / text).exists():
        return Path(DEFAULT_RUNS) / text
    raise click.BadParameter(f"{text}: no such run folder (nor {DEFAULT_RUNS}/{text})")


# ----------------------------------------------------------------------- show
@click.command("show")
@click.argument("run_dir", metavar="RUN")
@click.option(
    "--head", "-n", default=10, show_default=True, type=click.IntRange(0), help="Rows to show."
)
def show(run_dir: str, head: int) -> None:
    """Show a run's metadata, key figures and first rows. RUN: a run folder (or the name
    of one under ./runs)."""
    from rramlab.run_files import RunFileError, read_meta
    from rramlab.run_log import load_run

    path = _run_folder(run_dir)
    console = new_console()
    try:
        data, meta = load_run(path)
    except RunFileError as error:
        try:  # the metadata may still be readable when a part file is not
            console.print(_meta_table(path, read_meta(path), None))
        except RunFileError:
            pass
        raise click.ClickException(f"cannot read this run: {error}") from None
    console.print(_meta_table(path, meta, len(data)))
    resumes = _resumes_table(meta, data)
    if resumes is not None:
        console.print(resumes)
    if meta["status"] == "running":
        console.print(
            "[magenta]This run is still marked running:[/] it is in progress, or its process "
            "died (power cut, kill); the rows below are those written to disk so far.",
            soft_wrap=True,
        )
    elif meta["status"] in ("aborted", "failed"):
        console.print(
            f"This run {meta['status']}: {meta.get('error')}", soft_wrap=True, markup=False
        )
    summary = figures_table(meta["protocol"], data)
    if summary is not None:
        console.print(summary)
    if data.empty:
        console.print("no rows")
    elif head:
        console.print(_data_table(data.head(head), f"first {min(head, len(data))} of {len(data)}"))


def _meta_table(path: Path, meta: dict[str, Any], rows: int | None) -> Table:
    table = Table(title=Text(f"Run {path}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    status = str(meta.get("status"))
    add_row(table, "protocol", str(meta.get("protocol")))
    add_row(table, "status", Text(status, style=STATUS_STYLE.get(status, "")))
    if meta.get("error"):
        add_row(table, "error", str(meta["error"]))
    for name, value in (meta.get("params") or {}).items():
        add_row(table, f"  {name}", as_setting(_tuples(value)))
    station = meta.get("station") or {}
    add_row(table, "station", str(station.get("station", station.get("name", ""))))
    for name, identity in (meta.get("instruments") or {}).items():
        add_row(table, f"  {name}", str(identity))
    add_row(table, "seed", _text(meta.get("seed")))
    add_row(table, "start (UTC)", _when(meta.get("start_time")))
    add_row(table, "end (UTC)", _when(meta.get("end_time")) or "-")
    start, end = meta.get("start_clock_s"), meta.get("end_clock_s")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        add_row(table, "station clock", f"{end - start:.6g} s ({meta.get('clock')})")
    add_row(table, "rows", str(rows if rows is not None else meta.get("rows")))
    add_row(table, "columns", ", ".join(meta.get("columns") or {}))
    add_row(table, "rramlab", str(meta.get("rramlab_version")))
    return table


def _resumes_table(meta: dict[str, Any], data: Any) -> Table | None:
    """One line per resume of the run (``meta["resumes"]``): when it ran, the rows on
    disk before and after it, how it ended, and why the attempt it continued stopped."""
    resumes = [r for r in meta.get("resumes") or [] if isinstance(r, dict)]
    if not resumes:
        return None
    attempts = data["attempt"] if "attempt" in data.columns else None
    table = Table(title=Text(f"Resumed {len(resumes)} time{'s' * (len(resumes) > 1)}"))
    for name in ("attempt", "start (UTC)", "end (UTC)", "rows before", "rows after", "status"):
        table.add_column(name, justify="right" if name.startswith(("rows", "att")) else "left")
    table.add_column("the attempt before it stopped")
    for k, entry in enumerate(resumes):
        attempt = entry.get("attempt", k + 2)
        if attempts is not None and isinstance(attempt, int):
            before, after = int((attempts < attempt).sum()), int((attempts <= attempt).sum())
        else:
            before, after = None, None
        previous = entry.get("previous") or {}
        stopped = str(previous.get("status") or "")
        if previous.get("error"):
            stopped += f": {previous['error']}"
        status = str(entry.get("status"))
        add_row(
            table,
            _text(attempt),
            _when(entry.get("start_time")),
            _when(entry.get("end_time")) or "-",
            _text(before),
            _text(after),
            Text(status, style=STATUS_STYLE.get(status, "")),
            stopped,
        )
    return table


def _tuples(value: Any) -> Any:
    """JSON lists back to tuples, for :func:`rramlab.cli_params.as_setting`."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _data_table(data: Any, title: str) -> Table:
    table = Table(title=title)
    for column in data.columns:
        table.add_column(str(column), justify="right")
    for values in data.itertuples(index=False):
        add_row(table, *(_cell(v) for v in values))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _text(value)


# ----------------------------------------------------------------------- plot
@click.command("plot")
@click.argument("run_dir", metavar="RUN")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for the PNG files. Default: RUN/plots.",
)
def plot(run_dir: str, out: str | None) -> None:
    """Draw a run's figures as PNG files, chosen by its protocol. RUN: a run folder (or
    the name of one under ./runs)."""
    from rramlab.plots import NoPlotError, plot_run
    from rramlab.run_files import RunFileError

    path = _run_folder(run_dir)
    try:
        written = plot_run(path, out)
    except (NoPlotError, RunFileError) as error:
        raise click.ClickException(str(error)) from None
    console = new_console()
    for file in written:
        console.print(str(file), soft_wrap=True, markup=False)
