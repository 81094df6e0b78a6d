"""``rramlab demo``: a short tour of the simulated crossbar.

Forms a simulated 1T1R array with a pulsed ramp, programs it to eight conductance
levels by SET compliance (the word-line gate voltage), reads the conductance map, then
computes with it: an analog matrix-vector product and a closed-loop matrix inversion,
each checked against numpy. Everything runs on the numpy crossbar model in virtual time.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams

LEVELS_S = np.linspace(0.5e-6, 35e-6, 8)  # 3-bit states of Zuo et al. 2025, 0.5-35 uS


def gate_voltage_for(i_cc_A: np.ndarray, params: CrossbarParams) -> np.ndarray:
    """Word-line gate voltage (V) whose transistor saturation current is ``i_cc_A``."""
    return params.transistor_vth_V + np.sqrt(2 * i_cc_A / params.transistor_k_A_per_V2)


def form(array: Crossbar, v_max_V: float = 4.0) -> None:
    """Pulsed forming ramp (10 us pulses, 50 uA gate-limited compliance) until formed."""
    gate = float(gate_voltage_for(np.array(50e-6), array.params))
    for v in np.arange(2.0, v_max_V + 1e-9, 0.05):
        pending = ~array.formed & ~array.stuck
        if not pending.any():
            return
        array.pulse(v, 10e-6, mask=pending, v_gate_V=gate)


def program_levels(array: Crossbar, level_map: np.ndarray) -> None:
    """RESET every cell, then one SET per cell with the compliance that lands on its
    level (g = I_cc / v_set_compliance)."""
    array.pulse(-2.0, 1e-3)
    i_cc = LEVELS_S[level_map] * array.params.v_set_compliance_V
    gates = gate_voltage_for(i_cc, array.params)
    for level in np.unique(level_map):
        cells = level_map == level
        array.pulse(1.6, 1e-3, mask=cells, v_gate_V=float(gates[cells][0]))


def run_demo(seed: int = 1, rows: int = 8, cols: int = 8, console: Console | None = None) -> dict:
    """Run the demo and print its tables; returns the figures it printed."""
    console = console or Console()
    if rows < 4 or cols < 4:
        raise ValueError(f"the demo needs at least a 4 x 4 array, got {rows} x {cols}")
    array = Crossbar(rows, cols, seed=seed)
    rng = np.random.default_rng(seed)

    form(array)
    level_map = rng.integers(0, LEVELS_S.size, size=array.shape)
    program_levels(array, level_map)
    g_read = np.mean([array.read_conductance() for _ in range(4)], axis=0)
    healthy = ~array.stuck & array.formed

    levels = Table(title=f"Simulated {rows}x{cols} 1T1R array, seed {seed}: 8 levels by compliance")
    for name in ("level", "target uS", "gate V", "cells", "mean uS", "spread uS"):
        levels.add_column(name, justify="right")
    gates = gate_voltage_for(LEVELS_S * array.params.v_set_compliance_V, array.params)
    for k, target in enumerate(LEVELS_S):
        cells = (level_map == k) & healthy
        values = g_read[cells] * 1e6
        levels.add_row(
            str(k),
            f"{target * 1e6:.1f}",
            f"{gates[k]:.3f}",
            str(int(cells.sum())),
            f"{values.mean():.2f}" if values.size else "-",
            f"{values.std():.2f}" if values.size > 1 else "-",
        )
    console.print(levels)

    g_true = array.conductance_S
    v_in = rng.uniform(0.0, 0.2, size=rows)
    i_mvm = array.mvm(v_in)
    i_ideal = v_in @ g_true
    mvm_error = float(np.linalg.norm(i_mvm - i_ideal) / np.linalg.norm(i_ideal))

    n = 4
    block = np.arange(n)
    array.pulse(-2.0, 1e-3, rows=block, cols=block)
    array.pulse(
        1.6,
        1e-3,
        rows=block,
        cols=block,
        v_gate_V=float(gate_voltage_for(np.array(3e-6), array.params)),
    )
    for i in block:  # a diagonally dominant block, so the closed loop is stable
        array.pulse(
            1.6,
            1e-3,
            rows=int(i),
            cols=int(i),
            v_gate_V=float(gate_voltage_for(np.array(35e-6), array.params)),
        )
    g_block = array.conductance_S[:n, :n]
    i_in = rng.uniform(-2e-6, 2e-6, size=n)
    inv = array.inv(i_in, rows=block, cols=block)
    x_exact = np.linalg.solve(g_block, -i_in)
    inv_error = float(np.linalg.norm(inv.v_out_V - x_exact) / np.linalg.norm(x_exact))

    g_before = array.conductance_S[healthy]
    array.clock.sleep(86400.0)
    array.read()
    drift = float(np.median(array.conductance_S[healthy] / g_before) - 1)

    summary = Table(title="Computing with the array")
    summary.add_column("quantity")
    summary.add_column("value", justify="right")
    figures = {
        "cells formed": int(array.formed.sum()),
        "defective cells (stuck or unformable)": int((array.defects != "healthy").sum()),
        "MVM relative error vs G^T v": mvm_error,
        "INV relative error vs numpy.linalg.solve": inv_error,
        "INV settling time (s)": inv.settling_time_s,
        "median drift after 1 day": drift,
    }
    for name, value in figures.items():
        summary.add_row(name, f"{value:.3g}" if isinstance(value, float) else str(value))
    console.print(summary)
    return figures
