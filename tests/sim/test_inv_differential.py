"""The differential INV circuit: each op-amp output also drives, through a unity-gain
inverter, a second set of columns with -V, so the outputs solve (G+ - G-) V = -I for a
signed matrix held in pairs of cells (Sun et al. PNAS 2019)."""

import numpy as np
import pytest

from rramlab.errors import InstabilityError
from rramlab.sim.cell import iv_shape, iv_slope
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams

LINEAR = CrossbarParams.ideal(iv_v0_V=1e5)  # sinh(V/V0) ~ V: linear cells
G_MIN = 0.5e-6  # the lowest level: both cells of a pair hold at least this much

# A signed matrix (S) whose symmetric part is positive definite (diagonally dominant).
SIGNED = 1e-6 * np.array(
    [
        [24.0, -6.0, 4.0, -3.0],
        [5.0, 22.0, -7.0, 2.0],
        [-4.0, 6.0, 26.0, -5.0],
        [3.0, -2.0, 5.0, 20.0],
    ]
)
I_IN = np.array([1e-6, -0.8e-6, 0.5e-6, 0.7e-6])  # outputs of ~50 mV


def pair(a_S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The differential pair (G+, G-) holding ``a_S``: both at least G_MIN, so the
    common G_MIN cancels in G+ - G-."""
    return G_MIN + np.maximum(a_S, 0.0), G_MIN + np.maximum(-a_S, 0.0)


def array_with(g_S: np.ndarray, params=LINEAR, **kw) -> Crossbar:
    """An array whose cells hold exactly ``g_S`` (a test fixture, not a programming path)."""
    x = Crossbar(*g_S.shape, params=params, seed=0, **kw)
    x.cells.g_S[...] = g_S
    x.cells.formed[...] = True
    return x


def differential_array(a_S: np.ndarray, params=LINEAR) -> Crossbar:
    return array_with(np.hstack(pair(a_S)), params=params)


def finite_gain(a_S, d_S, i_in, gain=LINEAR.opamp_gain, feedback_S=0.0):
    """Outputs of ideal op-amps of DC gain ``gain`` on linear cells: each input sits at
    -V/A0, so (A + f I + (D + f I)/A0) V = -I, D the row sums of every cell on the row."""
    eye = np.eye(len(a_S))
    return np.linalg.solve(a_S + feedback_S * eye + (d_S + feedback_S * eye) / gain, -i_in)


def test_differential_inv_solves_the_signed_matrix_exactly():
    x = differential_array(SIGNED)
    result = x.inv(I_IN, cols=range(8), differential=True)
    g_pos, g_neg = pair(SIGNED)
    np.testing.assert_allclose(g_pos - g_neg, SIGNED, rtol=1e-12)  # G_MIN cancels
    d = np.diag((g_pos + g_neg).sum(axis=1))  # the negative cells load the rows too
    np.testing.assert_allclose(result.v_out_V, finite_gain(SIGNED, d, I_IN), rtol=1e-9)
    assert not result.any_saturated
    # Not the sum of the cells, as two positive copies would give.
    summed = np.linalg.solve(g_pos + g_neg, -I_IN)
    assert np.linalg.norm(result.v_out_V - summed) > 0.25 * np.linalg.norm(summed)


def test_loop_stability_sees_the_signed_matrix():
    x = differential_array(SIGNED)
    result = x.inv(I_IN, cols=range(8), differential=True)
    g_pos, g_neg = pair(SIGNED)
    d = np.diag((g_pos + g_neg).sum(axis=1))
    expected = np.linalg.eigvals(np.linalg.solve(d, SIGNED))
    np.testing.assert_allclose(np.sort_complex(result.eigenvalues), np.sort_complex(expected))
    assert result.time_constant_s == pytest.approx(
        1 / (2 * np.pi * LINEAR.opamp_gbw_Hz * expected.real.min())
    )


def test_nonlinear_cells_see_minus_v_on_the_negative_columns():
    p = CrossbarParams.ideal()
    x = differential_array(SIGNED, params=p)
    result = x.inv(I_IN, cols=range(8), differential=True)
    v = result.v_out_V
    assert 0.02 < np.max(np.abs(v)) < 0.1
    # KCL with the sinh-shaped cells: the + cells see v_in - V, the - cells v_in + V.
    g_pos, g_neg = pair(SIGNED)
    v_row = -v / p.opamp_gain
    kcl = (g_pos * iv_shape(v_row[:, None] - v[None, :], p)).sum(axis=1)
    kcl += (g_neg * iv_shape(v_row[:, None] + v[None, :], p)).sum(axis=1)
    np.testing.assert_allclose(kcl, I_IN, rtol=1e-9)
    # At small voltages a cell conducts iv_slope(0) times its read conductance (the
    # conductance at the 0.2 V read), plus the sinh's cubic term: (V/V0)^2 / 6 = 0.2 %
    # at 50 mV. So V ~ -(s0 (G+ - G-))^-1 I, and ~2.7 % off -(G+ - G-)^-1 I.
    s0 = float(iv_slope(0.0, p))
    small_signal = np.linalg.solve(s0 * SIGNED, -I_IN)
    read = np.linalg.solve(SIGNED, -I_IN)
    curvature = (np.max(np.abs(v)) / p.iv_v0_V) ** 2 / 6
    assert np.linalg.norm(v - small_signal) / np.linalg.norm(read) < 2 * curvature
    error = np.linalg.norm(v - read) / np.linalg.norm(read)
    assert error < (1 / s0 - 1) + 2 * curvature
    assert error > 0.5 * (1 / s0 - 1)  # the nonlinearity is visible


def test_differential_inv_with_wire_resistance():
    g_pos, g_neg = pair(SIGNED)
    d = np.diag((g_pos + g_neg).sum(axis=1))
    exact = finite_gain(SIGNED, d, I_IN)

    def outputs(r_wire, params=LINEAR):
        x = differential_array(SIGNED, params=params.replace(r_wire_ohm=r_wire))
        assert x.has_wires
        return x.inv(I_IN, cols=range(8), differential=True).v_out_V

    def error(v):
        return np.linalg.norm(v - exact) / np.linalg.norm(exact)

    # Near-zero wires: the nodal network gives the ideal-wire circuit.
    np.testing.assert_allclose(outputs(1e-6), exact, rtol=1e-6)
    assert error(outputs(1.73)) < 1e-3  # the paper's wires barely matter on 4 x 8
    assert error(outputs(2000.0)) > 10 * error(outputs(1.73))
    # Nonlinear cells with wires: close to the same array with ideal wires.
    p = CrossbarParams.ideal()
    ideal = differential_array(SIGNED, params=p).inv(I_IN, cols=range(8), differential=True)
    np.testing.assert_allclose(outputs(1.73, p), ideal.v_out_V, rtol=1e-3)


def test_a_signed_matrix_that_is_not_positive_stable_is_refused():
    a = 1e-6 * np.array([[-10.0, 2.0], [1.0, 15.0]])  # D^-1 A has a negative eigenvalue
    x = differential_array(a)
    i_in = np.array([1e-6, 1e-6])
    with pytest.raises(InstabilityError, match="eigenvalue with real part"):
        x.inv(i_in, cols=range(4), differential=True)
    # The same cells as two positive copies (G+ + G-) form a stable loop.
    assert not x.inv(i_in, cols=range(4), copies=2).any_saturated


def test_feedback_adds_to_the_signed_diagonal():
    a = SIGNED.copy()
    a[0, 0] = -5e-6  # unstable on its own ...
    x = differential_array(a)
    with pytest.raises(InstabilityError):
        x.inv(I_IN, cols=range(8), differential=True)
    fb = 40e-6  # ... but not with 40 uS from each output to its input
    result = x.inv(I_IN, cols=range(8), differential=True, feedback_S=fb)
    g_pos, g_neg = pair(a)
    d = np.diag((g_pos + g_neg).sum(axis=1))
    np.testing.assert_allclose(result.v_out_V, finite_gain(a, d, I_IN, feedback_S=fb), rtol=1e-9)


def test_differential_with_parallel_copies():
    # n = 4, k = 2: columns [P0 | P1 | N0 | N1], op-amp j on j, 4 + j, 8 + j and 12 + j.
    rng = np.random.default_rng(5)
    a0 = SIGNED / 2 + rng.uniform(-2e-6, 2e-6, size=(4, 4))
    a1 = SIGNED / 2 - rng.uniform(-2e-6, 2e-6, size=(4, 4))
    (p0, n0), (p1, n1) = pair(a0), pair(a1)
    x = array_with(np.hstack([p0, p1, n0, n1]))
    result = x.inv(I_IN, cols=range(16), copies=2, differential=True)
    a = (p0 + p1) - (n0 + n1)
    np.testing.assert_allclose(a, a0 + a1, rtol=1e-12, atol=1e-18)
    d = np.diag((p0 + p1 + n0 + n1).sum(axis=1))
    np.testing.assert_allclose(result.v_out_V, finite_gain(a, d, I_IN), rtol=1e-9)
    # Pairs interleaved ([P0 | N0 | P1 | N1]) are another circuit: its matrix would be
    # (P0 + N0) - (P1 + N1) = |a0| - |a1|, which is not positive stable.
    interleaved = array_with(np.hstack([p0, n0, p1, n1]))
    with pytest.raises(InstabilityError):
        interleaved.inv(I_IN, cols=range(16), copies=2, differential=True)


def test_differential_inv_on_a_block_of_a_larger_array():
    g_pos, g_neg = pair(SIGNED)
    g = np.full((6, 10), 1e-6)
    rows, cols = [1, 2, 3, 4], list(range(1, 9))
    g[np.ix_(rows, cols)] = np.hstack([g_pos, g_neg])
    result = array_with(g).inv(I_IN, rows=rows, cols=cols, differential=True)
    d = np.diag(g[rows].sum(axis=1))  # grounded columns 0 and 9 load the rows
    np.testing.assert_allclose(result.v_out_V, finite_gain(SIGNED, d, I_IN), rtol=1e-9)


def test_inv_stress_records_minus_v_on_the_negative_columns():
    # A low-gain op-amp keeps the inputs visibly off ground, so v_in - V and v_in + V
    # differ in size as well as in sign.
    x = differential_array(SIGNED, params=LINEAR.replace(opamp_gain=10.0))
    result = x.inv(I_IN, cols=range(8), differential=True)
    v, v_in = result.v_out_V, result.v_in_V
    assert np.max(np.abs(v_in)) > 1e-3
    seen = x.cells.v_max_seen_V
    np.testing.assert_allclose(seen[:, :4], np.abs(v_in[:, None] - v[None, :]), rtol=1e-9)
    np.testing.assert_allclose(seen[:, 4:], np.abs(v_in[:, None] + v[None, :]), rtol=1e-9)
    # The dose goes to the polarity each cell saw.
    j = int(np.argmax(v))  # an output well above its inputs
    assert np.all(x.cells.dose_neg_s[:, j] > 0) and np.all(x.cells.dose_pos_s[:, j] == 0)
    assert np.all(x.cells.dose_pos_s[:, 4 + j] > 0) and np.all(x.cells.dose_neg_s[:, 4 + j] == 0)


def test_differential_input_checks():
    x = differential_array(SIGNED)
    with pytest.raises(ValueError, match=r"must be 4 x 2 \* 1 \* 4"):
        x.inv(I_IN, cols=range(4), differential=True)
    with pytest.raises(ValueError, match=r"must be 4 x 2 \* 2 \* 4"):
        x.inv(I_IN, cols=range(8), copies=2, differential=True)
    with pytest.raises(ValueError, match="must be square"):  # 8 columns need DIFF
        x.inv(I_IN, cols=range(8))
    with pytest.raises(ValueError, match="differential must be a bool"):
        x.inv(I_IN, cols=range(8), differential=1)
