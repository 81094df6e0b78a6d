"""Programming pulses on a 1024 x 1024 crossbar: cell updates per second.

Each pulse runs the full switching physics (kinetics, compliance, cycle-to-cycle noise,
wear) on every cell of the array. The baseline is one numpy pass over the same array
(``np.exp``), timed in the same run, so the ratio says how many such passes a pulse
costs on this machine. Prints figures; asserts nothing.
"""

from __future__ import annotations

import numpy as np
from timing import best_time

from rramlab.sim.crossbar import Crossbar

N = 1024


def main() -> None:
    array = Crossbar(N, N, seed=0)
    array.pulse(3.5, 1e-5, v_gate_V=1.2)
    cells = N * N
    g = array.conductance_S
    baseline = best_time(lambda: np.exp(g))
    state = {"sign": 1.0}

    def alternate():  # SET then RESET pulses, so every pulse switches cells
        state["sign"] = -state["sign"]
        if state["sign"] > 0:
            array.pulse(1.4, 100e-9, v_gate_V=1.0)
        else:
            array.pulse(-1.7, 100e-9)

    full = best_time(alternate, repeats=6)
    row = best_time(lambda: array.pulse(1.4, 100e-9, rows=5, v_gate_V=1.0), repeats=20)
    one = best_time(lambda: array.pulse(1.4, 100e-9, rows=5, cols=7, v_gate_V=1.0), repeats=50)
    print(f"Programming pulses on a {N}x{N} 1T1R array")
    print(f"  numpy exp over the array (baseline) {baseline * 1e3:7.2f} ms   1.0x")
    print(
        f"  whole-array pulse   {full * 1e3:8.1f} ms   {full / baseline:5.1f}x   "
        f"{cells / full / 1e6:6.1f} M cell updates/s"
    )
    print(f"  one-row pulse       {row * 1e3:8.2f} ms            {N / row / 1e6:6.2f} M updates/s")
    print(f"  single-cell pulse   {one * 1e6:8.1f} us            {1 / one:8.0f} pulses/s")


if __name__ == "__main__":
    main()
