"""The 3-bit matrix an INV block holds: ``A0 = (D + f I - m J) / sigma``.

``D`` (digits 0..7) is programmed into the cells, ``f I`` is the op-amps' feedback
conductance (diagonal split), ``m J`` the bias column (Sherman-Morrison), and
``sigma`` (digits per matrix unit) the scale. Only ``D`` is quantised: ``f`` and ``m``
are exact.

``A0`` is the top 3 bits of ``A`` in the sense of [PKU25]'s ``A = A0 + 2^-3 A1 + ...``,
with two choices that matter at 3 bits: entries round to the *nearest* level rather
than truncating (halves the worst error; ``rounding="truncate"`` gives the paper's
plain top slice), and, with ``search``, the mapping is tuned at compile time (as the
m = 0.4, n = 2 of the paper's example were chosen): the bias, the split and how much of
the level range the largest entry uses are picked from a small grid to minimise
``||I - A A0^-1||_2``, then single digits are moved one level up or down while that
lowers ``||(I - A0^-1 A)^5||_2^(1/5)``: the error's contraction per cycle over five
cycles of refinement (the spectral radius alone would buy the asymptotic rate with a
poor first step). On 40 random 4 x 4 matrices of condition number 8 (exact
arithmetic) this takes the precision after 10 cycles from a median of 21 bits
(nearest rounding alone; worst 4) to 31 (worst 25), at a median of 2.8 bits for the
first step.

With ``copies`` k > 1 the INV block has k cells in parallel per entry (board protocol
``INV ... COPIES=k``): the digits run 0..7k, each extra factor of two in k halving the
level step of ``A0``; :func:`balance_scaling` picks a diagonal scaling of ``A`` for
the mapping (exact digital work on the INV input and output).

``differential=True`` maps onto a differential block (``INV ... DIFF=1``: every entry
a pair of cells, the second driven by the inverted outputs): signed digits -7k..7k and
no bias (``m = 0``), so the block's circuit inverts ``K`` itself. Its loop then
settles only if ``D^-1 K`` is positive stable (``D``: the rows' total conductance,
which the mapping does not know exactly), so a differential mapping must keep the
symmetric part of ``K`` positive definite, with ``STABILITY_MARGIN`` levels to spare
for the cells' programming error: that makes ``D^-1 K`` positive stable for every
positive ``D``. (A bias-column block inverts ``K + m J``, which the large all-ones
term keeps stable, and Sherman-Morrison removes ``m J`` afterwards.) The signed range
makes the level step finer for matrices with entries of both signs (``max |a|``, not
``max a - min a``, spans the 7 steps); on the board the pairs gain ~5 bits after ten
HP-INV cycles over the bias column with the balanced scaling (docs/analog.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rramlab.protocols.analog.mapping import TOP_LEVEL, bias_split, diagonal_split

ROUNDINGS = ("nearest", "truncate")
_EXTRA_BIAS = np.linspace(0.0, 0.5, 6)  # x (max - min) of A, added to the least bias
_SPLIT = np.linspace(0.0, 1.0, 6)  # fraction of the largest possible diagonal split
_FILL = (1.0, 0.9)  # the largest entry on level 7, or on 90% of it
STABILITY_MARGIN = 0.5  # levels: least eigenvalue of a differential K's symmetric part


@dataclass(frozen=True)
class InvMapping:
    """``K = digits + diagonal I - bias J ~ sigma A`` (digit units; see module docs)."""

    digits: np.ndarray  # (n, n) uint8, or int16 when differential
    diagonal: float  # feedback conductance, in level steps
    bias: float  # bias-column value, in level steps
    sigma: float  # level steps per matrix unit
    differential: bool = False  # signed digits on cell pairs, no bias

    @property
    def operator(self) -> np.ndarray:
        """``K`` (digit units), what the INV block solves with."""
        n = self.digits.shape[0]
        return self.digits + self.diagonal * np.eye(n) - self.bias * np.ones((n, n))

    @property
    def matrix(self) -> np.ndarray:
        """``A0 = K / sigma`` (matrix units)."""
        return self.operator / self.sigma


def map_for_inv(
    a: np.ndarray,
    *,
    feedback: bool = True,
    search: bool = True,
    rounding: str = "nearest",
    copies: int = 1,
    differential: bool = False,
) -> InvMapping:
    """The INV mapping of a square matrix ``a`` (see the module docs). ``feedback``:
    whether the INV block has op-amp feedback conductances for the diagonal split.
    ``copies``: cells in parallel per entry (the digits then run 0..7 copies).
    ``differential``: signed digits on cell pairs, no bias."""
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.all(np.isfinite(a)):
        raise ValueError("an INV block needs a finite square matrix")
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    shape = _Shape(feedback, rounding, copies, differential)
    if not search:
        mapping = _candidate(a, _least_bias(a, shape), 1.0 if feedback else 0.0, 1.0, shape)
        if not shape.admits(mapping):
            raise np.linalg.LinAlgError(_UNSTABLE)
        return mapping
    best = _grid_mapping(a, shape)
    if best is None:
        reason = _UNSTABLE if differential else "no 3-bit mapping of the block is invertible"
        raise np.linalg.LinAlgError(reason)
    return _descend(a, best, shape)


_UNSTABLE = (
    "no 3-bit differential mapping of the block keeps its symmetric part positive "
    f"definite by {STABILITY_MARGIN} levels (the INV loop could not settle); map it "
    "with the bias column instead (differential=False)"
)


def balance_scaling(
    a: np.ndarray,
    *,
    feedback: bool = True,
    rounding: str = "nearest",
    copies: int = 1,
    sweeps: int = 2,
    steps: np.ndarray | None = None,
    differential: bool = False,
) -> np.ndarray:
    """A positive diagonal scaling ``d`` (first entry 1) for which the 3-bit mapping of
    ``diag(d) A diag(d)`` inverts ``A`` best: ``||(I - M A)^3||_2`` with ``M = D A0_s^-1
    D`` is minimised by a cyclic coordinate search on ``log d`` (multiplicative steps
    ``steps``), started from no scaling and from the Jacobi scaling ``d = diag(A)^-1/2``
    (unit diagonal, which the feedback split then holds exactly); each trial is scored
    with the best grid mapping (no digit descent). The scaling is exact digital work
    (``D b`` in, ``D y`` out) that moves the entries of the scaled matrix onto the
    levels; it needs a positive diagonal (else ``d`` = 1)."""
    a = np.asarray(a, dtype=float)
    n = a.shape[0]
    diagonal = np.diag(a)
    if n < 2 or np.any(diagonal <= 0):
        return np.ones(n)
    steps = np.exp(np.linspace(-0.3, 0.3, 9)) if steps is None else np.asarray(steps)
    shape = _Shape(feedback, rounding, copies, differential)

    def score(d: np.ndarray) -> float:
        scaled = a * np.outer(d, d)
        mapping = _grid_mapping(scaled, shape)
        if mapping is None:
            return np.inf
        return _cycle_contraction(scaled, mapping, cycles=3)

    best, best_score = np.ones(n), np.inf
    for start in (np.ones(n), 1.0 / np.sqrt(diagonal / diagonal[0])):
        d, value = start.copy(), score(start)
        for _ in range(sweeps):
            for i in range(1, n):
                base = d[i]
                for step in steps:
                    trial = d.copy()
                    trial[i] = base * step
                    if (s := score(trial)) < value:
                        d, value = trial, s
        if value < best_score:
            best, best_score = d, value
    return best


@dataclass(frozen=True)
class _Shape:
    """What the INV block offers the mapping."""

    feedback: bool
    rounding: str
    copies: int = 1
    differential: bool = False

    @property
    def top(self) -> int:
        return TOP_LEVEL * self.copies

    @property
    def bottom(self) -> int:
        return -self.top if self.differential else 0

    def digits(self, levels: np.ndarray) -> np.ndarray:
        clipped = np.clip(levels, self.bottom, self.top)
        return clipped.astype(np.int16 if self.differential else np.uint8)

    def admits(self, mapping: InvMapping) -> bool:
        """Whether the block's loop can settle with ``mapping`` (module docs)."""
        if not self.differential:
            return True
        k = mapping.operator
        return bool(np.linalg.eigvalsh((k + k.T) / 2).min() >= STABILITY_MARGIN)


