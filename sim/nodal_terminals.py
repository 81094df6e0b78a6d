"""What enters and leaves the nodal network at the line terminals.

In: source voltages are checked and split into driven values and the floating pattern
(:func:`_parse_sources`), then turned into the right-hand side of the node equations,
with held nodes carrying their held value and their couplings moved to the right
(:func:`_assemble_rhs`). Out: terminal currents as KCL sums of the cell currents along
each line (:func:`_terminal_currents`), 0 on floating lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rramlab.sim.nodal_geometry import (
    _FLOATING,
    _IDEAL,
    _SOURCE,
    _cell_voltages,
    _Config,
    _couple_to_cols,
    _couple_to_rows,
    _Geometry,
    _Side,
)

# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Sources:
    v_r: np.ndarray  # (R, B) source voltages, 0 where floating
    v_c: np.ndarray  # (C, B)
    float_r: np.ndarray  # (R,) bool
    float_c: np.ndarray  # (C,) bool

    @property
    def batch(self) -> int:
        return self.v_r.shape[1]


def _parse_sources(geom: _Geometry, v_rows_V: Any, v_cols_V: Any) -> _Sources:
    v_r = _as_line_voltages(v_rows_V, geom.rows.n_lines, "v_rows_V")
    v_c = _as_line_voltages(v_cols_V, geom.cols.n_lines, "v_cols_V")
    b_r, b_c = v_r.shape[1], v_c.shape[1]
    if b_r != b_c:
        if np.ndim(v_rows_V) == 1:
            v_r = np.repeat(v_r, b_c, axis=1)
        elif np.ndim(v_cols_V) == 1:
            v_c = np.repeat(v_c, b_r, axis=1)
        else:
            raise ValueError(f"v_rows_V and v_cols_V have different batch sizes ({b_r} and {b_c})")
    float_r = np.isnan(v_r[:, 0])
    float_c = np.isnan(v_c[:, 0])
    return _Sources(np.nan_to_num(v_r, nan=0.0), np.nan_to_num(v_c, nan=0.0), float_r, float_c)


def _as_line_voltages(values: Any, n_lines: int, name: str) -> np.ndarray:
    try:
        v = np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array of volts: {exc}") from None
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != n_lines or v.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape ({n_lines},) or ({n_lines}, B) with B >= 1, "
            f"got {np.shape(values)}"
        )
    if np.any(np.isinf(v)):
        raise ValueError(f"{name} must be finite volts or NaN (floating), found inf")
    nan = np.isnan(v)
    if np.any(nan.any(axis=1) != nan.all(axis=1)):
        lines = np.nonzero(nan.any(axis=1) != nan.all(axis=1))[0]
        raise ValueError(
            f"{name}: the set of floating (NaN) lines must be the same for every vector of "
            f"the batch; lines {lines.tolist()} float in some vectors only"
        )
    return v


def _held_values(side: _Side, kinds: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(B, L, n) values of held nodes (ideal-source terminals), 0 elsewhere."""
    held = np.zeros((v.shape[1], side.n_lines, side.n_nodes))
    ideal = kinds == _IDEAL
    held[:, ideal, side.terminal] = v[ideal].T
    return held


def _side_rhs(
    side: _Side,
    kinds: np.ndarray,
    free: np.ndarray,
    v: np.ndarray,
    coupled: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """Right-hand side of one side's node equations: (B, L, n).

    ``coupled`` (updated in place) holds the cell currents from held nodes of the other
    side, amperes; source-resistance terminals and wire segments next to held terminals
    add theirs. Held nodes get their held value.
    """
    b = coupled
    source = kinds == _SOURCE
    if side.r_source_ohm > 0:
        b[:, source, side.terminal] += v[source].T / side.r_source_ohm
    if side.n_nodes > 1:
        ideal = kinds == _IDEAL
        b[:, ideal, side.neighbour] += side.g_wire_S * v[ideal].T
    return np.where(free, b, held)


@dataclass(frozen=True)
class _Rhs:
    b_r: np.ndarray  # (B, R, n_r)
    b_c: np.ndarray  # (B, C, n_c)


def _assemble_rhs(geom: _Geometry, cfg: _Config, src: _Sources) -> _Rhs:
    held_r = _held_values(geom.rows, cfg.kinds_r, src.v_r)
    held_c = _held_values(geom.cols, cfg.kinds_c, src.v_c)
    into_r = _couple_to_rows(geom.g, held_c, geom.rows.n_nodes)
    into_c = _couple_to_cols(geom.g, geom.g.T, held_r, geom.cols.n_nodes)
    b_r = _side_rhs(geom.rows, cfg.kinds_r, cfg.free_r, src.v_r, into_r, held_r)
    b_c = _side_rhs(geom.cols, cfg.kinds_c, cfg.free_c, src.v_c, into_c, held_c)
    return _Rhs(b_r, b_c)


# ------------------------------------------------------------------ terminal currents


def _terminal_currents(
    geom: _Geometry, cfg: _Config, x_r: np.ndarray, x_c: np.ndarray, excess: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """KCL sums of cell currents per line: (R, B) into rows, (C, B) out of columns."""
    g = geom.g
    if excess is None and geom.rows.n_nodes == 1 and geom.cols.n_nodes == 1:
        # Ideal lines: sums of g*(v_r - v_c) as matrix products, no (B, R, C) temporary.
        v_r, v_c = x_r[:, :, 0], x_c[:, :, 0]
        i_r = v_r * geom.row_sum_S - v_c @ g.T
        i_c = v_r @ g - v_c * geom.col_sum_S
    else:
        cell = g * _cell_voltages(x_r, x_c)
        if excess is not None:
            cell = cell + excess
        i_r = cell.sum(axis=2)
        i_c = cell.sum(axis=1)
    i_r[:, cfg.kinds_r >= _FLOATING] = 0.0
    i_c[:, cfg.kinds_c >= _FLOATING] = 0.0
    return i_r.T, i_c.T
