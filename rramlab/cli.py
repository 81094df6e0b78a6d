"""The ``rramlab`` command line."""

from __future__ import annotations

import click

from rramlab import __version__
from rramlab.cli_sim import sim


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="rramlab")
def main() -> None:
    """Drive an RRAM bench from code: real instruments or the simulated bench."""


@main.command()
@click.option("--seed", default=1, show_default=True, help="Seed of the simulated bench.")
@click.option(
    "--rows",
    default=8,
    show_default=True,
    type=click.IntRange(4, 256),
    help="Word lines of the demo array.",
)
@click.option(
    "--cols",
    default=8,
    show_default=True,
    type=click.IntRange(4, 256),
    help="Bit lines of the demo array.",
)
def demo(seed: int, rows: int, cols: int) -> None:
    """Run the main job end to end on the simulated bench and print a summary."""
    from rramlab.demo import run_demo

    run_demo(seed=seed, rows=rows, cols=cols)


main.add_command(sim)

if __name__ == "__main__":  # pragma: no cover
    main()
