"""Time and whole-array state of the crossbar: relaxation and retention drift
brought up to the clock's present (s), the temperature (K), snapshots and restoring
them. Mixed into :class:`rramlab.sim.crossbar.Crossbar`."""

from __future__ import annotations

import numpy as np

from rramlab.sim import wear
from rramlab.sim.aging import age_cells
from rramlab.sim.state import NOT_STUCK, CrossbarSnapshot


class StateMixin:
    """Aging and snapshots (uses ``cells``, ``population``, ``params``, ``clock``,
    ``rng`` and the stress mixin's pending row stress)."""

    def set_temperature(self, temperature_K: float) -> None:
        """Change the array's temperature (K) from now on; aging so far used the old one."""
        self._sync()
        self.params = self.params.replace(temperature_K=float(temperature_K))

    def snapshot(self) -> CrossbarSnapshot:
        """A copy of the whole state, restorable with :meth:`restore`."""
        self._prepare()
        return CrossbarSnapshot(
            cells=self.cells.copy(),
            population=self.population.copy(),
            opamp_offset_V=self.opamp_offset_V.copy(),
            t_last_s=self._t_last,
            temperature_K=self.params.temperature_K,
            rng_state=self.rng.bit_generator.state,
        ).copy()

    def restore(self, snapshot: CrossbarSnapshot) -> None:
        """Put the array back as it was when ``snapshot`` was taken (the clock is not
        touched: time that has passed since then ages the restored cells)."""
        if snapshot.cells.g_S.shape != self.shape:
            raise ValueError(
                f"snapshot is of a {snapshot.cells.g_S.shape} array, this one is {self.shape}"
            )
        snap = snapshot.copy()
        self.cells = snap.cells
        self.population = snap.population
        self.opamp_offset_V = snap.opamp_offset_V
        self._t_last = snap.t_last_s
        self.params = self.params.replace(temperature_K=snap.temperature_K)
        self.rng.bit_generator.state = snap.rng_state
        self._noise_var = None
        self._population_changed()

    def _prepare(self) -> None:
        """Bring every cell fully up to date before an operation that needs them."""
        self._sync()
        self._materialize_rows()

    def _sync(self) -> None:
        """Bring relaxation and drift up to the clock's present."""
        now = self.clock.now()
        dt = now - self._t_last
        if dt <= 0:
            return
        self._materialize_rows()
        self._t_last = now
        c, pop = self.cells, self.population
        aging = c.formed & (c.stuck == NOT_STUCK)
        if not aging.any():
            return
        floor, ceiling = self._window()
        c.g_S, c.age_s = age_cells(
            g_S=c.g_S,
            age_s=c.age_s,
            aging=aging,
            drift_nu=pop.drift_nu,
            g_floor_S=floor,
            g_ceiling_S=ceiling,
            dt_s=dt,
            p=self.params,
            rng=self.rng,
        )
        self._noise_var = None

    def _window(self) -> tuple[np.ndarray, np.ndarray]:
        """Every cell's present (wear-reduced) floor and ceiling, in siemens."""
        pop = self.population
        return wear.worn_window(
            pop.g_floor_S, pop.g_ceiling_S, self.cells.cycles, pop.endurance_cycles, self.params
        )
