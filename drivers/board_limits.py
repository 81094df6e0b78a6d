"""The current a board drive without a current limiter can push through a cell, and
the station's ``max_current_A`` it must stay within (docs/safety.md).

A board read or an MVM input is a voltage on a row whose cells sink into virtual-ground
columns: nothing limits the current but the cell itself, and the host cannot see that
current, only bound it by what the board is built to hold. The bound is the top of the
board's read range: a cell the board can still read carries at most ``adc_range_A`` at
its nominal ``read_voltage_V`` (``CAPS?``), a conductance of ``adc_range_A /
read_voltage_V`` (500 uS on the simulated board). At ``v`` volts such a cell carries
``adc_range_A * |v| / read_voltage_V``; a drive whose largest |v| would push more than
``max_current_A`` through it is refused before any byte is sent. At 200 uA on the
simulated board that allows 0.4 V, at 1 mA the whole +-1 V of the DACs.

The rule is per cell (the station limit is what one cell may carry), not per column:
a column's summed current is the ADC's business (``ERR 300``), not the cells'.
"""

from __future__ import annotations

from typing import Any

from rramlab.errors import LimitError
from rramlab.limits import SafetyLimits

#: slack of the comparison (float rounding of a drive exactly at the bound)
REL_TOL = 1e-9


def g_ceiling_S(caps: Any) -> float:
    """The largest conductance (S) of a cell the board is built to read: its ADC's full
    scale at its nominal read voltage."""
    return caps.adc_range_A / caps.read_voltage_V


def drive_current_A(caps: Any, v_V: float) -> float:
    """The most current (A) a drive of ``v_V`` volts pushes through a cell at the top of
    the board's read range (:func:`g_ceiling_S`)."""
    return g_ceiling_S(caps) * abs(v_V)


def max_drive_V(caps: Any, limits: SafetyLimits) -> float:
    """The largest |voltage| (V) a board read or MVM input may have under ``limits``."""
    return limits.max_current_A / g_ceiling_S(caps)


def check_drive(caps: Any, limits: SafetyLimits, peak_V: float, what: str) -> None:
    """Refuse (:class:`LimitError`) a board drive of ``peak_V`` (largest |V|) that could
    push more than ``limits.max_current_A`` through one cell."""
    i_A = drive_current_A(caps, peak_V)
    if i_A > limits.max_current_A * (1 + REL_TOL):
        raise LimitError(
            f"{what} {abs(peak_V):g} V: a board drive has no current limit, and a cell at "
            f"the top of the board's read range ({g_ceiling_S(caps) * 1e6:.3g} uS) would "
            f"carry {i_A:.3g} A, beyond max_current_A={limits.max_current_A:g} A; drive "
            f"at |V| <= {max_drive_V(caps, limits):.3g} V"
        )
