"""ESTIMATE of the time and energy of an HP-INV solve on an analog chip.

Nothing here is measured: it multiplies operation counts (measured, by running the
solve) by circuit parameters (assumed, each with its source or reasoning below). Every
name, docstring and printed line says *estimate*.

Counting. :class:`MeteredEngine` wraps any engine (:class:`ExactEngine` for counts
without the board's cost, :class:`BoardEngine` for the lab board's own counts,
retries and ranging runs included) and adds to its :class:`EngineStats` what the
estimate needs and the plain counts lack: per INV run the block size (one input DAC,
one op-amp and one output ADC per row) and its loop speed (the smallest eigenvalue
``lambda`` of ``D^-1 G``, from the programmed digits, which sets the settling time as
in ``rramlab.sim.inv_circuit``: ``t = ln(1/eps) / (2 pi GBW lambda)``); per MVM drive
the rows driven and the columns converted; and for both, the conductance of the cells
carrying current, weighted by the square of their relative voltage (``sum G u^2``,
``u = V / V_max``), so the cells' energy is ``V_max^2 t sum G u^2``. Those counts land
in ``HpInvResult.ops`` (the solver records the engine's stats over a solve), and
:func:`estimate_solve` turns ``result.ops`` into a :class:`SolveEstimate`.

Model (operations run one after the other; tiles could overlap, so the time is an
upper bound for this schedule):

- INV run: input DACs settle, the loop settles, the outputs convert. Energy: DACs and
  ADCs per row, op-amps' static power for the run's duration, the cells and feedback
  resistors (rows at virtual ground, column ``j`` at ``V_j``: ``sum_ij G_ij V_j^2``);
- bit-level MVM drive (HP-MVM, inputs in {-1, 0, 1}): ternary row drivers (no DAC), the
  array settles, every column of the stack converts (column-parallel ADCs);
- real-valued MVM drive (BlockAMC's ``M2``, ``M3``): DACs on the driven rows, then as
  above;
- digital work: one shift-and-add per converted output (energy only; pipelined with
  the conversions, so no time).

Excluded from the per-solve estimate: programming (write-verify, reported apart by
:func:`estimate_programming`), the board's calibration runs, refreshes, the host's
convergence check and residual bookkeeping, and data movement to and from the host.
Every conversion costs the same (a 10-bit ADC), although LP-INV needs ~4 bits
[PKU25]: the ADC share is an upper bound.

What to expect: with the mappings of ``inv_mapping`` (bias column, diagonal split) a
4 x 4 block of condition number 8 has ``lambda_min`` ~ 0.11, so it settles in ~0.6 us
at 16 MHz GBW, slower than the ~120 ns [PKU25] quotes; on the simulated lab board the
INV op-amps' rows also carry the MVM cells sharing the tile's rows, which load the
loop further (~5 us per run there).

    engine = MeteredEngine(ExactEngine(max_inv_size=4))
    result = HpInvSolver(engine, a, tile=4).solve(b, tol_bits=24, max_cycles=30)
    print(estimate_solve(result.ops).describe())   # ESTIMATE (model, not a measurement)
    print(estimate_programming(engine.stats.meter_cells_programmed))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rramlab.protocols.analog.engine import (
    AnalogEngine,
    EngineStats,
    InvArray,
    MvmArray,
)
from rramlab.protocols.analog.fixed_point import LEVELS

G_LOW_S = 0.5e-6  # level 0 [PKU25] (as BoardEngineConfig.g_low_S)
G_HIGH_S = 35e-6  # level 7 [PKU25] (as BoardEngineConfig.g_high_S)


@dataclass(frozen=True)
class CircuitParameters:
    """Circuit parameters of the ESTIMATE (SI units). All must be finite and > 0;
    ``settling_precision`` below 1. [PKU25]: Zuo et al., Nature Electronics 8, 1222
    (2025); [assume]: an assumed typical value, reasoning given."""

    # --- timing ----------------------------------------------------------------------
    opamp_gbw_Hz: float = 16e6  # [PKU25] 16 MHz GBW op-amps (INV settles in ~120 ns, 4x4)
    settling_precision: float = 1e-3  # settle to 0.1% (as rramlab.sim.inv_circuit): the
    # loop needs ln(1/eps) = 6.9 time constants of 1 / (2 pi GBW lambda_min(D^-1 G))
    mvm_settle_s: float = 60e-9  # [PKU25] MVM settles in ~60 ns
    adc_conversion_s: float = 10e-9  # [assume] a 10-bit SAR ADC at 100 MS/s per column
    dac_settle_s: float = 10e-9  # [assume] an 8-bit DAC settling to 1/2 LSB at 100 MS/s

    # --- voltages --------------------------------------------------------------------
    v_bit_V: float = 0.2  # bit-level drive: [PKU25] computes below 0.4 V; reads at 0.2 V
    v_analog_V: float = 0.1  # largest real-valued drive (BoardEngineConfig.v_analog_max_V)
    v_inv_V: float = 0.1  # largest INV output: 0.25 x the 0.4 V clamp [PKU25]
    # (BoardEngineConfig.inv_headroom)

    # --- energies and powers ---------------------------------------------------------
    adc_energy_J: float = 5e-12  # [assume] per conversion: Walden figure of merit
    # 5 fJ per conversion step (typical of published SAR ADCs near 100 MS/s, Murmann's
    # ADC survey) x 2^10 steps; 10 bits hold a bit-level product over 64 rows
    # (an integer up to 7 x 64 = 448, signed)
    dac_energy_J: float = 1e-12  # [assume] per conversion of an 8-bit DAC at 100 MS/s
    driver_energy_J: float = 10e-15  # [assume] per ternary row drive: charging a row line
    # (~0.25 pF for 64-128 cells and wire) to 0.2 V, C V^2
    amplifier_power_W: float = 50e-6  # [assume] per INV op-amp or column TIA while active:
    # gm = 2 pi GBW C_L = 100 uS for 16 MHz into 1 pF, at gm/I_D = 15 /V: 7 uA, at
    # 1.1 V ~ 8 uW; x6 for the second stage, biasing and output drive
    digital_energy_J: float = 1e-12  # [assume] per converted output: round, shift, add
    # (a few 32-bit operations and register accesses in 40 nm)

    # --- programming (reported apart from the solve) ---------------------------------
    write_pulses_per_cell: float = 10.0  # [assume] write-verify pulses per cell (coarse
    # SET then adaptive fine pulses, [PKU25]'s ASAP; the simulated board uses ~5-20)
    write_pulse_energy_J: float = 7.5e-12  # [assume] 1.5 V x 50 uA x 100 ns (typical SET
    # amplitude, compliance and pulse width)
    write_pulse_s: float = 100e-9  # [typ] 100-200 ns write pulses
    verify_read_s: float = 1e-6  # [typ] ~1 us verify read at ~0.2 V

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"CircuitParameters.{f.name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"CircuitParameters.{f.name} must be finite and > 0, got {value!r}"
                )
        if not self.settling_precision < 1:
            raise ValueError(
                f"CircuitParameters.settling_precision must be < 1, got {self.settling_precision!r}"
            )

    @property
    def settling_factor_s(self) -> float:
        """``ln(1/eps) / (2 pi GBW)``: the INV settling time is this over ``lambda_min``."""
        return math.log(1 / self.settling_precision) / (2 * math.pi * self.opamp_gbw_Hz)

    def inv_settling_s(self, lambda_min: float) -> float:
        """Settling time of an INV loop whose ``D^-1 G`` has smallest eigenvalue
        (real part) ``lambda_min``."""
        if not lambda_min > 0:
            raise ValueError(f"lambda_min must be > 0 (a stable loop), got {lambda_min!r}")
        return self.settling_factor_s / lambda_min

    @property
    def bit_drive_s(self) -> float:
        """One bit-level MVM drive: settle and convert."""
        return self.mvm_settle_s + self.adc_conversion_s

    @property
    def analog_drive_s(self) -> float:
        """One real-valued MVM drive: DACs, settle and convert."""
        return self.dac_settle_s + self.mvm_settle_s + self.adc_conversion_s


@dataclass
class MeteredStats(EngineStats):
    """:class:`EngineStats` plus the counts of the cost model (``meter_*``; see the
    module docs). ``*_G_S``: ``sum G u^2`` in siemens; ``*_per_lambda``: sums of
    ``x / lambda_min`` over INV runs."""

    meter_inv_runs: float = 0.0  # INV runs seen by the meter (same as inv_runs)
    meter_inv_per_lambda: float = 0.0  # sum over runs of 1 / lambda_min
    meter_inv_rows: float = 0.0  # sum over runs of the block size (DACs, op-amps, ADCs)
    meter_inv_rows_per_lambda: float = 0.0  # sum over runs of n / lambda_min
    meter_inv_G_S: float = 0.0  # sum over runs of sum_ij G_ij u_j^2
    meter_inv_G_per_lambda_S: float = 0.0  # the same over lambda_min
    meter_bit_drives: float = 0.0
    meter_bit_rows: float = 0.0  # rows driven (non-zero inputs), summed over drives
    meter_bit_columns: float = 0.0  # columns converted, summed over drives
    meter_bit_G_S: float = 0.0  # conductance of the driven cells, summed over drives
    meter_analog_drives: float = 0.0
    meter_analog_rows: float = 0.0
    meter_analog_columns: float = 0.0
    meter_analog_G_S: float = 0.0
    meter_cells_programmed: float = 0.0  # cells of every array programmed (digits)


class MeteredEngine:
    """``engine`` with the cost model's counters (see the module docs): every call is
    passed on, then the counts are added to :attr:`stats`, a :class:`MeteredStats`
    that also mirrors the wrapped engine's own stats. ``g_low_S``/``g_high_S``: the
    level conductances (0.5-35 uS [PKU25])."""

    def __init__(
        self, engine: AnalogEngine, *, g_low_S: float = G_LOW_S, g_high_S: float = G_HIGH_S
    ) -> None:
        if not 0 < g_low_S < g_high_S:
            raise ValueError(f"need 0 < g_low_S < g_high_S, got {g_low_S!r}, {g_high_S!r}")
        self.engine = engine
        self.name = f"metered {engine.name}"
        self.g_low_S = g_low_S
        self.step_S = (g_high_S - g_low_S) / (LEVELS - 1)
        self.stats = MeteredStats()
        self._loops: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
        self._sync()

    def __getattr__(self, name: str) -> object:
        """Anything else (``config``, ``board``, ...) is the wrapped engine's."""
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)

    # Attributes the algorithms read, passed through.
    @property
    def supports_feedback(self) -> bool:
        return self.engine.supports_feedback

    @property
    def supports_differential(self) -> bool:
        return getattr(self.engine, "supports_differential", False)

    @property
    def max_inv_size(self) -> int | None:
        return self.engine.max_inv_size

    def _sync(self) -> None:
        for f in dataclasses.fields(EngineStats):
            setattr(self.stats, f.name, getattr(self.engine.stats, f.name))

    def _conductance(self, digits: np.ndarray) -> np.ndarray:
        return self.g_low_S + self.step_S * digits.astype(float)

    # ------------------------------------------------------------------ storing
    def program_mvm(self, digits: np.ndarray, *, analog: bool = False) -> MvmArray:
        array = self.engine.program_mvm(digits, analog=analog)
        self.stats.meter_cells_programmed += array.digits.size
        self._sync()
        return array

    def program_inv(self, digits: np.ndarray, **options: Any) -> InvArray:
        array = self.engine.program_inv(digits, **options)
        self.stats.meter_cells_programmed += array.n * array.width
        self._sync()
        return array

    def prepare(self) -> None:
        self.engine.prepare()
        self._sync()

    def refresh(self, array: MvmArray) -> None:
        self.engine.refresh(array)
        self._sync()

    def rows_per_mvm(self, array: MvmArray) -> int:
        return self.engine.rows_per_mvm(array)

    def read_back(self, array: MvmArray | InvArray) -> np.ndarray:
        out = self.engine.read_back(array)
        self._sync()
        return out

    # ------------------------------------------------------------------ computing
    def mvm_digits(
        self, array: MvmArray, x: np.ndarray, *, repeats: int | None = None
    ) -> np.ndarray:
        before = self.engine.stats.mvm_drives
        out = self.engine.mvm_digits(array, x, repeats=repeats)
        self._count_mvm(array, x, self.engine.stats.mvm_drives - before, analog=False)
        return out

    def mvm_analog(self, array: MvmArray, x: np.ndarray) -> np.ndarray:
        before = self.engine.stats.mvm_drives
        out = self.engine.mvm_analog(array, x)
        self._count_mvm(array, x, self.engine.stats.mvm_drives - before, analog=True)
        return out

    def inv(self, array: InvArray, b: np.ndarray) -> np.ndarray:
        before = self.engine.stats.inv_runs
        out = self.engine.inv(array, b)
        runs = self.engine.stats.inv_runs - before
        b2 = np.asarray(b, dtype=float).reshape(array.n, -1)
        lam, g, k_board = self._loop(array)
        columns = [j for j in range(b2.shape[1]) if np.any(b2[:, j])]
        if runs and columns:
            # The outputs' shape K_board^-1 b (the bias column is removed afterwards,
            # digitally), scaled so the largest sits at the INV headroom.
            v = np.linalg.solve(k_board, b2[:, columns])
            u2 = (v / np.max(np.abs(v), axis=0)) ** 2
            per_run = runs / len(columns)
            cells = float(np.sum(g.sum(axis=0) @ u2)) * per_run
            s = self.stats
            s.meter_inv_runs += runs
            s.meter_inv_per_lambda += runs / lam
            s.meter_inv_rows += runs * array.n
            s.meter_inv_rows_per_lambda += runs * array.n / lam
            s.meter_inv_G_S += cells
            s.meter_inv_G_per_lambda_S += cells / lam
        self._sync()
        return out

    def _loop(self, array: InvArray) -> tuple[float, np.ndarray, np.ndarray]:
        """(lambda_min of D^-1 G, G with the feedback in siemens, K_board in level
        units) of an INV block, as rramlab.sim.inv_circuit sees an ideal-wire block."""
        key = id(array)
        if key not in self._loops:
            feedback = array.diagonal * np.eye(array.n)
            # Every entry is ``copies`` cells in parallel per side, each with level 0's
            # conductance; a differential pair's level-0 parts cancel in K_board.
            z0 = array.copies * self.g_low_S / self.step_S
            cells = sum(total + z0 for total in array.side_totals) + feedback
            k_board = array.digits + feedback + (0.0 if array.differential else z0)
            g = self.step_S * cells  # every cell the outputs drive, and the feedback
            lam = float(np.linalg.eigvals(k_board / cells.sum(axis=1)[:, None]).real.min())
            if not lam > 0:
                raise ValueError("the INV block's loop is not stable (lambda_min <= 0)")
            self._loops[key] = (lam, g, k_board)
        return self._loops[key]

    def _count_mvm(self, array: MvmArray, x: np.ndarray, drives: int, *, analog: bool) -> None:
        n_stack, n_out, n_in = array.shape
        x2 = np.asarray(x, dtype=float).reshape(n_in, -1)
        columns = np.flatnonzero(np.any(x2 != 0, axis=0))
        if drives and columns.size:
            u = x2[:, columns]
            if analog:
                u = u / np.max(np.abs(u), axis=0)
            # sum over the stack's outputs of each input row's conductance: (n_in,)
            row_g = self._conductance(array.digits).sum(axis=(0, 1))
            per = drives / columns.size  # drives per input vector (repeats)
            rows = float(np.count_nonzero(u, axis=0).sum()) * per
            cells = float(row_g @ (u**2).sum(axis=1)) * per
            converted = float(drives * n_stack * n_out)
            s = self.stats
            if analog:
                s.meter_analog_drives += drives
                s.meter_analog_rows += rows
                s.meter_analog_columns += converted
                s.meter_analog_G_S += cells
            else:
                s.meter_bit_drives += drives
                s.meter_bit_rows += rows
                s.meter_bit_columns += converted
                s.meter_bit_G_S += cells
        self._sync()


