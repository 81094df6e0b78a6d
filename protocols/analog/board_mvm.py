"""MVM drives on the board and their per-column calibration (board_calibration).

A region's rows take the input (``+-v`` for a bit plane, scaled reals for an analog
drive) and its columns give the products; the drive level ``v`` is the largest that
keeps the ADCs inside ``adc_headroom`` when every driven cell is at the top level."""

from __future__ import annotations

import numpy as np

from rramlab.drivers.board_link import BoardError
from rramlab.protocols.analog import board_cells
from rramlab.protocols.analog.board_calibration import (
    ColumnCalibration,
    calibration_patterns,
    fit_columns,
)
from rramlab.protocols.analog.board_layout import Region
from rramlab.protocols.analog.board_placement import Placement
from rramlab.protocols.analog.engine import MvmArray
from rramlab.protocols.analog.errors import MvmSaturatedError


def drive_level(place: Placement, n_rows: int, ceiling_V: float) -> float:
    """Largest drive (V) keeping ``n_rows`` top-level cells inside the ADC headroom
    (10% allowance for the cells' superlinear I-V)."""
    c, caps = place.config, place.board.capabilities
    v = c.adc_headroom * caps.adc_range_A / (n_rows * c.g_high_S * 1.1)
    return float(min(ceiling_V, caps.dac_range_V, v))


def drive(place: Placement, region: Region, v_rows_V: np.ndarray, repeats: int) -> np.ndarray:
    """Mean currents (A) of the region's columns for row voltages ``v_rows_V`` (one per
    region row) over ``repeats`` drives. A clip on a column we do not read (a shorted
    cell beside ours) is ignored; one on ours raises :class:`MvmSaturatedError`."""
    place.select(region.tile)
    cols = np.asarray(region.cols) - region.col0
    limit = place.board.capabilities.adc_range_A * (1 - 1e-6)
    total = np.zeros(len(cols))
    for _ in range(repeats):
        try:
            out = place.board.mvm(
                v_rows_V, row0=region.row0, col0=region.col0, n_cols=region.col_span
            )
        except BoardError as error:
            if error.code != board_cells.ADC_SATURATED or error.block is None:
                raise
            out = np.frombuffer(error.block, dtype="<f4").astype(float)
            if out.size != region.col_span or (np.abs(out[cols]) >= limit).any():
                raise MvmSaturatedError(
                    f"an MVM clipped the ADC of a programmed column on tile {region.tile} "
                    f"(rows {region.row0}..{region.row0 + region.n_rows - 1}): a cell is far "
                    "above its level; program the array again"
                ) from error
        total += out[cols]
    return total / repeats


def calibrate(
    place: Placement, array: MvmArray, part: tuple, *, digital: bool, rng: np.random.Generator
) -> ColumnCalibration:
    """Fit the part's columns at the drive level of bit-level (``digital``: groups of
    ``rows_per_mvm`` rows) or analog (all rows) MVMs, from random ternary patterns."""
    region, first, count = part
    c = place.config
    group = min(place.rows_per_drive(array), region.n_rows) if digital else region.n_rows
    v = drive_level(place, group, c.v_mvm_max_V if digital else c.v_analog_max_V)
    patterns = calibration_patterns(region.n_rows, group, rng)
    currents = np.stack([drive(place, region, p * v, c.calibration_repeats) for p in patterns])
    place.stats.calibration_ops += len(patterns) * c.calibration_repeats
    levels = place.level_map(array, first, count).astype(float)
    rows, cols, delta = place.corrections(array, part)
    levels[rows, cols] += delta  # the known-off cells as they are
    return fit_columns(patterns, currents, levels, v)
