"""`rramlab sim serve --fault/--fault-file`: the served bench meets the faults it was
given, and a bad rule is a usage error before anything is served."""

import re
import signal
import socket

import pytest
from click.testing import CliRunner

from rramlab.cli import main


def ask(conn: socket.socket, line: bytes, timeout_s: float = 2.0) -> bytes:
    """One line on ``conn`` and the reply line (b"" if none within the timeout). Both
    questions of a test go on one connection, so the server meets them in order."""
    conn.settimeout(timeout_s)
    conn.sendall(line)
    reply = b""
    try:
        while not reply.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                break
            reply += chunk
    except TimeoutError:
        pass
    return reply


def test_served_smu_and_board_meet_their_faults(sim_serve, tmp_path):
    rules = tmp_path / "faults.txt"
    rules.write_text("# the board refuses its first command\nboard:error=1,limit=1\n")
    serve = sim_serve(
        "--port", "0", "--fault", "smu:drop=1,limit=1,match=*IDN?", "--fault-file", str(rules)
    )
    out, _ = serve.read_until(r"fault: board: [^\n]*\n")
    assert "fault: 2450: drop=1,match=*IDN?,limit=1" in out
    assert "fault: board: error=1,limit=1" in out
    smu_port = int(re.search(r"::(\d+)::SOCKET", out).group(1))
    board_port = int(re.search(r"socket://127\.0\.0\.1:(\d+)", out).group(1))
    with socket.create_connection(("127.0.0.1", smu_port)) as smu:
        assert ask(smu, b"*IDN?\n", timeout_s=0.3) == b""  # the first reply is lost
        assert ask(smu, b"*IDN?\n") == b"FAKE,2450\n"
    with socket.create_connection(("127.0.0.1", board_port)) as board:
        assert ask(board, b"*IDN?\n") == b"ERR 400 hardware fault (injected)\n"
        assert ask(board, b"*IDN?\n").startswith(b"RRAMLAB,")
    serve.stop(signal.SIGTERM)
    assert serve.proc.returncode == 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--fault", "2450:dorp=1"], "unknown key 'dorp'"),
        (["--fault", "2636B:drop=1"], "no instrument '2636B'"),
        (["--fault", "2450:stuck=1", "--smu", "B2902A"], "no instrument '2450'"),
        (["--fault", "board:stuck=1"], "no output to stick"),
    ],
)
def test_a_bad_fault_rule_is_a_usage_error(option, message, tmp_path):
    result = CliRunner().invoke(main, ["sim", "serve", "--port", "0", *option])
    assert result.exit_code == 2, result.output
    assert message in result.output
