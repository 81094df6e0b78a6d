"""Resistive crossbar network solver: IR drop along the wires and sneak paths through cells.

A crossbar has R row lines and C column lines; cell (i, j) joins row line i and column
line j with conductance ``g[i, j]`` (siemens; 0 is an open cell, e.g. a 1T1R cell whose
transistor is off). With wire resistance each line is a chain of nodes: row line i has
nodes (i, 0..C-1) joined by ``r_row_seg_ohm`` segments, column line j has nodes
(0..R-1, j) joined by ``r_col_seg_ohm`` segments, and cell (i, j) joins row node (i, j)
to column node (i, j). A row's terminal is node (i, 0) (driver on the left), a column's
terminal is node (R-1, j) (sense amplifier at the bottom). A line with zero segment
resistance is one node. Each line is DRIVEN by a voltage source through a source
resistance (0 = ideal source: the terminal node is held at the source voltage) or
FLOATING (NaN in the voltage arrays). A virtual-ground TIA is a column driven at 0 V;
V/2 and V/3 biasing are per-line driven values. One nodal system covers MVM, biased
single-cell access and sneak paths.

Conventions shared by every backend (and by :func:`assemble_sparse`):

- Nodes held by an ideal source are kept in the system with the equation ``v = V``
  and their couplings moved to the right-hand side, so the matrix stays SPD.
- A floating line with no conducting path (through cells with g > 0 and other lines)
  to any driven line has an undefined voltage; it is reported at 0 V and carries no
  current. This removes the singular part of the system exactly instead of adding a
  leakage conductance that would bias the other nodes.
- An excess (nonlinear) cell current is ignored on cells with g == 0: they are open.
- Terminal currents are KCL sums of the cell currents along each line, which stay
  accurate when a tiny source resistance would make g_source * (V_src - V_node) cancel.

Backends:

- Both segment resistances 0 ("ideal lines"): every line is a single node. Lines held
  by ideal sources are known at once; the others (source resistance, floating) solve a
  dense SPD system: one side is diagonal, so it is eliminated and the other side's
  Schur complement (at most min(R, C) square) is Cholesky-factored once per set of
  floating lines. Exact.
- Otherwise: the nodal system ``[[T_r, -G], [-G^T, T_c]]`` where ``T_r``/``T_c`` are
  the block-diagonal tridiagonal matrices of all row/column lines (wire segments, cell
  conductance to ground, sources) and G the cell coupling. The column (or row) side is
  eliminated exactly with one batched tridiagonal solve, and the Schur complement
  ``S = T_r - G T_c^-1 G^T`` is solved by preconditioned conjugate gradients with the
  exact line solve ``T_r^-1`` as preconditioner. Every tridiagonal solve is a single
  LAPACK ``dpttrs`` call over all lines with the batch as right-hand sides; the
  factorisations depend only on the network and on which lines float, so they are
  computed once and reused for every input vector. Why this preconditioner: with
  ``mu`` the singular values of ``T_r^-1/2 G T_c^-1/2`` (all < 1), block-Jacobi PCG on
  the full system sees eigenvalues ``1 +- mu`` while the preconditioned Schur
  complement sees ``1 - mu^2``, a condition number about 4x smaller under heavy IR
  drop, at the same cost per iteration (one row and one column line solve); symmetric
  block Gauss-Seidel would cost three line solves per iteration. Measured
  (``benchmarks/bench_ir_drop.py``, 256x256): 4 iterations against 7 for block-Jacobi
  at 1 ohm / 1-10 uS (19% current lost), 11 against 21 at 2 ohm / 20-200 uS (88% lost).
  A side whose segment resistance is 0 is one node per line in this backend too, so
  mixing ideal and resistive lines is exact (no resistance floor).
- ``method="direct"``: sparse LU (``scipy.sparse.linalg.splu``) of the same system,
  for reference and for checks.

Nonlinear cells: ``cell_excess_current(dv)`` returns the current beyond ``g * dv``; the
network ``A v + E(v) = b`` is solved by an outer fixed point ``A v' = b - E(v)`` that
reuses the linear factorisation and warm-starts each solve. For a monotonic excess the
fixed-point map has a real, non-positive spectrum, so the plain iteration oscillates
and stalls or diverges once cells are strongly nonlinear; each batch vector's step is
relaxed by Aitken's secant factor, and steps that overflow or grow the residual are
retried shorter. How fast it converges depends on how much of the cell current the
linear part ``g`` carries: for writes far up a sinh curve, a chord conductance at the
write voltage makes a better ``g`` than the small-signal slope.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from rramlab.errors import ConvergenceError

from .tridiagonal import SymmetricTridiagonal

__all__ = [
    "Network",
    "NetworkSolution",
    "NodalSolver",
    "SparseSystem",
    "assemble_sparse",
    "solve_network",
]

ExcessCurrent = Callable[[np.ndarray], np.ndarray]

# Line kinds, decided per solve from which source voltages are NaN.
_IDEAL = 0  # driven by an ideal source: the terminal node is held at the source voltage
_SOURCE = 1  # driven through a source resistance
_FLOATING = 2  # terminal unconnected
_ISOLATED = 3  # floating with no conducting path to a driven line: reported at 0 V

_MAX_CACHED_PATTERNS = 8
# Nonlinear loop: bounds of the relaxation factor, the largest growth of the fixed-point
# residual a step may cause before it is rejected, and the excess current treated as an
# overflow (large enough for no physical array, small enough that squares stay finite).
_RELAX_MIN, _RELAX_MAX = 1e-6, 2.0
_MAX_RESIDUAL_GROWTH = 2.0
_EXCESS_OVERFLOW_A = 1e100
_METHODS = ("iterative", "direct")


# --------------------------------------------------------------------------- public data


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


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Side:
    """All row lines or all column lines, as the solver stores them.

    A side's voltages are arrays of shape (B, n_lines, n_nodes): rows are stored
    row-major (node j of row i at [:, i, j]) and columns column-major (node i of
    column j at [:, j, i]), so each line is contiguous for the tridiagonal solves.
    """

    n_lines: int
    n_nodes: int  # nodes per line; 1 for an ideal (zero-resistance) line
    g_wire_S: float  # conductance of one segment (unused when n_nodes == 1)
    r_source_ohm: float
    terminal: int  # node index of the line's terminal
    neighbour: int  # node index next to the terminal (unused when n_nodes == 1)
    cell_sum_S: np.ndarray  # (n_lines, n_nodes) total cell conductance at each node

    @property
    def size(self) -> int:
        return self.n_lines * self.n_nodes


@dataclass(frozen=True)
class _Geometry:
    """What depends only on the network: sides, conductances and line connectivity."""

    g: np.ndarray  # (R, C)
    rows: _Side
    cols: _Side
    row_sum_S: np.ndarray  # (R,) total cell conductance on each row line
    col_sum_S: np.ndarray  # (C,) total cell conductance on each column line

    @functools.cached_property
    def component(self) -> np.ndarray:
        """(R + C,) connected component of each line (rows first), via cells g > 0."""
        return _line_components(self.g)

    @classmethod
    def from_network(cls, network: Network) -> _Geometry:
        g = network.g_cells_S
        n_rows, n_cols = g.shape
        n_r = n_cols if network.r_row_seg_ohm > 0 else 1
        n_c = n_rows if network.r_col_seg_ohm > 0 else 1
        rows = _Side(
            n_lines=n_rows,
            n_nodes=n_r,
            g_wire_S=1.0 / network.r_row_seg_ohm if n_r > 1 else 0.0,
            r_source_ohm=network.r_row_source_ohm,
            terminal=0,
            neighbour=1,
            cell_sum_S=g.copy() if n_r > 1 else g.sum(axis=1, keepdims=True),
        )
        cols = _Side(
            n_lines=n_cols,
            n_nodes=n_c,
            g_wire_S=1.0 / network.r_col_seg_ohm if n_c > 1 else 0.0,
            r_source_ohm=network.r_col_source_ohm,
            terminal=n_c - 1,
            neighbour=n_c - 2,
            cell_sum_S=np.ascontiguousarray(g.T) if n_c > 1 else g.sum(axis=0)[:, None],
        )
        return cls(g=g, rows=rows, cols=cols, row_sum_S=g.sum(axis=1), col_sum_S=g.sum(axis=0))


def _line_components(g: np.ndarray) -> np.ndarray:
    """Connected component of every line in the graph of lines joined by cells g > 0."""
    n_rows, n_cols = g.shape
    i, j = np.nonzero(g > 0)
    adjacency = sp.coo_matrix(
        (np.ones(i.size), (i, n_rows + j)), shape=(n_rows + n_cols, n_rows + n_cols)
    )
    _, labels = connected_components(adjacency, directed=False)
    return labels


# ------------------------------------------------------------- per floating pattern


@dataclass(frozen=True)
class _Config:
    """What depends on the network and on which lines float (not on the voltages)."""

    kinds_r: np.ndarray  # (R,) line kinds
    kinds_c: np.ndarray  # (C,)
    free_r: np.ndarray  # (R, n_r) bool: node voltage unknown
    free_c: np.ndarray  # (C, n_c)
    diag_r: np.ndarray  # (R, n_r) line-matrix diagonal (1 on held nodes)
    off_r: np.ndarray  # (R, n_r - 1) line-matrix off-diagonal (0 next to held nodes)
    diag_c: np.ndarray
    off_c: np.ndarray
    g_eff: np.ndarray  # (R, C) cell coupling between two unknown nodes, else 0
    g_eff_t: np.ndarray  # (C, R) its contiguous transpose

    @property
    def n_free(self) -> int:
        return int(self.free_r.sum() + self.free_c.sum())


def _make_config(geom: _Geometry, float_r: np.ndarray, float_c: np.ndarray) -> _Config:
    kinds_r, kinds_c = _line_kinds(geom, float_r, float_c)
    diag_r, off_r, free_r = _line_matrix(geom.rows, kinds_r)
    diag_c, off_c, free_c = _line_matrix(geom.cols, kinds_c)
    g_eff = geom.g * free_r * free_c.T  # (R, n_r) and (n_c, C) broadcast to (R, C)
    return _Config(
        kinds_r=kinds_r,
        kinds_c=kinds_c,
        free_r=free_r,
        free_c=free_c,
        diag_r=diag_r,
        off_r=off_r,
        diag_c=diag_c,
        off_c=off_c,
        g_eff=g_eff,
        g_eff_t=np.ascontiguousarray(g_eff.T),
    )


def _line_kinds(
    geom: _Geometry, float_r: np.ndarray, float_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    floating = np.concatenate([float_r, float_c])
    if not floating.any():
        driven_kinds = [
            _IDEAL if s.r_source_ohm == 0.0 else _SOURCE for s in (geom.rows, geom.cols)
        ]
        return np.full(float_r.size, driven_kinds[0]), np.full(float_c.size, driven_kinds[1])
    driven_component = np.zeros(geom.component.max() + 1, dtype=bool)
    driven_component[geom.component[~floating]] = True
    isolated = floating & ~driven_component[geom.component]
    kinds = []
    for side, lines in (
        (geom.rows, slice(0, float_r.size)),
        (geom.cols, slice(float_r.size, None)),
    ):
        driven_kind = _IDEAL if side.r_source_ohm == 0.0 else _SOURCE
        kind = np.where(floating[lines], _FLOATING, driven_kind)
        kind[isolated[lines]] = _ISOLATED
        kinds.append(kind)
    return kinds[0], kinds[1]


def _line_matrix(side: _Side, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tridiagonal nodal matrix of every line of a side, with held nodes decoupled.

    Returns (diag (L, n), off (L, n-1), free (L, n)). A held node's equation is
    ``v = value``; cutting its couplings (their currents go to the right-hand side)
    keeps the matrix symmetric positive definite.
    """
    n = side.n_nodes
    diag = side.cell_sum_S.copy()
    off = np.full((side.n_lines, n - 1), -side.g_wire_S)
    if n > 1:
        diag[:, [0, -1]] += side.g_wire_S
        diag[:, 1:-1] += 2.0 * side.g_wire_S
    if side.r_source_ohm > 0:
        diag[kinds == _SOURCE, side.terminal] += 1.0 / side.r_source_ohm
    held = np.zeros(diag.shape, dtype=bool)
    held[kinds == _IDEAL, side.terminal] = True
    held[kinds == _ISOLATED, :] = True
    diag[held] = 1.0
    off[held[:, :-1] | held[:, 1:]] = 0.0
    return diag, off, ~held


