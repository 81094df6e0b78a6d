"""The ``rramlab`` command line."""

from __future__ import annotations

from pathlib import Path

import click

from rramlab import __version__
from rramlab.cli_mimo import mimo
from rramlab.cli_results import plot, runs, show
from rramlab.cli_run import protocols, run
from rramlab.cli_sim import sim
from rramlab.cli_solve import solve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="rramlab")
def main() -> None:
    """Drive an RRAM bench from code: real instruments or the simulated bench."""


@main.command()
@click.option("--seed", default=1, show_default=True, help="Seed of the simulated bench.")
@click.option(
    "--block",
    default=8,
    show_default=True,
    type=click.IntRange(4, 16),
    help="Side of the block of cells formed and programmed (of the 16 x 16 array).",
)
@click.option(
    "--out",
    default="runs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder the run folders are made in.",
)
def demo(seed: int, block: int, out: str) -> None:
    """Form, program, read, keep and compute with a simulated array; print a summary.

    Runs forming, program-levels (8 levels, 0.5-35 uS), read-map and retention (1e4 s
    of virtual time) on the simulated 16 x 16 bench, each into a run folder under
    --out, then checks an analog MVM and a matrix inversion on the board against numpy;
    last, solves a 4 x 4 system to 24+ bits by HP-INV on a second simulated bench,
    beside the PKU chip's published precision per cycle.
    """
    from rramlab.demo import run_demo

    run_demo(seed=seed, block=block, out=Path(out))


main.add_command(run)
main.add_command(protocols)
main.add_command(runs)
main.add_command(show)
main.add_command(plot)
main.add_command(sim)
main.add_command(solve)
main.add_command(mimo)

if __name__ == "__main__":  # pragma: no cover
    main()
