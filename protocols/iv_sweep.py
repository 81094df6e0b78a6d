"""Bipolar I-V loops: 0 -> +V -> 0 (SET branch) then 0 -> -V -> 0 (RESET branch), each
under its own current compliance, for a number of cycles (ArC's CurveTracer).

Each branch is one instrument-side list sweep (:meth:`SourceMeter.sweep_voltage`: every
point sourced, held, measured, all returned in one round trip); the two branches are
separate sweeps because their compliances differ. SMU only: on a station with an array
board the SMU is routed to each cell first.

Switching voltages, per cycle, from the chord conductance ``|i_A / v_V|`` (measured
voltage: when the SMU clamps at its compliance the measured voltage drops to what
drives the compliance current through the cell, so the chord conductance follows the
cell, not the source):

- ``v_set_V``: on the outgoing half of the SET branch (0 -> +V), the source voltage of
  the first point whose chord conductance is at least ``switch_factor`` times the
  branch's low-field value (the median over the outgoing points with |V| <= 1/4 of
  the peak);
- ``v_reset_V``: on the outgoing half of the RESET branch (0 -> -V), the source voltage
  of the current maximum (the first point within 1% of the largest |I|), provided that
  later in that half the chord conductance falls to 1/``switch_factor`` of its value at
  the maximum (a gradual RESET starts where the current stops growing).

Each value is written on the row where it was detected (``switched`` True); the
column is NaN on every other row. :func:`switching_voltages` gives one row per cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rramlab.drivers.source_meter import SweepResult
from rramlab.protocols import cells as cellcheck
from rramlab.protocols.base import ProtocolParams, ProtocolSpec, RunContext

MIN_FIELD = 0.02  # chord conductances below this fraction of the peak level are noise
LOW_FIELD = 0.25  # points with |V| up to this fraction of the peak give the reference
PEAK_WITHIN = 0.99  # the RESET peak: the first point within 1% of the largest |I|
MAX_POINTS_PER_BRANCH = 1000


@dataclass(frozen=True)
class IvSweepParams(ProtocolParams):
    """Parameters of ``iv-sweep`` (SI units; see docs/protocols/iv-sweep.md)."""

    cells: tuple[tuple[int, int], ...] = ((0, 0),)
    v_set_peak_V: float = 1.5  # SET branch turning point (V, > 0)
    v_reset_peak_V: float = -1.5  # RESET branch turning point (V, < 0)
    i_set_compliance_A: float = 100e-6  # current limit of the SET branch (A)
    i_reset_compliance_A: float = 1e-3  # current limit of the RESET branch (A)
    cycles: int = 3
    points_per_branch: int = 31  # points from 0 V to the peak, both included
    step_delay_s: float = 0.0  # extra hold per point, on top of the SMU's source delay (s)
    nplc: float = 0.1  # integration time per point (power-line cycles)
    switch_factor: float = 5.0  # chord-conductance change that counts as a switch

    def check(self) -> None:
        object.__setattr__(self, "cells", cellcheck.normalize_cells(self.cells))
        num = cellcheck.check_number
        num("v_set_peak_V", self.v_set_peak_V, positive=True)
        num("v_reset_peak_V", self.v_reset_peak_V, maximum=-1e-12)
        num("i_set_compliance_A", self.i_set_compliance_A, positive=True)
        num("i_reset_compliance_A", self.i_reset_compliance_A, positive=True)
        cellcheck.check_count("cycles", self.cycles)
        cellcheck.check_count(
            "points_per_branch", self.points_per_branch, minimum=3, maximum=MAX_POINTS_PER_BRANCH
        )
        num("step_delay_s", self.step_delay_s, minimum=0.0)
        num("nplc", self.nplc, positive=True)
        num("switch_factor", self.switch_factor, minimum=1.0 + 1e-9)

    def check_station(self, station) -> None:
        if station.smu is None:
            raise ValueError(f"iv-sweep needs an SMU; station {station.name!r} has none")
        cellcheck.check_cells_fit(self.cells, station)
        for field in ("v_set_peak_V", "v_reset_peak_V"):
            cellcheck.check_pulse_voltage(station, "smu", getattr(self, field), field)
        for field in ("i_set_compliance_A", "i_reset_compliance_A"):
            cellcheck.check_compliance(station, "smu", getattr(self, field), field)
        lo, hi = station.smu.ranges.nplc_range
        if not lo <= self.nplc <= hi:
            raise ValueError(f"nplc={self.nplc:g} is outside the SMU's {lo:g}..{hi:g}")
        if self.step_delay_s > station.limits.max_pulse_width_s:
            raise ValueError(
                f"step_delay_s={self.step_delay_s:g} s exceeds the station's "
                f"max_pulse_width_s={station.limits.max_pulse_width_s:g} s"
            )

    def branch_levels(self, peak_V: float) -> np.ndarray:
        """Source levels of one branch: 0 -> peak -> 0, 2 x points_per_branch - 1 points."""
        out = np.linspace(0.0, peak_V, self.points_per_branch)
        return np.concatenate([out, out[-2::-1]])


def detect_set(
    v_source_V: np.ndarray, v_V: np.ndarray, i_A: np.ndarray, factor: float
) -> int | None:
    """Index of the SET point on the outgoing half (0 -> +V) of a branch (source levels,
    measured voltages and currents), None if the chord conductance never rises
    ``factor``-fold over its low-field value."""
    g = _chord(v_V, i_A, v_source_V)
    ref = _low_field(v_source_V, g)
    if not math.isfinite(ref) or ref <= 0:
        return None
    hits = np.flatnonzero(g >= factor * ref)
    return int(hits[0]) if hits.size else None


def detect_reset(
    v_source_V: np.ndarray, v_V: np.ndarray, i_A: np.ndarray, factor: float
) -> int | None:
    """Index of the RESET point (the current maximum) on the outgoing half (0 -> -V) of
    a branch, None if the chord conductance does not then fall ``factor``-fold."""
    current = np.abs(i_A)
    if not np.isfinite(current).any():
        return None
    peak = int(np.flatnonzero(current >= PEAK_WITHIN * np.nanmax(current))[0])
    g = _chord(v_V, i_A, v_source_V)
    after = g[peak + 1 :]
    if after.size and np.nanmin(after) <= g[peak] / factor:
        return peak
    return None


def _chord(v_V: np.ndarray, i_A: np.ndarray, v_source_V: np.ndarray) -> np.ndarray:
    """|I/V| at each point; NaN where the source was (nearly) at 0 V, where the ratio of
    two noise readings means nothing (it once "detected" a SET at 0 V)."""
    v = np.asarray(v_V, dtype=float)
    source = np.abs(np.asarray(v_source_V, dtype=float))
    meaningful = (v != 0) & (source > MIN_FIELD * source.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(meaningful, np.abs(np.asarray(i_A, dtype=float) / v), np.nan)


def _low_field(v_source_V: np.ndarray, g: np.ndarray) -> float:
    v = np.abs(np.asarray(v_source_V, dtype=float))
    low = (v > 0) & (v <= LOW_FIELD * v.max()) & np.isfinite(g)
    if not low.any():  # too few points: the first non-zero one
        low = (v > 0) & np.isfinite(g)
        low[np.flatnonzero(low)[1:]] = False
    return float(np.median(g[low])) if low.any() else math.nan


def run(ctx: RunContext, params: IvSweepParams) -> None:
    """Sweep each cell's loops; one row per measured point."""
    station = ctx.station
    smu = station.smu
    branches = (
        ("set", params.v_set_peak_V, params.i_set_compliance_A),
        ("reset", params.v_reset_peak_V, params.i_reset_compliance_A),
    )
    total = len(params.cells) * params.cycles * 2
    done = 0
    try:
        smu.configure_measurement(nplc=params.nplc)
        for row, col in params.cells:
            ctx.check_abort()
            smu.disable_output()  # never switch the relay matrix under bias
            station.connect_smu_to(row, col)
            for cycle in range(params.cycles):
                for branch, peak, limit in branches:
                    ctx.check_abort()
                    levels = params.branch_levels(peak)
                    t0 = station.clock.now()
                    sweep = smu.sweep_voltage(
                        levels, current_limit_A=limit, delay_s=params.step_delay_s
                    )
                    t_step = (station.clock.now() - t0) / levels.size
                    where = {"row": row, "col": col, "cycle": cycle, "branch": branch}
                    ctx.log(_rows(params, where, limit, sweep, t_step))
                    done += 1
                    ctx.progress(done / total, f"({row}, {col}) cycle {cycle} {branch}")
    finally:
        smu.disable_output()