@dataclass(frozen=True)
class SolveEstimate:
    """ESTIMATE of one solve: ``time_s``, ``energy_J`` and their breakdowns by part
    (``time_parts``: inv, bit_mvm, analog_mvm; ``energy_parts``: adc, dac, drivers,
    amplifiers, cells, digital)."""

    time_s: float
    energy_J: float
    time_parts: dict[str, float]
    energy_parts: dict[str, float]
    counts: dict[str, float]

    def share(self, part: str) -> float:
        """Fraction of the estimated energy spent in ``part``."""
        return self.energy_parts[part] / self.energy_J if self.energy_J else 0.0

    def describe(self) -> str:
        """A few lines, labelled ESTIMATE."""
        c = self.counts
        shares = ", ".join(f"{k} {self.share(k):.0%}" for k in self.energy_parts)
        return (
            f"ESTIMATE (model, not a measurement): {self.time_s * 1e6:.3g} us, "
            f"{self.energy_J * 1e9:.3g} nJ per solve\n"
            f"  from {c['inv_runs']:.0f} INV runs, {c['bit_drives']:.0f} bit-level and "
            f"{c['analog_drives']:.0f} real-valued MVM drives, {c['adc']:.0f} ADC "
            f"conversions\n  energy shares: {shares}"
        )


