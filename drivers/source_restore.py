"""Putting a channel back as the user left it after a sweep or pulse: the order to
program a source in (:func:`order_source_commands`), the user's last source setting
(:class:`SourceSetting`), programmed again with the output on or off as before
(:func:`put_source_back`), run through :func:`run_then_restore` so that it also happens
when the sweep fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def order_source_commands(
    limit_cmd: str, range_cmd: str | None, level_cmd: str, *, shrinking: bool
) -> list[str]:
    """The order to program a source: the compliance first (the new level never runs
    under an older, looser limit), then range and level so that the level always fits
    the range in effect: level before range when the range shrinks, after it otherwise.
    ``range_cmd`` is None when the range does not change."""
    if range_cmd is None:
        return [limit_cmd, level_cmd]
    if shrinking:
        return [limit_cmd, level_cmd, range_cmd]
    return [limit_cmd, range_cmd, level_cmd]


def with_restore(body: Callable[[], T], restore: Callable[[], None]) -> T:
    """Run ``body`` then ``restore`` (output off, settings back). If ``body`` fails,
    ``restore`` still runs but its own failure is only noted on the original error,
    which is the one the caller needs to see."""
    return run_then_restore(body, lambda failed: restore())


def run_then_restore(body: Callable[[], T], restore: Callable[[bool], None]) -> T:
    """:func:`with_restore` whose ``restore(failed)`` learns whether ``body`` raised."""
    try:
        result = body()
    except BaseException as exc:
        try:
            restore(True)
        except Exception as cleanup:  # the body's error matters more; keep it on top
            exc.add_note(f"while restoring the instrument afterwards: {cleanup}")
        raise
    restore(False)
    return result


@dataclass(frozen=True)
class SourceSetting:
    """A source configuration as a driver sent it for ``source_voltage()`` or
    ``source_current()``: what the user asked the instrument to source."""

    function: str  # "VOLT" (voltage source, current limit) or "CURR"
    level: float  # V or A
    limit: float  # the compliance: A for a voltage source, V for a current source
    range: float  # the fixed source range, V or A


def put_source_back(
    *,
    was_on: bool,
    failed: bool,
    setting: SourceSetting | None,
    program: Callable[[SourceSetting], None],
    set_output: Callable[[bool], None],
    cleanup: Callable[[], None] | None = None,
) -> None:
    """Put a channel back after a sweep or pulse, whatever the instrument did at its end
    (some turn the output off, some leave the last or first sweep level programmed).

    ``cleanup`` undoes the sweep's own settings; then the user's ``setting`` (if any) is
    programmed again with ``program`` and the output set with ``set_output`` to how it
    was (``was_on``), explicitly, so the driver's output state is the instrument's.
    The output is turned off *before* reprogramming when it is to end off, and on only
    *after* the user's setting is back. After a failed sweep or pulse (``failed``), or
    when putting back fails, the output ends off: any exception leaves the output off.
    With no user setting to put back (none was made since connecting or ``reset()``),
    the output ends off too: the source would otherwise keep whatever level the sweep
    ended on, which nobody asked to apply.
    """
    on = was_on and not failed and setting is not None
    try:
        if not on:
            set_output(False)
        if cleanup is not None:
            cleanup()
        if setting is not None:
            program(setting)
    except BaseException as exc:
        if on:  # the source is not what the user set: do not leave it applied
            try:
                set_output(False)
            except Exception as off:
                exc.add_note(f"turning the output off afterwards failed too: {off}")
        raise
    if on:
        set_output(True)
