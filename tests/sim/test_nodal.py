"""Crossbar network solver: IR drop, sneak paths and KCL, checked against an independent
dense reference built node by node with plain Python loops."""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from rramlab.errors import ConvergenceError
from rramlab.sim.nodal import (
    Network,
    NetworkSolution,
    NodalSolver,
    assemble_sparse,
    solve_network,
)
from rramlab.sim.tridiagonal import SymmetricTridiagonal

NAN = math.nan


# ------------------------------------------------------------------ independent reference


class LoopReference:
    """The nodal system written out branch by branch; ideal-source nodes eliminated.

    Row nodes are ("r", i, j), column nodes ("c", i, j); an ideal line is one node
    (j = 0 for rows, i = 0 for columns). Every branch is (node_a, node_b, conductance).
    """

    def __init__(self, net: Network, v_rows, v_cols):
        g = np.asarray(net.g_cells_S)
        self.g = g
        n_rows, n_cols = g.shape
        self.shape = (n_rows, n_cols)
        self.r_row, self.r_col = net.r_row_seg_ohm, net.r_col_seg_ohm
        self.v_rows, self.v_cols = list(v_rows), list(v_cols)
        self.branches = []
        self.sources = []  # (node, conductance, volts) through a source resistance
        self.fixed = {}  # node -> volts, ideal sources
        for i in range(n_rows):
            for j in range(n_cols):
                self.branches.append((self.row_node(i, j), self.col_node(i, j), g[i, j]))
                if self.r_row > 0 and j + 1 < n_cols:
                    wire = (self.row_node(i, j), self.row_node(i, j + 1), 1 / self.r_row)
                    self.branches.append(wire)
                if self.r_col > 0 and i + 1 < n_rows:
                    wire = (self.col_node(i, j), self.col_node(i + 1, j), 1 / self.r_col)
                    self.branches.append(wire)
        terminals = [(self.row_node(i, 0), v, net.r_row_source_ohm) for i, v in enumerate(v_rows)]
        terminals += [
            (self.col_node(n_rows - 1, j), v, net.r_col_source_ohm) for j, v in enumerate(v_cols)
        ]
        for node, v, r_source in terminals:
            if math.isnan(v):
                continue
            if r_source == 0:
                self.fixed[node] = v
            else:
                self.sources.append((node, 1 / r_source, v))
        nodes = {n for a, b, _ in self.branches for n in (a, b)}
        self.unknown = sorted(nodes - set(self.fixed))
        self.index = {n: k for k, n in enumerate(self.unknown)}
        self.matrix, self.rhs = self._assemble()
        x = np.linalg.solve(self.matrix, self.rhs)
        self.v = dict(self.fixed)
        self.v.update({n: x[k] for n, k in self.index.items()})

    def row_node(self, i, j):
        return ("r", i, j if self.r_row > 0 else 0)

    def col_node(self, i, j):
        return ("c", i if self.r_col > 0 else 0, j)

    def _assemble(self):
        size = len(self.unknown)
        a = np.zeros((size, size))
        b = np.zeros(size)
        for n1, n2, cond in self.branches:
            for here, there in ((n1, n2), (n2, n1)):
                if here not in self.index:
                    continue
                k = self.index[here]
                a[k, k] += cond
                if there in self.index:
                    a[k, self.index[there]] -= cond
                else:
                    b[k] += cond * self.fixed[there]
        for node, cond, volts in self.sources:
            k = self.index[node]
            a[k, k] += cond
            b[k] += cond * volts
        return a, b

    def node_voltages(self):
        """(R, C) row node voltages and (R, C) column node voltages."""
        n_rows, n_cols = self.shape
        v_r = np.array(
            [[self.v[self.row_node(i, j)] for j in range(n_cols)] for i in range(n_rows)]
        )
        v_c = np.array(
            [[self.v[self.col_node(i, j)] for j in range(n_cols)] for i in range(n_rows)]
        )
        return v_r, v_c

    def terminal_currents(self):
        """Source currents from the branches at each terminal node (not KCL over cells)."""
        n_rows, n_cols = self.shape
        i_r = np.zeros(n_rows)
        i_c = np.zeros(n_cols)
        for i, v in enumerate(self.v_rows):
            i_r[i] = self._current_out_of_source(self.row_node(i, 0), v)
        for j, v in enumerate(self.v_cols):
            i_c[j] = -self._current_out_of_source(self.col_node(n_rows - 1, j), v)
        return i_r, i_c

    def _current_out_of_source(self, node, v_source):
        if math.isnan(v_source):
            return 0.0
        for src_node, cond, volts in self.sources:
            if src_node == node:
                return cond * (volts - self.v[node])
        # ideal source: everything that leaves the held node through its branches
        total = 0.0
        for n1, n2, cond in self.branches:
            if n1 == node:
                total += cond * (self.v[node] - self.v[n2])
            elif n2 == node:
                total += cond * (self.v[node] - self.v[n1])
        return total


