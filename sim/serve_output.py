"""Reading what a ``rramlab sim serve`` subprocess prints (its resource strings), for
programs that start one: tests, benchmarks, a notebook that wants a bench to outlive
its runs."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time


def read_until(
    proc: subprocess.Popen, pattern: str, timeout_s: float = 15
) -> tuple[str, re.Match[str] | None]:
    """``proc``'s stdout up to the first match of ``pattern`` and the match; the match is
    None if nothing matched within ``timeout_s`` or the output ended first."""
    # Raw reads on the descriptor: a buffered readline() would hide lines from select().
    fd, seen = proc.stdout.fileno(), b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and sel.select(timeout=deadline - time.monotonic()):
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            text = seen.decode(errors="replace")
            found = re.search(pattern, text)
            if found:
                return text, found
    return seen.decode(errors="replace"), None
