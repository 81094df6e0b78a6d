"""Compact physics of one RRAM cell, vectorised over any number of cells.

Pure functions of numpy arrays and :class:`~rramlab.sim.params.CrossbarParams`; no
array-level state lives here. The model (see ``docs/crossbar-model.md``):

- I-V: ``I = g * shape(V)`` with a sinh shape normalised so that ``I(v_read_ref) = g * v_read_ref``.
- Kinetics: a bias ``V`` applied for ``width`` makes progress
  ``p = k * (width / t_ref) * exp((V - V_th) / v_kinetic)`` towards the end state of the
  process (k is the cell's rate multiplier). A fraction ``1 - exp(-p)`` of the way is
  covered. Far above threshold ``p >> 1`` and the switch is abrupt; just below it,
  pulses move the cell by small amounts that shrink as it nears the end state (soft
  bounds).
- Forming accumulates progress over pulses (dielectric breakdown is cumulative) and
  fires once it reaches 1; the filament then grows to the compliance-limited state.
- SET moves g linearly towards ``min(I_cc / v_set_compliance, ceiling)``.
- RESET moves ln g towards ``ceiling * exp(-overdrive / v_reset_depth)``: deeper with
  amplitude and with width (a longer pulse lowers the threshold, raising overdrive). Its
  speed grows with how far the cell sits above that depth, so a train of identical
  pulses gives ever smaller decrements (gradual RESET, unlike the abrupt SET).
- A current limit (SMU compliance or the 1T1R transistor) caps the current; the cell
  then sees only the voltage that drives that current. It sets where a SET ends; the
  kinetics themselves run at the applied voltage (a cell under way is resistive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.sim.params import CrossbarParams

_TINY = 1e-300  # keeps logs finite for conductances that underflow


def iv_shape(v_V: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """I/g for a cell biased at ``v_V`` volts (volts; odd in V, equals V at the read ref)."""
    norm = p.v_read_ref_V / np.sinh(p.v_read_ref_V / p.iv_v0_V)
    return norm * np.sinh(np.asarray(v_V, dtype=float) / p.iv_v0_V)


def iv_slope(v_V: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """d(I/g)/dV at ``v_V`` (dimensionless): the small-signal conductance is ``g * iv_slope``."""
    norm = p.v_read_ref_V / np.sinh(p.v_read_ref_V / p.iv_v0_V)
    return norm / p.iv_v0_V * np.cosh(np.asarray(v_V, dtype=float) / p.iv_v0_V)


def cell_current(g_S: np.ndarray, v_V: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Current in amperes through cells of conductance ``g_S`` biased at ``v_V``."""
    return g_S * iv_shape(v_V, p)


