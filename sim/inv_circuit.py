"""The closed-loop matrix-inversion (INV) circuit on a square block of the crossbar.

Op-amp ``i`` has its inverting input on row line ``i`` and its output on column line
``i``; input currents ``I`` are injected into the rows. With ideal parts the outputs
settle at ``V = -G^-1 I`` (Sun et al. PNAS 2019; Zuo et al. 2025). Modelled here:

- finite DC open-loop gain ``A0``: the inverting input sits at ``offset - V/A0`` rather
  than 0, giving ``V = -(G + D/A0)^-1 I`` for linear cells (D = diag of row sums);
- each op-amp's input offset voltage;
- the cells' nonlinear I-V (solved exactly by a chord iteration);
- the output clamp: an op-amp whose output would pass ``+-clamp`` saturates there, its
  input leaves virtual ground, and the other outputs settle to what the circuit then
  gives. Saturated outputs are flagged, never silently returned as an answer;
- an optional feedback conductance ``g_f`` from each op-amp's output to its inverting
  input (a resistor across the diagonal cell): it adds ``g_f`` to the diagonal, so the
  outputs solve ``(G + g_f I) V = -I`` (the diagonal split of Zuo et al. 2025);
- stability: the op-amps integrate ``dV/dt = -w D^-1 (G V + I)`` (w = 2 pi GBW), which
  settles only if every eigenvalue of ``D^-1 G`` has a positive real part. Otherwise
  :class:`rramlab.errors.InstabilityError` is raised. The settling time constant is
  ``1 / (w * min Re(eig))``.

The circuit is described by its linear conductance matrices seen from the op-amps
(``K_rr``: row terminal currents per volt on the rows, ``K_rc``: per volt on the
columns) and a callable giving the true row currents, so the same code serves ideal
wires and wires with resistance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rramlab.errors import ConvergenceError, InstabilityError

RowCurrents = Callable[[np.ndarray, np.ndarray], np.ndarray]

SETTLING_PRECISION = 1e-3  # settling time is quoted to 0.1% of the final value


@dataclass(frozen=True)
class InvResult:
    """Settled state of the INV circuit; arrays are (N,) or (N, B) like the input."""

    v_out_V: np.ndarray  # op-amp outputs (column voltages): the solution, in volts
    saturated: np.ndarray  # bool: output pinned at the clamp (the answer is invalid)
    v_in_V: np.ndarray  # op-amp inverting-input (row) voltages
    eigenvalues: np.ndarray  # of D^-1 G, which set stability and speed
    time_constant_s: float  # slowest mode, 1 / (w * min Re(eig))
    settling_time_s: float  # to SETTLING_PRECISION of the final value
    iterations: int  # chord iterations used for the nonlinear cells

    @property
    def any_saturated(self) -> bool:
        return bool(np.any(self.saturated))


def with_feedback(
    k_rr: np.ndarray, k_rc: np.ndarray, row_currents: RowCurrents, feedback_S: float
) -> tuple[np.ndarray, np.ndarray, RowCurrents]:
    """The circuit with a resistor of ``feedback_S`` siemens from op-amp ``i``'s output
    (column ``i``) to its inverting input (row ``i``): a linear element in parallel with
    the diagonal cell, so ``G`` gains ``feedback_S`` on its diagonal."""
    if feedback_S == 0:
        return k_rr, k_rc, row_currents
    extra = feedback_S * np.eye(k_rr.shape[0])

    def currents(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
        return row_currents(v_rows, v_cols) + feedback_S * (v_rows - v_cols)

    return k_rr + extra, k_rc - extra, currents


def loop_eigenvalues(k_rr: np.ndarray, k_rc: np.ndarray) -> np.ndarray:
    """Eigenvalues of the loop matrix ``K_rr^-1 (-K_rc)`` (= D^-1 G for ideal wires)."""
    return np.linalg.eigvals(np.linalg.solve(k_rr, -k_rc))


def check_stability(eigenvalues: np.ndarray) -> None:
    """Raise :class:`InstabilityError` unless every eigenvalue has a positive real part."""
    worst = eigenvalues[np.argmin(eigenvalues.real)]
    if not worst.real > 0:
        raise InstabilityError(
            "INV circuit is unstable: D^-1 G has an eigenvalue with real part "
            f"{worst.real:.4g} (needs > 0 for every eigenvalue). The programmed matrix "
            "cannot be inverted by the closed loop; map it so that D^-1 G is positive "
            "stable (e.g. diagonally dominant, or with the bias-column method)."
        )


def solve_inv(
    *,
    k_rr: np.ndarray,
    k_rc: np.ndarray,
    row_currents: RowCurrents,
    i_in_A: np.ndarray,
    offset_V: np.ndarray,
    gain: float,
    clamp_V: float,
    gbw_Hz: float,
    rtol: float = 1e-11,
    max_iterations: int = 50,
) -> InvResult:
    """Settle the INV circuit for input currents ``i_in_A`` (amperes, (N,) or (N, B)).

    ``row_currents(v_rows, v_cols)`` returns the true currents (A) flowing from each
    row terminal into the array for the given (N, B) row and column voltages.
    """
    eig = loop_eigenvalues(k_rr, k_rc)
    check_stability(eig)
    tau = 1.0 / (2 * np.pi * gbw_Hz * float(eig.real.min()))

    squeeze = i_in_A.ndim == 1
    currents = i_in_A[:, None] if squeeze else i_in_A
    n, batch = currents.shape
    v_out = np.empty((n, batch))
    v_in = np.empty((n, batch))
    saturated = np.zeros((n, batch), dtype=bool)
    iterations = 0
    for b in range(batch):
        pinned = np.zeros(n)  # 0 = linear, +1/-1 = saturated at +-clamp
        for _ in range(n + 1):
            x, used = _settle(
                k_rr,
                k_rc,
                row_currents,
                currents[:, b],
                offset_V,
                gain,
                clamp_V,
                pinned,
                rtol,
                max_iterations,
            )
            iterations = max(iterations, used)
            v, vr = x[:n], x[n:]
            drive = gain * (offset_V - vr)  # what each op-amp's output wants to be
            new_pinned = np.where(np.abs(drive) > clamp_V, np.sign(drive), 0.0)
            new_pinned = np.where(
                pinned != 0, np.where(np.sign(drive) == pinned, pinned, 0.0), new_pinned
            )
            if np.array_equal(new_pinned, pinned):
                break
            pinned = new_pinned
        else:
            raise ConvergenceError("INV circuit: the set of saturated op-amps did not settle")
        v_out[:, b], v_in[:, b], saturated[:, b] = v, vr, pinned != 0

    if squeeze:
        v_out, v_in, saturated = v_out[:, 0], v_in[:, 0], saturated[:, 0]
    return InvResult(
        v_out_V=v_out,
        saturated=saturated,
        v_in_V=v_in,
        eigenvalues=eig,
        time_constant_s=tau,
        settling_time_s=tau * np.log(1 / SETTLING_PRECISION),
        iterations=iterations,
    )


def _settle(
    k_rr: np.ndarray,
    k_rc: np.ndarray,
    row_currents: RowCurrents,
    i_in: np.ndarray,
    offset_V: np.ndarray,
    gain: float,
    clamp_V: float,
    pinned: np.ndarray,
    rtol: float,
    max_iterations: int,
) -> tuple[np.ndarray, int]:
    """Steady state for a fixed set of saturated op-amps; returns ``x = [V_out, V_in]``.

    Rows 0..N-1 of the system are the op-amp laws (linear: ``V_in + V_out/A0 = offset``;
    saturated: ``V_out = +-clamp``), rows N..2N-1 the row KCL ``I_row(V) = I_in``. The
    linear circuit gives the first guess; Newton's method on the nonlinear cells, damped
    when a full step would raise the residual, then converges quadratically. (A chord
    iteration with the small-signal matrix diverges once a floating, saturated row
    swings far enough that the sinh slope exceeds twice its small-signal value.)
    """
    n = i_in.size
    eye = np.eye(n)
    linear = pinned == 0
    law = np.hstack([np.where(linear[:, None], eye / gain, eye), np.where(linear[:, None], eye, 0)])
    law_rhs = np.where(linear, offset_V, pinned * clamp_V)
    x = np.linalg.solve(np.vstack([law, np.hstack([k_rc, k_rr])]), np.concatenate([law_rhs, i_in]))
    # Residuals are judged against the currents in the circuit, not only the input: with
    # no input current the op-amp offsets still drive currents, and float rounding of
    # those sets the floor the iteration can reach.
    flowing = np.concatenate([k_rc @ x[:n], k_rr @ x[n:]])
    scale = max(float(np.max(np.abs(i_in))), float(np.max(np.abs(flowing))), 1e-18)
    for iteration in range(1, max_iterations + 1):
        currents, jacobian = _currents_and_jacobian(row_currents, x, n)
        residual = i_in - currents
        if np.max(np.abs(residual)) <= rtol * scale:
            return x, iteration
        step = np.linalg.solve(
            np.vstack([law, jacobian]), np.concatenate([law_rhs - law @ x, residual])
        )
        x = _damped(row_currents, i_in, x, step, float(np.max(np.abs(residual))), n)
    raise ConvergenceError(
        f"INV circuit: the nonlinear cells did not converge in {max_iterations} iterations "
        f"(residual {np.max(np.abs(residual)):.3g} A)"
    )


def _damped(
    row_currents: RowCurrents,
    i_in: np.ndarray,
    x: np.ndarray,
    step: np.ndarray,
    residual: float,
    n: int,
    halvings: int = 40,
) -> np.ndarray:
    """``x + t step`` with the largest ``t`` in 1, 1/2, 1/4, ... that lowers the largest
    current residual: a full Newton step from far away (a saturated op-amp's floating
    row, where the sinh cells are steep) can overshoot into a region where the cells'
    currents explode. The op-amp laws are linear, so every ``t`` keeps them satisfied."""
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(halvings):
            trial = x + step
            currents = row_currents(trial[n:, None], trial[:n, None])[:, 0]
            if np.max(np.abs(i_in - currents)) < residual:  # False for inf or NaN
                return trial
            step = step / 2
    return x + step


def _currents_and_jacobian(
    row_currents: RowCurrents, x: np.ndarray, n: int, step_V: float = 1e-7
) -> tuple[np.ndarray, np.ndarray]:
    """Row currents at ``x = [V_out, V_in]`` and their Jacobian (A/V, columns ordered as
    ``x``) by central differences, all in one batched evaluation of the network."""
    probes = (
        np.concatenate(
            [np.zeros((2 * n, 1)), step_V * np.eye(2 * n), -step_V * np.eye(2 * n)], axis=1
        )
        + x[:, None]
    )
    currents = row_currents(probes[n:], probes[:n])
    jacobian = (currents[:, 1 : 2 * n + 1] - currents[:, 2 * n + 1 :]) / (2 * step_V)
    return currents[:, 0], jacobian
