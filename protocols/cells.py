"""Helpers every single-cell protocol needs: the ``cells`` parameter, the ``via``
access path, checks of pulse and read values against a station, and averaged reads.

The checks raise ``ValueError`` naming the parameter (``LimitError`` where a station or
instrument limit is the reason), so a protocol's ``check()``/``check_station()`` fail
before anything reaches an instrument.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from rramlab.drivers import board_limits
from rramlab.errors import LimitError
from rramlab.protocols.access import VIA, CellAccess, CellReading, square_law_current

Cell = tuple[int, int]
Cells = tuple[Cell, ...]

# A width check compares floats that came from text (the command line, a YAML file):
# a relative slack of 1e-9 keeps "1e-3" from failing against 0.001.
_REL_SLACK = 1e-9


# ---------------------------------------------------------------------- cells
def normalize_cells(value: Any, field: str = "cells") -> Cells:
    """``value`` as a tuple of distinct ``(row, col)`` pairs of integers >= 0.

    Accepts any sequence of pairs (tuples, lists: what a run's ``meta.json`` gives back)
    or a string ``"r,c; r,c"``. Raises ValueError naming ``field``.
    """
    if isinstance(value, str):
        value = parse_cells(value, field)
    try:
        pairs = [tuple(p) for p in value]
    except TypeError:
        raise ValueError(f"{field} must be a sequence of (row, col) pairs, got {value!r}") from None
    if not pairs:
        raise ValueError(f"{field} must name at least one cell")
    out: list[Cell] = []
    for pair in pairs:
        if len(pair) != 2 or not all(_is_index(i) for i in pair):
            raise ValueError(f"{field}: {pair!r} is not a (row, col) pair of integers >= 0")
        cell = (int(pair[0]), int(pair[1]))
        if cell in out:
            raise ValueError(f"{field}: cell {cell} is listed twice")
        out.append(cell)
    return tuple(out)


def parse_cells(text: str, field: str = "cells") -> Cells:
    """Cells written as text: ``"0,0; 1,2"`` (pairs separated by ``;``, row and
    column by ``,`` or ``:``)."""
    pairs = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        numbers = [n for n in re.split(r"[,:\s]+", part.strip("()[] ")) if n]
        if len(numbers) != 2 or not all(n.isdigit() for n in numbers):
            raise ValueError(f"{field}: {part!r} is not 'row,col'")
        pairs.append((int(numbers[0]), int(numbers[1])))
    return tuple(pairs)


def check_cells_fit(cells: Iterable[Cell], station: Any, field: str = "cells") -> None:
    """Every cell lies inside ``station.array_shape`` (the board's tile, or the single
    probed device (0, 0) of a station without a board)."""
    rows, cols = station.array_shape
    for row, col in cells:
        if not (row < rows and col < cols):
            raise LimitError(
                f"{field}: cell ({row}, {col}) is outside station {station.name!r}'s "
                f"{rows} x {cols} array"
            )


def _is_index(value: Any) -> bool:
    """An integer >= 0 of any integral type (numpy's too), but not a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    try:
        return operator.index(value) >= 0
    except TypeError:
        return False


# ---------------------------------------------------------------------- numbers
def check_number(
    field: str,
    value: Any,
    *,
    positive: bool = False,
    nonzero: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """``value`` as a finite float, with optional bounds; ValueError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        raise ValueError(f"{field} must be finite, got an integer beyond any float") from None
    if not math.isfinite(value):
        raise ValueError(f"{field} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{field} must be > 0, got {value:g}")
    if nonzero and value == 0:
        raise ValueError(f"{field} must not be 0")
    if minimum is not None and value < minimum:
        raise ValueError(f"{field} must be >= {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{field} must be <= {maximum:g}, got {value:g}")
    return value


def check_count(field: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an integer in ``minimum..maximum``; ValueError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f"..{maximum}"
        raise ValueError(f"{field} must be in {minimum}{upper}, got {value}")
    return value


# ---------------------------------------------------------------------- access paths
def ramp_length(start: float, stop: float, step: float) -> int:
    """Points of a ramp from ``start`` towards ``stop`` in steps of |``step``|, both ends
    included when the step divides the span (computed without building the ramp, so a
    check can refuse a huge one)."""
    return math.floor(abs(stop - start) / abs(step) + 1e-9) + 1


def check_via(via: Any, field: str = "via") -> None:
    if via not in VIA:
        raise ValueError(f"{field} must be one of {', '.join(VIA)}, got {via!r}")


def check_via_station(via: str, station: Any, field: str = "via") -> None:
    """The station has what ``via`` needs: an SMU for "smu", an array board for "board"."""
    if via == "smu" and station.smu is None:
        raise ValueError(f"{field}='smu': station {station.name!r} has no SMU")
    if via == "board" and station.board is None:
        raise ValueError(
            f"{field}='board': station {station.name!r} has no array board (use via='smu')"
        )


def pulse_width_range_s(station: Any, via: str) -> tuple[float, float]:
    """Shortest and longest pulse (s) the access path can make within the station's
    limits: the SMU's minimum (e.g. 1 ms on a 2450) or the board's pulse generator."""
    longest = station.limits.max_pulse_width_s
    if via == "board":
        lo, hi = station.board.capabilities.pulse_width_s
        return lo, min(hi, longest)
    return station.smu.min_pulse_width_s, longest


def shortest_pulse_s(station: Any, via: str) -> float:
    return pulse_width_range_s(station, via)[0]


def max_pulse_voltage_V(station: Any, via: str) -> float:
    """Largest |pulse amplitude| (V): the station's limit and the instrument's range."""
    if via == "board":
        instrument = station.board.capabilities.pulse_amplitude_V
    else:
        instrument = station.smu.ranges.max_voltage_V
    return min(station.limits.max_voltage_V, instrument)


def check_pulse_width(station: Any, via: str, width_s: float, field: str = "width_s") -> None:
    # (no slack above: the drivers refuse a width a hair beyond the limit)
    lo, hi = pulse_width_range_s(station, via)
    if width_s < lo * (1 - _REL_SLACK) or width_s > hi:
        raise LimitError(
            f"{field}={width_s:g} s: via={via!r} on station {station.name!r} makes pulses "
            f"of {lo:g}..{hi:g} s"
        )


def check_pulse_voltage(station: Any, via: str, v_V: float, field: str) -> None:
    top = max_pulse_voltage_V(station, via)
    if abs(v_V) > top:
        raise LimitError(
            f"{field}={v_V:g} V: beyond the {top:g} V that via={via!r} on station "
            f"{station.name!r} may apply (safety limit max_voltage_V="
            f"{station.limits.max_voltage_V:g} V)"
        )
    if via == "board" and v_V < 0:
        check_board_reset(station, field)


def board_full_gate_current_A(station: Any) -> float:
    """The most current (A) a board pulse can drive through a 1T1R cell: its access
    transistor's saturation current with the word line fully on (the top of the board's
    gate range), which is how the board runs every RESET and its own write-verify's."""
    return square_law_current(station.board.capabilities.gate_range_V[1])


def check_board_reset(station: Any, field: str) -> None:
    """A RESET through the board has no current limit but the access transistor's, with
    the word line fully on: refused when that exceeds the station's max_current_A (a
    RESET starts from the low-resistance state, so its first instant draws it)."""
    i_A = board_full_gate_current_A(station)
    limit = station.limits.max_current_A
    if i_A > limit:
        raise LimitError(
            f"{field}: a RESET through the board (via='board') runs with the word line "
            f"fully on and may draw {i_A:.3g} A, beyond station {station.name!r}'s safety "
            f"limit max_current_A={limit:g} A; RESET through the SMU (via='smu'), whose "
            "compliance holds the limit"
        )


def check_board_write_verify(station: Any) -> None:
    """The board's own write-verify (``WV``) picks its pulse amplitudes and gates
    itself: the host can bound them only by what the board can do at most (its pulse
    generator's amplitude, its full word line). Refused when that exceeds the
    station's limits."""
    caps = station.board.capabilities
    limits = station.limits
    if caps.pulse_amplitude_V > limits.max_voltage_V:
        raise LimitError(
            f"the board's write-verify chooses its own pulse amplitudes, up to its "
            f"{caps.pulse_amplitude_V:g} V pulse generator: beyond station "
            f"{station.name!r}'s safety limit max_voltage_V={limits.max_voltage_V:g} V "
            "(program with write-verify, the host-side loop, instead)"
        )
    check_board_reset(station, "the board's write-verify")


def check_compliance(station: Any, via: str, i_A: float, field: str) -> None:
    """A current limit (A) the station allows and the access path can set."""
    if i_A > station.limits.max_current_A:
        raise LimitError(
            f"{field}={i_A:g} A exceeds station {station.name!r}'s safety limit "
            f"max_current_A={station.limits.max_current_A:g} A"
        )
    if via == "smu":
        lo = station.smu.ranges.min_current_limit_A
        if i_A < lo:
            raise LimitError(f"{field}={i_A:g} A is below the SMU's smallest limit {lo:g} A")


def check_read_voltage(station: Any, via: str, v_V: float, field: str = "v_read_V") -> None:
    """A read voltage the path can apply (the board's read DAC range is about 1 V) and,
    through the board, one at which no cell it is built to read carries more than the
    station's max_current_A (see :func:`board_read_current_A`)."""
    top = station.limits.max_voltage_V
    if via == "board":
        top = min(top, station.board.capabilities.dac_range_V)
    if abs(v_V) > top:
        raise LimitError(f"{field}={v_V:g} V: via={via!r} reads at most {top:g} V")
    if via == "board":
        i_A = board_read_current_A(station, v_V)
        limit = station.limits.max_current_A
        if i_A > limit:
            top = abs(v_V) * limit / i_A
            raise LimitError(
                f"{field}={v_V:g} V: a board read has no current limit, and a cell at the "
                f"top of the board's read range would carry {i_A:.3g} A, beyond station "
                f"{station.name!r}'s safety limit max_current_A={limit:g} A; read through "
                f"the board at |V| <= {top:.3g} V, or through the SMU (via='smu')"
            )


def board_read_current_A(station: Any, v_V: float) -> float:
    """The most current (A) a board read at ``v_V`` drives through a cell the board is
    built to read: its ADC's full scale at its nominal read voltage (``CAPS?``:
    ``adc_range_A`` at ``read_voltage_V``, i.e. 500 uS on the simulated board), scaled
    to ``v_V``. The read path has no current limiter of its own."""
    return board_limits.drive_current_A(station.board.capabilities, v_V)


# ---------------------------------------------------------------------- reads
def mean_read(access: CellAccess, row: int, col: int, v_read_V: float, repeats: int = 1) -> float:
    """Mean conductance (S) of ``repeats`` reads of one cell at ``v_read_V``: averaging
    shrinks read noise by sqrt(repeats)."""
    readings: list[CellReading] = [access.read(row, col, v_read_V) for _ in range(repeats)]
    return float(sum(r.g_S for r in readings) / len(readings))