def _least_bias(a: np.ndarray, shape: _Shape) -> float:
    """The smallest bias that leaves every digit (and the diagonal) >= 0; 0 for a
    differential block, whose digits are signed."""
    if shape.differential:
        return 0.0
    _, m0 = bias_split(a, offdiagonal_only=shape.feedback)
    return max(m0, -float(np.min(np.diag(a))))  # the diagonal must end up >= 0 too


def _grid_mapping(a: np.ndarray, shape: _Shape) -> InvMapping | None:
    """The best mapping of the bias/split/fill grid (min ``||I - A A0^-1||_2``)."""
    m0 = _least_bias(a, shape)
    span = float(np.max(a) - np.min(a)) or 1.0
    extras = (0.0,) if shape.differential else _EXTRA_BIAS * span
    best, best_score = None, np.inf
    for extra in extras:
        for split in _SPLIT if shape.feedback else (0.0,):
            for fill in _FILL:
                mapping = _candidate(a, m0 + extra, split, fill, shape)
                score = _contraction(a, mapping) if shape.admits(mapping) else np.inf
                if score < best_score:
                    best, best_score = mapping, score
    return best


def _candidate(a: np.ndarray, m: float, split: float, fill: float, shape: _Shape) -> InvMapping:
    a_plus = a + m
    if shape.feedback:
        ap, n_max = diagonal_split(a_plus)
        n = split * n_max
        ap = a_plus - n * np.eye(a.shape[0])
    else:
        ap, n = a_plus, 0.0
    top = float(np.max(np.abs(ap)))
    sigma = shape.top * fill / top if top > 0 else 1.0
    scaled = sigma * ap
    levels = np.floor(scaled + 1e-9) if shape.rounding == "truncate" else np.rint(scaled)
    return InvMapping(shape.digits(levels), sigma * n, sigma * m, sigma, shape.differential)


