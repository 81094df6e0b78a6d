"""Per-column calibration of the board's MVM: from currents to level products.

A column's current for inputs ``t`` (driven at ``+-v_drive_V``) is modelled as

    I = gain * (t . d) + zero * sum(t) + offset

with ``d`` the column's programmed digits: ``gain`` (A per level step) holds the read
voltage, the cells' I-V shape at it, the TIA's gain and the column's mean drift;
``zero`` (A per driven row) the conductance that stands for level 0; ``offset`` (A)
the TIA/ADC offset. Known inputs (random ternary patterns) and the known digits give
all three by least squares; per-cell errors average out over the patterns. A column
whose digits are all equal cannot separate ``gain`` from ``zero``: it takes the median
gain of the others (same converters, same drive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.protocols.analog.errors import CalibrationError


@dataclass(frozen=True)
class ColumnCalibration:
    """Per-column fit (arrays over the region's columns) at one drive amplitude."""

    v_drive_V: float
    gain: np.ndarray  # A per level step
    zero: np.ndarray  # A per unit of sum(t)
    offset: np.ndarray  # A
    rms_levels: np.ndarray  # fit residual, in level steps

    def products(self, currents: np.ndarray, drive_sum: np.ndarray | float) -> np.ndarray:
        """Level products ``t . d`` from column currents ((n_cols,) or (n_cols, k))
        and ``sum(t)`` ((k,) or scalar)."""
        if currents.ndim == 1:
            return (currents - self.offset - self.zero * drive_sum) / self.gain
        zero = self.zero[:, None] * np.asarray(drive_sum)[None, :]
        return (currents - self.offset[:, None] - zero) / self.gain[:, None]


def fit_columns(
    patterns: np.ndarray, currents: np.ndarray, digits: np.ndarray, v_drive_V: float
) -> ColumnCalibration:
    """Fit ``gain``, ``zero``, ``offset`` per column from ``patterns`` (P, n_rows) of
    inputs, the measured ``currents`` (P, n_cols) and the ``digits`` (n_rows, n_cols)."""
    n_cols = digits.shape[1]
    sums = patterns.sum(axis=1)
    products = patterns @ digits  # (P, n_cols)
    gain, zero, offset = np.zeros(n_cols), np.zeros(n_cols), np.zeros(n_cols)
    identifiable = np.ptp(digits, axis=0) > 0
    for c in np.flatnonzero(identifiable):
        design = np.stack([products[:, c], sums, np.ones_like(sums)], axis=1)
        gain[c], zero[c], offset[c] = np.linalg.lstsq(design, currents[:, c], rcond=None)[0]
    shared = float(np.median(gain[identifiable])) if identifiable.any() else np.nan
    if not np.isfinite(shared) or shared <= 0:
        raise ValueError("no column of the region has distinct digits to calibrate the gain")
    for c in np.flatnonzero(~identifiable):
        gain[c] = shared
        rest = currents[:, c] - shared * products[:, c]
        design = np.stack([sums, np.ones_like(sums)], axis=1)
        zero[c], offset[c] = np.linalg.lstsq(design, rest, rcond=None)[0]
    dead = np.flatnonzero(~(gain > 0))
    if dead.size:
        raise CalibrationError(
            f"{dead.size} of {n_cols} MVM column(s) (region columns {dead[:8].tolist()}) "
            "fitted no positive gain: their currents do not follow the programmed levels "
            "(column ADC too coarse for the drive, or a broken column)"
        )
    model = gain * products + zero * sums[:, None] + offset
    rms = np.sqrt(np.mean((currents - model) ** 2, axis=0)) / gain
    return ColumnCalibration(v_drive_V, gain, zero, offset, rms)


def calibration_patterns(
    n_rows: int, group: int, rng: np.random.Generator, per_group: int | None = None
) -> np.ndarray:
    """Random ternary patterns (P, n_rows), each confined to one group of ``group``
    consecutive rows (as the drives will be), ``per_group`` (default ``2 group + 4``)
    per group, none all zero."""
    per_group = per_group or 2 * group + 4
    out = []
    for start in range(0, n_rows, group):
        width = min(group, n_rows - start)
        block = rng.integers(-1, 2, size=(per_group, width))
        block[~block.any(axis=1), 0] = 1
        full = np.zeros((per_group, n_rows))
        full[:, start : start + width] = block
        out.append(full)
    return np.concatenate(out)
