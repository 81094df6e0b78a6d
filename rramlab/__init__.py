"""rramlab: drive an RRAM bench from Python.

Source-measure units and array test boards program and read resistive-memory cells,
run characterisation protocols and compute with the array itself. A simulated bench
(:mod:`rramlab.sim`), reached through the same transports as real instruments, runs
every protocol without hardware.
"""

from importlib.metadata import PackageNotFoundError, version

import serial

from rramlab.clock import Clock, VirtualClock, WallClock
from rramlab.errors import ConvergenceError, InstabilityError, RramlabError

# pyserial opens "rramsim://" URLs (the in-process simulated array board) with the
# handler module rramlab.sim.protocol_rramsim, found through this package list. Only
# the name is registered: nothing of the simulator loads until such a URL is opened.
if "rramlab.sim" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("rramlab.sim")

try:
    __version__ = version("rramlab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Clock",
    "ConvergenceError",
    "InstabilityError",
    "RramlabError",
    "VirtualClock",
    "WallClock",
    "__version__",
    "list_runs",
    "load_run",
    "open_station",
    "resume_run",
    "run_protocol",
]

# Loaded on first use: they need pandas and the drivers, which `import rramlab` does not
# load (the command line stays quick to start).
_LAZY = {
    "load_run": "rramlab.run_log",
    "list_runs": "rramlab.run_log",
    "open_station": "rramlab.station",
    "resume_run": "rramlab.resume",
    "run_protocol": "rramlab.runner",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rramlab' has no attribute {name!r}")
