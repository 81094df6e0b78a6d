"""The seam between the algorithms and the hardware: :class:`AnalogEngine`.

The algorithms (HP-MVM, LP-INV, BlockAMC, HP-INV, MIMO detection) speak in *level
units*: matrices of 3-bit digits (0..7) and operators built from them. An engine turns
that into physics and back:

- ``program_mvm(digits)`` stores a stack of digit matrices (S, n_out, n_in) that share
  their inputs (the slices of one matrix, or P and N of a differential pair);
  ``mvm_digits(array, x)`` drives it with a bit plane ``x`` in {-1, 0, 1} and returns
  each product ``digits @ x`` as a calibrated float (the caller rounds when it expects
  integers); ``mvm_analog(array, x)`` drives real-valued inputs once (low precision);
- ``program_inv(digits, diagonal=f, bias=m)`` stores an INV block for
  ``K = digits + f I - m J``; ``inv(array, b)`` returns an approximate ``K^-1 b``.
  With ``differential=True`` (engines with ``supports_differential``) the digits are
  signed (-7..7) and every entry is a pair of cells, ``G+ - G-``, the second driven by
  the inverted outputs: no bias column is needed;
- ``prepare()`` does the physical work of everything stored so far (the board: form,
  write-verify, calibrate); computing calls prepare on demand;
- ``read_back(array)`` estimates what is really programmed (level units), which the
  convergence check uses.

:class:`~rramlab.protocols.analog.exact_engine.ExactEngine` computes all of it with
numpy; :class:`~rramlab.protocols.analog.board_engine.BoardEngine` on an array board.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from rramlab.protocols.analog.fixed_point import LEVELS


@dataclass
class EngineStats:
    """What an engine has done. ``*_drives``/``inv_runs`` count physical operations
    (board commands), ``*_calls`` the engine calls asking for them."""

    mvm_calls: int = 0
    mvm_drives: int = 0  # MVM operations for computing (each one input vector)
    analog_drives: int = 0  # of those, real-valued (low-precision) drives
    inv_calls: int = 0
    inv_runs: int = 0  # INV operations (one input vector each, retries included)
    inv_settling_s: float = 0.0  # total settling time the INV circuit reported
    calibration_ops: int = 0  # MVM/INV operations spent calibrating
    write_verify_runs: int = 0
    refreshes: int = 0  # re-verifications of programmed cells

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(eq=False)
class MvmArray:
    """A stored stack of digit matrices (see :meth:`AnalogEngine.program_mvm`)."""

    digits: np.ndarray  # (n_stack, n_out, n_in) uint8
    analog: bool = False  # used with real-valued inputs (mvm_analog) too
    state: dict = field(default_factory=dict, repr=False)  # the engine's own notes

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.digits.shape


@dataclass(eq=False)
class InvArray:
    """A stored INV block for ``K = digits + diagonal I - bias J`` (level units). With
    ``copies`` k > 1 every entry is k cells in parallel (digits 0..7k, spread over the
    cells by :attr:`cell_digits`). A ``differential`` block has signed digits
    (-7k..7k) held by two sets of k copies, the positive part on the first and the
    negative part on the second (driven by the inverted outputs), and no bias."""

    digits: np.ndarray  # (n, n) uint8, or int16 when differential
    diagonal: float = 0.0
    bias: float = 0.0
    state: dict = field(default_factory=dict, repr=False)
    copies: int = 1
    differential: bool = False

    @property
    def n(self) -> int:
        return self.digits.shape[0]

    @property
    def sides(self) -> int:
        """Column sets of the block: 2 when differential, else 1."""
        return 2 if self.differential else 1

    @property
    def width(self) -> int:
        """Columns the block takes: ``sides * copies * n``."""
        return self.sides * self.copies * self.n

    @property
    def cell_digits(self) -> np.ndarray:
        """The cells' levels, (n, sides copies n): copy ``c`` of side ``s`` in columns
        ``(s k + c) n .. (s k + c) n + n - 1``; an entry's total is spread as evenly as
        the levels allow."""
        return np.concatenate([spread_copies(t, self.copies) for t in self.side_totals], axis=1)

    def entry_levels(self, cells: np.ndarray) -> np.ndarray:
        """Per-entry levels (n, n) of ``cells`` laid out as :attr:`cell_digits`: the
        parallel copies add up, and a differential block's negative side subtracts."""
        n, k = self.n, self.copies
        sides = np.asarray(cells, dtype=float).reshape(n, self.sides, k, n).sum(axis=2)
        return sides[:, 0] - sides[:, 1] if self.differential else sides[:, 0]

    @property
    def side_totals(self) -> list[np.ndarray]:
        """Each side's levels per entry, (n, n) int64: ``[digits]``, or ``[max(d, 0),
        max(-d, 0)]`` when differential."""
        d = self.digits.astype(np.int64)
        return [np.maximum(d, 0), np.maximum(-d, 0)] if self.differential else [d]

    @property
    def operator(self) -> np.ndarray:
        """The intended ``K`` (level units)."""
        ones = np.ones((self.n, self.n))
        return self.digits + self.diagonal * np.eye(self.n) - self.bias * ones