def _descend(a: np.ndarray, mapping: InvMapping, shape: _Shape, max_sweeps: int = 20) -> InvMapping:
    """Move single digits by one level while that lowers :func:`_cycle_contraction`."""
    digits = mapping.digits.astype(np.int64)
    best = _cycle_contraction(a, mapping)

    def with_digits(trial: np.ndarray) -> InvMapping:
        return dataclasses.replace(mapping, digits=shape.digits(trial))

    for _ in range(max_sweeps):
        improved = False
        for i, j in np.ndindex(*digits.shape):
            for step in (-1, 1):
                level = digits[i, j] + step
                if not shape.bottom <= level <= shape.top:
                    continue
                trial = digits.copy()
                trial[i, j] = level
                candidate = with_digits(trial)
                if not shape.admits(candidate):
                    continue
                score = _cycle_contraction(a, candidate)
                if score < best - 1e-12:
                    best, digits, improved = score, trial, True
        if not improved:
            break
    return with_digits(digits)


def _cycle_contraction(a: np.ndarray, mapping: InvMapping, cycles: int = 5) -> float:
    """``||(I - A0^-1 A)^cycles||_2^(1/cycles)`` (inf when A0 is singular)."""
    try:
        error = np.eye(a.shape[0]) - np.linalg.solve(mapping.matrix, a)
    except np.linalg.LinAlgError:
        return np.inf
    power = np.linalg.matrix_power(error, cycles)
    return float(np.linalg.norm(power, 2)) ** (1.0 / cycles)


def _contraction(a: np.ndarray, mapping: InvMapping) -> float:
    """``||I - A A0^-1||_2`` (inf when A0 is singular)."""
    try:
        a0_inv = np.linalg.inv(mapping.matrix)
    except np.linalg.LinAlgError:
        return np.inf
    return float(np.linalg.norm(np.eye(a.shape[0]) - a @ a0_inv, 2))
