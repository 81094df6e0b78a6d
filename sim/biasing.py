"""Line biasing: which voltage each row and column line gets when selected cells are
written or read.

A cell's voltage is its row line minus its column line. Selected rows carry the
operation's voltage ``v`` and selected columns sit at 0 V (a column sensed by a TIA is
a virtual ground). What the other lines do is the biasing scheme:

========  ==================  =====================  ====================================
scheme    unselected rows     unselected columns     what unselected cells see
========  ==================  =====================  ====================================
"V/2"     v/2                 v/2                    half-selected v/2, others 0
"V/3"     v/3                 2v/3                   half-selected v/3, others -v/3
"ground"  0                   0                      cells on a selected row see v
"float"   floating            floating               set by the network (sneak paths)
========  ==================  =====================  ====================================

In a 1T1R array the word lines of unselected rows are off, isolating those cells, and
unselected columns are held at ``v`` so cells on a selected row but an unselected column
see 0 V: only the selected cells are biased, whatever ``scheme`` says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMES = ("V/2", "V/3", "ground", "float")
ACCESS_TYPES = ("1T1R", "passive")


@dataclass(frozen=True)
class LineBias:
    """Per-line voltages (NaN = floating) and which rows' access transistors are on."""

    v_rows_V: np.ndarray  # (R,)
    v_cols_V: np.ndarray  # (C,)
    rows_on: np.ndarray  # (R,) bool; all True in a passive array

    @property
    def has_floating(self) -> bool:
        return bool(np.isnan(self.v_rows_V).any() or np.isnan(self.v_cols_V).any())


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    return scheme


def line_bias(
    rows_selected: np.ndarray, cols_selected: np.ndarray, v_V: float, access: str, scheme: str
) -> LineBias:
    """Biases for selecting ``rows_selected`` x ``cols_selected`` (bool masks) at ``v_V``."""
    check_scheme(scheme)
    if access == "1T1R":
        return LineBias(
            v_rows_V=np.where(rows_selected, v_V, 0.0),
            v_cols_V=np.where(cols_selected, 0.0, v_V),
            rows_on=rows_selected.copy(),
        )
    unselected_row, unselected_col = {
        "V/2": (v_V / 2, v_V / 2),
        "V/3": (v_V / 3, 2 * v_V / 3),
        "ground": (0.0, 0.0),
        "float": (np.nan, np.nan),
    }[scheme]
    return LineBias(
        v_rows_V=np.where(rows_selected, v_V, unselected_row),
        v_cols_V=np.where(cols_selected, 0.0, unselected_col),
        rows_on=np.ones_like(rows_selected, dtype=bool),
    )