def assert_close(actual, expected, rel=1e-9):
    """Agreement to ``rel`` relative to the scale of the expected array."""
    expected = np.asarray(expected)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=rel * scale)


def random_g(rng, shape, lo=1e-6, hi=100e-6):
    return rng.uniform(lo, hi, shape)


# ------------------------------------------------------------------ reference agreement

R_CASES = {
    # name: (shape, r_row_seg, r_col_seg, r_row_source, r_col_source)
    "wires": ((3, 4), 2.0, 7.0, 0.0, 0.0),
    "wires+sources": ((5, 5), 1.0, 10.0, 50.0, 20.0),
    "tall": ((6, 3), 3.0, 4.0, 0.0, 100.0),
    "rows ideal": ((4, 5), 0.0, 5.0, 0.0, 0.0),
    "cols ideal": ((5, 4), 6.0, 0.0, 30.0, 0.0),
    "ideal+sources": ((4, 6), 0.0, 0.0, 200.0, 50.0),
    "single row": ((1, 5), 3.0, 2.0, 10.0, 0.0),
}


def biasing(scheme, shape, v=0.3):
    """Line voltages of a read scheme selecting cell (1, 2)."""
    n_rows, n_cols = shape
    rows, cols = np.zeros(n_rows), np.zeros(n_cols)
    sel_row, sel_col = min(1, n_rows - 1), 2
    if scheme == "mvm":
        rows = np.linspace(0.05, 0.2, n_rows)
    elif scheme == "V/2":
        rows[:], cols[:] = v / 2, v / 2
        rows[sel_row], cols[sel_col] = v, 0.0
    elif scheme == "V/3":
        rows[:], cols[:] = v / 3, 2 * v / 3
        rows[sel_row], cols[sel_col] = v, 0.0
    elif scheme == "floating":
        rows[:], cols[:] = NAN, NAN
        rows[sel_row], cols[sel_col] = v, 0.0
    elif scheme == "mixed":
        rows = np.linspace(-0.1, 0.2, n_rows)
        rows[-1] = NAN
        cols[0] = NAN
        cols[-1] = 0.05
    return rows, cols


@pytest.mark.parametrize("scheme", ["mvm", "V/2", "V/3", "floating", "mixed"])
@pytest.mark.parametrize("case", list(R_CASES))
@pytest.mark.parametrize("method", ["iterative", "direct"])
def test_matches_loop_reference(case, scheme, method):
    shape, r_row, r_col, rs_row, rs_col = R_CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}/{scheme}".encode()))
    net = Network(random_g(rng, shape), r_row, r_col, rs_row, rs_col)
    v_rows, v_cols = biasing(scheme, shape)
    ref = LoopReference(net, v_rows, v_cols)

    sol = NodalSolver(net).solve(v_rows, v_cols, method=method)

    ref_r, ref_c = ref.node_voltages()
    assert_close(np.broadcast_to(sol.v_row_nodes_V[..., 0], shape), ref_r)
    assert_close(np.broadcast_to(sol.v_col_nodes_V[..., 0], shape), ref_c)
    ref_ir, ref_ic = ref.terminal_currents()
    assert_close(sol.i_row_terminal_A[:, 0], ref_ir)
    assert_close(sol.i_col_terminal_A[:, 0], ref_ic)


