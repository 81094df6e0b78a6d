"""The changing state of a simulated crossbar, and its snapshots."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rramlab.sim.params import CrossbarParams
from rramlab.sim.population import STUCK_HIGH, STUCK_LOW, CellPopulation

NOT_STUCK = 0


@dataclass
class CellState:
    """Per-cell dynamic state, each an (R, C) array."""

    g_S: np.ndarray  # conductance as a noise-free read at v_read_ref_V would see it
    formed: np.ndarray  # bool: has a filament
    form_progress: np.ndarray  # accumulated forming progress (forms at 1)
    cycles: np.ndarray  # full SET/RESET cycles of wear
    age_s: np.ndarray  # reference-temperature seconds since last programmed
    stuck: np.ndarray  # NOT_STUCK, STUCK_LOW or STUCK_HIGH (int8)
    v_max_seen_V: np.ndarray  # largest |voltage| the cell ever saw
    i_max_seen_A: np.ndarray  # largest |current| the cell ever carried
    dose_pos_s: np.ndarray  # small positive biases (reads, MVM) not yet applied, as
    dose_neg_s: np.ndarray  # seconds at 1 V: sum of width * exp((|v| - 1 V) / v_kinetic)

    @classmethod
    def fresh(cls, population: CellPopulation, params: CrossbarParams) -> CellState:
        """A new array: every healthy cell pristine, stuck cells at their stuck values."""
        shape = population.defect.shape
        stuck = np.where(
            population.defect == STUCK_LOW,
            STUCK_LOW,
            np.where(population.defect == STUCK_HIGH, STUCK_HIGH, NOT_STUCK),
        ).astype(np.int8)
        g = population.g_pristine_S.copy()
        g[stuck == STUCK_LOW] = params.g_stuck_low_S
        g[stuck == STUCK_HIGH] = params.g_stuck_high_S
        return cls(
            g_S=g,
            formed=stuck != NOT_STUCK,
            form_progress=np.zeros(shape),
            cycles=np.zeros(shape),
            age_s=np.zeros(shape),
            stuck=stuck,
            v_max_seen_V=np.zeros(shape),
            i_max_seen_A=np.zeros(shape),
            dose_pos_s=np.zeros(shape),
            dose_neg_s=np.zeros(shape),
        )

    def copy(self) -> CellState:
        return CellState(**{f.name: getattr(self, f.name).copy() for f in _FIELDS})


_FIELDS = dataclasses.fields(CellState)


@dataclass(frozen=True)
class CrossbarSnapshot:
    """Everything needed to put a crossbar back exactly as it was: the cells, the
    device-to-device parameters, the op-amp offsets, the last time the array was
    brought up to date, the temperature and the random generator's state."""

    cells: CellState
    population: CellPopulation
    opamp_offset_V: np.ndarray
    t_last_s: float
    temperature_K: float
    rng_state: dict[str, Any]

    def save(self, path: str | Path) -> None:
        """Write the snapshot to a ``.npz`` file."""
        arrays = {f"cells.{f.name}": getattr(self.cells, f.name) for f in _FIELDS}
        arrays.update(
            {
                f"population.{f.name}": getattr(self.population, f.name)
                for f in dataclasses.fields(CellPopulation)
            }
        )
        np.savez_compressed(
            Path(path),
            opamp_offset_V=self.opamp_offset_V,
            t_last_s=np.array(self.t_last_s),
            temperature_K=np.array(self.temperature_K),
            rng_state=np.array(repr(self.rng_state)),
            **arrays,
        )

    @classmethod
    def load(cls, path: str | Path) -> CrossbarSnapshot:
        """Read a snapshot written by :meth:`save`."""
        import ast

        with np.load(Path(path), allow_pickle=False) as data:
            cells = CellState(**{f.name: data[f"cells.{f.name}"] for f in _FIELDS})
            population = CellPopulation(
                **{f.name: data[f"population.{f.name}"] for f in dataclasses.fields(CellPopulation)}
            )
            return cls(
                cells=cells,
                population=population,
                opamp_offset_V=data["opamp_offset_V"],
                t_last_s=float(data["t_last_s"]),
                temperature_K=float(data["temperature_K"]),
                rng_state=ast.literal_eval(str(data["rng_state"])),
            )

    def copy(self) -> CrossbarSnapshot:
        return CrossbarSnapshot(
            cells=self.cells.copy(),
            population=self.population.copy(),
            opamp_offset_V=self.opamp_offset_V.copy(),
            t_last_s=self.t_last_s,
            temperature_K=self.temperature_K,
            rng_state=copy.deepcopy(self.rng_state),
        )
