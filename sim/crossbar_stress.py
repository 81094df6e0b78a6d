"""What small biases leave on the crossbar's cells: the safety record (largest |V|
and |A| each cell has seen) and the read-disturb dose (s at DOSE_REF_V), accumulated
and applied as one pulse once it could matter. Mixed into
:class:`rramlab.sim.crossbar.Crossbar`."""

from __future__ import annotations

import numpy as np

from rramlab.sim import cell
from rramlab.sim.crossbar_arrays import gather, scatter

# Small biases (reads, MVM, half-selected cells) are accumulated as a dose and applied
# once their kinetic progress could exceed this: a change below read noise even for
# the lowest states (at most 1e-5 * g_ceiling / g), but a great many reads still add
# up to a visible read disturb.
FLUSH_PROGRESS = 1e-5
DOSE_REF_V = 1.0  # doses are kept as seconds at this voltage


class StressMixin:
    """Safety record and dose bookkeeping (uses ``cells``, ``population``, ``params``
    and ``_switch`` of the programming mixin)."""

    def _population_changed(self) -> None:
        """Cache what the dose bookkeeping needs of the per-cell parameters, and clear
        the pending row stress (a snapshot or a new array has none)."""
        everything = np.arange(self.population.rate.size)
        self._dose_factor = {
            sign: self._progress_bound(
                everything, np.full(everything.size, sign * DOSE_REF_V), 1.0
            ).reshape(self.shape)
            for sign in (1.0, -1.0)
        }
        self._row_dose_factor = {sign: f.max(axis=1) for sign, f in self._dose_factor.items()}
        # Stress of MVMs over whole rows, kept per row until something needs the cells.
        self._row_v_peak = np.zeros(self.n_rows)
        self._row_dose = {1.0: np.zeros(self.n_rows), -1.0: np.zeros(self.n_rows)}

    def _progress_bound(self, index: np.ndarray, v: np.ndarray, width_s) -> np.ndarray:
        """Upper bound of the kinetic progress a bias ``v`` for ``width_s`` can make."""
        pop, p = self.population, self.params
        threshold = np.where(
            v > 0,
            np.minimum(pop.v_set_V.ravel()[index], pop.v_form_V.ravel()[index]),
            pop.v_reset_V.ravel()[index],
        )
        bound = cell.progress(np.abs(v) - threshold, width_s, pop.rate.ravel()[index], p)
        return bound * max(1.0, p.reset_rate)

    def _small_bias(self, index: np.ndarray, v: np.ndarray, width_s: float) -> None:
        """A bias too small to switch in one go (a read, a half-selected cell): record
        what the cells saw and add its dose."""
        i = cell.cell_current(self.cells.g_S.ravel()[index], v, self.params)
        self._record(index, v, i)
        self._add_dose(index, v, width_s)

    def _add_dose(self, index: np.ndarray, v: np.ndarray, width_s) -> None:
        """Accumulate small biases to apply later, when their effect adds up."""
        if index.size == 0:
            return
        dose = width_s * np.exp(
            np.minimum((np.abs(v) - DOSE_REF_V) / self.params.v_kinetic_V, 700.0)
        )
        for target, polarity in ((self.cells.dose_pos_s, v > 0), (self.cells.dose_neg_s, v < 0)):
            np.add.at(target.ravel(), index[polarity], np.broadcast_to(dose, v.shape)[polarity])

    def _flush(self, index: np.ndarray | None = None) -> None:
        """Apply the accumulated small biases of cells (all if ``index`` is None) whose
        effect could now exceed FLUSH_PROGRESS: as one pulse of DOSE_REF_V lasting the
        dose, which makes the same kinetic progress as the sum of the small biases."""
        c = self.cells
        for dose, sign in ((c.dose_pos_s, 1.0), (c.dose_neg_s, -1.0)):
            d = gather(dose, index)
            due = np.flatnonzero(d * gather(self._dose_factor[sign], index) > FLUSH_PROGRESS)
            if index is not None:
                due = index[due]
            if due.size == 0:
                continue
            width = dose.ravel()[due]
            np.put(dose, due, 0.0)
            # A disturb is not a programming event: it does not restart the cells' aging.
            self._switch(
                due,
                np.full(due.size, sign * DOSE_REF_V),
                width,
                np.full(due.size, np.inf),
                record=False,
                programming=False,
            )

    def _materialize_rows(self, rows: np.ndarray | None = None) -> None:
        """Move the per-row stress of whole-row MVMs into the cells' own records."""
        if rows is None:
            rows = np.flatnonzero(self._row_v_peak)
        if rows.size == 0:
            return
        c, p = self.cells, self.params
        v_peak = self._row_v_peak[rows][:, None]
        c.v_max_seen_V[rows] = np.maximum(c.v_max_seen_V[rows], v_peak)
        i_peak = np.abs(cell.iv_shape(v_peak, p)) * c.g_S[rows]
        c.i_max_seen_A[rows] = np.maximum(c.i_max_seen_A[rows], i_peak)
        c.dose_pos_s[rows] += self._row_dose[1.0][rows][:, None]
        c.dose_neg_s[rows] += self._row_dose[-1.0][rows][:, None]
        self._row_v_peak[rows] = 0.0
        self._row_dose[1.0][rows] = 0.0
        self._row_dose[-1.0][rows] = 0.0

    def _record(self, index: np.ndarray | None, v: np.ndarray, i: np.ndarray) -> None:
        """Keep the largest |voltage| and |current| each cell has seen."""
        c = self.cells
        scatter(c.v_max_seen_V, index, np.maximum(gather(c.v_max_seen_V, index), np.abs(v)))
        scatter(c.i_max_seen_A, index, np.maximum(gather(c.i_max_seen_A, index), np.abs(i)))