def test_assemble_sparse_is_the_same_system():
    rng = np.random.default_rng(3)
    net = Network(random_g(rng, (4, 5)), 2.0, 3.0, 10.0, 0.0)
    v_rows, v_cols = biasing("mixed", (4, 5))
    system = assemble_sparse(net, v_rows, v_cols)
    x = spla.spsolve(system.matrix.tocsc(), system.rhs[:, 0])
    ref_r, ref_c = LoopReference(net, v_rows, v_cols).node_voltages()
    assert_close(x[system.row_node_index], ref_r)
    assert_close(x[system.col_node_index], ref_c)


# ------------------------------------------------------------------ physics of MVM


def mvm_inputs(rng, n_rows, batch=None):
    shape = (n_rows,) if batch is None else (n_rows, batch)
    return rng.uniform(0.0, 0.2, shape)


def test_mvm_charge_conservation_and_ir_drop_loses_current():
    rng = np.random.default_rng(7)
    g = random_g(rng, (24, 16))
    v_in = mvm_inputs(rng, 24)
    i_ideal = g.T @ v_in
    sol = solve_network(Network(g, 2.0, 2.0), v_in, np.zeros(16))
    i_rows, i_cols = sol.i_row_terminal_A[:, 0], sol.i_col_terminal_A[:, 0]
    # All current driven into the rows leaves through the column TIAs.
    assert math.isclose(i_rows.sum(), i_cols.sum(), rel_tol=1e-10)
    # IR drop lowers every cell voltage, so every column collects less than G^T v.
    assert np.all(i_cols < i_ideal)
    assert np.all(i_cols > 0)


def test_column_currents_approach_ideal_as_wire_resistance_vanishes():
    rng = np.random.default_rng(8)
    g = random_g(rng, (16, 12))
    v_in = mvm_inputs(rng, 16)
    i_ideal = g.T @ v_in
    errors = []
    for r_seg in (10.0, 1.0, 0.1, 0.01, 0.001):
        sol = solve_network(Network(g, r_seg, r_seg), v_in, np.zeros(12))
        errors.append(np.abs(sol.i_col_terminal_A[:, 0] - i_ideal).max() / i_ideal.max())
    assert all(later < earlier for earlier, later in itertools.pairwise(errors))
    # The loss is first order in r: 1e4 times less wire, ~1e4 times less loss.
    assert errors[-1] < 2e-4 * errors[0]


def test_ideal_lines_all_driven_give_exact_mvm_without_iterating():
    rng = np.random.default_rng(9)
    g = random_g(rng, (32, 20))
    v_in = mvm_inputs(rng, 32, batch=3)
    sol = solve_network(Network(g), v_in, np.zeros(20))
    np.testing.assert_allclose(sol.i_col_terminal_A, g.T @ v_in, rtol=1e-14)
    np.testing.assert_allclose(sol.i_row_terminal_A, v_in * g.sum(axis=1)[:, None], rtol=1e-14)
    assert sol.iterations == 0
    assert sol.v_row_nodes_V.shape == (32, 1, 3)
    assert sol.v_col_nodes_V.shape == (1, 20, 3)
    assert sol.cell_voltage_V().shape == (32, 20, 3)


def test_tiny_source_resistance_keeps_terminal_currents_accurate():
    # g_source * (V_src - V_node) would cancel catastrophically at 1 uohm; KCL sums don't.
    rng = np.random.default_rng(10)
    g = random_g(rng, (8, 8))
    v_in = mvm_inputs(rng, 8)
    ideal = solve_network(Network(g, 1.0, 1.0), v_in, np.zeros(8))
    tiny = solve_network(Network(g, 1.0, 1.0, 1e-6, 1e-6), v_in, np.zeros(8))
    np.testing.assert_allclose(tiny.i_col_terminal_A, ideal.i_col_terminal_A, rtol=1e-8)
    np.testing.assert_allclose(tiny.i_row_terminal_A, ideal.i_row_terminal_A, rtol=1e-8)


