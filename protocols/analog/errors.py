"""Errors of analog matrix computing: a refinement that will not (or did not) converge,
partial products that could not be recovered as integers, an array too small, a column
that does not respond to calibration."""

from __future__ import annotations

import pandas as pd

from rramlab.errors import ConvergenceError, RramlabError


class NotConvergentError(ConvergenceError):
    """HP-INV refinement cannot or did not converge.

    ``rho`` is the estimated spectral radius of ``I - A A0^-1`` (NaN when unknown);
    ``cycles`` the per-cycle table up to the failure (empty when raised before the
    first cycle)."""

    def __init__(self, message: str, *, rho: float = float("nan"), cycles=None) -> None:
        super().__init__(message)
        self.rho = rho
        self.cycles = cycles if cycles is not None else pd.DataFrame()


class IntegerRecoveryError(RramlabError):
    """Bit-level partial products could not be recovered as exact integers (checksum or
    rounding margin kept failing after repeats and a refresh of the programmed cells)."""


class AllocationError(RramlabError):
    """The board's tiles have no room (or no healthy region) for a requested array."""


class MvmSaturatedError(RramlabError):
    """An MVM clipped the ADC of a programmed column although the drive was sized so
    healthy cells cannot (a cell far above its level)."""


class CalibrationError(RramlabError):
    """An MVM column's fitted gain is not positive: its current does not follow the
    programmed levels (converters too coarse for the drive, or a broken column)."""
