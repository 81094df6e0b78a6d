"""Mapping facts: slicing reconstructs the fixed-point matrix exactly, the signed methods
reproduce A, input slicing reconstructs x, the INV mapping is a 3-bit A0."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.protocols.analog.fixed_point import slice_matrix, slice_vector, slices_for
from rramlab.protocols.analog.inv_mapping import map_for_inv
from rramlab.protocols.analog.mapping import (
    bias_split,
    diagonal_split,
    differential_split,
    quantize_levels,
    sherman_morrison,
)
from rramlab.protocols.analog.problems import random_problem


def test_24_bits_take_8_slices_of_3_bit_digits():
    assert slices_for(24) == 8 and slices_for(3) == 1 and slices_for(25) == 9
    sliced = slice_matrix(np.random.default_rng(0).uniform(-1, 1, (5, 7)), bits=24)
    assert sliced.digits.shape == (8, 5, 7)
    assert sliced.digits.dtype == np.uint8 and sliced.digits.max() <= 7


@pytest.mark.parametrize("signed", ["bias", "differential"])
@pytest.mark.parametrize("bits", [3, 12, 24, 33])
def test_slices_reconstruct_the_fixed_point_matrix_exactly(signed, bits):
    rng = np.random.default_rng(bits)
    a = rng.uniform(-3, 5, (6, 4))
    sliced = slice_matrix(a, bits=bits, signed=signed)
    # The digits, shifted and added in integers, give exactly the represented matrix ...
    total = sum(int(w) * sliced.digits[k].astype(object) for k, w in enumerate(sliced.weights))
    represented = (total - sliced.bias_int).astype(float) * sliced.unit
    np.testing.assert_array_equal(represented, sliced.value)
    # ... which is A to within half a step of the last slice.
    assert np.max(np.abs(sliced.value - a)) <= 0.5 * sliced.unit + 1e-15
    assert np.log2(sliced.scale) == int(np.log2(sliced.scale))  # exact power of two


def test_a_matrix_on_the_grid_is_represented_without_error():
    a, _ = random_problem(8, 8.0, seed=3, grid_bits=20)
    for signed in ("bias", "differential"):
        np.testing.assert_array_equal(slice_matrix(a, 24, signed).value, a)


def test_signed_methods_reproduce_a():
    a = np.random.default_rng(1).uniform(-2, 3, (5, 5))
    a_plus, m = bias_split(a)
    assert a_plus.min() >= 0 and m == pytest.approx(-a.min())
    np.testing.assert_allclose(a_plus - m * np.ones((5, 5)), a, atol=1e-15)
    ap, n = diagonal_split(a_plus)
    assert ap.min() >= 0 and n == pytest.approx(np.diag(a_plus).min())
    np.testing.assert_allclose(ap + n * np.eye(5), a_plus, atol=1e-15)
    p, neg = differential_split(a)
    assert p.min() >= 0 and neg.min() >= 0 and not np.any((p > 0) & (neg > 0))
    np.testing.assert_array_equal(p - neg, a)


def test_sherman_morrison_inverts_the_bias_column():
    rng = np.random.default_rng(2)
    a_plus = rng.uniform(0, 1, (4, 4)) + 3 * np.eye(4)
    m = 0.4
    b = rng.standard_normal((4, 3))
    y, z = np.linalg.solve(a_plus, b), np.linalg.solve(a_plus, np.ones(4))
    expected = np.linalg.solve(a_plus - m * np.ones((4, 4)), b)
    np.testing.assert_allclose(sherman_morrison(y, z, m), expected, rtol=1e-12)
    np.testing.assert_allclose(sherman_morrison(y[:, 0], z, m), expected[:, 0], rtol=1e-12)


@pytest.mark.parametrize("bits", [1, 8, 30])
def test_input_bit_planes_reconstruct_x(bits):
    x = np.random.default_rng(bits).standard_normal((6, 3)) * [1e-3, 1.0, 1e4]
    sliced = slice_vector(x, bits)
    assert set(np.unique(sliced.planes)) <= {-1, 0, 1}  # x = x+ - x-, one bipolar drive
    q = sum((2**p) * sliced.planes[p].astype(np.int64) for p in range(bits))
    np.testing.assert_array_equal(q * sliced.scale, sliced.value)
    # Each column to within half of its own last bit (block floating point).
    assert np.all(np.abs(sliced.value - x) <= 0.5 * sliced.scale + 1e-300)
    np.testing.assert_array_equal(slice_vector(np.zeros(4), bits).value, np.zeros((4, 1)))


def test_levels_put_the_largest_entry_on_level_7():
    digits, sigma = quantize_levels(np.array([[0.0, 0.3], [0.7, 1.4]]))
    np.testing.assert_array_equal(digits, [[0, 2], [4, 7]])
    assert sigma == pytest.approx(5.0)
    with pytest.raises(ValueError, match="nonnegative"):
        quantize_levels(np.array([[-1.0, 1.0]]))


@pytest.mark.parametrize("feedback", [True, False])
def test_inv_mapping_is_a_3_bit_matrix_with_exact_bias_and_split(feedback):
    a, _ = random_problem(4, 8.0, seed=5)
    plain = map_for_inv(a, feedback=feedback, search=False)
    assert plain.digits.max() == 7 and plain.digits.dtype == np.uint8
    assert (plain.diagonal > 0) == feedback
    # Only the digits are rounded: A0 is within half a level step of A, entry by entry.
    assert np.max(np.abs(plain.matrix - a)) <= 0.5 / plain.sigma + 1e-12
    tuned = map_for_inv(a, feedback=feedback)
    contraction = [
        np.linalg.norm(np.linalg.matrix_power(np.eye(4) - np.linalg.solve(m.matrix, a), 5), 2)
        for m in (plain, tuned)
    ]
    assert contraction[1] <= contraction[0]  # the search never makes refinement slower


def test_parallel_cells_give_the_inv_mapping_more_levels():
    from rramlab.protocols.analog.engine import InvArray

    rhos = []
    for copies in (1, 2, 4):
        worst = 0.0
        for seed in range(6):
            a, _ = random_problem(4, 8.0, seed=seed)
            m = map_for_inv(a, copies=copies)
            assert m.digits.max() <= 7 * copies
            error = np.eye(4) - np.linalg.solve(m.matrix, a)
            worst = max(worst, float(np.max(np.abs(np.linalg.eigvals(error)))))
        rhos.append(worst)
    assert rhos[2] < rhos[1] < rhos[0]  # each doubling of the levels contracts faster
    # an entry's total is spread evenly over its cells, each on a 3-bit level
    cells = InvArray(np.array([[0, 9], [28, 13]], dtype=np.uint8), copies=4).cell_digits
    np.testing.assert_array_equal(cells, [[0, 3, 0, 2, 0, 2, 0, 2], [7, 4, 7, 3, 7, 3, 7, 3]])
