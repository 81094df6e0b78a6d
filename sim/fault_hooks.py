"""The faults that act on a simulated instrument itself rather than on its link: an
error pushed into its error queue, and outputs that stay on.

:mod:`rramlab.sim.faults` calls these (``error=``, ``stuck=1`` rules); they find what
to act on by duck typing, so a personality needs no code for them: SCPI instruments
have ``push_error``, TSP ones ``session.errors``, and every simulated SMU keeps its
:class:`~rramlab.sim.smu_channel.SimulatedChannel` objects as ``channel``,
``channels`` or ``states[i].channel``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["queue_error", "set_stuck", "simulated_channels"]


def queue_error(instrument: Any, code: int, message: str) -> None:
    """Push an error into a simulated SMU's error queue (SCPI ``push_error``, TSP
    ``session.errors``, or the instrument's own ``inject_error``)."""
    hook = getattr(instrument, "inject_error", None)
    if callable(hook):
        hook(code, message)
        return
    push = getattr(instrument, "push_error", None)
    if callable(push):
        push(code, message)
        return
    errors = getattr(getattr(instrument, "session", None), "errors", None)
    if errors is not None and callable(getattr(errors, "push", None)):
        errors.push(code, message)
        return
    raise TypeError(f"{getattr(instrument, 'name', instrument)!r} has no error queue to push to")


def simulated_channels(instrument: Any) -> list[Any]:
    """The :class:`~rramlab.sim.smu_channel.SimulatedChannel` objects of a simulated SMU
    (``channel``, ``channels`` or the B2902A's ``states[i].channel``)."""
    channel = getattr(instrument, "channel", None)
    if channel is not None and hasattr(channel, "output_on"):
        return [channel]
    found = list(getattr(instrument, "channels", None) or [])
    found += [s.channel for s in getattr(instrument, "states", None) or []]
    return [c for c in found if hasattr(c, "output_on")]


def set_stuck(instrument: Any, stuck: bool) -> None:
    """Make every output of ``instrument`` stick on (it stays on when turned off, and
    reports that it is on) or release it."""
    channels = simulated_channels(instrument)
    if stuck and not channels:
        raise TypeError(f"{getattr(instrument, 'name', instrument)!r} has no output to stick")
    for channel in channels:
        channel.stuck_on = stuck
