"""The full nodal system as one scipy sparse matrix, and its sparse-LU reference solve.

:func:`assemble_sparse` builds the system ``[[T_r, -G], [-G^T, T_c]]`` of a network with
given sources under the same conventions as the other backends (held nodes as identity
rows, isolated floating lines held at 0 V, ideal lines as one node); :class:`_SparseLu`
factors it with ``splu`` for ``method="direct"``, a reference for the faster backends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from rramlab.sim.nodal_geometry import _Config, _Geometry, _LinearResult, _make_config
from rramlab.sim.nodal_terminals import _assemble_rhs, _parse_sources
from rramlab.sim.nodal_types import Network, SparseSystem


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


def _relative_residual(r: np.ndarray, b: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Per batch column ||r|| / ||b|| over unknown nodes (0 when b vanishes there)."""
    b_norm = np.linalg.norm(np.where(free, b, 0.0), axis=1)
    r_norm = np.linalg.norm(np.where(free, r, 0.0), axis=1)
    return np.divide(r_norm, b_norm, out=np.zeros_like(r_norm), where=b_norm > 0)


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
