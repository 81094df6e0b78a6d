"""MIMO zero-forcing detection by HP-INV: QAM with Gray mapping, complex channels as
real 2N blocks, bit error rate per cycle against double-precision zero forcing."""

from __future__ import annotations

import numpy as np
import pytest

from rramlab.protocols.analog import qam
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.mimo import (
    align_phases,
    complex_vector,
    rayleigh_channel,
    real_form,
    real_vector,
    zf_ber_sweep,
)

SNR_DB = (0, 5, 10, 15, 20, 25)


@pytest.mark.parametrize("order", qam.ORDERS)
def test_qam_is_gray_mapped_with_unit_average_energy(order):
    k = qam.bits_per_symbol(order)
    labels = np.arange(order)
    bits = (labels[:, None] >> np.arange(k - 1, -1, -1)) & 1
    points = qam.modulate(bits, order)
    assert len(set(np.round(points, 12))) == order
    assert np.mean(np.abs(points) ** 2) == pytest.approx(1.0)
    np.testing.assert_array_equal(qam.demodulate(points, order), bits)
    # Gray: the nearest neighbours of every point differ from it in exactly one bit.
    step = np.min(np.abs(points[1:] - points[0]))
    for i, p in enumerate(points):
        neighbours = np.flatnonzero(np.abs(np.abs(points - p) - step) < 1e-9)
        assert np.all(np.sum(bits[neighbours] != bits[i], axis=1) == 1)


def test_complex_systems_become_real_2n_blocks():
    rng = np.random.default_rng(0)
    h = rayleigh_channel(16, 4, rng)
    gram = h.conj().T @ h
    x = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    np.testing.assert_allclose(real_form(gram) @ real_vector(x), real_vector(gram @ x))
    np.testing.assert_array_equal(complex_vector(real_vector(x)), x)
    # a Hermitian positive definite Gram matrix gives a symmetric positive definite block
    r = real_form(gram)
    np.testing.assert_allclose(r, r.T)
    assert np.linalg.eigvalsh(r).min() > 0


def test_phase_alignment_shrinks_the_bias_and_changes_no_solution():
    rng = np.random.default_rng(1)
    h = rayleigh_channel(16, 4, rng)
    c = h.conj().T @ h
    p = np.exp(1j * align_phases(c))
    rotated = np.conj(p)[:, None] * c * p[None, :]
    off = ~np.eye(8, dtype=bool)
    assert -real_form(rotated)[off].min() < 0.7 * -real_form(c)[off].min()
    z = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    s = np.linalg.solve(c, z)
    np.testing.assert_allclose(p * np.linalg.solve(rotated, np.conj(p) * z), s)


def test_exact_engine_ber_reaches_zero_forcing_and_falls_with_snr():
    sweep = zf_ber_sweep(ExactEngine(), snr_db=SNR_DB, vectors=64, max_cycles=5)
    last = sweep[sweep.cycle == 5]
    np.testing.assert_array_equal(last.bit_errors, last.reference_errors)
    assert np.all(np.diff(last.ber_reference.to_numpy()) <= 0)
    assert last.ber_reference.iloc[-1] < 1e-3 < last.ber_reference.iloc[0]
    first = sweep[sweep.cycle == 1]
    # one LP-INV step is not zero forcing: its decisions differ
    assert (first.bit_errors - first.reference_errors).abs().sum() > 0


@pytest.mark.slow
def test_board_16x4_256qam_ber_equals_zero_forcing_after_three_cycles(board_engine):
    # 8 x 8 real Gram matrix on one INV block of 4 cells in parallel per entry (levels
    # 0..28: ~5 bits per cycle instead of ~3.5-4 with one 3-bit cell); 18-bit slices
    # and 6-bit corrections are plenty for the ~15 bits the decisions need, and 4-row
    # drives halve the MVMs.
    engine, _ = board_engine(seed=0, rows=16, cols=96, rows_per_mvm=4)
    sweep = zf_ber_sweep(
        engine,
        snr_db=SNR_DB,
        vectors=64,
        max_cycles=3,
        input_bits=6,
        matrix_bits=18,
        inv_copies=4,
    )
    assert set(sweep.bits) == {64 * 4 * 8}  # 256 symbols of 8 bits per SNR
    difference = {
        cycle: (rows.bit_errors - rows.reference_errors).abs().to_numpy()
        for cycle, rows in sweep.groupby("cycle")
    }
    # After three cycles (~15 bits) the bit error rate is zero forcing's at every SNR.
    assert difference[3].max() == 0, sweep
    assert difference[1].sum() > 0  # one LP-INV step alone is not zero forcing
    by_cycle = sweep.groupby("cycle").precision_bits.min().to_numpy()
    assert by_cycle[-1] > 13 and np.all(np.diff(by_cycle) > 4), by_cycle


def test_balance_scaling_rescues_a_badly_scaled_gram_matrix():
    # Channel 3: user powers 25 and 12 on the diagonal leave the unscaled 3-bit mapping
    # ~2.4 bits per cycle; the diagonal scaling lands the entries on the levels. On
    # channels where it does not help the unscaled mapping is kept (never worse).
    options = dict(snr_db=(10,), vectors=16, max_cycles=3, input_bits=6, matrix_bits=18, seed=3)
    plain = zf_ber_sweep(ExactEngine(), scaling="none", **options)
    scaled = zf_ber_sweep(ExactEngine(), **options)  # "balance" is the MIMO default
    assert scaled.precision_bits.iloc[-1] > plain.precision_bits.iloc[-1] + 3
    same = [
        zf_ber_sweep(ExactEngine(), scaling=s, **{**options, "seed": 0})
        for s in ("none", "balance")
    ]
    np.testing.assert_array_equal(same[0].precision_bits, same[1].precision_bits)
