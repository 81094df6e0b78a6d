"""What time does to programmed cells: relaxation right after programming and
retention drift, both accelerated by temperature (Arrhenius).

Each formed, healthy cell carries an *age*: seconds since it was last programmed,
scaled to the reference temperature. Advancing the array from one clock reading to the
next adds the drift and the relaxation variance accumulated over that interval, so the
result does not depend on how often the array is looked at (apart from the random
draws themselves).
"""

from __future__ import annotations

import math

import numpy as np

from rramlab.sim.params import CrossbarParams

_DAY_S = 86400.0


def relaxation_sigma_day(g_S: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Spread (S) that relaxation has added one day after programming, by state.

    Shaped after [NeuRRAM]: widest mid-range (``relax_sigma_day_S`` at half of
    ``relax_g_scale_S``), a quarter of that at the top of the range and above, and
    shrinking towards zero at the bottom.
    """
    x = np.clip(g_S / p.relax_g_scale_S, 0.0, 1.0)
    shape = np.maximum(4.0 * x * (1.0 - x), 0.25 * x)
    return p.relax_sigma_day_S * shape


def _relax_clock(age_s: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Fraction of the one-day relaxation variance reached at ``age_s`` seconds."""
    return np.log1p(age_s / p.relax_tau_s) / math.log1p(_DAY_S / p.relax_tau_s)


def age_cells(
    *,
    g_S: np.ndarray,
    age_s: np.ndarray,
    aging: np.ndarray,
    drift_nu: np.ndarray,
    g_floor_S: np.ndarray,
    g_ceiling_S: np.ndarray,
    dt_s: float,
    p: CrossbarParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Advance cells by ``dt_s`` seconds of wall time; returns ``(g_S, age_s)``.

    Only cells where ``aging`` is true change (formed, healthy cells). Ages are in
    reference-temperature seconds.
    """
    if dt_s <= 0:
        return g_S, age_s
    new_age = age_s + dt_s * p.aging_acceleration()
    noise = rng.standard_normal(g_S.shape)
    d_drift = np.log1p(new_age / p.drift_tau_s) - np.log1p(age_s / p.drift_tau_s)
    d_var = np.maximum(_relax_clock(new_age, p) - _relax_clock(age_s, p), 0.0)
    g_new = g_S * np.exp(-drift_nu * d_drift)
    g_new = g_new + relaxation_sigma_day(g_new, p) * np.sqrt(d_var) * noise
    g_new = np.clip(g_new, 0.5 * g_floor_S, g_ceiling_S)
    return np.where(aging, g_new, g_S), np.where(aging, new_age, age_s)
