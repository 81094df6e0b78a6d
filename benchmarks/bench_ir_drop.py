"""IR-drop MVM benchmark: the nodal line solver against sparse direct and simple iterations.

Run: ``python benchmarks/bench_ir_drop.py``. Prints ratios measured in this run:

1. MVM with wire resistance (rows driven by inputs in 0..0.2 V, columns at virtual
   ground, 1 ohm segments, g uniform 1-10 uS; REFERENCE.md section 3) at 256x256 and
   512x512: NodalSolver build + solve against ``scipy.sparse.linalg.spsolve`` on the
   assembled nodal system, with the error against spsolve and the current lost to IR
   drop, ``1 - sum(I) / sum(G^T v)``; then a batch of input vectors sharing one
   factorisation, against a sparse LU factored once.
2. The preconditioner choice: PCG on the Schur complement with line-solve
   preconditioning (NodalSolver) against block-Jacobi PCG on the full system
   (``scipy.sparse.linalg.cg`` preconditioned by the same batched line solves).
3. Heavy IR drop (more than half the current lost): the solver still converges, while
   the damped fixed point used by CrossSim-style simulators (alternately recompute row
   and column wire voltages from the previous iterate's cell currents) does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy
import scipy.sparse.linalg as spla

from rramlab.sim.nodal import Network, NodalSolver, assemble_sparse
from rramlab.sim.tridiagonal import SymmetricTridiagonal

SEED = 2024


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Best wall time (s) over ``repeats`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def mvm_case(n: int, g_lo: float, g_hi: float, r_seg: float, batch: int = 1):
    rng = np.random.default_rng(SEED + n)
    g = rng.uniform(g_lo, g_hi, (n, n))
    v_in = rng.uniform(0.0, 0.2, (n, batch))
    return Network(g, r_seg, r_seg), v_in, np.zeros(n)


def reference(net: Network, v_rows: np.ndarray, v_cols: np.ndarray):
    """spsolve of the assembled system: (seconds, row voltages, column voltages)."""
    system = assemble_sparse(net, v_rows, v_cols)
    matrix = system.matrix.tocsc()
    start = time.perf_counter()
    x = spla.spsolve(matrix, system.rhs[:, 0])
    seconds = time.perf_counter() - start
    return seconds, x[system.row_node_index], x[system.col_node_index]


def column_currents(g: np.ndarray, v_r: np.ndarray, v_c: np.ndarray) -> np.ndarray:
    return (g * (v_r - v_c)).sum(axis=0)


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def loss(g: np.ndarray, v_in: np.ndarray, i_cols: np.ndarray) -> float:
    return float(1.0 - i_cols.sum() / (g.T @ v_in).sum())


# --------------------------------------------------------------------------- section 1


def bench_mvm(n: int, repeats: int) -> dict:
    net, v_in, v_cols = mvm_case(n, 1e-6, 10e-6, 1.0)
    g = net.g_cells_S

    def nodal():
        return NodalSolver(net).solve(v_in, v_cols)

    t_nodal, sol = best_time(nodal, repeats)
    t_direct, ref_r, ref_c = reference(net, v_in, v_cols)
    i_ref = column_currents(g, ref_r, ref_c)
    return {
        "case": f"{n}x{n} MVM",
        "loss": loss(g, v_in[:, 0], i_ref),
        "nodal_ms": 1e3 * t_nodal,
        "iters": sol.iterations,
        "direct_ms": 1e3 * t_direct,
        "err_v": max(
            rel_err(sol.v_row_nodes_V[..., 0], ref_r), rel_err(sol.v_col_nodes_V[..., 0], ref_c)
        ),
        "err_i": rel_err(sol.i_col_terminal_A[:, 0], i_ref),
    }


def bench_batch(n: int, batch: int) -> dict:
    net, v_in, v_cols = mvm_case(n, 1e-6, 10e-6, 1.0, batch=batch)
    start = time.perf_counter()
    sol = NodalSolver(net).solve(v_in, v_cols)
    t_nodal = time.perf_counter() - start
    system = assemble_sparse(net, v_in, v_cols)
    start = time.perf_counter()
    x = spla.splu(system.matrix.tocsc()).solve(system.rhs)
    t_lu = time.perf_counter() - start
    g = net.g_cells_S
    i_ref = np.stack(
        [
            column_currents(g, x[system.row_node_index][..., k], x[system.col_node_index][..., k])
            for k in range(batch)
        ],
        axis=1,
    )
    return {
        "case": f"{n}x{n} MVM, {batch} vectors",
        "nodal_ms": 1e3 * t_nodal / batch,
        "lu_ms": 1e3 * t_lu / batch,
        "err_i": rel_err(sol.i_col_terminal_A, i_ref),
    }


# --------------------------------------------------------------------------- section 2


def block_jacobi_pcg(net: Network, v_rows: np.ndarray, v_cols: np.ndarray, rtol: float):
    """scipy CG on the full nodal system preconditioned by all line solves (block Jacobi).

    In the assembled ordering (rows row-major, then columns column-major) the three
    central diagonals of the matrix are exactly the block-diagonal line matrices.
    """
    system = assemble_sparse(net, v_rows, v_cols)
    matrix = system.matrix
    start = time.perf_counter()
    lines = SymmetricTridiagonal(matrix.diagonal(), matrix.diagonal(1))
    precond = spla.LinearOperator(
        matrix.shape, matvec=lambda r: lines.solve(np.ascontiguousarray(r).reshape(1, -1))[0]
    )
    count = [0]

    def callback(_):
        count[0] += 1

    x, info = spla.cg(matrix, system.rhs[:, 0], rtol=rtol, M=precond, callback=callback)
    seconds = time.perf_counter() - start
    return seconds, count[0], info, x[system.row_node_index], x[system.col_node_index]


def bench_preconditioners(label: str, net: Network, v_in, v_cols) -> list[dict]:
    g = net.g_cells_S
    _, ref_r, ref_c = reference(net, v_in, v_cols)
    i_ref = column_currents(g, ref_r, ref_c)
    t_schur, sol = best_time(lambda: NodalSolver(net).solve(v_in, v_cols), 2)
    t_bj, iters, info, bj_r, bj_c = block_jacobi_pcg(net, v_in, v_cols, rtol=1e-12)
    return [
        {
            "case": label,
            "method": "Schur PCG, line precond.",
            "iters": sol.iterations,
            "ms": 1e3 * t_schur,
            "err_i": rel_err(sol.i_col_terminal_A[:, 0], i_ref),
        },
        {
            "case": label,
            "method": "block-Jacobi PCG (full)" + ("" if info == 0 else " NOT CONVERGED"),
            "iters": iters,
            "ms": 1e3 * t_bj,
            "err_i": rel_err(column_currents(g, bj_r, bj_c), i_ref),
        },
    ]


# --------------------------------------------------------------------------- section 3


def damped_fixed_point(
    net: Network, v_in: np.ndarray, damping: float, max_iterations: int = 2000, tol=1e-9
):
    """CrossSim-style IR-drop iteration for MVM with ideal drivers and virtual grounds.

    From the previous iterate's cell currents, the current in each row segment is the
    sum of the cell currents downstream of it, and in each column segment the sum of the
    cell currents upstream; integrating the segment drops from the held terminals gives
    new node voltages, blended into the old ones with the damping factor.
    Returns (status, iterations, row voltages, column voltages).
    """
    g, r_row, r_col = net.g_cells_S, net.r_row_seg_ohm, net.r_col_seg_ohm
    v_r = np.repeat(v_in[:, None], g.shape[1], axis=1)
    v_c = np.zeros_like(v_r)
    for iteration in range(1, max_iterations + 1):
        cells = g * (v_r - v_c)
        # row i: segment j (between nodes j-1 and j) carries the cells j..C-1 downstream
        row_seg = np.cumsum(cells[:, ::-1], axis=1)[:, ::-1]
        new_r = v_in[:, None] - r_row * np.cumsum(row_seg, axis=1) + r_row * row_seg[:, :1]
        # column j: segment below node i carries cells 0..i; node R-1 is held at 0 V
        col_seg = np.cumsum(cells, axis=0)[:-1]
        new_c = np.zeros_like(v_c)
        new_c[:-1] = r_col * np.cumsum(col_seg[::-1], axis=0)[::-1]
        change = max(np.abs(new_r - v_r).max(), np.abs(new_c - v_c).max())
        v_r = v_r + damping * (new_r - v_r)
        v_c = v_c + damping * (new_c - v_c)
        if not np.isfinite(change) or change > 1e6:
            return "diverged", iteration, v_r, v_c
        if change < tol * np.abs(v_in).max():
            return "converged", iteration, v_r, v_c
    return "no convergence", max_iterations, v_r, v_c


def bench_fixed_point(label: str, net: Network, v_in: np.ndarray) -> list[dict]:
    g = net.g_cells_S
    v_cols = np.zeros(g.shape[1])
    _, ref_r, ref_c = reference(net, v_in[:, None], v_cols)
    i_ref = column_currents(g, ref_r, ref_c)
    rows = []
    start = time.perf_counter()
    sol = NodalSolver(net).solve(v_in, v_cols)
    rows.append(
        {
            "case": label,
            "method": "NodalSolver",
            "status": f"converged ({sol.iterations} PCG it.)",
            "ms": 1e3 * (time.perf_counter() - start),
            "err_i": rel_err(sol.i_col_terminal_A[:, 0], i_ref),
        }
    )
    for damping in (1.0, 0.5, 0.2, 0.1):
        start = time.perf_counter()
        status, iterations, v_r, v_c = damped_fixed_point(net, v_in, damping)
        with np.errstate(all="ignore"):
            err = rel_err(column_currents(g, v_r, v_c), i_ref)
        rows.append(
            {
                "case": label,
                "method": f"damped fixed point, a={damping}",
                "status": f"{status} ({iterations} it.)",
                "ms": 1e3 * (time.perf_counter() - start),
                "err_i": err,
            }
        )
    return rows


# --------------------------------------------------------------------------- output


def print_table(title: str, rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    widths = []
    for key, label, fmt in columns:
        cells = [fmt.format(row[key]) for row in rows]
        widths.append(max(len(label), *(len(c) for c in cells)))
    print("  ".join(f"{label:<{w}}" for (_, label, _), w in zip(columns, widths, strict=True)))
    for row in rows:
        cells = [fmt.format(row[key]) for key, _, fmt in columns]
        print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)))


def main() -> None:
    start = time.perf_counter()
    print(
        f"IR-drop benchmark: numpy {np.__version__}, scipy {scipy.__version__}; "
        "times are wall clock, ratios from this run"
    )

    mvm = [bench_mvm(256, repeats=3), bench_mvm(512, repeats=2)]
    for row in mvm:
        row["speedup"] = row["direct_ms"] / row["nodal_ms"]
    print_table(
        "1. MVM with 1 ohm segments, g 1-10 uS, inputs 0-0.2 V (NodalSolver = build + solve)",
        mvm,
        [
            ("case", "case", "{}"),
            ("loss", "I lost", "{:.1%}"),
            ("nodal_ms", "NodalSolver ms", "{:.1f}"),
            ("iters", "PCG it.", "{}"),
            ("direct_ms", "spsolve ms", "{:.0f}"),
            ("speedup", "speedup", "{:.0f}x"),
            ("err_v", "err V", "{:.1e}"),
            ("err_i", "err I_col", "{:.1e}"),
        ],
    )
    batch = [bench_batch(256, 32)]
    for row in batch:
        row["speedup"] = row["lu_ms"] / row["nodal_ms"]
    print_table(
        "   reuse across input vectors (per vector; baseline factors splu once)",
        batch,
        [
            ("case", "case", "{}"),
            ("nodal_ms", "NodalSolver ms/vec", "{:.2f}"),
            ("lu_ms", "splu ms/vec", "{:.1f}"),
            ("speedup", "speedup", "{:.0f}x"),
            ("err_i", "err I_col", "{:.1e}"),
        ],
    )

    heavy_net, heavy_in, heavy_cols = mvm_case(256, 20e-6, 200e-6, 2.0)
    pre = bench_preconditioners("256x256, 1 ohm, 1-10 uS", *mvm_case(256, 1e-6, 10e-6, 1.0))
    pre += bench_preconditioners("256x256, 2 ohm, 20-200 uS", heavy_net, heavy_in, heavy_cols)
    print_table(
        "2. Preconditioner choice (both to relative residual 1e-12)",
        pre,
        [
            ("case", "case", "{}"),
            ("method", "method", "{}"),
            ("iters", "iterations", "{}"),
            ("ms", "ms", "{:.1f}"),
            ("err_i", "err I_col", "{:.1e}"),
        ],
    )

    heavy_loss = loss(heavy_net.g_cells_S, heavy_in[:, 0], solve_cols(heavy_net, heavy_in))
    fixed = bench_fixed_point(
        f"256x256, 2 ohm, 20-200 uS, I lost {heavy_loss:.0%}", heavy_net, heavy_in[:, 0]
    )
    print_table(
        "3. Heavy IR drop: nodal solver against the CrossSim-style damped fixed point",
        fixed,
        [
            ("case", "case", "{}"),
            ("method", "method", "{}"),
            ("status", "outcome", "{}"),
            ("ms", "ms", "{:.0f}"),
            ("err_i", "err I_col", "{:.1e}"),
        ],
    )
    print(f"\ntotal benchmark time {time.perf_counter() - start:.0f} s")


def solve_cols(net: Network, v_in: np.ndarray) -> np.ndarray:
    return NodalSolver(net).solve(v_in, np.zeros(net.shape[1])).i_col_terminal_A[:, 0]


if __name__ == "__main__":
    main()
