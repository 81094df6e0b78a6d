"""How the INV op-amps' outputs are wired onto the block's column lines.

The INV network of :mod:`rramlab.sim.crossbar_inv` is first described column by column
(``K_rr``, ``K_rc`` of shape (n, m) and the true row currents for (m, B) column
voltages); the helpers here fold it into the network the n op-amps see:

- :func:`differential_columns`: each output ``V_j`` also drives, through an ideal
  unity-gain inverter, a second set of columns with ``-V_j``. Columns ``[0, m)`` carry
  ``+V``, columns ``[m, 2m)`` carry ``-V`` in the same order, so the block's matrix is
  ``G+ - G-`` (signed matrices with differential pairs, Sun et al. PNAS 2019);
- :func:`parallel_copies`: each output drives ``k`` columns (column ``c n + j`` carries
  output ``j``), so the column conductances add up.

:func:`check_wiring` refuses a block whose column count does not fit the wiring;
:func:`column_voltages` gives the voltage every column of the block carries.
"""

from __future__ import annotations

import numpy as np

from rramlab.sim.inv_circuit import RowCurrents


def check_wiring(n: int, n_cols: int, copies: int, differential: bool) -> None:
    """Refuse (ValueError) a block of ``n`` rows and ``n_cols`` columns that the outputs
    of ``n`` op-amps on ``copies`` columns each (twice that when ``differential``)
    cannot cover exactly."""
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
        raise ValueError(f"copies must be a positive integer, got {copies!r}")
    if not isinstance(differential, (bool, np.bool_)):
        raise ValueError(f"differential must be a bool, got {differential!r}")
    if differential and n_cols != 2 * copies * n:
        raise ValueError(
            f"the differential INV block must be {n} x 2 * {copies} * {n} (positive, then "
            f"negative columns), got {n_cols} cols"
        )
    if not differential and n_cols != copies * n:
        shape = f"{n} x {n}" if copies == 1 else f"{n} x {copies} * {n}"
        raise ValueError(f"the INV block must be square ({shape}), got {n_cols} cols")


def differential_columns(
    k_rr: np.ndarray, k_rc: np.ndarray, row_currents: RowCurrents
) -> tuple[np.ndarray, np.ndarray, RowCurrents]:
    """The INV network on (n, 2m) columns whose second half carries the negated
    outputs of the first, seen from its first m columns: ``K_rc`` becomes
    ``K_rc[:, :m] - K_rc[:, m:]`` (``-(G+ - G-)`` for ideal wires); ``K_rr`` keeps every
    cell on the rows, the negative ones included."""
    m = k_rc.shape[1] // 2
    k_signed = k_rc[:, :m] - k_rc[:, m:]

    def currents(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
        return row_currents(v_rows, np.vstack([v_cols, -v_cols]))

    return k_rr, k_signed, currents


def parallel_copies(
    k_rr: np.ndarray, k_rc: np.ndarray, row_currents: RowCurrents, copies: int
) -> tuple[np.ndarray, np.ndarray, RowCurrents]:
    """The INV network seen from n op-amps whose outputs each drive ``copies`` columns
    (column ``c n + j`` carries output ``j``): the column conductances add up."""
    n = k_rr.shape[0]
    k_sum = k_rc.reshape(n, copies, n).sum(axis=1)

    def currents(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
        return row_currents(v_rows, np.tile(v_cols, (copies, 1)))

    return k_rr, k_sum, currents


def column_voltages(v_out: np.ndarray, copies: int, differential: bool) -> np.ndarray:
    """Voltages (m, B) on the block's columns for op-amp outputs ``v_out`` (n, B):
    ``copies`` positive copies, then as many negated ones when ``differential``."""
    positive = np.tile(v_out, (copies, 1))
    return np.vstack([positive, -positive]) if differential else positive
