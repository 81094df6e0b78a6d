"""Fixtures shared by test folders. (Test modules cannot import one another under
``--import-mode=importlib``, so what several folders need is a fixture here.)

``sim_serve`` runs ``rramlab sim serve`` in a subprocess, for the tests of the command
(tests/sim/transports) and of the board it serves (tests/sim/board)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rramlab.sim.serve_output import read_until

# `rramlab sim serve` with make_smu swapped for an echo fake, so the command itself is
# tested without the real personalities.
FAKE_SERVE = """
import sys
import rramlab.sim.bench as bench

class Fake:
    name = "Fake SMU"
    def __init__(self, model):
        self.model, self.out = model, []
    def write(self, message):
        if message == "*IDN?":
            self.out.append("FAKE," + self.model)
    def read(self):
        return self.out.pop(0) if self.out else None
    def clear(self):
        self.out.clear()

bench.make_smu = lambda model, probes, clock, rng: Fake(model)
from rramlab.cli import main
main(["sim", "serve", *sys.argv[1:]])
"""


class ServeProcess:
    """A running ``rramlab sim serve`` (text pipes for stdout and stderr)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        # cwd off the source tree: there ./rramlab would shadow the installed package.
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def read_until(self, pattern: str, timeout_s: float = 15) -> tuple[str, re.Match[str]]:
        """Stdout up to the first match of ``pattern``, and the match. If nothing matches
        within ``timeout_s`` the process is killed and the test fails with its output."""
        text, found = read_until(self.proc, pattern, timeout_s)
        if found:
            return text, found
        self.proc.kill()
        raise AssertionError(
            f"no {pattern!r} printed; stdout {text!r}, stderr {self.proc.stderr.read()!r}"
        )

    def stop(self, sig: int) -> tuple[str, str]:
        """Send ``sig``; the rest of stdout and stderr once the process has ended."""
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return out, err


@pytest.fixture
def sim_serve(tmp_path) -> Iterator[Callable[..., ServeProcess]]:
    """``sim_serve("--port", "0")`` starts ``rramlab sim serve`` with those options, its
    SMU an echo fake (``fake_smu=False``: the real personality) and its working folder
    ``tmp_path``; a process still running after the test is killed."""
    started: list[ServeProcess] = []

    def start(*options: str, fake_smu: bool = True) -> ServeProcess:
        head = ["-c", FAKE_SERVE] if fake_smu else ["-m", "rramlab", "sim", "serve"]
        started.append(ServeProcess([*head, *options], tmp_path))
        return started[-1]

    yield start
    for serve in started:
        if serve.proc.poll() is None:
            serve.proc.kill()
            serve.proc.communicate()
