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
]