# ------------------------------------------------------------------ sneak paths


def test_sneak_paths_through_floating_lines_swamp_a_high_resistance_cell():
    g = np.full((8, 8), 100e-6)
    g[3, 5] = 1e-6  # the HRS cell being read, among LRS neighbours
    v_read = 0.2
    net = Network(g)
    rows, cols = np.full(8, NAN), np.full(8, NAN)
    rows[3], cols[5] = v_read, 0.0
    floating = solve_network(net, rows, cols)
    i_read = floating.i_col_terminal_A[5, 0]
    # Current sneaks row 3 -> other columns -> other rows -> column 5 through LRS cells.
    assert i_read > 20 * 1e-6 * v_read

    grounded_rows, grounded_cols = np.zeros(8), np.zeros(8)
    grounded_rows[3] = v_read
    grounded = solve_network(net, grounded_rows, grounded_cols)
    assert math.isclose(grounded.i_col_terminal_A[5, 0], 1e-6 * v_read, rel_tol=1e-12)


def test_v_half_scheme_half_selects_unselected_cells():
    g = np.full((6, 6), 50e-6)
    v = 0.4
    rows, cols = np.full(6, v / 2), np.full(6, v / 2)
    rows[2], cols[4] = v, 0.0
    dv = solve_network(Network(g), rows, cols).cell_voltage_V()[..., 0]
    assert dv[2, 4] == pytest.approx(v)
    assert np.allclose(dv[2, np.arange(6) != 4], v / 2)
    assert np.allclose(dv[np.arange(6) != 2, 4], v / 2)
    others = np.ones((6, 6), bool)
    others[2, :] = others[:, 4] = False
    assert np.allclose(dv[others], 0.0)


def test_open_floating_lines_do_not_break_the_solve():
    # 1T1R with row 1 unselected: its transistors are off, so the floating row is isolated
    # and its voltage undefined (reported as 0 V); same for column 3.
    rng = np.random.default_rng(11)
    g = random_g(rng, (5, 4))
    g[1, :] = 0.0
    g[:, 3] = 0.0
    rows = np.array([0.1, NAN, 0.2, 0.15, 0.05])
    cols = np.array([0.0, 0.0, NAN, NAN])
    net = Network(g, 2.0, 3.0)
    sol = solve_network(net, rows, cols)
    assert np.all(sol.v_row_nodes_V[1] == 0.0) and np.all(sol.v_col_nodes_V[:, 3] == 0.0)
    assert sol.i_row_terminal_A[1, 0] == 0.0 and sol.i_col_terminal_A[3, 0] == 0.0
    # An isolated line carries no current whatever its voltage: tying it to 0 V in the
    # reference (which cannot solve a singular system) changes nothing else.
    tied_rows, tied_cols = rows.copy(), cols.copy()
    tied_rows[1], tied_cols[3] = 0.0, 0.0
    ref = LoopReference(net, tied_rows, tied_cols)
    ref_r, ref_c = ref.node_voltages()
    keep_r, keep_c = [0, 2, 3, 4], [0, 1, 2]
    assert_close(sol.v_row_nodes_V[keep_r, :, 0], ref_r[keep_r])
    assert_close(sol.v_col_nodes_V[:, keep_c, 0], ref_c[:, keep_c])
    assert_close(sol.i_col_terminal_A[:, 0], ref.terminal_currents()[1])


# ------------------------------------------------------------------ heavy IR drop


