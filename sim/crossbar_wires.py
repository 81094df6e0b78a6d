"""The crossbar's line network: cell voltages and currents (V, A) once wire, driver
and TIA resistances (ohm) and the cells' nonlinearity are taken into account, through
the nodal solver. Mixed into :class:`rramlab.sim.crossbar.Crossbar`."""

from __future__ import annotations

import numpy as np

from rramlab.sim import cell
from rramlab.sim.biasing import LineBias
from rramlab.sim.nodal import Network, NodalSolver


class WiresMixin:
    """Solving the array's line network (uses ``cells``, ``params``, ``has_wires``)."""

    def _cell_voltages(self, bias: LineBias) -> np.ndarray:
        """Voltage across every cell (flat, R*C) under ``bias``; 0 where isolated."""
        if not self.has_wires and not bias.has_floating:
            v = bias.v_rows_V[:, None] - bias.v_cols_V[None, :]
        else:
            g = self.cells.g_S * bias.rows_on[:, None]
            v = self._solve(g, bias.v_rows_V, bias.v_cols_V).cell_voltage_V()[..., 0]
        return np.where(bias.rows_on[:, None], v, 0.0).ravel()

    def _linear_part(self, g_S: np.ndarray) -> np.ndarray:
        return g_S * float(cell.iv_slope(0.0, self.params))

    def _network(self, g_lin: np.ndarray) -> Network:
        p = self.params
        return Network(
            g_cells_S=g_lin,
            r_row_seg_ohm=p.r_wire_ohm,
            r_col_seg_ohm=p.r_wire_ohm,
            r_row_source_ohm=p.r_driver_ohm,
            r_col_source_ohm=p.r_tia_ohm,
        )

    def _solve(self, g_S: np.ndarray, v_rows: np.ndarray, v_cols: np.ndarray):
        """Solve the line network with nonlinear cells of conductance ``g_S``."""
        p = self.params
        g_lin = self._linear_part(g_S)

        def excess(dv: np.ndarray) -> np.ndarray:
            return g_S[..., None] * cell.iv_shape(dv, p) - g_lin[..., None] * dv

        return NodalSolver(self._network(g_lin)).solve(v_rows, v_cols, cell_excess_current=excess)