def _rows(
    params: IvSweepParams, where: dict, limit_A: float, sweep: SweepResult, t_step_s: float
) -> pd.DataFrame:
    """The rows of one branch's sweep, its switch detected and marked."""
    branch = where["branch"]
    n = sweep.source_V.size
    half = params.points_per_branch  # the outgoing half: 0 -> peak
    outgoing = (sweep.source_V[:half], sweep.voltage_V[:half], sweep.current_A[:half])
    detect = detect_set if branch == "set" else detect_reset
    hit = detect(*outgoing, params.switch_factor)
    frame = pd.DataFrame(
        {
            **where,
            "point": np.arange(n),
            "v_source_V": sweep.source_V,
            "v_V": sweep.voltage_V,
            "i_A": sweep.current_A,
            "i_compliance_A": limit_A,
            "switched": np.zeros(n, dtype=bool),
            "v_set_V": np.nan,
            "v_reset_V": np.nan,
            "t_step_s": t_step_s,
        }
    )
    if hit is not None:
        frame.loc[hit, "switched"] = True
        frame.loc[hit, f"v_{branch}_V"] = sweep.source_V[hit]
    return frame


def switching_voltages(data: pd.DataFrame) -> pd.DataFrame:
    """One row per (row, col, cycle) with its ``v_set_V`` and ``v_reset_V`` (NaN where
    no switch was detected), from the rows ``iv-sweep`` logged."""
    keys = ["row", "col", "cycle"]
    return data.groupby(keys, as_index=False)[["v_set_V", "v_reset_V"]].first()


SPEC = ProtocolSpec(
    name="iv-sweep",
    params=IvSweepParams,
    run=run,
    summary="Bipolar I-V loops with separate SET/RESET compliance; SET and RESET voltages.",
)
