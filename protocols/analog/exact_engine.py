""":class:`ExactEngine`: the analog operations computed exactly with numpy.

Bit-level MVMs return the exact digit products, LP-INV is the exact solve of the
programmed (3-bit quantised) operator. Optional noise knobs (all 0 by default, level
units) let tests and studies add what a board adds, without its cost:
``programming_sigma`` (a static error drawn once per programmed cell),
``read_sigma`` (a fresh error per cell and drive, as read noise) and ``inv_sigma`` (a
fresh error per cell and INV run).
"""

from __future__ import annotations

import numpy as np

from rramlab.protocols.analog.engine import (
    EngineStats,
    InvArray,
    MvmArray,
    check_digits,
    check_input,
    new_inv_array,
)


class ExactEngine:
    """Numpy engine; see the module docs. ``max_inv_size`` (None: any) caps INV blocks,
    so BlockAMC can be exercised exactly too."""

    name = "exact"

    def __init__(
        self,
        *,
        seed: int | None = None,
        programming_sigma: float = 0.0,
        read_sigma: float = 0.0,
        inv_sigma: float = 0.0,
        max_inv_size: int | None = None,
        supports_feedback: bool = True,
        supports_differential: bool = True,
        max_inv_copies: int = 4,
    ) -> None:
        for name, value in (
            ("programming_sigma", programming_sigma),
            ("read_sigma", read_sigma),
            ("inv_sigma", inv_sigma),
        ):
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.rng = np.random.default_rng(seed)
        self.programming_sigma = programming_sigma
        self.read_sigma = read_sigma
        self.inv_sigma = inv_sigma
        self.max_inv_size = max_inv_size
        self.supports_feedback = supports_feedback
        self.supports_differential = supports_differential
        self.max_inv_copies = int(max_inv_copies)
        self.stats = EngineStats()

    def _programmed(self, digits: np.ndarray) -> np.ndarray:
        """The levels as programmed: the digits plus the static programming error."""
        actual = digits.astype(float)
        if self.programming_sigma:
            actual = actual + self.programming_sigma * self.rng.standard_normal(digits.shape)
        return actual

    def program_mvm(self, digits: np.ndarray, *, analog: bool = False) -> MvmArray:
        d = check_digits(digits, 3)
        return MvmArray(d, analog, {"levels": self._programmed(d)})

    def program_inv(
        self,
        digits: np.ndarray,
        *,
        diagonal: float = 0.0,
        bias: float = 0.0,
        copies: int = 1,
        differential: bool = False,
    ) -> InvArray:
        options = dict(copies=copies, differential=differential)
        array = new_inv_array(self, digits, diagonal=diagonal, bias=bias, **options)
        if self.max_inv_size is not None and array.n > self.max_inv_size:
            raise ValueError(f"INV blocks are at most {self.max_inv_size} x {self.max_inv_size}")
        if diagonal and not self.supports_feedback:
            raise ValueError("this engine has no INV feedback (diagonal) term")
        cells = self._programmed(array.cell_digits)  # each cell with its own error
        array.state["levels"] = array.entry_levels(cells)
        return array

    def prepare(self) -> None:
        """Nothing to do: programming is immediate."""

    def rows_per_mvm(self, array: MvmArray) -> int:
        return array.shape[2]

    def mvm_digits(
        self, array: MvmArray, x: np.ndarray, *, repeats: int | None = None
    ) -> np.ndarray:
        x2, single = check_input(x, array.shape[2], ternary=True)
        out = self._product(array, x2, max(1, repeats or 1))
        self.stats.mvm_calls += 1
        self.stats.mvm_drives += x2.shape[1] * max(1, repeats or 1)
        return out[..., 0] if single else out

    def mvm_analog(self, array: MvmArray, x: np.ndarray) -> np.ndarray:
        x2, single = check_input(x, array.shape[2], ternary=False)
        out = self._product(array, x2, 1)
        self.stats.mvm_calls += 1
        self.stats.mvm_drives += x2.shape[1]
        self.stats.analog_drives += x2.shape[1]
        return out[..., 0] if single else out

    def _product(self, array: MvmArray, x: np.ndarray, repeats: int) -> np.ndarray:
        """(S, n_out, k) products of the programmed levels, with read noise averaged
        over ``repeats`` drives (its variance adds over the driven cells)."""
        levels = array.state["levels"]
        out = np.einsum("soi,ik->sok", levels, x)
        if self.read_sigma:
            sigma = self.read_sigma * np.sqrt(np.abs(x).sum(axis=0) / repeats)
            out = out + sigma * self.rng.standard_normal(out.shape)
        return out

    def inv(self, array: InvArray, b: np.ndarray) -> np.ndarray:
        b2, single = check_input(b, array.n, ternary=False)
        levels = array.state["levels"]
        n = array.n
        base = np.eye(n) * array.diagonal - array.bias * np.ones((n, n))
        if not self.inv_sigma:
            out = np.linalg.solve(levels + base, b2)
        else:  # a fresh draw of the cells for every run
            out = np.empty_like(b2)
            for j in range(b2.shape[1]):
                noisy = levels + self.inv_sigma * self.rng.standard_normal(levels.shape)
                out[:, j] = np.linalg.solve(noisy + base, b2[:, j])
        self.stats.inv_calls += 1
        self.stats.inv_runs += b2.shape[1]
        return out[:, 0] if single else out

    def read_back(self, array: MvmArray | InvArray) -> np.ndarray:
        """The programmed levels (MVM) or operator ``K`` (INV), exactly."""
        levels = array.state["levels"]
        if isinstance(array, InvArray):
            n = array.n
            return levels + array.diagonal * np.eye(n) - array.bias * np.ones((n, n))
        return levels.copy()

    def refresh(self, array: MvmArray) -> None:
        """Nothing drifts here."""