def test_heavy_ir_drop_converges_and_matches_spsolve():
    rng = np.random.default_rng(12)
    n = 128
    g = rng.uniform(100e-6, 1e-3, (n, n))
    v_in = mvm_inputs(rng, n)
    net = Network(g, 5.0, 5.0)
    sol = NodalSolver(net).solve(v_in, np.zeros(n))
    loss = 1 - sol.i_col_terminal_A.sum() / (g.T @ v_in).sum()
    assert loss > 0.5

    system = assemble_sparse(net, v_in, np.zeros(n))
    x = spla.spsolve(system.matrix.tocsc(), system.rhs[:, 0])
    assert_close(sol.v_row_nodes_V[..., 0], x[system.row_node_index], rel=1e-8)
    assert_close(sol.v_col_nodes_V[..., 0], x[system.col_node_index], rel=1e-8)
    i_cols = (g * (x[system.row_node_index] - x[system.col_node_index])).sum(axis=0)
    assert_close(sol.i_col_terminal_A[:, 0], i_cols, rel=1e-8)


def test_pcg_limit_raises_convergence_error():
    rng = np.random.default_rng(13)
    g = rng.uniform(100e-6, 1e-3, (32, 32))
    solver = NodalSolver(Network(g, 5.0, 5.0), max_iterations=2)
    with pytest.raises(ConvergenceError, match="2 iterations"):
        solver.solve(mvm_inputs(rng, 32), np.zeros(32))


# ------------------------------------------------------------------ batches and reuse


@pytest.mark.parametrize("wires", [(2.0, 3.0), (0.0, 0.0), (0.0, 4.0)])
def test_batch_equals_one_vector_at_a_time(wires):
    rng = np.random.default_rng(14)
    net = Network(random_g(rng, (6, 7)), *wires, 20.0, 5.0)
    solver = NodalSolver(net)
    v_rows = rng.uniform(-0.2, 0.2, (6, 4))
    v_rows[4] = NAN
    v_cols = rng.uniform(0.0, 0.1, (7, 4))
    v_cols[0] = NAN
    batch = solver.solve(v_rows, v_cols)
    for k in range(4):
        one = solver.solve(v_rows[:, k], v_cols[:, k])
        assert_close(batch.v_row_nodes_V[..., k], one.v_row_nodes_V[..., 0], rel=1e-11)
        assert_close(batch.v_col_nodes_V[..., k], one.v_col_nodes_V[..., 0], rel=1e-11)
        assert_close(batch.cell_voltage_V()[..., k], one.cell_voltage_V()[..., 0], rel=1e-11)
        assert_close(batch.i_col_terminal_A[:, k], one.i_col_terminal_A[:, 0], rel=1e-11)
        assert_close(batch.i_row_terminal_A[:, k], one.i_row_terminal_A[:, 0], rel=1e-11)


def test_warm_start_reuses_a_previous_solution():
    rng = np.random.default_rng(15)
    solver = NodalSolver(Network(rng.uniform(100e-6, 1e-3, (40, 40)), 3.0, 3.0))
    v_in = mvm_inputs(rng, 40)
    cold = solver.solve(v_in, np.zeros(40))
    warm = solver.solve(v_in * (1 + 1e-6), np.zeros(40), x0=cold)
    assert warm.iterations < cold.iterations
    assert_close(warm.i_col_terminal_A, cold.i_col_terminal_A * (1 + 1e-6), rel=1e-9)


# ------------------------------------------------------------------ nonlinear cells

V0 = 0.25


def sinh_excess(g):
    """Current of a sinh-like cell beyond its linear part: g*V0*sinh(dv/V0) - g*dv."""

    def excess(dv):
        return g[:, :, None] * (V0 * np.sinh(dv / V0) - dv)

    return excess