# --------------------------------------------------------------------------- coupling


def _couple_to_rows(g: np.ndarray, x_c: np.ndarray, n_r: int) -> np.ndarray:
    """Sum over cells of g * (column-node value), collected on row nodes: (B, R, n_r)."""
    n_c = x_c.shape[2]
    if n_r > 1:
        out = np.empty((x_c.shape[0], *g.shape))
        return np.multiply(g, x_c.transpose(0, 2, 1), out=out)
    if n_c > 1:
        return np.einsum("ij,bji->bi", g, x_c)[:, :, None]
    return (x_c[:, :, 0] @ g.T)[:, :, None]


def _couple_to_cols(g: np.ndarray, g_t: np.ndarray, x_r: np.ndarray, n_c: int) -> np.ndarray:
    """Sum over cells of g * (row-node value), collected on column nodes: (B, C, n_c)."""
    n_r = x_r.shape[2]
    if n_c > 1:
        out = np.empty((x_r.shape[0], *g_t.shape))
        return np.multiply(g_t, x_r.transpose(0, 2, 1), out=out)
    if n_r > 1:
        return np.einsum("ij,bij->bj", g, x_r)[:, :, None]
    return (x_r[:, :, 0] @ g)[:, :, None]


def _gather_to_rows(cells: np.ndarray, n_r: int) -> np.ndarray:
    """Per-cell values (B, R, C) summed onto row nodes: (B, R, n_r)."""
    return cells if n_r > 1 else cells.sum(axis=2, keepdims=True)


