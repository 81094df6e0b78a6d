"""``rramlab sim ...``: the simulated bench from the command line.

``rramlab sim serve`` builds a :class:`~rramlab.sim.bench.SimulatedBench` and serves its
SMU on a loopback raw socket (``--port``, 5025 by default, as LXI instruments do), so any
program, in any language, can drive it with the real instrument's command set, and its
array board on the port after it (``--port`` + 1), reachable with pyserial as
``socket://127.0.0.1:<port+1>`` (docs/board-protocol.md).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

# rramlab.sim.bench.SMU_MODELS, spelled out: importing the bench (numpy, scipy) here
# would slow down every `rramlab` command.
SMU_CHOICES = ("2450", "2636B", "B2902A")


@click.group()
def sim() -> None:
    """The simulated bench: serve it to other programs."""


@sim.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=5025,
    show_default=True,
    type=click.IntRange(0, 65534),
    help="TCP port of the SMU's raw socket (0: any free port). The next one is the board's.",
)
@click.option(
    "--smu",
    default="2450",
    show_default=True,
    type=click.Choice(SMU_CHOICES, case_sensitive=False),
    help="Which SMU the bench has.",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Bench seed.")
@click.option(
    "--rows", default=8, show_default=True, type=click.IntRange(1, 1024), help="Word lines."
)
@click.option(
    "--cols", default=8, show_default=True, type=click.IntRange(1, 1024), help="Bit lines."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host (anyone who can reach it drives the bench).",
)
def serve(
    host: str, port: int, smu: str, seed: int, rows: int, cols: int, allow_remote: bool
) -> None:
    """Serve a simulated bench on TCP until Ctrl+C (SIGINT) or SIGTERM.

    Prints the VISA resource names it serves, e.g. TCPIP0::127.0.0.1::5025::SOCKET
    (pyvisa-py: set read_termination="\\n").
    """
    from rramlab.sim.bench import SimulatedBench
    from rramlab.sim.board_server import BoardServer
    from rramlab.sim.tcp_server import InstrumentServer, is_loopback
    from rramlab.sim.transport import bench_lock

    if not is_loopback(host):
        if not allow_remote:
            raise click.BadParameter(
                f"{host} is not a loopback address; add --allow-remote to serve it",
                param_hint="--host",
            )
        click.echo(f"WARNING: serving on {host}: anyone who can reach it drives the bench.")
    try:
        bench = SimulatedBench(seed=seed, smu_models=(smu,), rows=rows, cols=cols)
    except ImportError as exc:
        raise click.ClickException(f"the simulated {smu} is not available: {exc}") from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    instrument = bench.smus[smu]
    server = InstrumentServer(
        instrument, host=host, port=port, lock=bench_lock(bench), allow_remote=allow_remote
    )
    try:
        bound = server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    board_port = bound + 1 if port else 0
    board_server = BoardServer(
        bench.board, host=host, port=board_port, lock=bench_lock(bench), allow_remote=allow_remote
    )
    try:
        board_server.start()
    except OSError as exc:
        server.stop()
        raise click.ClickException(
            f"cannot listen on {host}:{board_port} (array board): {exc.strerror}"
        ) from exc

    stop = threading.Event()
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(f"rramlab simulated bench: seed {seed}, {rows} x {cols} crossbar")
        click.echo(f"{instrument.name}: {server.resource_name}")
        click.echo(f"array board: {board_server.resource_name}")
        click.echo("Ctrl+C stops.")
        # stdout may be a pipe: whoever started us waits for the resource names.
        click.get_text_stream("stdout").flush()
        while not stop.wait(0.1):  # a timed wait lets the signal handler run promptly
            pass
    finally:
        board_server.stop()
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped")


def _setter(event: threading.Event) -> Any:
    def handler(signum: int, frame: Any) -> None:
        event.set()

    return handler
