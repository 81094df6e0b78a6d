"""What the run commands (``rramlab run``, ``runs``, ``show``...) print with: their
consoles, plain-text table rows, the colours of run statuses and the table of a run's
key figures."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rramlab.run_figures import key_figures

DEFAULT_RUNS = "runs"
STATUS_STYLE = {
    "completed": "green",
    "aborted": "yellow",
    "failed": "red",
    "running": "magenta",
    "unreadable": "red",
}


def new_console(stderr: bool = False) -> Console:
    """A console on standard output (or error); wide when it is not a terminal, so that
    folder names in tables stay on one line in logs and pipes."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)
    return console


def add_row(table: Table, *cells: Any) -> None:
    """A table row of plain text (no rich markup: values may hold brackets)."""
    table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))


def figures_table(protocol: str, data: Any) -> Table | None:
    """The key figures of a run's rows (:func:`rramlab.run_figures.key_figures`) as a
    table, or None if the protocol has none or the rows do not give them."""
    figures = key_figures(protocol, data)
    if figures is None:
        return None
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures:
        add_row(table, name, value)
    return table
