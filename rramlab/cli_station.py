"""Opening a station for a command: a station file that cannot be used is a usage
error (exit code 2) naming what is wrong, an instrument that cannot be reached exits 1;
never a traceback."""

from __future__ import annotations

from typing import Any

import click


class StationProblem(click.ClickException):
    """A station file that cannot be used: a usage error (exit code 2)."""

    exit_code = 2


def open_for_command(station_file: str | None, seed: int | None = None) -> Any:
    """``open_station(station_file)``, or the simulated bench (seeded ``seed``) when no
    file is given."""
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
