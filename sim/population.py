"""Device-to-device variation: per-cell parameters sampled once when an array is made."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rramlab.sim.params import CrossbarParams

HEALTHY, STUCK_LOW, STUCK_HIGH, UNFORMABLE = 0, 1, 2, 3
DEFECT_NAMES = {
    HEALTHY: "healthy",
    STUCK_LOW: "stuck low",
    STUCK_HIGH: "stuck high",
    UNFORMABLE: "unformable",
}


@dataclass
class CellPopulation:
    """Per-cell parameters, each an (R, C) array. Units as in :class:`CrossbarParams`."""

    v_form_V: np.ndarray  # forming threshold (DC); inf for unformable cells
    v_set_V: np.ndarray  # SET threshold (DC)
    v_reset_V: np.ndarray  # RESET threshold magnitude (DC)
    rate: np.ndarray  # switching-rate multiplier (log-normal around 1)
    g_floor_S: np.ndarray  # deepest reachable conductance when new
    g_ceiling_S: np.ndarray  # filament limit when new
    g_pristine_S: np.ndarray  # leakage of the unformed cell
    drift_nu: np.ndarray  # retention drift rate (ln g per e-fold of time)
    endurance_cycles: np.ndarray  # full SET/RESET cycles until failure
    defect: np.ndarray  # HEALTHY, STUCK_LOW, STUCK_HIGH or UNFORMABLE (int8)

    @classmethod
    def sample(
        cls, params: CrossbarParams, shape: tuple[int, int], rng: np.random.Generator
    ) -> CellPopulation:
        """Draw every cell's parameters from the spreads in ``params``."""
        p = params

        def normal(mean: float, sigma: float) -> np.ndarray:
            return mean + sigma * rng.standard_normal(shape)

        def lognormal(median: float, sigma_ln: float) -> np.ndarray:
            return median * np.exp(sigma_ln * rng.standard_normal(shape))

        defect = _sample_defects(p, shape, rng)
        v_form = np.maximum(normal(p.v_form_V, p.v_form_sigma_V), 0.1)
        v_form[defect == UNFORMABLE] = np.inf
        g_floor = lognormal(p.g_floor_S, p.g_floor_sigma_log)
        g_ceiling = np.maximum(lognormal(p.g_ceiling_S, p.g_ceiling_sigma_log), 2 * g_floor)
        return cls(
            v_form_V=v_form,
            v_set_V=np.maximum(normal(p.v_set_V, p.v_set_sigma_V), 0.05),
            v_reset_V=np.maximum(normal(p.v_reset_V, p.v_reset_sigma_V), 0.05),
            rate=lognormal(1.0, p.kinetic_sigma_log),
            g_floor_S=g_floor,
            g_ceiling_S=g_ceiling,
            g_pristine_S=np.minimum(lognormal(p.g_pristine_S, p.g_pristine_sigma_log), g_floor),
            drift_nu=normal(p.drift_nu, p.drift_nu_sigma),
            endurance_cycles=p.endurance_cycles
            * 10.0 ** (p.endurance_sigma_log10 * rng.standard_normal(shape)),
            defect=defect,
        )

    def copy(self) -> CellPopulation:
        return CellPopulation(**{f.name: getattr(self, f.name).copy() for f in _FIELDS})

    def flat(self) -> CellPopulation:
        """Every cell's parameters as flat (row-major) views."""
        return CellPopulation(**{f.name: getattr(self, f.name).ravel() for f in _FIELDS})

    def take(self, index: np.ndarray) -> CellPopulation:
        """The parameters of the cells at row-major flat indices ``index``."""
        return CellPopulation(**{f.name: getattr(self, f.name).ravel()[index] for f in _FIELDS})


_FIELDS = dataclasses.fields(CellPopulation)


def _sample_defects(
    p: CrossbarParams, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    u = rng.random(shape)
    defect = np.full(shape, HEALTHY, dtype=np.int8)
    edges = np.cumsum([p.frac_stuck_low, p.frac_stuck_high, p.frac_unformable])
    defect[u < edges[2]] = UNFORMABLE
    defect[u < edges[1]] = STUCK_HIGH
    defect[u < edges[0]] = STUCK_LOW
    return defect