def nonlinear_residual(net, v_rows, v_cols, sol):
    """Max |KCL imbalance| over unknown nodes of the sinh network, from the loop reference."""
    ref = LoopReference(net, v_rows, v_cols)
    n_rows, n_cols = ref.shape
    v_r = np.broadcast_to(sol.v_row_nodes_V[..., 0], (n_rows, n_cols))
    v_c = np.broadcast_to(sol.v_col_nodes_V[..., 0], (n_rows, n_cols))
    x = np.zeros(len(ref.unknown))
    for node, k in ref.index.items():
        kind, i, j = node
        x[k] = v_r[i, j] if kind == "r" else v_c[i, j]
    residual = ref.matrix @ x - ref.rhs
    g = np.asarray(net.g_cells_S)
    excess = sinh_excess(g)((v_r - v_c)[:, :, None])[..., 0]
    for i in range(n_rows):
        for j in range(n_cols):
            for node, sign in ((ref.row_node(i, j), 1.0), (ref.col_node(i, j), -1.0)):
                if node in ref.index:
                    residual[ref.index[node]] += sign * excess[i, j]
    return np.abs(residual).max()


@pytest.mark.parametrize(
    "wires", [(3.0, 5.0, 0.0, 0.0), (0.0, 0.0, 100.0, 50.0), (2.0, 2.0, 10.0, 0.0)]
)
@pytest.mark.parametrize("scheme", ["mvm", "V/3", "floating"])
def test_nonlinear_cells_satisfy_kcl(wires, scheme):
    rng = np.random.default_rng(16)
    shape = (6, 5)
    g = random_g(rng, shape)
    net = Network(g, *wires)
    v_rows, v_cols = biasing(scheme, shape, v=0.6)
    if scheme == "mvm":
        v_rows = v_rows * 3  # up to 0.6 V, where sinh is far from linear
    sol = NodalSolver(net).solve(v_rows, v_cols, cell_excess_current=sinh_excess(g))
    linear = NodalSolver(net).solve(v_rows, v_cols)
    i_scale = np.abs(sol.i_row_terminal_A).max()
    assert nonlinear_residual(net, v_rows, v_cols, sol) < 1e-9 * i_scale
    # The sinh cell conducts more than its linear part at these voltages.
    assert np.abs(sol.i_row_terminal_A).sum() > 1.01 * np.abs(linear.i_row_terminal_A).sum()
    # KCL over the whole array: what the sources push in comes out of the terminals.
    assert math.isclose(sol.i_row_terminal_A.sum(), sol.i_col_terminal_A.sum(), rel_tol=1e-9)


def test_strongly_nonlinear_heavy_ir_drop_converges_with_relaxation():
    rng = np.random.default_rng(17)
    g = rng.uniform(100e-6, 1e-3, (24, 24))
    net = Network(g, 5.0, 5.0)
    v_in = rng.uniform(0.8, 1.2, 24)
    sol = NodalSolver(net).solve(v_in, np.zeros(24), cell_excess_current=sinh_excess(g))
    assert sol.nonlinear_iterations > 1
    i_scale = np.abs(sol.i_row_terminal_A).max()
    assert nonlinear_residual(net, v_in, np.zeros(24), sol) < 1e-9 * i_scale


def test_nonlinear_all_ideal_lines_need_no_iteration():
    rng = np.random.default_rng(18)
    g = random_g(rng, (5, 4))
    v_in = mvm_inputs(rng, 5) * 4
    sol = solve_network(Network(g), v_in, np.zeros(4), cell_excess_current=sinh_excess(g))
    expected = (g * V0 * np.sinh(v_in[:, None] / V0)).sum(axis=0)
    np.testing.assert_allclose(sol.i_col_terminal_A[:, 0], expected, rtol=1e-13)
    assert sol.nonlinear_iterations == 0


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"g_cells_S": np.full((2, 2), NAN)}, "g_cells_S"),
        ({"g_cells_S": -np.ones((2, 2))}, "g_cells_S"),
        ({"g_cells_S": np.ones(4)}, "g_cells_S"),
        ({"r_row_seg_ohm": -1.0}, "r_row_seg_ohm"),
        ({"r_col_seg_ohm": math.inf}, "r_col_seg_ohm"),
        ({"r_row_source_ohm": NAN}, "r_row_source_ohm"),
        ({"r_col_source_ohm": "1"}, "r_col_source_ohm"),
    ],
)
def test_bad_network_names_the_field(kwargs, message):
    args = {"g_cells_S": np.ones((2, 2)) * 1e-6, **kwargs}
    with pytest.raises(ValueError, match=message):
        Network(**args)