def _gather_to_cols(cells: np.ndarray, n_c: int) -> np.ndarray:
    """Per-cell values (B, R, C) summed onto column nodes: (B, C, n_c)."""
    if n_c > 1:
        return np.ascontiguousarray(cells.transpose(0, 2, 1))
    return cells.sum(axis=1)[:, :, None]


def _cell_voltages(x_r: np.ndarray, x_c: np.ndarray) -> np.ndarray:
    """(B, R, C) row node minus column node."""
    return x_r - x_c.transpose(0, 2, 1)


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Sources:
    v_r: np.ndarray  # (R, B) source voltages, 0 where floating
    v_c: np.ndarray  # (C, B)
    float_r: np.ndarray  # (R,) bool
    float_c: np.ndarray  # (C,) bool

    @property
    def batch(self) -> int:
        return self.v_r.shape[1]


def _parse_sources(geom: _Geometry, v_rows_V: Any, v_cols_V: Any) -> _Sources:
    v_r = _as_line_voltages(v_rows_V, geom.rows.n_lines, "v_rows_V")
    v_c = _as_line_voltages(v_cols_V, geom.cols.n_lines, "v_cols_V")
    b_r, b_c = v_r.shape[1], v_c.shape[1]
    if b_r != b_c:
        if np.ndim(v_rows_V) == 1:
            v_r = np.repeat(v_r, b_c, axis=1)
        elif np.ndim(v_cols_V) == 1:
            v_c = np.repeat(v_c, b_r, axis=1)
        else:
            raise ValueError(f"v_rows_V and v_cols_V have different batch sizes ({b_r} and {b_c})")
    float_r = np.isnan(v_r[:, 0])
    float_c = np.isnan(v_c[:, 0])
    return _Sources(np.nan_to_num(v_r, nan=0.0), np.nan_to_num(v_c, nan=0.0), float_r, float_c)


def _as_line_voltages(values: Any, n_lines: int, name: str) -> np.ndarray:
    try:
        v = np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array of volts: {exc}") from None
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != n_lines or v.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape ({n_lines},) or ({n_lines}, B) with B >= 1, "
            f"got {np.shape(values)}"
        )
    if np.any(np.isinf(v)):
        raise ValueError(f"{name} must be finite volts or NaN (floating), found inf")
    nan = np.isnan(v)
    if np.any(nan.any(axis=1) != nan.all(axis=1)):
        lines = np.nonzero(nan.any(axis=1) != nan.all(axis=1))[0]
        raise ValueError(
            f"{name}: the set of floating (NaN) lines must be the same for every vector of "
            f"the batch; lines {lines.tolist()} float in some vectors only"
        )
    return v