_NEEDED = [f.name for f in dataclasses.fields(MeteredStats) if f.name.startswith("meter_")]


def estimate_solve(
    ops: Mapping[str, float], params: CircuitParameters | None = None
) -> SolveEstimate:
    """ESTIMATE of the time and energy of the operations in ``ops`` (``result.ops`` of
    a solve run on a :class:`MeteredEngine`, or its ``stats.as_dict()``) with the
    circuit ``params`` (default :class:`CircuitParameters`). Raises ValueError when
    ``ops`` lacks the meter's counts."""
    p = params if params is not None else CircuitParameters()
    missing = [k for k in _NEEDED if k not in ops]
    if missing:
        raise ValueError(
            "ops lack the cost model's counts (e.g. "
            f"{missing[0]!r}): run the solve on MeteredEngine(engine) and pass result.ops"
        )
    o = {k: float(ops[k]) for k in _NEEDED}
    settle = p.settling_factor_s
    # Time: every operation after the other.
    inv_fixed = p.dac_settle_s + p.adc_conversion_s
    t_inv = o["meter_inv_runs"] * inv_fixed + settle * o["meter_inv_per_lambda"]
    t_bit = o["meter_bit_drives"] * p.bit_drive_s
    t_analog = o["meter_analog_drives"] * p.analog_drive_s
    # Energy.
    inv_rows, bit_cols, an_cols = (
        o["meter_inv_rows"],
        o["meter_bit_columns"],
        o["meter_analog_columns"],
    )
    adc = p.adc_energy_J * (inv_rows + bit_cols + an_cols)
    dac = p.dac_energy_J * (inv_rows + o["meter_analog_rows"])
    drivers = p.driver_energy_J * o["meter_bit_rows"]
    amplifiers = p.amplifier_power_W * (
        inv_rows * inv_fixed
        + settle * o["meter_inv_rows_per_lambda"]
        + bit_cols * p.bit_drive_s
        + an_cols * p.analog_drive_s
    )
    # The cells conduct while the loop settles and the outputs convert (INV), while the
    # array settles and the columns convert (MVM).
    cells = (
        p.v_inv_V**2
        * (o["meter_inv_G_S"] * p.adc_conversion_s + settle * o["meter_inv_G_per_lambda_S"])
        + p.v_bit_V**2 * o["meter_bit_G_S"] * p.bit_drive_s
        + p.v_analog_V**2 * o["meter_analog_G_S"] * p.bit_drive_s
    )
    digital = p.digital_energy_J * (inv_rows + bit_cols + an_cols)
    energy_parts = {
        "adc": adc,
        "dac": dac,
        "drivers": drivers,
        "amplifiers": amplifiers,
        "cells": cells,
        "digital": digital,
    }
    time_parts = {"inv": t_inv, "bit_mvm": t_bit, "analog_mvm": t_analog}
    counts = {
        "inv_runs": o["meter_inv_runs"],
        "bit_drives": o["meter_bit_drives"],
        "analog_drives": o["meter_analog_drives"],
        "adc": inv_rows + bit_cols + an_cols,
        "dac": inv_rows + o["meter_analog_rows"],
    }
    return SolveEstimate(
        time_s=sum(time_parts.values()),
        energy_J=sum(energy_parts.values()),
        time_parts=time_parts,
        energy_parts=energy_parts,
        counts=counts,
    )


@dataclass(frozen=True)
class ProgrammingEstimate:
    """ESTIMATE of programming ``cells`` cells by write-verify (one cell at a time)."""

    cells: float
    time_s: float
    energy_J: float


def estimate_programming(
    cells: float, params: CircuitParameters | None = None
) -> ProgrammingEstimate:
    """ESTIMATE of the one-time write-verify cost of ``cells`` cells (``stats.
    meter_cells_programmed`` of a :class:`MeteredEngine`): per pulse, the pulse and a
    verify read (its conversion and the read's ``V^2 G t`` at mid-range)."""
    p = params if params is not None else CircuitParameters()
    if not (math.isfinite(cells) and cells >= 0):
        raise ValueError(f"cells must be a finite number >= 0, got {cells!r}")
    pulses = cells * p.write_pulses_per_cell
    g_mid = (G_LOW_S + G_HIGH_S) / 2
    per_pulse_J = p.write_pulse_energy_J + p.adc_energy_J + p.v_bit_V**2 * g_mid * p.verify_read_s
    return ProgrammingEstimate(
        cells=cells,
        time_s=pulses * (p.write_pulse_s + p.verify_read_s),
        energy_J=pulses * per_pulse_J,
    )
