"""The simulated RRAM crossbar: an R x C array of cells with their physics, wires and
peripheral circuits, driven through array operations.

Rows index word lines, columns bit lines; ``(row, col)`` everywhere. A cell's voltage is
its row line minus its column line; positive forms and SETs, negative RESETs.

Operations (all SI units):

- :meth:`Crossbar.pulse` applies a voltage for a width (a DC sweep step is a pulse as
  long as the step) to selected cells under a current limit;
- :meth:`Crossbar.read` / :meth:`Crossbar.read_conductance` read selected cells row by
  row, with read noise;
- :meth:`Crossbar.mvm` applies row voltages and returns column currents at virtual
  ground;
- :meth:`Crossbar.inv` runs the closed-loop matrix-inversion circuit on a square block.

Time comes from a :class:`rramlab.clock.Clock` that the model reads but never advances:
whoever drives the array (a simulated instrument, a test) lets time pass, and the array
brings relaxation and retention drift up to date at its next operation. All randomness
comes from one ``numpy.random.Generator``: same seed and same calls give the same
numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from rramlab.clock import Clock, VirtualClock
from rramlab.sim import cell, wear
from rramlab.sim.aging import age_cells
from rramlab.sim.biasing import ACCESS_TYPES, LineBias, check_scheme, line_bias
from rramlab.sim.inv_circuit import InvResult, solve_inv, with_feedback
from rramlab.sim.nodal import Network, NodalSolver
from rramlab.sim.params import CrossbarParams
from rramlab.sim.population import DEFECT_NAMES, HEALTHY, STUCK_HIGH, STUCK_LOW, CellPopulation
from rramlab.sim.selection import Lines, Selection, select
from rramlab.sim.state import NOT_STUCK, CellState, CrossbarSnapshot

# Small biases (reads, MVM, half-selected cells) are accumulated as a dose and applied
# once their kinetic progress could exceed this: a change below read noise even for
# the lowest states (at most 1e-5 * g_ceiling / g), but a great many reads still add
# up to a visible read disturb.
FLUSH_PROGRESS = 1e-5
DOSE_REF_V = 1.0  # doses are kept as seconds at this voltage
# A switching event that moves ln g by more than this restarts the cell's aging clock.
PROGRAMMING_EVENT_LN = 1e-4
DEFAULT_READ_WIDTH_S = 1e-6  # [REFERENCE 5] ~0.2 V, ~1 us reads
MAX_ABS_VOLTAGE_V = 50.0  # no RRAM bench applies more; larger values are mistakes


class Crossbar:
    """An R x C simulated RRAM array.

    ``access`` is ``"1T1R"`` (each cell behind an access transistor on its row's word
    line; default) or ``"passive"`` (0T1R, sneak paths and half-select disturb).
    ``seed`` seeds a new generator unless ``rng`` is given. ``clock`` defaults to a new
    :class:`~rramlab.clock.VirtualClock`.
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        *,
        params: CrossbarParams | None = None,
        access: str = "1T1R",
        clock: Clock | None = None,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        for name, n in (("rows", rows), ("cols", cols)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        if access not in ACCESS_TYPES:
            raise ValueError(f"access must be one of {', '.join(ACCESS_TYPES)}; got {access!r}")
        if rng is not None and seed is not None:
            raise ValueError("give either seed or rng, not both")
        self.shape = (int(rows), int(cols))
        self.access = access
        self.params = params if params is not None else CrossbarParams()
        self.clock = clock if clock is not None else VirtualClock()
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.population = CellPopulation.sample(self.params, self.shape, self.rng)
        self.opamp_offset_V = self.params.opamp_offset_sigma_V * self.rng.standard_normal(rows)
        self.cells = CellState.fresh(self.population, self.params)
        self._t_last = self.clock.now()
        self._noise_var: tuple[np.ndarray, np.ndarray] | None = None  # float32 g, sigma^2
        self._population_changed()

    def _population_changed(self) -> None:
        """Cache what the dose bookkeeping needs of the per-cell parameters, and clear
        the pending row stress (a snapshot or a new array has none)."""
        everything = np.arange(self.population.rate.size)
        self._dose_factor = {
            sign: self._progress_bound(
                everything, np.full(everything.size, sign * DOSE_REF_V), 1.0
            ).reshape(self.shape)
            for sign in (1.0, -1.0)
        }
        self._row_dose_factor = {sign: f.max(axis=1) for sign, f in self._dose_factor.items()}
        # Stress of MVMs over whole rows, kept per row until something needs the cells.
        self._row_v_peak = np.zeros(self.n_rows)
        self._row_dose = {1.0: np.zeros(self.n_rows), -1.0: np.zeros(self.n_rows)}

    def __repr__(self) -> str:
        return (
            f"Crossbar({self.n_rows}x{self.n_cols}, access={self.access!r}, clock={self.clock!r})"
        )

    # ----------------------------------------------------------------- inspection
    @property
    def n_rows(self) -> int:
        return self.shape[0]

    @property
    def n_cols(self) -> int:
        return self.shape[1]

    @property
    def conductance_S(self) -> np.ndarray:
        """True (noise-free) conductance of every cell, as of the last operation."""
        return self.cells.g_S.copy()

    @property
    def formed(self) -> np.ndarray:
        return self.cells.formed.copy()

    @property
    def stuck(self) -> np.ndarray:
        """(R, C) bool: cells that no longer switch (made so, worn out or broken down)."""
        return self.cells.stuck != NOT_STUCK

    @property
    def defects(self) -> np.ndarray:
        """(R, C) str: each cell's condition ("healthy", "stuck low", ...)."""
        codes = np.where(self.cells.stuck != NOT_STUCK, self.cells.stuck, self.population.defect)
        return np.vectorize(DEFECT_NAMES.__getitem__, otypes=[object])(codes).astype(str)

    @property
    def max_voltage_seen_V(self) -> np.ndarray:
        """Largest |voltage| each cell has ever seen (the bench's safety record)."""
        self._materialize_rows()
        return self.cells.v_max_seen_V.copy()

    @property
    def max_current_seen_A(self) -> np.ndarray:
        """Largest |current| each cell has ever carried."""
        self._materialize_rows()
        return self.cells.i_max_seen_A.copy()

    @property
    def cycles(self) -> np.ndarray:
        """Full SET/RESET cycles of wear each cell has seen."""
        return self.cells.cycles.copy()

    @property
    def has_wires(self) -> bool:
        p = self.params
        return p.r_wire_ohm > 0 or p.r_driver_ohm > 0 or p.r_tia_ohm > 0

    # ----------------------------------------------------------------- time and state
    def set_temperature(self, temperature_K: float) -> None:
        """Change the array's temperature (K) from now on; aging so far used the old one."""
        self._sync()
        self.params = self.params.replace(temperature_K=float(temperature_K))

    def snapshot(self) -> CrossbarSnapshot:
        """A copy of the whole state, restorable with :meth:`restore`."""
        self._prepare()
        return CrossbarSnapshot(
            cells=self.cells.copy(),
            population=self.population.copy(),
            opamp_offset_V=self.opamp_offset_V.copy(),
            t_last_s=self._t_last,
            temperature_K=self.params.temperature_K,
            rng_state=self.rng.bit_generator.state,
        ).copy()

    def restore(self, snapshot: CrossbarSnapshot) -> None:
        """Put the array back as it was when ``snapshot`` was taken (the clock is not
        touched: time that has passed since then ages the restored cells)."""
        if snapshot.cells.g_S.shape != self.shape:
            raise ValueError(
                f"snapshot is of a {snapshot.cells.g_S.shape} array, this one is {self.shape}"
            )
        snap = snapshot.copy()
        self.cells = snap.cells
        self.population = snap.population
        self.opamp_offset_V = snap.opamp_offset_V
        self._t_last = snap.t_last_s
        self.params = self.params.replace(temperature_K=snap.temperature_K)
        self.rng.bit_generator.state = snap.rng_state
        self._noise_var = None
        self._population_changed()

    def _prepare(self) -> None:
        """Bring every cell fully up to date before an operation that needs them."""
        self._sync()
        self._materialize_rows()

    def _sync(self) -> None:
        """Bring relaxation and drift up to the clock's present."""
        now = self.clock.now()
        dt = now - self._t_last
        if dt <= 0:
            return
        self._materialize_rows()
        self._t_last = now
        c, pop = self.cells, self.population
        aging = c.formed & (c.stuck == NOT_STUCK)
        if not aging.any():
            return
        floor, ceiling = self._window()
        c.g_S, c.age_s = age_cells(
            g_S=c.g_S,
            age_s=c.age_s,
            aging=aging,
            drift_nu=pop.drift_nu,
            g_floor_S=floor,
            g_ceiling_S=ceiling,
            dt_s=dt,
            p=self.params,
            rng=self.rng,
        )
        self._noise_var = None

    def _window(self) -> tuple[np.ndarray, np.ndarray]:
        """Every cell's present (wear-reduced) floor and ceiling, in siemens."""
        pop = self.population
        return wear.worn_window(
            pop.g_floor_S, pop.g_ceiling_S, self.cells.cycles, pop.endurance_cycles, self.params
        )

    # ----------------------------------------------------------------- operations
    def pulse(
        self,
        v_V: float,
        width_s: float,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        compliance_A: float | None = None,
        v_gate_V: float | None = None,
        scheme: str = "V/2",
    ) -> np.ndarray:
        """Apply ``v_V`` volts for ``width_s`` seconds to the selected cells.

        ``compliance_A`` caps each selected cell's current (an SMU or board limiter);
        in a 1T1R array the word-line gate voltage ``v_gate_V`` (default
        ``params.v_gate_on_V``) caps it too, through the transistor's saturation current.
        ``scheme`` biases the other lines of a passive array (see
        :mod:`rramlab.sim.biasing`). Returns each selected cell's current (A) at the end
        of the pulse, shaped like the selection.
        """
        v = _voltage(v_V, "v_V")
        width = _positive(width_s, "width_s")
        limit = self._current_limit(compliance_A, v_gate_V)
        check_scheme(scheme)
        sel = select(self.shape, rows, cols, mask)
        self._prepare()
        if limit <= 0:
            # The word line is below the access transistor's threshold: the selected
            # cells are cut off and see nothing.
            return np.zeros(sel.out_shape)
        if self._isolated_cells:
            index = None if sel.is_everything_in_order else sel.flat
            self._flush(index)
            return self._switch(index, v, width, limit).reshape(sel.out_shape)
        currents = np.empty(sel.size)
        start = 0
        for group in _row_groups(sel, one_shot=True):
            bias = line_bias(group.row_mask(), group.col_mask(), v, self.access, scheme)
            v_cells = self._cell_voltages(bias)
            currents[start : start + group.size] = self._pulse_network(
                group.flat, v_cells, width, limit
            )
            start += group.size
        return currents.reshape(sel.out_shape)

    def read(
        self,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        v_read_V: float | None = None,
        width_s: float = DEFAULT_READ_WIDTH_S,
        scheme: str = "ground",
    ) -> np.ndarray:
        """Read the selected cells row by row at ``v_read_V`` (default
        ``params.v_read_ref_V``) for ``width_s`` seconds; returns the current (A) each
        selected cell's column carries, shaped like the selection.

        In a passive array the current includes whatever the biasing ``scheme`` lets
        other cells add to the sensed column (sneak paths), as a real read would. Every
        read nudges the cells it biases a little (read disturb).
        """
        v = self.params.v_read_ref_V if v_read_V is None else _voltage(v_read_V, "v_read_V")
        if v == 0:
            raise ValueError("v_read_V must not be 0 V (nothing would flow)")
        width = _positive(width_s, "width_s")
        check_scheme(scheme)
        sel = select(self.shape, rows, cols, mask)
        self._prepare()
        if self._isolated_cells:
            # Row by row with only that row's transistors on: each sensed column carries
            # exactly its selected cell's current.
            self._small_bias(sel.flat, np.full(sel.size, v), width)
            self._flush(sel.flat)
            g = self.cells.g_S.ravel()[sel.flat]
            noise = cell.read_noise_sigma(g, self.params) * self.rng.standard_normal(g.shape)
            g_read = np.maximum(g + noise, 0.0)  # a fluctuating conductance stays >= 0
            return cell.cell_current(g_read, v, self.params).reshape(sel.out_shape)
        currents = np.empty(sel.size)
        start = 0
        for group in _row_groups(sel, one_shot=False):
            bias = line_bias(group.row_mask(), group.col_mask(), v, self.access, scheme)
            v_cells = self._cell_voltages(bias)
            biased = np.flatnonzero(v_cells)
            self._small_bias(biased, v_cells[biased], width)
            self._flush(biased)
            g_read = self._noisy_conductance(bias.rows_on)
            solution = self._solve(g_read, bias.v_rows_V, bias.v_cols_V)
            currents[start : start + group.size] = solution.i_col_terminal_A[group.cols, 0]
            start += group.size
        return currents.reshape(sel.out_shape)

    def read_conductance(
        self,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        v_read_V: float | None = None,
        width_s: float = DEFAULT_READ_WIDTH_S,
        scheme: str = "ground",
    ) -> np.ndarray:
        """:meth:`read` divided by the read voltage: apparent conductance (S)."""
        v = self.params.v_read_ref_V if v_read_V is None else v_read_V
        currents = self.read(
            rows=rows, cols=cols, mask=mask, v_read_V=v_read_V, width_s=width_s, scheme=scheme
        )
        return currents / v

    def mvm(
        self,
        v_in_V: np.ndarray,
        *,
        rows: Lines = None,
        cols: Lines = None,
        noise: bool = True,
        width_s: float = DEFAULT_READ_WIDTH_S,
    ) -> np.ndarray:
        """Analog matrix-vector multiplication: drive the selected rows with ``v_in_V``
        (volts, shape (R_sel,) or (B, R_sel) for a batch), hold every column at virtual
        ground, and return the selected columns' currents (A), shape (C_sel,) or
        (B, C_sel). Unselected rows are grounded (their word lines off in 1T1R). Each
        vector biases the cells for ``width_s`` seconds.

        With ideal wires this is ``shape(V) @ G`` plus read noise (drawn at the output
        with exactly the distribution that independent per-cell conductance fluctuations
        give); with wire resistance it is the nodal solution of the whole network.
        """
        sel = select(self.shape, rows, cols)
        v_in = np.asarray(v_in_V, dtype=float)
        single = v_in.ndim == 1
        v_in = np.atleast_2d(v_in)
        if v_in.ndim != 2 or v_in.shape[1] != sel.rows.size:
            raise ValueError(
                f"v_in_V must have shape ({sel.rows.size},) or (B, {sel.rows.size}), "
                f"got {np.shape(v_in_V)}"
            )
        if not np.all(np.isfinite(v_in)):
            raise ValueError("v_in_V holds a NaN or infinite voltage")
        if np.max(np.abs(v_in)) > MAX_ABS_VOLTAGE_V:
            raise ValueError(f"v_in_V exceeds the model's +-{MAX_ABS_VOLTAGE_V} V")
        width = _positive(width_s, "width_s")
        self._sync()
        self._mvm_stress(sel, v_in, width)
        drive = cell.iv_shape(v_in, self.params)
        if noise and not self.has_wires:
            # Read noise (>= 1%) dwarfs float32 rounding (~1e-7), so the noisy product is
            # computed in float32, together with the variance of the noise.
            g32, var32 = self._float32_views()
            drive32 = drive.astype(np.float32)
            out = drive32 @ _block(g32, sel)
            sigma = np.sqrt(np.square(drive32) @ _block(var32, sel))
            out += sigma * self.rng.standard_normal(out.shape, dtype=np.float32)
            out = out.astype(float)
        elif not self.has_wires:
            out = drive @ _block(self.cells.g_S, sel)
        else:
            v_rows = np.zeros((self.n_rows, v_in.shape[0]))
            v_rows[sel.rows] = v_in.T
            rows_on = self._rows_on(sel)
            solution = self._solve(
                self.cells.g_S * rows_on[:, None], v_rows, np.zeros((self.n_cols, v_in.shape[0]))
            )
            out = solution.i_col_terminal_A[sel.cols].T
            if noise:
                var = _block(self._float32_views()[1], sel)
                sigma = np.sqrt(np.square(drive, dtype=np.float32) @ var)
                out = out + sigma * self.rng.standard_normal(out.shape, dtype=np.float32)
        return out[0] if single else out

    def inv(
        self,
        i_in_A: np.ndarray,
        *,
        rows: Lines = None,
        cols: Lines = None,
        width_s: float = DEFAULT_READ_WIDTH_S,
        feedback_S: float = 0.0,
        copies: int = 1,
    ) -> InvResult:
        """Run the closed-loop INV circuit on the square block ``rows`` x ``cols``:
        inject ``i_in_A`` (A, shape (N,) or (N, B)) into the rows and return the settled
        op-amp outputs (volts on the columns), which solve ``G V = -I``. Other rows are
        grounded (word lines off in 1T1R), other columns held at 0 V. ``feedback_S``
        (S, >= 0) puts a resistor from each op-amp's output to its inverting input, so
        the outputs solve ``(G + feedback_S I) V = -I``. ``copies`` (k >= 1): ``cols``
        holds k n columns and op-amp ``j`` drives columns ``j, n + j, ..., (k-1) n + j``
        (its output switched onto k column lines), so each entry of ``G`` is k cells in
        parallel, ``G = G_0 + ... + G_{k-1}``.

        Raises :class:`rramlab.errors.InstabilityError` when the programmed block cannot
        be inverted by the loop; outputs that hit the clamp are flagged ``saturated``.
        The settled voltages bias the block's cells for ``width_s`` seconds.
        """
        sel = select(self.shape, rows, cols)
        n = sel.rows.size
        if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
            raise ValueError(f"copies must be a positive integer, got {copies!r}")
        if sel.cols.size != copies * n:
            shape = f"{n} x {n}" if copies == 1 else f"{n} x {copies} * {n}"
            raise ValueError(f"the INV block must be square ({shape}), got {sel.cols.size} cols")
        i_in = np.asarray(i_in_A, dtype=float)
        if i_in.ndim not in (1, 2) or i_in.shape[0] != n:
            raise ValueError(f"i_in_A must have shape ({n},) or ({n}, B), got {i_in.shape}")
        if not np.all(np.isfinite(i_in)):
            raise ValueError("i_in_A holds a NaN or infinite current")
        width = _positive(width_s, "width_s")
        feedback = _finite(feedback_S, "feedback_S")
        if feedback < 0:
            raise ValueError(f"feedback_S must be >= 0, got {feedback_S!r}")
        self._prepare()
        p = self.params
        rows_on = self._rows_on(sel)
        g_read = self._noisy_conductance(rows_on)
        if self.has_wires:
            k_rr, k_rc, row_currents = self._inv_network_wires(g_read, sel)
        else:
            k_rr, k_rc, row_currents = self._inv_network_ideal(g_read, sel)
        if copies > 1:
            k_rr, k_rc, row_currents = _parallel_copies(k_rr, k_rc, row_currents, int(copies))
        k_rr, k_rc, row_currents = with_feedback(k_rr, k_rc, row_currents, feedback)
        result = solve_inv(
            k_rr=k_rr,
            k_rc=k_rc,
            row_currents=row_currents,
            i_in_A=i_in,
            offset_V=self.opamp_offset_V[sel.rows],
            gain=p.opamp_gain,
            clamp_V=p.opamp_clamp_V,
            gbw_Hz=p.opamp_gbw_Hz,
        )
        self._inv_stress(sel, result, width)
        return result

    # ----------------------------------------------------------------- internals
    @property
    def _isolated_cells(self) -> bool:
        """True when an operation biases exactly the selected cells (1T1R, ideal wires)."""
        return self.access == "1T1R" and not self.has_wires

    def _rows_on(self, sel: Selection) -> np.ndarray:
        return sel.row_mask() if self.access == "1T1R" else np.ones(self.n_rows, dtype=bool)

    def _current_limit(self, compliance_A: float | None, v_gate_V: float | None) -> float:
        limit = math.inf
        if compliance_A is not None:
            limit = _positive(compliance_A, "compliance_A")
        if self.access == "1T1R":
            gate = self.params.v_gate_on_V if v_gate_V is None else _finite(v_gate_V, "v_gate_V")
            limit = min(limit, float(cell.transistor_current_limit(gate, self.params)))
        elif v_gate_V is not None:
            raise ValueError("v_gate_V applies to 1T1R arrays; this array is passive")
        return limit

    def _cell_voltages(self, bias: LineBias) -> np.ndarray:
        """Voltage across every cell (flat, R*C) under ``bias``; 0 where isolated."""
        if not self.has_wires and not bias.has_floating:
            v = bias.v_rows_V[:, None] - bias.v_cols_V[None, :]
        else:
            g = self.cells.g_S * bias.rows_on[:, None]
            v = self._solve(g, bias.v_rows_V, bias.v_cols_V).cell_voltage_V()[..., 0]
        return np.where(bias.rows_on[:, None], v, 0.0).ravel()

    def _pulse_network(
        self, selected: np.ndarray, v_cells: np.ndarray, width_s: float, limit: float
    ) -> np.ndarray:
        """A pulse where the network sets every cell's voltage: the selected cells switch
        under the limit, the others are disturbed by what they see."""
        others = v_cells != 0
        others[selected] = False
        others = np.flatnonzero(others)
        moving = self._progress_bound(others, v_cells[others], width_s) > FLUSH_PROGRESS
        self._small_bias(others[~moving], v_cells[others[~moving]], width_s)
        index = np.concatenate([selected, others[moving]])
        self._flush(index)
        limits = np.full(index.size, np.inf)
        limits[: selected.size] = limit  # only the selected cells are behind the limiter
        return self._switch(index, v_cells[index], width_s, limits)[: selected.size]

    def _progress_bound(self, index: np.ndarray, v: np.ndarray, width_s) -> np.ndarray:
        """Upper bound of the kinetic progress a bias ``v`` for ``width_s`` can make."""
        pop, p = self.population, self.params
        threshold = np.where(
            v > 0,
            np.minimum(pop.v_set_V.ravel()[index], pop.v_form_V.ravel()[index]),
            pop.v_reset_V.ravel()[index],
        )
        bound = cell.progress(np.abs(v) - threshold, width_s, pop.rate.ravel()[index], p)
        return bound * max(1.0, p.reset_rate)

    def _small_bias(self, index: np.ndarray, v: np.ndarray, width_s: float) -> None:
        """A bias too small to switch in one go (a read, a half-selected cell): record
        what the cells saw and add its dose."""
        i = cell.cell_current(self.cells.g_S.ravel()[index], v, self.params)
        self._record(index, v, i)
        self._add_dose(index, v, width_s)

    def _add_dose(self, index: np.ndarray, v: np.ndarray, width_s) -> None:
        """Accumulate small biases to apply later, when their effect adds up."""
        if index.size == 0:
            return
        dose = width_s * np.exp(
            np.minimum((np.abs(v) - DOSE_REF_V) / self.params.v_kinetic_V, 700.0)
        )
        for target, polarity in ((self.cells.dose_pos_s, v > 0), (self.cells.dose_neg_s, v < 0)):
            np.add.at(target.ravel(), index[polarity], np.broadcast_to(dose, v.shape)[polarity])

    def _flush(self, index: np.ndarray | None = None) -> None:
        """Apply the accumulated small biases of cells (all if ``index`` is None) whose
        effect could now exceed FLUSH_PROGRESS: as one pulse of DOSE_REF_V lasting the
        dose, which makes the same kinetic progress as the sum of the small biases."""
        c = self.cells
        for dose, sign in ((c.dose_pos_s, 1.0), (c.dose_neg_s, -1.0)):
            d = _gather(dose, index)
            due = np.flatnonzero(d * _gather(self._dose_factor[sign], index) > FLUSH_PROGRESS)
            if index is not None:
                due = index[due]
            if due.size == 0:
                continue
            width = dose.ravel()[due]
            np.put(dose, due, 0.0)
            # A disturb is not a programming event: it does not restart the cells' aging.
            self._switch(
                due,
                np.full(due.size, sign * DOSE_REF_V),
                width,
                np.full(due.size, np.inf),
                record=False,
                programming=False,
            )

    def _materialize_rows(self, rows: np.ndarray | None = None) -> None:
        """Move the per-row stress of whole-row MVMs into the cells' own records."""
        if rows is None:
            rows = np.flatnonzero(self._row_v_peak)
        if rows.size == 0:
            return
        c, p = self.cells, self.params
        v_peak = self._row_v_peak[rows][:, None]
        c.v_max_seen_V[rows] = np.maximum(c.v_max_seen_V[rows], v_peak)
        i_peak = np.abs(cell.iv_shape(v_peak, p)) * c.g_S[rows]
        c.i_max_seen_A[rows] = np.maximum(c.i_max_seen_A[rows], i_peak)
        c.dose_pos_s[rows] += self._row_dose[1.0][rows][:, None]
        c.dose_neg_s[rows] += self._row_dose[-1.0][rows][:, None]
        self._row_v_peak[rows] = 0.0
        self._row_dose[1.0][rows] = 0.0
        self._row_dose[-1.0][rows] = 0.0

    def _switch(
        self,
        index: np.ndarray | None,
        v: np.ndarray | float,
        width_s: np.ndarray | float,
        limits: np.ndarray | float,
        *,
        record: bool = True,
        programming: bool = True,
    ) -> np.ndarray:
        """Full switching physics for the cells at flat ``index`` (None: every cell, in
        order); ``v``, ``width_s`` and ``limits`` are scalars or per selected cell.
        Returns the cells' currents (A) at the end of the bias."""
        c, p = self.cells, self.params
        pop = self.population.take(index) if index is not None else self.population.flat()
        g_old = _gather(c.g_S, index)
        stuck_old = _gather(c.stuck, index)
        cycles_old = _gather(c.cycles, index)
        movable = stuck_old == NOT_STUCK
        floor, ceiling = wear.worn_window(
            pop.g_floor_S, pop.g_ceiling_S, cycles_old, pop.endurance_cycles, p
        )
        result = cell.apply_bias(
            g_S=g_old,
            formed=_gather(c.formed, index),
            form_progress=_gather(c.form_progress, index),
            movable=movable,
            formable=pop.defect == HEALTHY,
            v_form_V=pop.v_form_V,
            v_set_V=pop.v_set_V,
            v_reset_V=pop.v_reset_V,
            rate=pop.rate,
            g_floor_S=floor,
            g_ceiling_S=ceiling,
            v_V=v,
            width_s=width_s,
            i_limit_A=limits,
            p=p,
            rng=self.rng,
        )
        cycles = cycles_old + wear.cycles_from_switching(
            result.switched_ln, pop.g_floor_S, pop.g_ceiling_S
        )
        stuck = stuck_old.copy()
        worn_out = np.flatnonzero(movable & result.formed & (cycles >= pop.endurance_cycles))
        if worn_out.size:
            midpoint = np.sqrt(pop.g_floor_S[worn_out] * pop.g_ceiling_S[worn_out])
            stuck[worn_out] = np.where(result.g_S[worn_out] > midpoint, STUCK_HIGH, STUCK_LOW)
        g_new = result.g_S
        currents = result.i_cell_A
        if result.broke_down.any():
            stuck[result.broke_down] = STUCK_HIGH
            g_new = np.where(result.broke_down, p.g_breakdown_S, g_new)
            currents = np.where(
                result.broke_down, cell.cell_current(g_new, result.v_cell_V, p), currents
            )
        restart = programming & (result.switched_ln > PROGRAMMING_EVENT_LN)
        ages = np.where(restart, 0.0, _gather(c.age_s, index))
        _scatter(c.g_S, index, g_new)
        _scatter(c.formed, index, result.formed)
        _scatter(c.form_progress, index, result.form_progress)
        _scatter(c.cycles, index, cycles)
        _scatter(c.stuck, index, stuck)
        _scatter(c.age_s, index, ages)
        if record:
            self._record(index, result.v_cell_V, currents)
        self._noise_var = None
        return currents

    def _record(self, index: np.ndarray | None, v: np.ndarray, i: np.ndarray) -> None:
        """Keep the largest |voltage| and |current| each cell has seen."""
        c = self.cells
        _scatter(c.v_max_seen_V, index, np.maximum(_gather(c.v_max_seen_V, index), np.abs(v)))
        _scatter(c.i_max_seen_A, index, np.maximum(_gather(c.i_max_seen_A, index), np.abs(i)))

    def _mvm_stress(self, sel: Selection, v_in: np.ndarray, width_s: float) -> None:
        """What an MVM does to the cells: each vector biases every selected cell of row
        i at its input v_i. Kept in the safety record and as read-disturb dose; for
        whole rows (the common case) per row, so an MVM costs O(rows), not O(cells)."""
        magnitude = np.abs(v_in)
        v_peak = magnitude.max(axis=0)  # (R_sel,)
        exponent = (magnitude - DOSE_REF_V) / self.params.v_kinetic_V
        weights = width_s * np.exp(np.minimum(exponent, 700.0))
        negative = v_in < 0
        if negative.any():
            dose_neg = np.where(negative, weights, 0.0).sum(axis=0)
            row_dose = {1.0: weights.sum(axis=0) - dose_neg, -1.0: dose_neg}
        else:
            row_dose = {1.0: weights.sum(axis=0), -1.0: np.zeros(v_peak.size)}
        if sel.cols.size == self.n_cols:
            rows = sel.rows
            self._row_v_peak[rows] = np.maximum(self._row_v_peak[rows], v_peak)
            due = np.zeros(rows.size, dtype=bool)
            for sign, dose in row_dose.items():
                self._row_dose[sign][rows] += dose
                due |= self._row_dose[sign][rows] * self._row_dose_factor[sign][rows] > (
                    FLUSH_PROGRESS
                )
            if due.any():
                self._materialize_rows(rows[due])
                self._flush((rows[due][:, None] * self.n_cols + np.arange(self.n_cols)).ravel())
            return
        c = self.cells
        i_peak = np.abs(cell.iv_shape(v_peak, self.params))[:, None] * _block(c.g_S, sel)
        _set_block(c.v_max_seen_V, sel, np.maximum(_block(c.v_max_seen_V, sel), v_peak[:, None]))
        _set_block(c.i_max_seen_A, sel, np.maximum(_block(c.i_max_seen_A, sel), i_peak))
        _set_block(c.dose_pos_s, sel, _block(c.dose_pos_s, sel) + row_dose[1.0][:, None])
        _set_block(c.dose_neg_s, sel, _block(c.dose_neg_s, sel) + row_dose[-1.0][:, None])
        self._flush(sel.flat)

    def _inv_stress(self, sel: Selection, result: InvResult, width_s: float) -> None:
        """The settled INV voltages bias every cell on the op-amps' rows (unselected
        columns are at 0 V): record them and add their dose."""
        v_out = result.v_out_V.reshape(sel.rows.size, -1)
        v_out = np.tile(v_out, (sel.cols.size // sel.rows.size, 1))  # parallel copies
        v_in = result.v_in_V.reshape(sel.rows.size, -1)
        v_cols = np.zeros((self.n_cols, v_out.shape[1]))
        v_cols[sel.cols] = v_out
        index = (sel.rows[:, None] * self.n_cols + np.arange(self.n_cols)[None, :]).ravel()
        for b in range(v_out.shape[1]):
            self._small_bias(index, (v_in[:, b][:, None] - v_cols[:, b][None, :]).ravel(), width_s)
        self._flush(index)

    def _noisy_conductance(self, rows_on: np.ndarray) -> np.ndarray:
        """One read's conductances (S): every conducting cell with read noise drawn."""
        g = self.cells.g_S
        noise = cell.read_noise_sigma(g, self.params) * self.rng.standard_normal(self.shape)
        return np.where(rows_on[:, None], np.maximum(g + noise, 0.0), 0.0)

    def _float32_views(self) -> tuple[np.ndarray, np.ndarray]:
        """Conductances and read-noise variances in float32, cached until cells change."""
        if self._noise_var is None:
            sigma = cell.read_noise_sigma(self.cells.g_S, self.params)
            self._noise_var = (
                self.cells.g_S.astype(np.float32),
                np.square(sigma).astype(np.float32),
            )
        return self._noise_var

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

    def _inv_network_ideal(self, g: np.ndarray, sel: Selection):
        p = self.params
        g_rows = g[sel.rows]  # (N, C): every cell on the op-amps' rows
        g_lin = self._linear_part(g_rows)
        k_rr = np.diag(g_lin.sum(axis=1))
        k_rc = -g_lin[:, sel.cols]
        unselected = np.ones(self.n_cols, dtype=bool)
        unselected[sel.cols] = False
        g_block, g_other = g_rows[:, sel.cols], g_rows[:, unselected].sum(axis=1)

        def row_currents(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
            dv = v_rows[:, None, :] - v_cols[None, :, :]  # (N, N, B)
            to_block = np.einsum("ij,ijb->ib", g_block, cell.iv_shape(dv, p))
            return to_block + g_other[:, None] * cell.iv_shape(v_rows, p)

        return k_rr, k_rc, row_currents

    def _inv_network_wires(self, g: np.ndarray, sel: Selection):
        n, m = sel.rows.size, sel.cols.size  # m = n, or k n for parallel copies
        v_rows = np.zeros((self.n_rows, n + m))
        v_cols = np.zeros((self.n_cols, n + m))
        v_rows[sel.rows, :n] = np.eye(n)
        v_cols[sel.cols, n:] = np.eye(m)
        solver = NodalSolver(self._network(self._linear_part(g)))
        unit = solver.solve(v_rows, v_cols).i_row_terminal_A[sel.rows]
        k_rr, k_rc = unit[:, :n], unit[:, n:]

        def row_currents(vr: np.ndarray, vc: np.ndarray) -> np.ndarray:
            rows_v = np.zeros((self.n_rows, vr.shape[1]))
            cols_v = np.zeros((self.n_cols, vc.shape[1]))
            rows_v[sel.rows], cols_v[sel.cols] = vr, vc
            return self._solve(g, rows_v, cols_v).i_row_terminal_A[sel.rows]

        return k_rr, k_rc, row_currents


def _parallel_copies(k_rr: np.ndarray, k_rc: np.ndarray, row_currents, copies: int):
    """The INV network seen from n op-amps whose outputs each drive ``copies`` columns
    (column ``c n + j`` carries output ``j``): the column conductances add up."""
    n = k_rr.shape[0]
    k_sum = k_rc.reshape(n, copies, n).sum(axis=1)

    def currents(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
        return row_currents(v_rows, np.tile(v_cols, (copies, 1)))

    return k_rr, k_sum, currents


def _gather(array: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    """Values of an (R, C) array at flat ``index`` (a flat view when ``index`` is None)."""
    return array.ravel() if index is None else array.ravel()[index]


def _scatter(array: np.ndarray, index: np.ndarray | None, values: np.ndarray) -> None:
    """Write values at flat ``index`` of an (R, C) array (everything when None)."""
    if index is None:
        array[...] = np.reshape(values, array.shape)
    else:
        np.put(array, index, values)


def _block(array: np.ndarray, sel: Selection) -> np.ndarray:
    """The selected block of an (R, C) array (the array itself when all is selected)."""
    if sel.is_everything_in_order:
        return array
    return array[np.ix_(sel.rows, sel.cols)]


def _set_block(array: np.ndarray, sel: Selection, values: np.ndarray) -> None:
    if sel.is_everything_in_order:
        array[...] = values
    else:
        array[np.ix_(sel.rows, sel.cols)] = values


def _row_groups(sel: Selection, *, one_shot: bool) -> Iterator[Selection]:
    """Split a selection into the groups one physical operation can address: a block
    at once (``one_shot``), or a single row at a time (reads, and any mask)."""
    if sel.is_block and one_shot:
        yield sel
        return
    for r in sel.rows:
        cols = sel.cols if sel.is_block else np.flatnonzero(sel.mask[r])
        yield select(sel.shape, [int(r)], cols)


def _voltage(value: float, name: str) -> float:
    value = _finite(value, name)
    if abs(value) > MAX_ABS_VOLTAGE_V:
        raise ValueError(f"{name}={value!r} V is beyond the model's +-{MAX_ABS_VOLTAGE_V} V")
    return value


def _finite(value: float, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _positive(value: float, name: str) -> float:
    value = _finite(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value
