"""Settings of the board engine (:class:`BoardEngineConfig`), SI units; quantities
"in levels" are in conductance level steps (``(g_high - g_low) / 7``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.protocols.analog.board_cells import FormingRecipe
from rramlab.protocols.analog.fixed_point import LEVELS

FORMING = FormingRecipe()


@dataclass(frozen=True)
class BoardEngineConfig:
    """See docs/analog.md for why each default is what it is."""

    g_low_S: float = 0.5e-6  # level 0 [PKU25]
    g_high_S: float = 35e-6  # level 7 [PKU25]
    tol_levels: float = 0.05  # write-verify tolerance, in levels (0.25 uS)
    max_pulses: int = 300  # write-verify pulses per cell
    v_read_V: float = 0.2  # verify and read-back voltage
    readback_repeats: int = 8  # reads averaged by a read-back
    off_levels: float = 0.25  # a cell this far from its level is corrected digitally
    rows_per_mvm: int | None = None  # rows driven at once by a bit-level MVM (the
    # cells' errors add up over the driven rows); None: 2, which keeps the sum well
    # inside +-0.5 level, unless the array's tile took longer than the next setting to
    # write-verify, then 1 (Placement.rows_per_drive)
    paired_drive_max_verify_s: float = 1.0  # bench seconds (4 x 4: 0.03, 16 x 16: 0.2)
    repeats: int = 2  # drives averaged per bit-level MVM
    v_mvm_max_V: float = 0.4  # bit-level drive ceiling ([PKU25] computes below 0.4 V)
    v_analog_max_V: float = 0.1  # real-valued drive ceiling (I-V linear to ~0.7%)
    adc_headroom: float = 0.8  # worst-case column current / ADC full scale
    calibration_repeats: int = 2  # drives averaged per calibration pattern
    inv_headroom: float = 0.25  # largest INV output / clamp: 0.1 V, where the cells'
    # chord conductance varies by < 1% (sinh I-V), not ~4% as up to 0.4 V
    inv_repeats: int = 1  # INV runs averaged per LP-INV
    inv_calibration_runs: int = 8  # runs averaged for the offset and all-ones response
    v_small_V: float = 0.05  # cell voltage at which the INV loop's conductance is taken
    small_signal_fit_V: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)  # read voltages of the
    # sinh fit that gives the small-signal factor (many LSBs, clear curvature)
    small_signal_reads: int = 16  # reads per fit voltage
    small_signal: bool = True  # correct the INV level step by the small-signal factor
    refresh_s: float | None = 0.5  # re-verify MVM cells this long after the last verify
    forming: FormingRecipe = FORMING
    seed: int = 0  # calibration patterns

    @property
    def step_S(self) -> float:
        """One level step (S)."""
        return (self.g_high_S - self.g_low_S) / (LEVELS - 1)

    @property
    def levels_S(self) -> np.ndarray:
        """The eight level conductances (S)."""
        return self.g_low_S + self.step_S * np.arange(LEVELS)

    @property
    def zero_level(self) -> float:
        """Level 0's conductance in level steps (the J term every INV block carries)."""
        return self.g_low_S / self.step_S