def spread_copies(total: np.ndarray, copies: int) -> np.ndarray:
    """Levels per cell, (n, copies n), of entries ``total`` (n, n) spread as evenly as
    the levels allow over ``copies`` cells (copy ``c`` in columns ``c n ..``)."""
    base, extra = np.divmod(np.asarray(total, dtype=np.int64), copies)
    return np.concatenate([base + (c < extra) for c in range(copies)], axis=1).astype(np.uint8)


@runtime_checkable
class AnalogEngine(Protocol):
    """See the module docs. Shapes: ``x`` is (n_in,) or (n_in, k); results carry the
    same trailing k."""

    name: str
    stats: EngineStats
    supports_feedback: bool  # INV blocks can take a diagonal (feedback) term
    supports_differential: bool  # INV blocks can hold signed digits as cell pairs
    max_inv_size: int | None  # largest INV block (None: any)
    max_inv_copies: int  # most cells in parallel per INV entry

    def program_mvm(self, digits: np.ndarray, *, analog: bool = False) -> MvmArray: ...

    def program_inv(
        self,
        digits: np.ndarray,
        *,
        diagonal: float = 0.0,
        bias: float = 0.0,
        copies: int = 1,
        differential: bool = False,
    ) -> InvArray: ...

    def prepare(self) -> None: ...

    def rows_per_mvm(self, array: MvmArray) -> int: ...

    def mvm_digits(
        self, array: MvmArray, x: np.ndarray, *, repeats: int | None = None
    ) -> np.ndarray: ...

    def mvm_analog(self, array: MvmArray, x: np.ndarray) -> np.ndarray: ...

    def inv(self, array: InvArray, b: np.ndarray) -> np.ndarray: ...

    def read_back(self, array: MvmArray | InvArray) -> np.ndarray: ...

    def refresh(self, array: MvmArray) -> None: ...


def check_digits(digits: np.ndarray, ndim: int) -> np.ndarray:
    """``digits`` as uint8 with ``ndim`` dimensions and values 0..7 (ValueError else)."""
    d = np.asarray(digits)
    if d.ndim != ndim or d.size == 0:
        raise ValueError(f"digits must be a non-empty {ndim}-D array, got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.integer) or d.min() < 0 or d.max() >= LEVELS:
        raise ValueError(f"digits must be integers 0..{LEVELS - 1}")
    return d.astype(np.uint8)


def check_inv_digits(
    digits: np.ndarray,
    copies: int,
    max_copies: int,
    *,
    differential: bool = False,
    supports_differential: bool = True,
    bias: float = 0.0,
) -> np.ndarray:
    """Square INV digits 0..7 ``copies`` as uint8 (-7..7 ``copies`` as int16 when
    ``differential``), ``copies`` in 1..``max_copies``."""
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)):
        raise ValueError(f"copies must be an integer, got {copies!r}")
    if not 1 <= copies <= max_copies:
        raise ValueError(f"copies must be in 1..{max_copies} on this engine, got {copies}")
    if not isinstance(differential, (bool, np.bool_)):
        raise ValueError(f"differential must be True or False, got {differential!r}")
    if differential and not supports_differential:
        raise ValueError("this engine has no differential INV blocks (inverted outputs)")
    if differential and bias:
        raise ValueError("a differential INV block holds signed digits and takes no bias")
    d = np.asarray(digits)
    if d.ndim != 2 or d.size == 0 or d.shape[0] != d.shape[1]:
        raise ValueError(f"INV digits must be a non-empty square matrix, got shape {d.shape}")
    top = (LEVELS - 1) * copies
    low = -top if differential else 0
    if not np.issubdtype(d.dtype, np.integer) or d.min() < low or d.max() > top:
        raise ValueError(f"digits must be integers {low}..{top} for {copies} cell(s) per entry")
    return d.astype(np.int16 if differential else np.uint8)


def new_inv_array(
    engine: AnalogEngine,
    digits: np.ndarray,
    *,
    diagonal: float,
    bias: float,
    copies: int,
    differential: bool,
) -> InvArray:
    """A checked :class:`InvArray` for ``engine`` (its ``max_inv_copies`` and
    ``supports_differential``); the engine adds its own limits."""
    d = check_inv_digits(
        digits,
        copies,
        engine.max_inv_copies,
        differential=differential,
        supports_differential=engine.supports_differential,
        bias=bias,
    )
    return InvArray(
        d, float(diagonal), float(bias), copies=int(copies), differential=bool(differential)
    )


def check_input(x: np.ndarray, n: int, *, ternary: bool) -> tuple[np.ndarray, bool]:
    """``(x as (n, k) float, was_1d)``; ternary inputs must be in {-1, 0, 1}."""
    x = np.asarray(x, dtype=float)
    single = x.ndim == 1
    x2 = x[:, None] if single else x
    if x2.ndim != 2 or x2.shape[0] != n or not np.all(np.isfinite(x2)):
        raise ValueError(f"x must be a finite ({n},) or ({n}, k) array, got shape {x.shape}")
    if ternary and not np.all(np.isin(x2, (-1.0, 0.0, 1.0))):
        raise ValueError("bit-level MVM inputs must be in {-1, 0, 1}")
    return x2, single
