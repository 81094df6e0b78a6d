"""The closed-loop INV circuit: it solves G V = -I to its finite-gain error, flags
saturation, settles at the op-amps' speed and refuses matrices it cannot invert."""

import numpy as np
import pytest

from rramlab.errors import InstabilityError
from rramlab.sim.cell import iv_shape
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams

LINEAR = CrossbarParams.ideal(iv_v0_V=1e5)  # sinh(V/V0) ~ V: linear cells


def array_with(g_S: np.ndarray, params=LINEAR, **kw) -> Crossbar:
    """An array whose cells hold exactly ``g_S`` (a test fixture, not a programming path)."""
    x = Crossbar(*g_S.shape, params=params, seed=0, **kw)
    x.cells.g_S[...] = g_S
    x.cells.formed[...] = True
    return x


def dominant_matrix(n: int, seed: int = 0) -> np.ndarray:
    """A diagonally dominant conductance matrix in the 0.5-35 uS window."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.5e-6, 5e-6, size=(n, n))
    g[np.diag_indices(n)] = rng.uniform(25e-6, 35e-6, size=n)
    return g


def test_inv_solves_the_finite_gain_system_exactly():
    g = dominant_matrix(4)
    x = array_with(g)
    i_in = np.array([1e-6, -2e-6, 0.5e-6, 1.5e-6])
    result = x.inv(i_in)
    d = np.diag(g.sum(axis=1))
    finite_gain = np.linalg.solve(g + d / LINEAR.opamp_gain, -i_in)
    np.testing.assert_allclose(result.v_out_V, finite_gain, rtol=1e-9)
    assert not result.any_saturated


def test_inv_matches_numpy_solve_within_the_finite_gain_error():
    g = dominant_matrix(6, seed=1)
    i_in = np.random.default_rng(2).uniform(-2e-6, 2e-6, size=6)
    exact = np.linalg.solve(g, -i_in)
    errors = []
    for gain in (1e3, 1e5):
        result = array_with(g, params=LINEAR.replace(opamp_gain=gain)).inv(i_in)
        errors.append(np.linalg.norm(result.v_out_V - exact) / np.linalg.norm(exact))
    # The error is the finite gain's: ~ kappa * |D| / (A0 |G|), 100x smaller at 100x gain.
    assert errors[0] < 1e-2
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.05)


def test_inv_with_nonlinear_cells_solves_g_shape_v():
    p = CrossbarParams.ideal()
    g = dominant_matrix(4)
    i_in = np.array([3e-6, -1e-6, 2e-6, -2e-6])
    result = array_with(g, params=p).inv(i_in)
    # KCL with the sinh-shaped cells and the input held at -V/A0.
    v_row = -result.v_out_V / p.opamp_gain
    dv = v_row[:, None] - result.v_out_V[None, :]
    kcl = (g * iv_shape(dv, p)).sum(axis=1)
    np.testing.assert_allclose(kcl, i_in, rtol=1e-9)
    linear = np.linalg.solve(g, -i_in)
    assert np.max(np.abs(result.v_out_V - linear)) > 1e-5  # the nonlinearity is visible


def test_inv_refuses_a_matrix_whose_loop_is_unstable():
    g = np.array([[1e-6, 30e-6], [30e-6, 1e-6]])  # D^-1 G has eigenvalue ~ -0.94
    with pytest.raises(InstabilityError, match="eigenvalue with real part"):
        array_with(g).inv(np.array([1e-6, 1e-6]))


def test_outputs_beyond_the_clamp_are_flagged_not_returned_as_an_answer():
    g = dominant_matrix(4)
    i_in = np.array([40e-6, -1e-6, 1e-6, 0.0])  # needs > 1 V on output 0
    result = array_with(g).inv(i_in)
    assert result.saturated[0]
    assert result.v_out_V[0] == pytest.approx(-LINEAR.opamp_clamp_V)
    assert np.all(np.abs(result.v_out_V) <= LINEAR.opamp_clamp_V + 1e-12)


def test_settling_time_is_set_by_the_op_amp_bandwidth():
    g = dominant_matrix(4)
    fast = array_with(g).inv(np.full(4, 1e-6))
    slow = array_with(g, params=LINEAR.replace(opamp_gbw_Hz=1.6e6)).inv(np.full(4, 1e-6))
    assert slow.settling_time_s == pytest.approx(10 * fast.settling_time_s)
    # A 4x4 array with 16 MHz op-amps settles in ~0.1 us (Zuo et al. 2025: ~120 ns).
    assert 20e-9 < fast.settling_time_s < 1e-6
    lam = np.linalg.eigvals(np.linalg.solve(np.diag(g.sum(axis=1)), g)).real.min()
    assert fast.time_constant_s == pytest.approx(1 / (2 * np.pi * 16e6 * lam))


def test_op_amp_offsets_shift_the_solution():
    g = dominant_matrix(4)
    i_in = np.full(4, 1e-6)
    clean = array_with(g).inv(i_in).v_out_V
    offset = array_with(g, params=LINEAR.replace(opamp_offset_sigma_V=1e-3)).inv(i_in).v_out_V
    assert 1e-5 < np.max(np.abs(offset - clean)) < 1e-2


def test_inv_on_a_block_of_a_larger_array():
    g = np.full((6, 6), 1e-6)
    g[np.ix_([1, 2, 3, 4], [0, 2, 3, 5])] = dominant_matrix(4)
    x = array_with(g)
    rows, cols = [1, 2, 3, 4], [0, 2, 3, 5]
    i_in = np.array([1e-6, -1e-6, 2e-6, 0.5e-6])
    result = x.inv(i_in, rows=rows, cols=cols)
    block = g[np.ix_(rows, cols)]
    # Cells from the op-amp rows to the grounded columns load the rows (join D).
    d = np.diag(g[rows].sum(axis=1))
    np.testing.assert_allclose(
        result.v_out_V, np.linalg.solve(block + d / LINEAR.opamp_gain, -i_in), rtol=1e-9
    )


def test_wire_resistance_adds_error_to_inv():
    g = dominant_matrix(8, seed=3)
    i_in = np.random.default_rng(4).uniform(-1e-6, 1e-6, size=8)
    exact = np.linalg.solve(g, -i_in)

    def error(r_wire):
        v = array_with(g, params=LINEAR.replace(r_wire_ohm=r_wire)).inv(i_in).v_out_V
        return np.linalg.norm(v - exact) / np.linalg.norm(exact)

    assert error(1.73) < 1e-3  # the paper's wires barely matter on an 8x8 tile
    assert error(2000.0) > 10 * error(1.73)


def test_inv_input_checks():
    x = array_with(dominant_matrix(4))
    with pytest.raises(ValueError, match="must be square"):
        x.inv(np.zeros(3), rows=[0, 1, 2], cols=[0, 1])
    with pytest.raises(ValueError, match=r"i_in_A must have shape \(4,\)"):
        x.inv(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        x.inv(np.array([0, np.nan, 0, 0]))


def test_inv_parallel_copies_add_their_conductances():
    # Op-amp j drives columns j and n + j: each entry of G is two cells in parallel.
    g0, g1 = dominant_matrix(4, seed=3), dominant_matrix(4, seed=4) / 2
    x = array_with(np.hstack([g0, g1]))
    i_in = np.array([1e-6, -2e-6, 0.5e-6, 1.5e-6])
    result = x.inv(i_in, cols=range(8), copies=2)
    g = g0 + g1
    d = np.diag(np.hstack([g0, g1]).sum(axis=1))
    np.testing.assert_allclose(
        result.v_out_V, np.linalg.solve(g + d / LINEAR.opamp_gain, -i_in), rtol=1e-9
    )
    with pytest.raises(ValueError, match="copies"):
        x.inv(i_in, cols=range(8), copies=0)
    with pytest.raises(ValueError, match="must be square"):
        x.inv(i_in, cols=range(8), copies=3)
