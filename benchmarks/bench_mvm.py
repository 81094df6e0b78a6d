"""Ideal-wire MVM on the crossbar model versus a plain numpy matmul of the same shapes.

1024 x 1024 array, a batch of 256 input vectors, read noise on. Target: within 2x of
the matmul. Prints ratios measured in this run; asserts nothing.
"""

from __future__ import annotations

import numpy as np
from timing import best_time

from rramlab.sim.crossbar import Crossbar

N, BATCH = 1024, 256


def main() -> None:
    array = Crossbar(N, N, seed=0)
    array.pulse(3.5, 1e-5, v_gate_V=1.2)  # form everything (stuck cells stay)
    array.pulse(-1.6, 1e-3)
    rng = np.random.default_rng(1)
    v = rng.uniform(0.0, 0.2, size=(BATCH, N))
    g = array.conductance_S
    matmul = best_time(lambda: v @ g)
    noisy = best_time(lambda: array.mvm(v))
    quiet = best_time(lambda: array.mvm(v, noise=False))
    print(f"MVM {N}x{N}, batch {BATCH} (ideal wires)")
    print(f"  numpy matmul (baseline)   {matmul * 1e3:8.1f} ms   1.00x")
    print(f"  model mvm, noise on       {noisy * 1e3:8.1f} ms   {noisy / matmul:.2f}x  (target 2x)")
    print(f"  model mvm, noise off      {quiet * 1e3:8.1f} ms   {quiet / matmul:.2f}x")


if __name__ == "__main__":
    main()
