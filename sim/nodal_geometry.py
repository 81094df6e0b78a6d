"""Node layout and line matrices shared by every backend of the nodal solver.

What depends only on the network (:class:`_Geometry`: each side's lines and nodes per
line, cell conductance sums, line connectivity), what depends also on which lines float
(:class:`_Config`: line kinds, the tridiagonal matrix of every line with held nodes
decoupled, the coupling between unknown nodes), the batched operators that move values
between row nodes, column nodes and cells, :class:`_LinearResult`, the node voltages
every backend returns, and :class:`_PrimarySide`, the solve of the backends that solve
for one side's nodes. Voltages of a side are arrays (B, n_lines, n_nodes).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from rramlab.sim.nodal_types import Network

# Line kinds, decided per solve from which source voltages are NaN.
_IDEAL = 0  # driven by an ideal source: the terminal node is held at the source voltage
_SOURCE = 1  # driven through a source resistance
_FLOATING = 2  # terminal unconnected
_ISOLATED = 3  # floating with no conducting path to a driven line: reported at 0 V


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


def _batched_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("bn,bn->b", a, b)


# ------------------------------------------------------------------- backend results


class _LinearResult(NamedTuple):
    """What every backend's ``solve(b_r, b_c, guess_r, guess_c)`` returns: node voltages
    for right-hand sides (B, R, n_r) and (B, C, n_c); guesses may be None."""

    x_r: np.ndarray  # (B, R, n_r)
    x_c: np.ndarray  # (B, C, n_c)
    iterations: int
    relative_residual: float


class _PrimarySide(ABC):
    """A backend that solves for the nodes of one side, the primary (p), and eliminates
    the other (e); ``rows_primary`` says which side is which. Its ``solve`` puts the
    right-hand sides and the guess in that order and the node voltages back in rows,
    columns order; :meth:`_solve_primary` is the backend's own solve."""

    rows_primary: bool

    def solve(
        self,
        b_r: np.ndarray,
        b_c: np.ndarray,
        guess_r: np.ndarray | None,
        guess_c: np.ndarray | None,
    ) -> _LinearResult:
        b_p, b_e = (b_r, b_c) if self.rows_primary else (b_c, b_r)
        guess_p = guess_r if self.rows_primary else guess_c
        x_p, x_e, iterations, residual = self._solve_primary(b_p, b_e, guess_p)
        if self.rows_primary:
            return _LinearResult(x_p, x_e, iterations, residual)
        return _LinearResult(x_e, x_p, iterations, residual)

    @abstractmethod
    def _solve_primary(
        self, b_p: np.ndarray, b_e: np.ndarray, guess_p: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, int, float]:
        """Node voltages (x_p, x_e), iterations and relative residual."""
