"""``rramlab sim ...``: the simulated bench from the command line.

``rramlab sim serve`` builds a :class:`~rramlab.sim.bench.SimulatedBench` and serves its
SMU on a loopback raw socket (``--port``, 5025 by default, as LXI instruments do), so any
program, in any language, can drive it with the real instrument's command set, and its
array board on the port after it (``--port`` + 1), reachable with pyserial as
``socket://127.0.0.1:<port+1>`` (docs/board-protocol.md). ``--fault`` and
``--fault-file`` inject seeded faults into the links (docs/faults.md).
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
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="TARGET:KEY=VALUE,...",
    help="Inject faults, repeatable; TARGET is smu, the SMU model or board, e.g. "
    "2450:latency=0.01,drop=0.01,garble=0.01,seed=1 (keys: docs/faults.md).",
)
@click.option(
    "--fault-file",
    type=click.Path(exists=True, dir_okay=False),
    help="A file of --fault rules, one per line (# comments).",
)
def serve(
    host: str,
    port: int,
    smu: str,
    seed: int,
    rows: int,
    cols: int,
    allow_remote: bool,
    faults: tuple[str, ...],
    fault_file: str | None,
) -> None:
    """Serve a simulated bench on TCP until Ctrl+C (SIGINT) or SIGTERM.

    Prints the VISA resource names it serves, e.g. TCPIP0::127.0.0.1::5025::SOCKET
    (pyvisa-py: set read_termination="\\n").
    """
    rules = _fault_rules(faults, fault_file)
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
    injected = _inject(bench, rules)
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
        for line in injected:
            click.echo(f"fault: {line}")
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


def _fault_rules(faults: tuple[str, ...], fault_file: str | None) -> list[tuple[str, Any]]:
    """The --fault and --fault-file rules, parsed (a bad one is a usage error)."""
    from rramlab.sim.fault_spec import parse_fault, read_fault_file

    rules = []
    for text in faults:
        try:
            rules.append(parse_fault(text))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
    if fault_file is not None:
        try:
            rules += read_fault_file(fault_file)
        except (ValueError, OSError) as exc:
            raise click.BadParameter(str(exc), param_hint="--fault-file") from None
    return rules


def _inject(bench: Any, rules: list[tuple[str, Any]]) -> list[str]:
    """Inject ``rules`` into ``bench``; one line per rule, saying what it does."""
    from rramlab.sim.faults import inject_bench, resolve_target

    lines = []
    for target, spec in rules:
        try:
            names = [name for name, _ in resolve_target(bench, target)]
            inject_bench(bench, (target, spec))
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(f"{target}: {exc}", param_hint="--fault") from None
        lines += [f"{name}: {spec.to_text()}" for name in names]
    return lines


def _setter(event: threading.Event) -> Any:
    def handler(signum: int, frame: Any) -> None:
        event.set()

    return handler
