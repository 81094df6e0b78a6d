"""DACs and ADCs of the board: quantisation to a resolution and clipping at a range.

Both are symmetric converters with ``2**(bits-1) - 1`` codes either side of zero, so the
full scale itself is a code (a DAC spanning +-1 V can output exactly 1 V) and zero is
exact. A value beyond the full scale clips there and counts as saturated (for a TIA
and its ADC: the amplifier's output has hit its rail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Converter:
    """A ``bits``-bit converter spanning ``+-full_scale`` (volts or amperes)."""

    bits: int
    full_scale: float

    def __post_init__(self) -> None:
        if self.bits < 2:
            raise ValueError(f"a converter needs at least 2 bits, got {self.bits}")
        if not self.full_scale > 0:
            raise ValueError(f"full_scale must be > 0, got {self.full_scale!r}")

    @property
    def lsb(self) -> float:
        """One code step, in the converter's unit."""
        return self.full_scale / (2 ** (self.bits - 1) - 1)

    def quantize(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values, saturated)``: ``x`` rounded to the nearest code and clipped at
        +-full scale, and where it had to be clipped."""
        x = np.asarray(x, dtype=float)
        saturated = np.abs(x) > self.full_scale
        top = 2 ** (self.bits - 1) - 1
        codes = np.clip(np.rint(x / self.lsb), -top, top)
        return codes * self.lsb, saturated

    def contains(self, x: np.ndarray) -> bool:
        """Whether every value of ``x`` is finite and within +-full scale."""
        x = np.asarray(x, dtype=float)
        return bool(np.all(np.isfinite(x)) and np.all(np.abs(x) <= self.full_scale))


def auto_range(x: np.ndarray, ranges: Sequence[Converter]) -> tuple[np.ndarray, np.ndarray]:
    """Quantise each value with the most sensitive of ``ranges`` (ascending full scales)
    that holds it: an auto-ranging sense path, whose first conversion picks the gain.
    Returns ``(values, saturated)``; saturated means beyond the largest range."""
    x = np.asarray(x, dtype=float)
    values, saturated = ranges[-1].quantize(x)
    for converter in reversed(ranges[:-1]):
        fine, over = converter.quantize(x)
        values = np.where(over, values, fine)
    return values, saturated
