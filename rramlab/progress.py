"""A rich progress bar fed by a protocol's ``progress(fraction, what)`` callback.

:func:`rramlab.runner.run_protocol` reports progress through a callback; a
:class:`ProgressBar` is such a callback that draws a transient bar (gone once the run
ends) on a rich console, standard error by default so that a command's results on
standard output stay clean. On a console that is not a terminal it draws nothing.
Anything printed or logged while it runs (warnings) appears above the bar.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


class ProgressBar:
    """``with ProgressBar("forming") as bar: run_protocol(..., progress=bar)``.

    ``bar(fraction, what)`` moves the bar to ``fraction`` (0..1) and shows ``what``
    next to it. ``console``: where to draw (default: a console on standard error).
    """

    def __init__(
        self, description: str, *, console: Console | None = None, transient: bool = True
    ) -> None:
        self.description = description
        self.console = console if console is not None else Console(stderr=True)
        self.fraction = 0.0
        self.what = ""
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[what]}"),
            console=self.console,
            transient=transient,
        )
        self._task: TaskID | None = None
        self._started = False

    def __enter__(self) -> ProgressBar:
        self._task = self._progress.add_task(self.description, total=1.0, what="")
        if self.console.is_terminal:  # elsewhere (a pipe, a file) a bar is just noise
            self._progress.start()
            self._started = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._started:
            self._progress.stop()
            self._started = False

    def __call__(self, fraction: float, what: str = "") -> None:
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.what = what
        if self._task is not None:
            self._progress.update(self._task, completed=self.fraction, what=what)
