"""Massive-MIMO zero-forcing detection by HP-INV ([PKU25]'s demonstration).

``n_tx`` users send QAM symbols ``s`` to ``n_rx`` antennas through a Rayleigh channel
``H`` (n_rx x n_tx, entries CN(0, 1)): ``y = H s + n``. Zero forcing estimates
``s = (H^H H)^-1 H^H y``. The Gram matrix and the matched filter ``H^H y`` are formed
digitally once per channel and per vector; the solve with the Gram matrix, the costly
part, runs on the analog engine by HP-INV, with the complex system as its real 2N form
``[Re -Im; Im Re]`` (symmetric positive definite here, so the INV loop is stable).

The bias column that makes the real form nonnegative costs LP-INV resolution (the
3-bit levels then span twice the largest off-diagonal entry), so by default the users'
phases are first aligned (``align=True``): with ``P = diag(e^{i theta})`` the Gram
matrix becomes ``P^H C P``, whose off-diagonal entries are rotated towards the positive
real axis, which shrinks the bias the real form needs (on 16 x 4 Rayleigh channels from
~6 to ~1.5, worth 1-3 bits after three cycles); the solution is rotated back, ``s = P s'``,
exactly. It changes nothing else: zero forcing is invariant under the rotation.

SNR is the received signal-to-noise ratio per antenna: with unit-energy symbols and
unit-variance channel taps the signal power per antenna is ``n_tx``, so the complex
noise variance is ``n_tx / 10^(SNR/10)``. The bit error rate after each refinement
cycle is compared with double-precision zero forcing on the same vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rramlab.protocols.analog import qam
from rramlab.protocols.analog.engine import AnalogEngine
from rramlab.protocols.analog.hp_inv import HpInvSolver


def real_form(h: np.ndarray) -> np.ndarray:
    """The real 2N x 2N form ``[Re -Im; Im Re]`` of a complex matrix."""
    h = np.asarray(h)
    return np.block([[h.real, -h.imag], [h.imag, h.real]])


def real_vector(v: np.ndarray) -> np.ndarray:
    """``[Re; Im]`` of complex vectors ((n,) or (n, k))."""
    v = np.asarray(v)
    return np.concatenate([v.real, v.imag], axis=0)


def complex_vector(v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`real_vector`."""
    n = v.shape[0] // 2
    return v[:n] + 1j * v[n:]


def rayleigh_channel(n_rx: int, n_tx: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rx`` x ``n_tx`` channel with independent CN(0, 1) entries."""
    return (rng.standard_normal((n_rx, n_tx)) + 1j * rng.standard_normal((n_rx, n_tx))) / np.sqrt(2)


def align_phases(c: np.ndarray, *, grid: int = 72, sweeps: int = 4) -> np.ndarray:
    """Phases ``theta`` (first user 0) that minimise the most negative off-diagonal
    entry of the real form of ``P^H C P``: cyclic coordinate search on a grid of
    ``grid`` angles, started from each user's row turned real and positive in turn (the
    search has local minima), the best kept."""
    n = c.shape[0]
    angles = 2 * np.pi * np.arange(grid) / grid
    off = ~np.eye(2 * n, dtype=bool)

    def worst(th: np.ndarray) -> float:
        p = np.exp(1j * th)
        return float(-real_form(np.conj(p)[:, None] * c * p[None, :])[off].min())

    best, best_value = np.zeros(n), worst(np.zeros(n))
    for anchor in range(n):
        theta = np.angle(c[anchor]) - np.angle(c[anchor, 0])  # row ``anchor`` real, >= 0
        for _ in range(sweeps):
            for k in range(1, n):
                trials = [worst(np.where(np.arange(n) == k, a, theta)) for a in angles]
                theta[k] = angles[int(np.argmin(trials))]
        if (value := worst(theta)) < best_value:
            best, best_value = theta.copy(), value
    return best


def zf_ber_sweep(
    engine: AnalogEngine,
    *,
    antennas: int = 16,
    users: int = 4,
    order: int = 256,
    snr_db: Sequence[float] = (0, 5, 10, 15, 20, 25),
    vectors: int = 64,
    max_cycles: int = 3,
    seed: int = 0,
    align: bool = True,
    **solver_options: object,
) -> pd.DataFrame:
    """Detect ``vectors`` symbol vectors per SNR on one channel realisation; one row per
    (SNR, cycle): ``snr_db, cycle, ber, ber_reference, bit_errors, reference_errors,
    bits, precision_bits`` (the worst vector's precision against double-precision zero
    forcing). ``align``: rotate the users' phases first (see the module docs).
    ``solver_options`` go to :class:`HpInvSolver` (``tile``, ...); ``scaling`` defaults
    to "balance" here (a diagonal scaling of the Gram matrix before its 3-bit mapping,
    kept only when it inverts better; see :func:`~.inv_mapping.balance_scaling`) and
    ``inv_differential`` to False (bias-column INV blocks, measured better here).
    ``inv_copies=4`` (cells in parallel per INV entry, if the engine has them) makes the
    BER equal double-precision zero forcing after three cycles (docs/analog.md)."""
    if antennas < users:
        raise ValueError(f"zero forcing needs antennas >= users, got {antennas} < {users}")
    k = qam.bits_per_symbol(order)
    rng = np.random.default_rng(seed)
    h = rayleigh_channel(antennas, users, rng)
    c = h.conj().T @ h
    phase = np.exp(1j * align_phases(c)) if align else np.ones(users)
    gram = real_form(np.conj(phase)[:, None] * c * phase[None, :])
    solver_options.setdefault("scaling", "balance")
    # Bias-column blocks: with 4 cells per entry they matched zero forcing after three
    # cycles on every board seed tried, pairs of 2 + 2 cells did not (docs/analog.md).
    solver_options.setdefault("inv_differential", False)
    solver = HpInvSolver(engine, gram, **solver_options)
    rows = []
    for snr in snr_db:
        bits = rng.integers(0, 2, size=(users, vectors, k))
        s = qam.modulate(bits, order)  # (users, vectors)
        variance = users / 10 ** (snr / 10)
        noise = rng.standard_normal((antennas, vectors)) + 1j * rng.standard_normal(
            (antennas, vectors)
        )
        y = h @ s + np.sqrt(variance / 2) * noise
        z = real_vector(np.conj(phase)[:, None] * (h.conj().T @ y))  # P^H H^H y
        zf = np.linalg.solve(gram, z)  # double-precision ZF (rotated frame)
        reference_errors = _bit_errors(zf, phase, bits, order)
        result = solver.solve(
            z, max_cycles=max_cycles, tol_bits=None, reference=zf, final_residual=False
        )
        for cycle, (x, precision) in enumerate(
            zip(result.history, result.cycles["precision_bits"], strict=True), start=1
        ):
            errors = _bit_errors(x, phase, bits, order)
            rows.append(
                {
                    "snr_db": float(snr),
                    "cycle": cycle,
                    "ber": errors / bits.size,
                    "ber_reference": reference_errors / bits.size,
                    "bit_errors": errors,
                    "reference_errors": reference_errors,
                    "bits": bits.size,
                    "precision_bits": float(precision),
                }
            )
    return pd.DataFrame(rows)


def _bit_errors(x: np.ndarray, phase: np.ndarray, bits: np.ndarray, order: int) -> int:
    """Bit errors of the estimates ``x`` (real form, rotated frame: ``s = P s'``)."""
    symbols = phase[:, None] * complex_vector(x)
    return int(np.sum(qam.demodulate(symbols, order) != bits))