def _held_values(side: _Side, kinds: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(B, L, n) values of held nodes (ideal-source terminals), 0 elsewhere."""
    held = np.zeros((v.shape[1], side.n_lines, side.n_nodes))
    ideal = kinds == _IDEAL
    held[:, ideal, side.terminal] = v[ideal].T
    return held


def _side_rhs(
    side: _Side,
    kinds: np.ndarray,
    free: np.ndarray,
    v: np.ndarray,
    coupled: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """Right-hand side of one side's node equations: (B, L, n).

    ``coupled`` (updated in place) holds the cell currents from held nodes of the other
    side, amperes; source-resistance terminals and wire segments next to held terminals
    add theirs. Held nodes get their held value.
    """
    b = coupled
    source = kinds == _SOURCE
    if side.r_source_ohm > 0:
        b[:, source, side.terminal] += v[source].T / side.r_source_ohm
    if side.n_nodes > 1:
        ideal = kinds == _IDEAL
        b[:, ideal, side.neighbour] += side.g_wire_S * v[ideal].T
    return np.where(free, b, held)


@dataclass(frozen=True)
class _Rhs:
    b_r: np.ndarray  # (B, R, n_r)
    b_c: np.ndarray  # (B, C, n_c)


def _assemble_rhs(geom: _Geometry, cfg: _Config, src: _Sources) -> _Rhs:
    held_r = _held_values(geom.rows, cfg.kinds_r, src.v_r)
    held_c = _held_values(geom.cols, cfg.kinds_c, src.v_c)
    into_r = _couple_to_rows(geom.g, held_c, geom.rows.n_nodes)
    into_c = _couple_to_cols(geom.g, geom.g.T, held_r, geom.cols.n_nodes)
    b_r = _side_rhs(geom.rows, cfg.kinds_r, cfg.free_r, src.v_r, into_r, held_r)
    b_c = _side_rhs(geom.cols, cfg.kinds_c, cfg.free_c, src.v_c, into_c, held_c)
    return _Rhs(b_r, b_c)


# --------------------------------------------------------------------------- backends


class _LinearResult(NamedTuple):
    """What every backend's ``solve(b_r, b_c, guess_r, guess_c)`` returns: node voltages
    for right-hand sides (B, R, n_r) and (B, C, n_c); guesses may be None."""

    x_r: np.ndarray  # (B, R, n_r)
    x_c: np.ndarray  # (B, C, n_c)
    iterations: int
    relative_residual: float


class _SchurPcg:
    """Resistive lines: PCG on the Schur complement of one side, line-solve preconditioned.

    The side with fewer nodes is the PCG unknown ("primary", p); the other side (e) is
    eliminated exactly by its tridiagonal solve in every operator application:
    ``S = T_p - W`` with ``W = G T_e^-1 G^T`` and the preconditioner ``M = T_p``.
    """

    def __init__(self, geom: _Geometry, cfg: _Config, rtol: float, max_iterations: int):
        self.rtol = rtol
        self.max_iterations = max_iterations
        self.rows_primary = geom.rows.size <= geom.cols.size
        tri_r = SymmetricTridiagonal.from_lines(cfg.diag_r, cfg.off_r)
        tri_c = SymmetricTridiagonal.from_lines(cfg.diag_c, cfg.off_c)
        self.tri_p, self.tri_e = (tri_r, tri_c) if self.rows_primary else (tri_c, tri_r)
        self.free_p = (cfg.free_r if self.rows_primary else cfg.free_c).reshape(-1)
        self.cfg = cfg
        self.geom = geom

    def _to_primary(self, x_e: np.ndarray) -> np.ndarray:
        """G x_e: currents into primary nodes from eliminated-side voltages."""
        cfg, geom = self.cfg, self.geom
        if self.rows_primary:
            return _couple_to_rows(cfg.g_eff, x_e, geom.rows.n_nodes)
        return _couple_to_cols(cfg.g_eff, cfg.g_eff_t, x_e, geom.cols.n_nodes)

    def _to_eliminated(self, x_p: np.ndarray) -> np.ndarray:
        """G^T x_p: currents into eliminated nodes from primary voltages."""
        cfg, geom = self.cfg, self.geom
        if self.rows_primary:
            return _couple_to_cols(cfg.g_eff, cfg.g_eff_t, x_p, geom.cols.n_nodes)
        return _couple_to_rows(cfg.g_eff, x_p, geom.rows.n_nodes)

    def solve(
        self,
        b_r: np.ndarray,
        b_c: np.ndarray,
        guess_r: np.ndarray | None,
        guess_c: np.ndarray | None,
    ) -> _LinearResult:
        b_p, b_e = (b_r, b_c) if self.rows_primary else (b_c, b_r)
        guess = guess_r if self.rows_primary else guess_c
        batch, shape_p, shape_e = b_p.shape[0], b_p.shape, b_e.shape
        last: list[np.ndarray] = []  # [x, T_e^-1 G^T x] of the latest apply_w call

        def solve_e(rhs: np.ndarray) -> np.ndarray:
            return self.tri_e.solve(rhs.reshape(batch, -1), overwrite_b=True).reshape(shape_e)

        def apply_w(x: np.ndarray) -> np.ndarray:
            y_e = solve_e(self._to_eliminated(x.reshape(shape_p)))
            last[:] = [x, y_e]
            return self._to_primary(y_e).reshape(batch, -1)

        w_e = solve_e(b_e.copy())
        b_red = b_p.reshape(batch, -1) + self._to_primary(w_e).reshape(batch, -1)
        x0 = None if guess is None else guess.reshape(batch, -1)
        x_p, iterations, residual = _pcg(
            _SplitOperator(self.tri_p.solve, self.tri_p.matvec, apply_w),
            b_red,
            x0,
            self.free_p,
            self.rtol,
            self.max_iterations,
        )
        if last and last[0] is x_p:
            x_e = w_e + last[1]  # T_e^-1 (b_e + G^T x_p) without another solve
        else:
            x_e = solve_e(b_e + self._to_eliminated(x_p.reshape(shape_p)))
        x_p = x_p.reshape(shape_p)
        if self.rows_primary:
            return _LinearResult(x_p, x_e, iterations, residual)
        return _LinearResult(x_e, x_p, iterations, residual)


class _DenseIdealLines:
    """Ideal lines: eliminate the diagonal side, Cholesky the other side's Schur complement."""

    def __init__(self, geom: _Geometry, cfg: _Config):
        free_r, free_c = cfg.free_r[:, 0], cfg.free_c[:, 0]
        self.rows_primary = free_r.sum() <= free_c.sum()
        if self.rows_primary:
            self.d_p, self.d_e, free_p, coupling = (
                cfg.diag_r[:, 0],
                cfg.diag_c[:, 0],
                free_r,
                cfg.g_eff,
            )
        else:
            self.d_p, self.d_e, free_p, coupling = (
                cfg.diag_c[:, 0],
                cfg.diag_r[:, 0],
                free_c,
                cfg.g_eff_t,
            )
        self.coupling = coupling  # (L_p, L_e), zero wherever either line is held
        self.unknown = np.nonzero(free_p)[0]
        self.g_u = coupling[self.unknown]  # (n_u, L_e)
        self.chol = None
        if self.unknown.size:
            schur = np.diag(self.d_p[self.unknown]) - (self.g_u / self.d_e) @ self.g_u.T
            self.chol = cho_factor(schur)

    def solve(
        self,
        b_r: np.ndarray,
        b_c: np.ndarray,
        guess_r: np.ndarray | None,
        guess_c: np.ndarray | None,
    ) -> _LinearResult:
        b_p, b_e = (b_r, b_c) if self.rows_primary else (b_c, b_r)
        b_p, b_e = b_p[:, :, 0], b_e[:, :, 0]
        x_p = b_p.copy()
        if self.chol is not None:
            rhs = b_p[:, self.unknown] + (b_e / self.d_e) @ self.g_u.T
            x_p[:, self.unknown] = cho_solve(self.chol, rhs.T).T
        x_e = (b_e + x_p @ self.coupling) / self.d_e
        x_p, x_e = x_p[:, :, None], x_e[:, :, None]
        if self.rows_primary:
            return _LinearResult(x_p, x_e, 0, 0.0)
        return _LinearResult(x_e, x_p, 0, 0.0)


class _SparseLu:
    """Sparse LU of the full nodal system (reference path, ``method="direct"``)."""

    def __init__(self, geom: _Geometry, cfg: _Config):
        self.matrix = _sparse_matrix(geom, cfg)
        self.lu = splu(self.matrix.tocsc())
        self.free = np.concatenate([cfg.free_r.reshape(-1), cfg.free_c.reshape(-1)])
        self.size_r = geom.rows.size

    def solve(
        self,
        b_r: np.ndarray,
        b_c: np.ndarray,
        guess_r: np.ndarray | None,
        guess_c: np.ndarray | None,
    ) -> _LinearResult:
        batch = b_r.shape[0]
        rhs = np.concatenate([b_r.reshape(batch, -1), b_c.reshape(batch, -1)], axis=1).T
        x = self.lu.solve(np.ascontiguousarray(rhs))
        residual = _relative_residual((rhs - self.matrix @ x).T, rhs.T, self.free).max()
        x_r = x[: self.size_r].T.reshape(b_r.shape)
        x_c = x[self.size_r :].T.reshape(b_c.shape)
        return _LinearResult(x_r, x_c, 0, float(residual))


def _sparse_matrix(geom: _Geometry, cfg: _Config) -> sp.csr_matrix:
    rows, cols = geom.rows, geom.cols
    tri_r = _tridiagonal_sparse(cfg.diag_r, cfg.off_r)
    tri_c = _tridiagonal_sparse(cfg.diag_c, cfg.off_c)
    i, j = np.nonzero(cfg.g_eff)
    node_r = i * rows.n_nodes + (j if rows.n_nodes > 1 else 0)
    node_c = j * cols.n_nodes + (i if cols.n_nodes > 1 else 0)
    coupling = sp.coo_matrix((-cfg.g_eff[i, j], (node_r, node_c)), shape=(rows.size, cols.size))
    return sp.bmat([[tri_r, coupling], [coupling.T, tri_c]], format="csr")


def _tridiagonal_sparse(diag: np.ndarray, off: np.ndarray) -> sp.csr_matrix:
    n_lines, n_nodes = diag.shape
    full_off = np.zeros((n_lines, n_nodes))
    full_off[:, :-1] = off
    full_off = full_off.reshape(-1)[:-1]
    return sp.diags([full_off, diag.reshape(-1), full_off], [-1, 0, 1], format="csr")


# --------------------------------------------------------------------------- PCG


def _batched_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("bn,bn->b", a, b)


def _relative_residual(r: np.ndarray, b: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Per batch column ||r|| / ||b|| over unknown nodes (0 when b vanishes there)."""
    b_norm = np.linalg.norm(np.where(free, b, 0.0), axis=1)
    r_norm = np.linalg.norm(np.where(free, r, 0.0), axis=1)
    return np.divide(r_norm, b_norm, out=np.zeros_like(r_norm), where=b_norm > 0)


class _SplitOperator(NamedTuple):
    """An SPD operator ``S = M - W`` whose preconditioner ``M`` is cheap to solve with."""

    solve_m: Callable[[np.ndarray], np.ndarray]  # M^-1 r
    matvec_m: Callable[[np.ndarray], np.ndarray]  # M x
    apply_w: Callable[[np.ndarray], np.ndarray]  # W x


def _pcg(
    op: _SplitOperator,
    b: np.ndarray,
    x0: np.ndarray | None,
    free: np.ndarray,
    rtol: float,
    max_iterations: int,
) -> tuple[np.ndarray, int, float]:
    """Batched PCG for ``(M - W) x = b`` preconditioned by M; each batch row is a system.

    Args:
        op: the split operator. M and W must act as identity and zero on held entries.
        b: (B, N) right-hand side; on held entries (``~free``) the held values.
        x0: (B, N) starting guess, or None to start from 0 on the unknown entries.
        free: (N,) bool, unknown entries.

    Returns:
        (x, iterations, relative residual). The last ``op.apply_w`` call, if any was made
        after the last update of x, is on the returned array itself, so callers may reuse
        its by-products.

    Convergence is measured in the preconditioner's norm, sqrt(r . M^-1 r) relative to
    sqrt(b . M^-1 b). With exact line solves as M this is close to the energy norm of
    the error, so it weighs the stiff wire equations (amperes per microvolt) and the
    soft cell equations alike; the plain 2-norm is dominated by the wire equations and
    let row-voltage errors of ~1e-9 V through at rtol 1e-12.

    Since p = z + beta p_old and z = M^-1 r, ``M p`` follows the recursion
    ``M p = r + beta M p_old``, which saves the M matvec of every step. Recursions drift
    from the truth near machine precision, so convergence is confirmed on the true
    residual and CG restarts from it if needed; a restart that does not halve the true
    residual means the attainable accuracy is reached.
    """
    b_free = np.where(free, b, 0.0)
    if x0 is None:
        x = b - b_free  # held values, 0 elsewhere
        r = b_free
        z = op.solve_m(r)
        rz = _batched_dot(r, z)
        b_norm = np.sqrt(np.maximum(rz, 0.0))
    else:
        x = np.where(free, x0, b)
        b_norm = np.sqrt(np.maximum(_batched_dot(b_free, op.solve_m(b_free)), 0.0))
        r, z, rz = _true_residual(op, b, x, free)
    # A zero right-hand side has the exact solution 0 on the unknown nodes.
    zero = b_norm == 0
    if np.any(zero) and x0 is not None:
        x[zero] = np.where(free, 0.0, b[zero])
        r, z, rz = _true_residual(op, b, x, free)
    scale = np.where(zero, 1.0, b_norm)
    iterations, previous = 0, np.inf
    while True:
        relative = float((np.sqrt(np.maximum(rz, 0.0)) / scale).max())
        if relative <= rtol:
            return x, iterations, relative
        if not np.isfinite(relative):
            raise ConvergenceError(f"nodal PCG diverged to a non-finite residual ({relative})")
        if iterations >= max_iterations or relative > 0.5 * previous:
            reason = "did not converge" if iterations >= max_iterations else "stagnated"
            raise ConvergenceError(
                f"nodal PCG {reason} after {iterations} iterations: relative residual "
                f"{relative:.3e} > rtol {rtol:.1e}"
            )
        previous = relative
        steps = _pcg_steps(op, x, r, z, rz, rtol * scale, max_iterations - iterations)
        iterations += steps
        r, z, rz = _true_residual(op, b, x, free)


def _true_residual(
    op: _SplitOperator, b: np.ndarray, x: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.where(free, b - op.matvec_m(x) + op.apply_w(x), 0.0)
    z = op.solve_m(r)
    return r, z, _batched_dot(r, z)


def _pcg_steps(op: _SplitOperator, x, r, z, rz, target, max_steps) -> int:
    """CG steps from residual r (preconditioned z); updates x and r in place."""
    p = z.copy()
    m_p = r.copy()  # M p
    for step in range(1, max_steps + 1):
        q = m_p - op.apply_w(p)
        pq = _batched_dot(p, q)
        alpha = np.divide(rz, pq, out=np.zeros_like(rz), where=pq > 0)[:, None]
        x += alpha * p
        r -= alpha * q
        z = op.solve_m(r)
        rz_new = _batched_dot(r, z)
        if np.all(np.sqrt(np.maximum(rz_new, 0.0)) <= target):
            return step
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)[:, None]
        rz = rz_new
        p *= beta
        p += z
        m_p *= beta
        m_p += r
    return max_steps


# --------------------------------------------------------------------------- solver


class NodalSolver:
    """Solves one crossbar network for many source-voltage vectors.

    Everything that depends only on the network and on which lines float (line
    matrices, their factorisations, the dense Schur factor of ideal lines) is computed
    once: in the constructor for the all-lines-driven pattern, lazily for others, and
    reused by every :meth:`solve`.

    Args:
        network: the crossbar.
        rtol: relative residual at which PCG stops (resistive lines).
        max_iterations: PCG iteration limit per linear solve.
        nonlinear_rtol: the nonlinear loop stops when a fixed-point step changes no node
            voltage by more than ``nonlinear_rtol`` times the largest node voltage.
        max_nonlinear_iterations: outer fixed-point iteration limit.
    """

    def __init__(
        self,
        network: Network,
        *,
        rtol: float = 1e-12,
        max_iterations: int = 5000,
        nonlinear_rtol: float = 1e-10,
        max_nonlinear_iterations: int = 500,
    ) -> None:
        if not isinstance(network, Network):
            raise ValueError(f"network must be a Network, got {type(network).__name__}")
        for name, value in (("rtol", rtol), ("nonlinear_rtol", nonlinear_rtol)):
            if not (isinstance(value, numbers.Real) and 0.0 < value < 1.0):
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        for name, value in (
            ("max_iterations", max_iterations),
            ("max_nonlinear_iterations", max_nonlinear_iterations),
        ):
            if not (isinstance(value, numbers.Integral) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.network = network
        self.rtol = float(rtol)
        self.max_iterations = int(max_iterations)
        self.nonlinear_rtol = float(nonlinear_rtol)
        self.max_nonlinear_iterations = int(max_nonlinear_iterations)
        self._geom = _Geometry.from_network(network)
        self._patterns: dict[tuple[bytes, bytes], tuple[_Config, dict[str, Any]]] = {}
        n_rows, n_cols = network.shape
        self._backend(np.zeros(n_rows, dtype=bool), np.zeros(n_cols, dtype=bool), "iterative")

    @property
    def shape(self) -> tuple[int, int]:
        """(R, C) of the network."""
        return self.network.shape

    def solve(
        self,
        v_rows_V: Any,
        v_cols_V: Any,
        *,
        cell_excess_current: ExcessCurrent | None = None,
        x0: NetworkSolution | None = None,
        method: str = "iterative",
    ) -> NetworkSolution:
        """Node voltages and terminal currents for given source voltages.

        Args:
            v_rows_V: (R,) or (R, B) row source voltages, volts; NaN = floating line.
            v_cols_V: (C,) or (C, B) column source voltages, volts (0 = virtual ground);
                NaN = floating. A 1-D argument is shared by every vector of the batch.
                The set of floating lines must be the same for every vector.
            cell_excess_current: optional ``f(dv) -> i`` taking the (R, C, B) cell
                voltages (row minus column, volts) and returning the (R, C, B) current
                beyond ``g * dv`` (amperes, row to column), for nonlinear cells.
            x0: a previous solution of this network with the same batch size, used as
                the starting point of the iterative solve (warm start).
            method: ``"iterative"`` (default; exact dense path for ideal lines) or
                ``"direct"`` (sparse LU of the full system, for reference).

        Returns:
            The solution; arrays always carry the batch axis B (B = 1 for 1-D input).

        Raises:
            ValueError: bad shapes or values, naming the argument.
            ConvergenceError: PCG or the nonlinear loop did not converge.
        """
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        if cell_excess_current is not None and not callable(cell_excess_current):
            raise ValueError("cell_excess_current must be callable or None")
        geom = self._geom
        src = _parse_sources(geom, v_rows_V, v_cols_V)
        guess_r, guess_c = self._guess(src, x0)
        cfg, backend = self._backend(src.float_r, src.float_c, method)
        if cfg.n_free == 0:
            # Every node is held by an ideal source: nothing to solve.
            held_r = _held_values(geom.rows, cfg.kinds_r, src.v_r)
            held_c = _held_values(geom.cols, cfg.kinds_c, src.v_c)
            linear = _LinearResult(held_r, held_c, 0, 0.0)
        else:
            rhs = _assemble_rhs(geom, cfg, src)
            linear = backend.solve(rhs.b_r, rhs.b_c, guess_r, guess_c)
        excess = None
        outer = 0
        if cell_excess_current is not None:
            if cfg.n_free > 0:
                linear, outer = self._solve_nonlinear(
                    cfg, backend, rhs, linear, cell_excess_current
                )
            excess = _excess_cells(geom, linear.x_r, linear.x_c, cell_excess_current)
        i_r, i_c = _terminal_currents(geom, cfg, linear.x_r, linear.x_c, excess)
        return NetworkSolution(
            v_row_nodes_V=linear.x_r.transpose(1, 2, 0),
            v_col_nodes_V=linear.x_c.transpose(2, 1, 0),
            i_row_terminal_A=i_r,
            i_col_terminal_A=i_c,
            iterations=linear.iterations,
            relative_residual=linear.relative_residual,
            nonlinear_iterations=outer,
        )

    # ------------------------------------------------------------------ internals

    def _backend(
        self, float_r: np.ndarray, float_c: np.ndarray, method: str
    ) -> tuple[_Config, Any]:
        """The configuration and factorised backend for a floating pattern (cached)."""
        key = (float_r.tobytes(), float_c.tobytes())
        if key not in self._patterns:
            if len(self._patterns) >= _MAX_CACHED_PATTERNS:
                self._patterns.pop(next(iter(self._patterns)))
            self._patterns[key] = (_make_config(self._geom, float_r, float_c), {})
        cfg, backends = self._patterns[key]
        if method not in backends:
            if method == "direct":
                backends[method] = _SparseLu(self._geom, cfg)
            elif self.network.ideal_lines:
                backends[method] = _DenseIdealLines(self._geom, cfg)
            else:
                backends[method] = _SchurPcg(self._geom, cfg, self.rtol, self.max_iterations)
        return cfg, backends[method]

    def _guess(
        self, src: _Sources, x0: NetworkSolution | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """x0's node voltages in the internal (B, L, n) layouts, checked."""
        geom = self._geom
        if x0 is None:
            return None, None
        if not isinstance(x0, NetworkSolution):
            raise ValueError(f"x0 must be a NetworkSolution or None, got {type(x0).__name__}")
        guess_r = np.asarray(x0.v_row_nodes_V).transpose(2, 0, 1)
        guess_c = np.asarray(x0.v_col_nodes_V).transpose(2, 1, 0)
        want_r = (src.batch, geom.rows.n_lines, geom.rows.n_nodes)
        want_c = (src.batch, geom.cols.n_lines, geom.cols.n_nodes)
        if guess_r.shape != want_r or guess_c.shape != want_c:
            raise ValueError("x0 is not a solution of this network with the same batch size")
        return guess_r, guess_c

    def _solve_nonlinear(
        self,
        cfg: _Config,
        backend: Any,
        rhs: _Rhs,
        linear: _LinearResult,
        excess_fn: ExcessCurrent,
    ) -> tuple[_LinearResult, int]:
        """Relaxed fixed point ``x <- x + w (Phi(x) - x)``, ``A Phi(x) = b - E(x)``.

        Phi reuses the linear factorisation and is warm-started from x. The map's
        spectrum is real and <= 0 for a monotonic excess, so the plain iteration
        (w = 1) oscillates and stalls or diverges once cells are strongly nonlinear.
        Each batch vector's w follows Aitken's secant rule, which damps exactly that
        mode; a step that overflows or more than doubles the fixed-point residual is
        rejected and retried with w / 4.
        """
        iterations = linear.iterations
        x_r, x_c = linear.x_r, linear.x_c
        new, finite = self._fixed_point_map(cfg, backend, rhs, x_r, x_c, excess_fn)
        iterations += new.iterations
        if not finite.all():
            raise ConvergenceError(
                "cell_excess_current overflows at the linear solution; the nonlinear "
                "network cannot be solved from there"
            )
        d_r, d_c = new.x_r - x_r, new.x_c - x_c
        size = _step_size(d_r, d_c)
        relax = np.ones(size.shape)
        for outer in range(1, self.max_nonlinear_iterations + 1):
            if np.all(size <= self.nonlinear_rtol * _step_size(new.x_r, new.x_c)):
                return new._replace(iterations=iterations), outer
            w = relax[:, None, None]
            try_r, try_c = x_r + w * d_r, x_c + w * d_c
            cand, finite = self._fixed_point_map(cfg, backend, rhs, try_r, try_c, excess_fn)
            iterations += cand.iterations
            with np.errstate(invalid="ignore", over="ignore"):
                dt_r, dt_c = cand.x_r - try_r, cand.x_c - try_c
                size_try = _step_size(dt_r, dt_c)
                good = finite & (size_try <= _MAX_RESIDUAL_GROWTH * size)
                relax = np.where(
                    good, _aitken_relaxation(relax, (d_r, d_c), (dt_r, dt_c)), relax / 4.0
                )
            relax = np.clip(relax, _RELAX_MIN, _RELAX_MAX)
            keep = good[:, None, None]
            x_r, x_c = np.where(keep, try_r, x_r), np.where(keep, try_c, x_c)
            d_r, d_c = np.where(keep, dt_r, d_r), np.where(keep, dt_c, d_c)
            size = np.where(good, size_try, size)
            new = new._replace(
                x_r=np.where(keep, cand.x_r, new.x_r),
                x_c=np.where(keep, cand.x_c, new.x_c),
                relative_residual=max(new.relative_residual, cand.relative_residual),
            )
        raise ConvergenceError(
            f"nonlinear network did not converge after {self.max_nonlinear_iterations} "
            f"fixed-point iterations: voltage step {size.max():.3e} V > nonlinear_rtol "
            f"{self.nonlinear_rtol:.1e} x largest node voltage"
        )

    def _fixed_point_map(
        self, cfg: _Config, backend: Any, rhs: _Rhs, x_r, x_c, excess_fn: ExcessCurrent
    ) -> tuple[_LinearResult, np.ndarray]:
        """Phi(x): the linear network with the excess current at x injected, and a (B,)
        mask of batch vectors whose excess current is finite (others get 0 injected)."""
        geom = self._geom
        excess = _excess_cells(geom, x_r, x_c, excess_fn)
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.all(np.abs(excess) <= _EXCESS_OVERFLOW_A, axis=(1, 2))
        excess[~finite] = 0.0
        b_r = rhs.b_r - np.where(cfg.free_r, _gather_to_rows(excess, geom.rows.n_nodes), 0.0)
        b_c = rhs.b_c + np.where(cfg.free_c, _gather_to_cols(excess, geom.cols.n_nodes), 0.0)
        warm_r = np.where(finite[:, None, None], x_r, 0.0)
        warm_c = np.where(finite[:, None, None], x_c, 0.0)
        return backend.solve(b_r, b_c, warm_r, warm_c), finite


def _step_size(v_r: np.ndarray, v_c: np.ndarray) -> np.ndarray:
    """(B,) largest magnitude over row and column nodes (NaN and inf propagate)."""
    return np.maximum(np.abs(v_r).max(axis=(1, 2)), np.abs(v_c).max(axis=(1, 2)))


def _aitken_relaxation(
    relax: np.ndarray,
    previous: tuple[np.ndarray, np.ndarray],
    current: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Aitken's dynamic relaxation factor per batch vector, shape (B,).

    ``previous``/``current`` are the fixed-point residuals (row part, column part) of
    the last two iterates: ``w_new = -w * d_old . (d_new - d_old) / |d_new - d_old|^2``.
    """
    batch = relax.shape[0]
    num = np.zeros(batch)
    den = np.zeros(batch)
    for d_old, d_new in zip(previous, current, strict=True):
        diff = (d_new - d_old).reshape(batch, -1)
        num += _batched_dot(d_old.reshape(batch, -1), diff)
        den += _batched_dot(diff, diff)
    factor = np.divide(-num, den, out=np.ones_like(num), where=den > 0)
    return relax * factor


def _excess_cells(
    geom: _Geometry, x_r: np.ndarray, x_c: np.ndarray, excess_fn: ExcessCurrent
) -> np.ndarray:
    """(B, R, C) excess cell current at the given node voltages; 0 on open cells."""
    dv = _cell_voltages(x_r, x_c)
    dv = np.broadcast_to(dv, (dv.shape[0], *geom.g.shape))
    out = np.asarray(excess_fn(np.moveaxis(dv, 0, -1).copy()), dtype=float)
    want = (*geom.g.shape, dv.shape[0])
    if out.shape != want:
        raise ValueError(f"cell_excess_current must return shape {want}, got {out.shape}")
    return np.where(geom.g > 0, np.moveaxis(out, -1, 0), 0.0)


def _terminal_currents(
    geom: _Geometry, cfg: _Config, x_r: np.ndarray, x_c: np.ndarray, excess: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """KCL sums of cell currents per line: (R, B) into rows, (C, B) out of columns."""
    g = geom.g
    if excess is None and geom.rows.n_nodes == 1 and geom.cols.n_nodes == 1:
        # Ideal lines: sums of g*(v_r - v_c) as matrix products, no (B, R, C) temporary.
        v_r, v_c = x_r[:, :, 0], x_c[:, :, 0]
        i_r = v_r * geom.row_sum_S - v_c @ g.T
        i_c = v_r @ g - v_c * geom.col_sum_S
    else:
        cell = g * _cell_voltages(x_r, x_c)
        if excess is not None:
            cell = cell + excess
        i_r = cell.sum(axis=2)
        i_c = cell.sum(axis=1)
    i_r[:, cfg.kinds_r >= _FLOATING] = 0.0
    i_c[:, cfg.kinds_c >= _FLOATING] = 0.0
    return i_r.T, i_c.T


# --------------------------------------------------------------------------- functions

_SOLVER_OPTIONS = ("rtol", "max_iterations", "nonlinear_rtol", "max_nonlinear_iterations")


def solve_network(network: Network, v_rows_V: Any, v_cols_V: Any, **kw: Any) -> NetworkSolution:
    """One-shot solve: ``NodalSolver(network, **options).solve(v_rows_V, v_cols_V, **rest)``.

    Keyword arguments named like :class:`NodalSolver` options go to the constructor,
    the others (``cell_excess_current``, ``x0``, ``method``) to :meth:`NodalSolver.solve`.
    """
    options = {k: kw.pop(k) for k in _SOLVER_OPTIONS if k in kw}
    return NodalSolver(network, **options).solve(v_rows_V, v_cols_V, **kw)


def assemble_sparse(network: Network, v_rows_V: Any, v_cols_V: Any) -> SparseSystem:
    """The full nodal system of a network with given sources, as a scipy sparse matrix.

    Same conventions as :class:`NodalSolver` (held nodes as identity rows, isolated
    floating lines held at 0 V, ideal lines as one node); ``spsolve(matrix, rhs)``
    gives the node voltages of :meth:`NodalSolver.solve`.
    """
    if not isinstance(network, Network):
        raise ValueError(f"network must be a Network, got {type(network).__name__}")
    geom = _Geometry.from_network(network)
    src = _parse_sources(geom, v_rows_V, v_cols_V)
    cfg = _make_config(geom, src.float_r, src.float_c)
    rhs = _assemble_rhs(geom, cfg, src)
    batch = src.batch
    b = np.concatenate([rhs.b_r.reshape(batch, -1), rhs.b_c.reshape(batch, -1)], axis=1).T
    rows, cols = geom.rows, geom.cols
    row_index = np.arange(rows.size).reshape(rows.n_lines, rows.n_nodes)
    col_index = rows.size + np.arange(cols.size).reshape(cols.n_lines, cols.n_nodes).T
    return SparseSystem(_sparse_matrix(geom, cfg), np.ascontiguousarray(b), row_index, col_index)
