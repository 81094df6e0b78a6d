"""HP-MVM: bit-sliced matrix x bit-sliced input, every partial product analog, combined
by shift-and-add; exact on the exact engine, and on the board whenever every partial
product rounds to the right integer, which the checksums and margins guard."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.protocols.analog.errors import IntegerRecoveryError
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.fixed_point import slice_vector
from rramlab.protocols.analog.hp_mvm import HighPrecisionMatrix


def exact_product(hp: HighPrecisionMatrix, x) -> np.ndarray:
    """A_q x_q in exact integer arithmetic (Python ints), then to float."""
    a_int = hp.sliced.integer().astype(object)
    q = x.integer().astype(object)
    return (a_int.dot(q)).astype(float) * hp.sliced.unit * x.scale[None, :]


@pytest.mark.parametrize("signed", ["bias", "differential"])
def test_hp_mvm_is_exact_to_the_fixed_point_precision_on_the_exact_engine(signed):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 2, (6, 5))
    hp = HighPrecisionMatrix(ExactEngine(), a, bits=24, signed=signed)
    x = slice_vector(rng.standard_normal((5, 4)), 20)
    y, report = hp.multiply(x)
    np.testing.assert_array_equal(y, exact_product(hp, x))
    assert report.min_margin == 0.5 and report.retried == 0
    # and that is A x to the precision of the 24-bit matrix and the 20-bit input
    assert np.max(np.abs(y - a @ x.value)) < 1e-6 * np.max(np.abs(a @ x.value))
    np.testing.assert_array_equal(hp(np.zeros(5)), np.zeros(6))


def test_hp_mvm_on_the_board_is_exact_while_the_rounding_margins_hold(board_4x4):
    hp = board_4x4["solver"].hp
    rng = np.random.default_rng(1)
    margins = []
    for _ in range(4):
        x = slice_vector(rng.standard_normal(4), 10)
        y, report = hp.multiply(x)
        margins.append(report.min_margin)
        np.testing.assert_array_equal(y, exact_product(hp, x))
    # Every accepted partial product sat clearly on an integer: the worst error of an
    # analog product (drift + read noise of two cells) stayed below 0.45 of a level.
    assert min(margins) >= 0.05


class Faulty:
    """An exact engine whose MVMs add ``error`` to product (0, 0) of the first
    ``times`` drives (a transient upset), or of every drive (``times=None``, a cell
    off its level)."""

    def __init__(self, error: float, times: int | None) -> None:
        self.inner = ExactEngine()
        self.error, self.times, self.refreshed = error, times, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def mvm_digits(self, array, x, *, repeats=None):
        out = self.inner.mvm_digits(array, x, repeats=repeats)
        if self.times is None or self.times > 0:
            out[0, 0] += self.error
            if self.times is not None:
                self.times -= 1
        return out

    def refresh(self, array):
        self.refreshed += 1


def test_a_wrong_partial_product_fails_its_checksum_and_is_measured_again():
    engine = Faulty(error=0.7, times=1)  # rounds to the wrong integer once
    hp = HighPrecisionMatrix(engine, np.random.default_rng(2).uniform(0, 1, (3, 3)), bits=9)
    x = slice_vector(np.array([[1.0], [0.5], [-0.25]]), 4)
    y, report = hp.multiply(x)
    np.testing.assert_array_equal(y, exact_product(hp, x))
    assert report.retried >= 1 and engine.refreshed == 0


def test_a_persistent_error_calls_a_refresh_then_raises_rather_than_answer_wrong():
    engine = Faulty(error=1.0, times=None)
    hp = HighPrecisionMatrix(engine, np.random.default_rng(3).uniform(0, 1, (3, 3)), bits=9)
    with pytest.raises(IntegerRecoveryError, match="checksums"):
        hp.multiply(slice_vector(np.ones(3), 3))
    assert engine.refreshed == 1