@pytest.mark.parametrize(
    ("v_rows", "v_cols", "message"),
    [
        (np.zeros(4), np.zeros(3), "v_rows_V"),
        (np.zeros(3), np.zeros((2, 1)), "v_cols_V"),
        (np.zeros((3, 2)), np.zeros((3, 3)), "batch"),
        (np.array([[0.1, NAN], [0.0, 0.0], [0.0, 0.0]]), np.zeros(3), "v_rows_V"),
        (np.zeros((3, 2)), np.array([[0.0, 0.0], [NAN, 0.1], [0.0, 0.0]]), "v_cols_V"),
        (np.array([0.0, math.inf, 0.0]), np.zeros(3), "v_rows_V"),
    ],
)
@pytest.mark.parametrize("wires", [0.0, 1.0])
def test_bad_sources_name_the_argument(v_rows, v_cols, message, wires):
    solver = NodalSolver(Network(np.full((3, 3), 1e-5), wires, wires))
    with pytest.raises(ValueError, match=message):
        solver.solve(v_rows, v_cols)


def test_bad_solver_arguments_name_the_argument():
    net = Network(np.full((3, 3), 1e-5), 1.0, 1.0)
    with pytest.raises(ValueError, match="rtol"):
        NodalSolver(net, rtol=0.0)
    with pytest.raises(ValueError, match="max_iterations"):
        NodalSolver(net, max_iterations=0)
    solver = NodalSolver(net)
    with pytest.raises(ValueError, match="method"):
        solver.solve(np.zeros(3), np.zeros(3), method="magic")
    with pytest.raises(ValueError, match="cell_excess_current"):
        solver.solve(np.ones(3), np.zeros(3), cell_excess_current=lambda dv: dv[0])
    with pytest.raises(ValueError, match="x0"):
        solver.solve(np.ones(3), np.zeros(3), x0=solver.solve(np.ones((3, 2)), np.zeros(3)))


def test_solution_layout_and_types():
    sol = solve_network(Network(np.full((3, 4), 1e-5), 1.0, 2.0), np.ones(3) * 0.1, np.zeros(4))
    assert isinstance(sol, NetworkSolution)
    assert sol.v_row_nodes_V.shape == sol.v_col_nodes_V.shape == (3, 4, 1)
    assert sol.i_row_terminal_A.shape == (3, 1) and sol.i_col_terminal_A.shape == (4, 1)
    # The row driver holds node (i, 0); the TIA holds node (R-1, j).
    assert np.allclose(sol.v_row_nodes_V[:, 0, 0], 0.1)
    assert np.allclose(sol.v_col_nodes_V[-1, :, 0], 0.0)


# ------------------------------------------------------------------ tridiagonal helper


def test_batched_tridiagonal_matches_dense_per_line():
    rng = np.random.default_rng(19)
    diag = rng.uniform(2.5, 4.0, (3, 5))
    off = -rng.uniform(0.5, 1.0, (3, 4))
    tri = SymmetricTridiagonal.from_lines(diag, off)
    b = rng.normal(size=(2, 15))
    x = tri.solve(b)
    for line in range(3):
        dense = np.diag(diag[line]) + np.diag(off[line], 1) + np.diag(off[line], -1)
        sl = slice(5 * line, 5 * line + 5)
        np.testing.assert_allclose(x[:, sl], np.linalg.solve(dense, b[:, sl].T).T, rtol=1e-12)
    np.testing.assert_allclose(tri.matvec(x), b, rtol=1e-12, atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):
        SymmetricTridiagonal(np.array([1.0, 1.0]), np.array([-2.0]))
