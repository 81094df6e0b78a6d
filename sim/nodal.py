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

Layout: this module is the public entry point (:class:`NodalSolver`, :func:`solve_network`,
and re-exports of everything public). The data types are in ``nodal_types``, the node
layout and line matrices in ``nodal_geometry``, sources, right-hand side and terminal
currents in ``nodal_terminals``, the backends in ``nodal_ideal``, ``nodal_pcg`` and
``nodal_sparse`` (which also holds :func:`assemble_sparse`), the nonlinear loop in
``nodal_nonlinear``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from rramlab.sim.nodal_geometry import _Config, _Geometry, _LinearResult, _make_config
from rramlab.sim.nodal_ideal import _DenseIdealLines
from rramlab.sim.nodal_nonlinear import _excess_cells, _solve_nonlinear
from rramlab.sim.nodal_pcg import _SchurPcg
from rramlab.sim.nodal_sparse import _SparseLu, assemble_sparse
from rramlab.sim.nodal_terminals import (
    _assemble_rhs,
    _held_values,
    _parse_sources,
    _Sources,
    _terminal_currents,
)
from rramlab.sim.nodal_types import ExcessCurrent, Network, NetworkSolution, SparseSystem

__all__ = [
    "Network",
    "NetworkSolution",
    "NodalSolver",
    "SparseSystem",
    "assemble_sparse",
    "solve_network",
]

_MAX_CACHED_PATTERNS = 8
_METHODS = ("iterative", "direct")


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
                linear, outer = _solve_nonlinear(
                    geom,
                    cfg,
                    backend,
                    rhs,
                    linear,
                    cell_excess_current,
                    nonlinear_rtol=self.nonlinear_rtol,
                    max_nonlinear_iterations=self.max_nonlinear_iterations,
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
                backends[method] = _DenseIdealLines(cfg)
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


# --------------------------------------------------------------------------- functions

_SOLVER_OPTIONS = ("rtol", "max_iterations", "nonlinear_rtol", "max_nonlinear_iterations")


def solve_network(network: Network, v_rows_V: Any, v_cols_V: Any, **kw: Any) -> NetworkSolution:
    """One-shot solve: ``NodalSolver(network, **options).solve(v_rows_V, v_cols_V, **rest)``.

    Keyword arguments named like :class:`NodalSolver` options go to the constructor,
    the others (``cell_excess_current``, ``x0``, ``method``) to :meth:`NodalSolver.solve`.
    """
    options = {k: kw.pop(k) for k in _SOLVER_OPTIONS if k in kw}
    return NodalSolver(network, **options).solve(v_rows_V, v_cols_V, **kw)
