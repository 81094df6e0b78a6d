"""HP-INV: high-precision solution of ``A x = b`` by iterative refinement (Zuo et al.,
Nature Electronics 8, 1222 (2025) [PKU25]).

``x0 = 0, r0 = b``; every cycle ``dx = LP-INV(A0, r)`` (analog, low precision),
``x += dx`` and ``r -= A dx`` by HP-MVM. ``dx`` is first rounded to ``input_bits`` bits
(block floating point): the refinement corrects that like any LP error, and the
residual stays exactly ``b - A_q x`` because ``A_q dx_q`` is exact. It stops when the
relative residual ``||r|| / ||b||`` is at most ``2^-tol_bits`` or after ``max_cycles``.

The error contracts by about ``rho(I - A A0^-1)`` per cycle. Before the first cycle the
solver estimates that spectral radius from what the engine reads back of the
programmed blocks and raises :class:`NotConvergentError` if it is not below
``rho_limit`` (1 by default); during the loop it raises the same error when the
residual grows for two cycles in a row or passes 64 ``||b||``. It never returns a
diverging answer as a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rramlab.protocols.analog.engine import AnalogEngine
from rramlab.protocols.analog.errors import NotConvergentError
from rramlab.protocols.analog.fixed_point import slice_vector
from rramlab.protocols.analog.hp_mvm import HighPrecisionMatrix
from rramlab.protocols.analog.lp_inv import low_precision_inverse
from rramlab.protocols.analog.metrics import precision_bits, relative_error

RESIDUAL_FLOOR_BITS = 50.0  # float64 cannot take the residual much further
GROWTH_PATIENCE = 2  # cycles of growing residual that count as divergence
RESIDUAL_LIMIT = 64.0  # a relative residual this large is divergence at once (a first
# step may overshoot a little: its error can lie along A's largest directions)


@dataclass
class HpInvResult:
    """Outcome of a solve. ``x`` and every entry of ``history`` (x after each cycle)
    have the shape of ``b``; ``cycles`` has one row per cycle (worst over right-hand
    sides): precision_bits, relative_error, residual (relative), residual_bits,
    lp_inv_ops, mvm_vectors, mvm_retried, min_margin."""

    x: np.ndarray
    history: list[np.ndarray]
    cycles: pd.DataFrame
    converged: bool
    rho_estimate: float
    reference: np.ndarray
    ops: dict[str, float] = field(default_factory=dict)

    @property
    def precision_bits(self) -> list[float]:
        return [float(v) for v in self.cycles["precision_bits"]]

    @property
    def relative_error(self) -> list[float]:
        return [float(v) for v in self.cycles["relative_error"]]


class HpInvSolver:
    """``A`` programmed for HP-INV: its ``matrix_bits``-bit slices for HP-MVM and its
    3-bit ``A0`` for LP-INV (BlockAMC when larger than ``tile``; ``inv_copies`` cells in
    parallel per INV entry give ``A0`` 7 ``inv_copies`` + 1 levels; ``scaling`` and
    ``inv_differential`` (signed INV digits on cell pairs; None: when the engine has
    them): see :class:`~.lp_inv.TileInverse`). Solve any number of right-hand sides with
    :meth:`solve`. See the module docs for the checks."""

    def __init__(
        self,
        engine: AnalogEngine,
        a: np.ndarray,
        *,
        matrix_bits: int = 24,
        input_bits: int = 8,
        signed: str = "bias",
        tile: int | None = None,
        schur: str = "m4",
        feedback: bool = True,
        search: bool = True,
        rounding: str = "nearest",
        scaling: str = "balance",
        inv_copies: int = 1,
        inv_differential: bool | None = None,
        check: bool = True,
        rho_limit: float = 1.0,
    ) -> None:
        a = np.asarray(a, dtype=float)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or a.size == 0:
            raise ValueError(f"A must be a non-empty square matrix, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError("A holds a NaN or infinite entry")
        if isinstance(input_bits, bool) or not 2 <= int(input_bits) <= 52:
            raise ValueError(f"input_bits must be an integer in 2..52, got {input_bits!r}")
        self.engine = engine
        self.a = a
        self.input_bits = int(input_bits)
        self.hp = HighPrecisionMatrix(engine, a, bits=matrix_bits, signed=signed)
        self.lp = low_precision_inverse(
            engine,
            a,
            tile=tile,
            schur=schur,
            feedback=feedback,
            search=search,
            rounding=rounding,
            scaling=scaling,
            copies=inv_copies,
            differential=inv_differential,
        )
        engine.prepare()
        self.rho_estimate = self._spectral_radius()
        if check and not self.rho_estimate < rho_limit:
            raise NotConvergentError(
                f"HP-INV will not converge: the programmed A0 gives rho(I - A A0^-1) = "
                f"{self.rho_estimate:.3g} (must be < {rho_limit:g}); A is too ill-conditioned "
                "for its 3-bit version, or the programmed blocks are off (refine the mapping, "
                "use a smaller tile or schur='exact')",
                rho=self.rho_estimate,
            )

    @property
    def n(self) -> int:
        return self.a.shape[0]

    def _spectral_radius(self) -> float:
        """``rho(I - A_q M)`` with ``M`` the LP inverse estimated from the read-back."""
        m = self.lp.operator_estimate()
        if not np.all(np.isfinite(m)):
            return float("inf")
        return float(np.max(np.abs(np.linalg.eigvals(np.eye(self.n) - self.hp.matrix @ m))))

    def solve(
        self,
        b: np.ndarray,
        *,
        max_cycles: int = 10,
        tol_bits: float | None = None,
        reference: np.ndarray | None = None,
        final_residual: bool = True,
    ) -> HpInvResult:
        """Refine ``x`` for ``b`` ((n,) or (n, k)). ``reference`` (default: a
        double-precision solve of ``A``) is what the per-cycle precision is measured
        against. ``final_residual=False`` skips the HP-MVM after the last allowed cycle
        (its residual is then NaN): it only decides whether to go on."""
        b = np.asarray(b, dtype=float)
        single = b.ndim == 1
        b2 = b[:, None] if single else b
        if b2.ndim != 2 or b2.shape[0] != self.n or not np.all(np.isfinite(b2)):
            raise ValueError(f"b must be a finite ({self.n},) or ({self.n}, k) array")
        if isinstance(max_cycles, bool) or int(max_cycles) < 1:
            raise ValueError(f"max_cycles must be a positive integer, got {max_cycles!r}")
        ref = np.linalg.solve(self.a, b2) if reference is None else np.asarray(reference, float)
        ref = ref.reshape(b2.shape)
        b_norm = np.linalg.norm(b2, axis=0)
        x = np.zeros_like(b2)
        r = b2.copy()
        rows: list[dict[str, float]] = []
        history: list[np.ndarray] = []
        converged = False
        stats0 = self.engine.stats.as_dict()
        for cycle in range(1, int(max_cycles) + 1):
            dx = slice_vector(self.lp.solve(r), self.input_bits)
            x = x + dx.value
            history.append(x[:, 0].copy() if single else x.copy())
            row = {
                "cycle": cycle,
                "precision_bits": float(np.min(precision_bits(x, ref))),
                "relative_error": float(np.max(relative_error(x, ref))),
                "lp_inv_ops": self.lp.inv_ops * b2.shape[1],
                "residual": np.nan,
                "residual_bits": np.nan,
                "mvm_vectors": 0,
                "mvm_retried": 0,
                "min_margin": np.nan,
            }
            if final_residual or cycle < max_cycles:
                product, report = self.hp.multiply(dx)
                r = r - product
                residual = float(np.max(_relative(np.linalg.norm(r, axis=0), b_norm)))
                row.update(
                    residual=residual,
                    residual_bits=float(-np.log2(residual)) if residual > 0 else np.inf,
                    mvm_vectors=report.vectors,
                    mvm_retried=report.retried,
                    min_margin=report.min_margin,
                )
            rows.append(row)
            table = pd.DataFrame(rows)
            self._check_divergence(table)
            bits = row["residual_bits"]
            if (tol_bits is not None and bits >= tol_bits) or bits >= RESIDUAL_FLOOR_BITS:
                converged = True
                break
        stats1 = self.engine.stats.as_dict()
        return HpInvResult(
            x=x[:, 0] if single else x,
            history=history,
            cycles=pd.DataFrame(rows),
            converged=converged or tol_bits is None,
            rho_estimate=self.rho_estimate,
            reference=ref[:, 0] if single else ref,
            ops={k: stats1[k] - stats0[k] for k in stats1},
        )

    def _check_divergence(self, table: pd.DataFrame) -> None:
        residual = table["residual"].to_numpy()
        last = residual[-1]
        if np.isnan(last):
            return
        growing = np.diff(residual[~np.isnan(residual)]) > 0
        if (
            not np.isfinite(last)
            or last > RESIDUAL_LIMIT
            or (growing.size >= GROWTH_PATIENCE and growing[-GROWTH_PATIENCE:].all())
        ) and -np.log2(max(last, 1e-300)) < RESIDUAL_FLOOR_BITS:
            raise NotConvergentError(
                f"HP-INV diverged: the relative residual went {_trend(residual)} over cycles "
                f"1..{len(residual)} (estimated rho(I - A A0^-1) was {self.rho_estimate:.3g})",
                rho=self.rho_estimate,
                cycles=table,
            )


def hp_inv(engine: AnalogEngine, a: np.ndarray, b: np.ndarray, **options) -> HpInvResult:
    """Program ``A`` and solve ``A x = b`` by HP-INV in one call. ``options`` go to
    :class:`HpInvSolver` (mapping and checks) or :meth:`HpInvSolver.solve`
    (``max_cycles``, ``tol_bits``, ``reference``, ``final_residual``)."""
    solve_keys = ("max_cycles", "tol_bits", "reference", "final_residual")
    solve_options = {k: options.pop(k) for k in solve_keys if k in options}
    return HpInvSolver(engine, a, **options).solve(b, **solve_options)


def _relative(norms: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 0, norms / np.where(scale > 0, scale, 1.0), norms)


def _trend(values: np.ndarray) -> str:
    shown = [f"{v:.3g}" for v in values[-4:]]
    return " -> ".join(shown)
