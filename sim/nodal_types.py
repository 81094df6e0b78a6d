"""Public data types of the crossbar network solver, with no solving in them.

:class:`Network` (validated cell conductances plus wire and source resistances),
:class:`NetworkSolution` (node voltages and terminal currents of a batch),
:class:`SparseSystem` (the assembled nodal system of :func:`assemble_sparse`) and the
``ExcessCurrent`` callable type of nonlinear cells. They live apart from the solver so
every backend module can name them without importing :mod:`rramlab.sim.nodal`, which
re-exports them; import them from there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

ExcessCurrent = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class Network:
    """A resistive crossbar: linear cell conductances plus wire and source resistances.

    Attributes:
        g_cells_S: (R, C) cell conductances in siemens, finite and >= 0 (0 = open cell).
        r_row_seg_ohm: resistance of one row-wire segment between neighbouring cells,
            ohm; 0 means an ideal (equipotential) row line.
        r_col_seg_ohm: resistance of one column-wire segment, ohm; 0 = ideal.
        r_row_source_ohm: output resistance of each row driver, ohm; 0 = ideal source.
        r_col_source_ohm: resistance of each column terminal (driver or TIA input),
            ohm; 0 = ideal source / perfect virtual ground.
    """

    g_cells_S: np.ndarray
    r_row_seg_ohm: float = 0.0
    r_col_seg_ohm: float = 0.0
    r_row_source_ohm: float = 0.0
    r_col_source_ohm: float = 0.0

    def __post_init__(self) -> None:
        try:
            g = np.array(self.g_cells_S, dtype=float)  # a private copy the caller can't mutate
        except (TypeError, ValueError) as exc:
            raise ValueError(f"g_cells_S must be a real (R, C) array: {exc}") from None
        if g.ndim != 2 or g.size == 0:
            raise ValueError(f"g_cells_S must be a non-empty 2-D (R, C) array, got {g.shape}")
        if not np.all(np.isfinite(g)):
            raise ValueError("g_cells_S must be finite (found NaN or inf)")
        if np.any(g < 0):
            raise ValueError(f"g_cells_S must be >= 0 S, found minimum {g.min():g}")
        g.setflags(write=False)
        object.__setattr__(self, "g_cells_S", g)
        for name in ("r_row_seg_ohm", "r_col_seg_ohm", "r_row_source_ohm", "r_col_source_ohm"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise ValueError(f"{name} must be a real number of ohms, got {value!r}")
            value = float(value)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0 ohm, got {value!r}")
            object.__setattr__(self, name, value)

    @property
    def shape(self) -> tuple[int, int]:
        """(R, C): number of row lines and column lines."""
        n_rows, n_cols = self.g_cells_S.shape
        return n_rows, n_cols

    @property
    def ideal_lines(self) -> bool:
        """True when both wire resistances are 0 (every line is a single node)."""
        return self.r_row_seg_ohm == 0.0 and self.r_col_seg_ohm == 0.0


@dataclass
class NetworkSolution:
    """Node voltages and terminal currents of a solved network, for a batch of B inputs.

    Attributes:
        v_row_nodes_V: row-wire node voltages, volts: (R, C, B) for resistive rows,
            (R, 1, B) for ideal rows; broadcastable to (R, C, B).
        v_col_nodes_V: column-wire node voltages, volts: (R, C, B) for resistive
            columns, (1, C, B) for ideal columns.
        i_row_terminal_A: (R, B) current from each row source into its line, amperes
            (0 for floating lines).
        i_col_terminal_A: (C, B) current out of each column line into its terminal,
            amperes (0 for floating lines). For an MVM read it is the TIA input current.
        iterations: linear iterations used (PCG steps, summed over the nonlinear loop;
            0 for direct solves).
        relative_residual: relative residual of the last linear solve, worst of the
            batch: sqrt(r.M^-1 r / b.M^-1 b) for PCG (M the line preconditioner),
            ||r|| / ||b|| over unknown nodes for ``method="direct"``, 0 for the exact
            dense path of ideal lines.
        nonlinear_iterations: outer fixed-point iterations (0 for a linear network).
    """

    v_row_nodes_V: np.ndarray
    v_col_nodes_V: np.ndarray
    i_row_terminal_A: np.ndarray
    i_col_terminal_A: np.ndarray
    iterations: int
    relative_residual: float
    nonlinear_iterations: int = 0

    def cell_voltage_V(self) -> np.ndarray:
        """(R, C, B) voltage across each cell, row node minus column node, volts."""
        # (R, n_r, B) minus (n_c, C, B): one side has full (R, C) nodes, or both are
        # single-node lines of shapes (R, 1, B) and (1, C, B).
        return self.v_row_nodes_V - self.v_col_nodes_V


class SparseSystem(NamedTuple):
    """The full nodal system ``matrix @ x = rhs`` of a network with given sources.

    ``x[row_node_index]`` gives the row node voltages in the layout of
    :attr:`NetworkSolution.v_row_nodes_V` and ``x[col_node_index]`` the column ones.
    Rows of ``matrix`` for nodes held by ideal sources (and isolated floating lines) are
    identity rows whose ``rhs`` entry is the held voltage; all other rows are KCL in
    amperes with conductances in siemens.
    """

    matrix: sp.csr_matrix
    rhs: np.ndarray  # (n_nodes, B)
    row_node_index: np.ndarray  # (R, C) or (R, 1)
    col_node_index: np.ndarray  # (R, C) or (1, C)