def voltage_for_current(i_A: np.ndarray, g_S: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """The cell voltage (V) at which cells of conductance ``g_S`` carry ``i_A`` amperes."""
    norm = p.v_read_ref_V / np.sinh(p.v_read_ref_V / p.iv_v0_V)
    return p.iv_v0_V * np.arcsinh(i_A / (np.maximum(g_S, _TINY) * norm))


def transistor_current_limit(v_gate_V: float | np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Saturation current (A) of the 1T1R access transistor at gate voltage ``v_gate_V``.

    Square law ``k/2 (Vg - Vth)^2``; zero below threshold (the cell is isolated).
    """
    overdrive = np.maximum(np.asarray(v_gate_V, dtype=float) - p.transistor_vth_V, 0.0)
    return 0.5 * p.transistor_k_A_per_V2 * overdrive**2


def read_noise_sigma(g_S: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Standard deviation (S) of a cell's conductance over one read. Relative noise
    ``read_noise_rel * (1 + sqrt(knee / g))``, capped at ``read_noise_max_rel``: low-
    conductance cells are relatively noisier."""
    g = np.abs(g_S)
    rel = p.read_noise_rel * (1.0 + np.sqrt(p.read_noise_knee_S / np.maximum(g, _TINY)))
    return g * np.minimum(rel, p.read_noise_max_rel)


def c2c_sigma(g_S: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Log-normal cycle-to-cycle spread (ln units) of a full switching event landing at
    ``g_S``: ``c2c_sigma_hrs`` at and below ``c2c_g_hrs_S``, ``c2c_sigma_lrs`` at and above
    ``c2c_g_lrs_S``, interpolated in ln g between."""
    lo, hi = np.log(p.c2c_g_hrs_S), np.log(p.c2c_g_lrs_S)
    s = np.clip((np.log(np.maximum(g_S, _TINY)) - lo) / (hi - lo), 0.0, 1.0)
    return p.c2c_sigma_hrs + (p.c2c_sigma_lrs - p.c2c_sigma_hrs) * s


def progress(
    v_over_threshold_V: np.ndarray,
    width_s: float | np.ndarray,
    rate: np.ndarray,
    p: CrossbarParams,
) -> np.ndarray:
    """Kinetic progress (dimensionless) of a bias ``v_over_threshold_V`` above a DC
    threshold held for ``width_s`` seconds, for cells with rate multipliers ``rate``."""
    # Clip the exponent: beyond e^50 the switch is complete anyway.
    exponent = np.minimum(v_over_threshold_V / p.v_kinetic_V, 50.0)
    return rate * (width_s / p.t_ref_s) * np.exp(exponent)


@dataclass
class CellBias:
    """What one pulse does to a set of cells (all arrays of the same shape)."""

    v_cell_V: np.ndarray  # largest voltage across each cell during the pulse (the limit
    # takes the rest of the applied voltage when the cell would carry more)
    i_cell_A: np.ndarray  # current through each cell at the end of the pulse
    g_S: np.ndarray  # conductance after the pulse
    formed: np.ndarray  # formed after the pulse
    form_progress: np.ndarray  # accumulated forming progress
    switched_ln: np.ndarray  # |change of ln g| caused by switching (not by noise)
    broke_down: np.ndarray  # formed without an adequate current limit: now a short


def limited_voltage(
    g_S: np.ndarray, v_V: np.ndarray | float, i_limit_A: np.ndarray | float, p: CrossbarParams
) -> np.ndarray:
    """|Voltage| (V) a cell really sees when its current is capped at ``i_limit_A``
    (inf = no cap): ``|v_V|``, or less where the cell would exceed the cap."""
    v_abs = np.abs(np.asarray(v_V, dtype=float))
    seen = np.broadcast_to(v_abs, g_S.shape).copy()
    capped = np.flatnonzero(np.abs(cell_current(g_S, v_abs, p)) > i_limit_A)
    if capped.size:
        seen[capped] = voltage_for_current(_at(i_limit_A, capped), g_S[capped], p)
    return seen


def _at(x: np.ndarray | float, index: np.ndarray) -> np.ndarray | float:
    """``x[index]`` for a per-cell array, ``x`` itself for a scalar."""
    return x[index] if np.ndim(x) else x


def apply_bias(
    *,
    g_S: np.ndarray,
    formed: np.ndarray,
    form_progress: np.ndarray,
    movable: np.ndarray,
    formable: np.ndarray,
    v_form_V: np.ndarray,
    v_set_V: np.ndarray,
    v_reset_V: np.ndarray,
    rate: np.ndarray,
    g_floor_S: np.ndarray,
    g_ceiling_S: np.ndarray,
    v_V: np.ndarray | float,
    width_s: np.ndarray | float,
    i_limit_A: np.ndarray | float,
    p: CrossbarParams,
    rng: np.random.Generator,
) -> CellBias:
    """Apply bias ``v_V`` (volts; scalar or per cell) for ``width_s`` seconds (scalar or
    per cell) under a current limit ``i_limit_A`` (amperes, scalar or per cell; ``inf``
    for none). All other arguments are per-cell (1-D) arrays. Returns the new state.

    ``movable`` cells switch (healthy cells); ``formable`` cells can form; ``g_floor_S``
    and ``g_ceiling_S`` are each cell's present (wear-reduced) window.
    """
    v = np.asarray(v_V, dtype=float)
    width = np.asarray(width_s, dtype=float)
    limit = np.asarray(i_limit_A, dtype=float)
    n = g_S.size
    g_new = g_S.copy()
    formed_new = formed.copy()
    progress_new = form_progress.copy()
    frac = np.zeros(n)  # fraction of the way each cell's switching event went
    broke_down = np.zeros(n, dtype=bool)
    ln_g = np.log(np.maximum(g_S, _TINY))
    ln_new = ln_g.copy()
    # The switching kinetics see the applied voltage: while a SET is under way the cell
    # is still resistive and carries less than the limit (the end state g_cc is what the
    # limit sets), and a RESET cell draws ever less current as it resets.
    pos = np.broadcast_to(v > 0, (n,))
    neg = np.broadcast_to(v < 0, (n,))

    # Forming: pristine, formable cells under positive bias accumulate progress.
    pristine = np.flatnonzero(movable & formable & ~formed & pos)
    if pristine.size:
        progress_new[pristine] += progress(
            _at(v, pristine) - v_form_V[pristine], _at(width, pristine), rate[pristine], p
        )
    fires = pristine[progress_new[pristine] >= 1.0]

    # SET of formed cells (and the filament of newly formed ones) towards I_cc / V_c.
    g_cc = np.minimum(limit / p.v_set_compliance_V, g_ceiling_S)
    setting = np.flatnonzero(movable & formed & pos & (g_S < g_cc))
    if setting.size:
        p_set = progress(_at(v, setting) - v_set_V[setting], _at(width, setting), rate[setting], p)
        frac[setting] = -np.expm1(-p_set)
        g_set = g_S[setting] + (g_cc[setting] - g_S[setting]) * frac[setting]
        g_new[setting] = g_set
        ln_new[setting] = np.log(g_set)
    if fires.size:
        g_new[fires] = g_cc[fires]
        ln_new[fires] = np.log(g_cc[fires])
        formed_new[fires] = True
        frac[fires] = 1.0
        broke_down[fires] = _at(limit, fires) > p.i_hard_breakdown_A

    # RESET of formed cells: ln g towards an amplitude- and width-dependent depth g_eq.
    # The drive is how far the cell sits above g_eq, expressed in volts, so identical
    # pulses take ever smaller steps as the cell nears g_eq (gradual, saturating RESET).
    resetting = np.flatnonzero(movable & formed & neg)
    if resetting.size:
        overdrive = (
            -_at(v, resetting)
            - v_reset_V[resetting]
            + p.v_kinetic_V * np.log(_at(width, resetting) / p.t_ref_s)
        )
        ln_eq = np.maximum(
            np.log(g_ceiling_S[resetting]) - np.maximum(overdrive, 0.0) / p.v_reset_depth_V,
            np.log(g_floor_S[resetting]),
        )
        above = ln_g[resetting] > ln_eq
        resetting, ln_eq = resetting[above], ln_eq[above]
        excess_V = p.v_reset_depth_V * (ln_g[resetting] - ln_eq)
        p_reset = p.reset_rate * progress(excess_V, p.t_ref_s, rate[resetting], p)
        frac[resetting] = -np.expm1(-p_reset)
        ln_new[resetting] = ln_g[resetting] + (ln_eq - ln_g[resetting]) * frac[resetting]
        g_new[resetting] = np.exp(ln_new[resetting])

    switched_ln = np.abs(ln_new - ln_g)

    # Cycle-to-cycle noise: a full switching event draws the full log-normal spread, a
    # partial one a share that grows with the fraction of the way covered.
    noise = rng.standard_normal(n)
    events = np.flatnonzero(frac > 0)
    if events.size:
        spread = c2c_sigma(g_new[events], p) * np.sqrt(frac[events])
        g_new[events] = np.clip(
            g_new[events] * np.exp(spread * noise[events]),
            0.5 * g_floor_S[events],
            g_ceiling_S[events],
        )

    i_end = np.clip(cell_current(g_new, v, p), -limit, limit)
    # Under the limit the cell sees less than the applied voltage: most at the start of
    # a SET (high resistance), most at the end of a RESET.
    v_seen = np.maximum(limited_voltage(g_S, v, limit, p), limited_voltage(g_new, v, limit, p))
    return CellBias(
        v_cell_V=np.sign(v) * v_seen,
        i_cell_A=np.broadcast_to(i_end, (n,)),
        g_S=g_new,
        formed=formed_new,
        form_progress=progress_new,
        switched_ln=switched_ln,
        broke_down=broke_down,
    )
