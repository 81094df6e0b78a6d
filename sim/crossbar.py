"""The simulated RRAM crossbar: an R x C array of cells with their physics, wires and
peripheral circuits, driven through array operations.

Rows index word lines, columns bit lines; ``(row, col)`` everywhere. A cell's voltage is
its row line minus its column line; positive forms and SETs, negative RESETs.

Operations (all SI units):

- :meth:`Crossbar.pulse` applies a voltage for a width (a DC sweep step is a pulse as
  long as the step) to selected cells under a current limit;
- :meth:`Crossbar.read` / :meth:`Crossbar.read_conductance` read selected cells row by
  row, with read noise;
- :meth:`Crossbar.mvm` applies row voltages and returns column currents at virtual
  ground;
- :meth:`Crossbar.inv` runs the closed-loop matrix-inversion circuit on a square block.

Time comes from a :class:`rramlab.clock.Clock` that the model reads but never advances:
whoever drives the array (a simulated instrument, a test) lets time pass, and the array
brings relaxation and retention drift up to date at its next operation. All randomness
comes from one ``numpy.random.Generator``: same seed and same calls give the same
numbers.

Each kind of operation lives in its own module, mixed into :class:`Crossbar`:
programming (:mod:`~rramlab.sim.crossbar_programming`), reads and MVM
(:mod:`~rramlab.sim.crossbar_read`), INV (:mod:`~rramlab.sim.crossbar_inv`), the
line network (:mod:`~rramlab.sim.crossbar_wires`), the safety record and disturb dose
(:mod:`~rramlab.sim.crossbar_stress`), aging and snapshots
(:mod:`~rramlab.sim.crossbar_state`).
"""

from __future__ import annotations

import numpy as np

from rramlab.clock import Clock, VirtualClock
from rramlab.sim.biasing import ACCESS_TYPES
from rramlab.sim.crossbar_checks import MAX_ABS_VOLTAGE_V
from rramlab.sim.crossbar_inv import InvMixin
from rramlab.sim.crossbar_programming import PROGRAMMING_EVENT_LN, ProgrammingMixin
from rramlab.sim.crossbar_read import DEFAULT_READ_WIDTH_S, ReadMixin
from rramlab.sim.crossbar_state import StateMixin
from rramlab.sim.crossbar_stress import DOSE_REF_V, FLUSH_PROGRESS, StressMixin
from rramlab.sim.crossbar_wires import WiresMixin
from rramlab.sim.params import CrossbarParams
from rramlab.sim.population import DEFECT_NAMES, CellPopulation
from rramlab.sim.selection import Selection
from rramlab.sim.state import NOT_STUCK, CellState

# The model's constants stay importable from here, where they were defined first.
__all__ = [
    "DEFAULT_READ_WIDTH_S",
    "DOSE_REF_V",
    "FLUSH_PROGRESS",
    "MAX_ABS_VOLTAGE_V",
    "PROGRAMMING_EVENT_LN",
    "Crossbar",
]


class Crossbar(ProgrammingMixin, ReadMixin, InvMixin, StressMixin, StateMixin, WiresMixin):
    """An R x C simulated RRAM array.

    ``access`` is ``"1T1R"`` (each cell behind an access transistor on its row's word
    line; default) or ``"passive"`` (0T1R, sneak paths and half-select disturb).
    ``seed`` seeds a new generator unless ``rng`` is given. ``clock`` defaults to a new
    :class:`~rramlab.clock.VirtualClock`.
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        *,
        params: CrossbarParams | None = None,
        access: str = "1T1R",
        clock: Clock | None = None,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        for name, n in (("rows", rows), ("cols", cols)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        if access not in ACCESS_TYPES:
            raise ValueError(f"access must be one of {', '.join(ACCESS_TYPES)}; got {access!r}")
        if rng is not None and seed is not None:
            raise ValueError("give either seed or rng, not both")
        self.shape = (int(rows), int(cols))
        self.access = access
        self.params = params if params is not None else CrossbarParams()
        self.clock = clock if clock is not None else VirtualClock()
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.population = CellPopulation.sample(self.params, self.shape, self.rng)
        self.opamp_offset_V = self.params.opamp_offset_sigma_V * self.rng.standard_normal(rows)
        self.cells = CellState.fresh(self.population, self.params)
        self._t_last = self.clock.now()
        self._noise_var: tuple[np.ndarray, np.ndarray] | None = None  # float32 g, sigma^2
        self._population_changed()

    def __repr__(self) -> str:
        return (
            f"Crossbar({self.n_rows}x{self.n_cols}, access={self.access!r}, clock={self.clock!r})"
        )

    # ----------------------------------------------------------------- inspection
    @property
    def n_rows(self) -> int:
        return self.shape[0]

    @property
    def n_cols(self) -> int:
        return self.shape[1]

    @property
    def conductance_S(self) -> np.ndarray:
        """True (noise-free) conductance of every cell, as of the last operation."""
        return self.cells.g_S.copy()

    @property
    def formed(self) -> np.ndarray:
        return self.cells.formed.copy()

    @property
    def stuck(self) -> np.ndarray:
        """(R, C) bool: cells that no longer switch (made so, worn out or broken down)."""
        return self.cells.stuck != NOT_STUCK

    @property
    def defects(self) -> np.ndarray:
        """(R, C) str: each cell's condition ("healthy", "stuck low", ...)."""
        codes = np.where(self.cells.stuck != NOT_STUCK, self.cells.stuck, self.population.defect)
        return np.vectorize(DEFECT_NAMES.__getitem__, otypes=[object])(codes).astype(str)

    @property
    def max_voltage_seen_V(self) -> np.ndarray:
        """Largest |voltage| each cell has ever seen (the bench's safety record)."""
        self._materialize_rows()
        return self.cells.v_max_seen_V.copy()

    @property
    def max_current_seen_A(self) -> np.ndarray:
        """Largest |current| each cell has ever carried."""
        self._materialize_rows()
        return self.cells.i_max_seen_A.copy()

    @property
    def cycles(self) -> np.ndarray:
        """Full SET/RESET cycles of wear each cell has seen."""
        return self.cells.cycles.copy()

    @property
    def has_wires(self) -> bool:
        p = self.params
        return p.r_wire_ohm > 0 or p.r_driver_ohm > 0 or p.r_tia_ohm > 0

    @property
    def _isolated_cells(self) -> bool:
        """True when an operation biases exactly the selected cells (1T1R, ideal wires)."""
        return self.access == "1T1R" and not self.has_wires

    def _rows_on(self, sel: Selection) -> np.ndarray:
        return sel.row_mask() if self.access == "1T1R" else np.ones(self.n_rows, dtype=bool)
