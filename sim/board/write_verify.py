"""The board's on-board write-verify (``WV``): program every targeted cell of a tile to
its conductance within a relative tolerance, seeing the cells only through reads.

The scheme follows the spirit of the "ASAP" write-verify of Zuo et al., Nature
Electronics 8, 1222 (2025): cells above their target are RESET low, a coarse SET whose
compliance (the word-line gate) is preset from the target lands near it, and fine
pulses whose amplitude adapts to the last observed change finish the job. In detail,
every round:

1. **verify**: read every unfinished cell, averaging auto-ranged reads until the
   standard error of the mean is small against the band (noisy low-conductance cells
   get more reads); a cell whose mean, widened by ``z`` standard errors, lies inside
   the loop's band (``guard`` x tolerance, so the final read still finds it inside) is
   done;
2. **learn**: from the change the last fine SET made, estimate the cell's switching
   progress at that amplitude (SET speeds up e-fold every ``set_efold_V``; a change
   too small to see bounds it from above), and from the last RESET whether its
   amplitude was too weak or too strong;
3. **pulse**, one per unfinished cell:

   - above the band: a RESET whose amplitude comes from the board's RESET calibration
     (depth grows e-fold per ``reset_depth_V``) aimed below the target, corrected by
     ``reset_step_V`` per pulse that did not move the cell or sent it too deep;
   - far below (< ``coarse_below`` x target): a coarse SET, strong enough to finish,
     with the gate set so the transistor's saturation current gives about
     ``coarse_fraction`` x target;
   - below the band: a fine SET under a generous compliance (``fine_headroom`` x
     target: its small partial steps carry little cycle-to-cycle noise) whose amplitude
     is chosen to cover ``fine_aim`` of the remaining gap, from the progress learnt in
     step 2 (a first pulse at ``fine_v0_V``);

4. cells that have had ``cap_limit`` pulses at the amplitude limit, or ``max_pulses``
   in all, are given up (stuck, worn out or unformed cells).

When no cell is left, a final verify (more reads) checks every targeted cell against
the requested tolerance; cells not surely inside (relaxed since their last verify, or
near the edge) go round again and are verified again, a few passes at most. Each
cell's last final verify, taken after its last pulse, is what the board reports.
Relaxation goes on afterwards (it is physics, not the loop): on a 64 x 64 tile a few
cells in a thousand drift past a 5% band within the 0.1 s the loop takes.

Pulses of equal amplitude and gate go out together (one crossbar call, one shot per
row, as a row's cells share the word line and row driver), which keeps the loop
vectorised: a 64 x 64 tile programs in seconds of wall time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.sim.board.tile_ops import Tile

_NONE, _FINE, _RESET, _COARSE = 0, 1, 2, 3


@dataclass(frozen=True)
class WriteVerifyTuning:
    """The firmware's calibration and loop constants (SI units).

    The calibration values describe the chip the board was built for (the simulated
    chip's defaults); on another chip the loop still converges, adapting the amplitudes,
    only with more pulses.
    """

    width_s: float = 1e-6  # every write-verify pulse
    set_compliance_V: float = 1.0  # a compliance-limited SET lands at g ~ I_cc / 1 V
    coarse_v_V: float = 1.6  # coarse SET: far above threshold, it completes
    coarse_fraction: float = 0.8  # coarse SET aims below the target (finish from below)
    coarse_below: float = 0.5  # cells under this fraction of their target get a coarse SET
    max_coarse: int = 2  # coarse SETs per cell, then fine pulses only
    fine_headroom: float = 6.0  # fine SET compliance: small steps carry little noise
    fine_v0_V: float = 1.0  # first fine SET amplitude, below most cells' threshold
    fine_aim: float = 0.7  # a fine SET aims to cover this much of the remaining gap
    set_efold_V: float = 0.04  # SET speeds up e-fold per 40 mV (0.09 V/decade, TaOx)
    set_step_max_V: float = 0.04  # largest rise of a fine amplitude between pulses
    set_drop_max_V: float = 0.15  # largest fall
    set_v_range_V: tuple[float, float] = (0.6, 1.8)
    reset_v_top_V: float = 1.28  # 1 us RESET amplitude that starts to lower a top cell
    reset_g_top_S: float = 250e-6  # conductance of a fully SET cell (filament limit)
    reset_depth_V: float = 0.1  # each 0.1 V more lowers the RESET depth e-fold
    reset_aim: float = 0.8  # a RESET aims this far below the target
    reset_step_V: float = 0.05
    reset_v_max_V: float = 2.6
    verify_repeats: int = 4  # reads averaged per verify, at least ...
    max_repeats: int = 32  # ... and at most: noisy (low) cells get more, until the
    se_goal: float = 0.2  # standard error of the mean is this fraction of the band
    final_repeats: int = 8  # the final verify (the reported values) reads at least this
    final_se_goal: float = 0.15
    guard: float = 0.8  # done when |mean - target| + z * SE <= guard x tolerance
    z: float = 2.0
    min_band: float = 0.5  # the loop's band never shrinks below this x tolerance
    detect_z: float = 2.5  # a change below this many standard errors is noise
    cap_limit: int = 12  # pulses at the amplitude cap before a cell is given up
    passes: int = 3  # final verifications that may send cells round again
    amplitude_grid_V: float = 0.01  # amplitudes are rounded to this, so pulses batch
    gate_grid_V: float = 0.005


@dataclass(frozen=True)
class WriteVerifyResult:
    """Outcome on a tile; arrays are (rows, cols)."""

    g_S: np.ndarray  # final verify read (S); NaN where there was no target
    pulses: np.ndarray  # pulses each cell received (int)
    outside: np.ndarray  # bool: a target cell whose final read misses the tolerance
    rounds: int  # verify-and-pulse rounds the loop ran

    @property
    def n_outside(self) -> int:
        return int(self.outside.sum())


def write_verify(
    tile: Tile,
    targets_S: np.ndarray,
    tol_rel: float,
    max_pulses: int,
    v_read_V: float,
    tuning: WriteVerifyTuning | None = None,
) -> WriteVerifyResult:
    """Program ``tile`` to ``targets_S`` (S, shape of the tile; NaN = leave alone) within
    ``tol_rel`` using at most ``max_pulses`` pulses per cell; reads at ``v_read_V``."""
    loop = _Loop(tile, targets_S, tol_rel, max_pulses, v_read_V, tuning or WriteVerifyTuning())
    return loop.run()


class _Loop:
    """State of one write-verify run over the targeted cells (flat, row-major)."""

    def __init__(
        self,
        tile: Tile,
        targets_S: np.ndarray,
        tol_rel: float,
        max_pulses: int,
        v_read_V: float,
        tuning: WriteVerifyTuning,
    ) -> None:
        self.tile = tile
        self.tol = tol_rel
        self.max_pulses = max_pulses
        self.v_read = v_read_V
        self.k = tuning
        self.shape = targets_S.shape
        self.where = np.flatnonzero(~np.isnan(targets_S.ravel()))  # targeted cells
        n = self.where.size
        self.target = targets_S.ravel()[self.where].astype(float)
        self.g = np.zeros(n)  # latest verify of each cell (S)
        self.g_before = np.zeros(n)  # verify before its last pulse
        self.pulses = np.zeros(n, dtype=np.int64)
        self.done = np.zeros(n, dtype=bool)
        self.gave_up = np.zeros(n, dtype=bool)
        self.last_kind = np.zeros(n, dtype=np.int8)
        self.last_v = np.zeros(n)  # amplitude of the last pulse (V, signed)
        self.coarse = np.zeros(n, dtype=np.int64)
        self.known_v = np.full(n, np.nan)  # a fine SET amplitude (V) ...
        self.known_p = np.full(n, np.nan)  # ... and the switching progress it made
        self.reset_offset = np.zeros(n)  # learnt correction of the RESET calibration (V)
        self.se = np.zeros(n)  # standard error of the latest verify (S)
        self.se_before = np.zeros(n)
        self.at_cap = np.zeros(n, dtype=np.int64)  # pulses at the amplitude cap so far
        self.at_limit = np.zeros(n, dtype=bool)  # the last pulse was at its amplitude cap
        self.rounds = 0
        i_fine = self.k.fine_headroom * self.target * self.k.set_compliance_V
        i_coarse = self.k.coarse_fraction * self.target * self.k.set_compliance_V
        self.gate_fine = self._grid(tile.gate_for_current(i_fine), self.k.gate_grid_V)
        self.gate_coarse = self._grid(tile.gate_for_current(i_coarse), self.k.gate_grid_V)
        # What the fine compliance really allows, for the learning step.
        self.g_cc_fine = tile.current_limit(self.gate_fine) / self.k.set_compliance_V

    def run(self) -> WriteVerifyResult:
        final = np.full(self.where.size, np.nan)
        check = np.ones(self.where.size, dtype=bool)
        self._converge()
        for done_passes in range(self.k.passes + 1):
            # A cell's reported value is its last final verify, taken after its last
            # pulse; re-reading cells that were not pulsed again would only add noise.
            mean, se = self._verify(check, self.k.final_repeats, self.k.final_se_goal)
            final[check] = mean
            unsure = np.zeros_like(check)
            unsure[check] = np.abs(mean - self.target[check]) + self.k.z * se > (
                self.tol * self.target[check]
            )
            retry = unsure & ~self.gave_up & (self.pulses < self.max_pulses)
            if not retry.any() or done_passes == self.k.passes:
                break
            # Relaxed since their verify, or too near the edge: go round again.
            self.done[retry] = False
            self.g[retry] = final[retry]
            self.se[retry] = 0.0
            self.last_kind[retry] = _NONE  # their last pulse was long ago: nothing to learn
            self.at_limit[retry] = False
            self._converge()
            check = retry
        g_out = np.full(self.shape, np.nan)
        pulses = np.zeros(self.shape, dtype=np.int64)
        outside_map = np.zeros(self.shape, dtype=bool)
        g_out.ravel()[self.where] = final
        pulses.ravel()[self.where] = self.pulses
        outside_map.ravel()[self.where] = ~(np.abs(final - self.target) <= self.tol * self.target)
        return WriteVerifyResult(g_out, pulses, outside_map, self.rounds)

    # -- the loop ----------------------------------------------------------------------

    def _converge(self) -> None:
        while True:
            active = ~self.done & ~self.gave_up
            if not active.any():
                return
            self.g_before[active] = self.g[active]
            self.se_before[active] = self.se[active]
            self.g[active], self.se[active] = self._verify(
                active, self.k.verify_repeats, self.k.se_goal
            )
            if self.rounds > 0:
                self._learn(active)
            # Inside the guard band even allowing for the verify's uncertainty; a
            # request tighter than the verify can resolve settles for half the band.
            band = np.maximum(
                self.k.guard * self.tol * self.target - self.k.z * self.se,
                self.k.min_band * self.tol * self.target,
            )
            self.done |= active & (np.abs(self.g - self.target) <= band)
            self.gave_up |= active & ~self.done & (self.pulses >= self.max_pulses)
            self.gave_up |= active & ~self.done & (self.at_cap >= self.k.cap_limit)
            active &= ~self.done & ~self.gave_up
            if not active.any():
                return
            self._pulse(active)
            self.rounds += 1

    def _verify(
        self, cells: np.ndarray, repeats: int, se_goal: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean conductance (S) and its standard error for ``cells``: ``repeats`` reads
        each, more (in batches) for the cells whose spread leaves the mean too
        uncertain, up to ``max_repeats``."""
        index = np.flatnonzero(cells)
        if index.size == 0:
            return np.zeros(0), np.zeros(0)
        total = np.zeros(index.size)
        total_sq = np.zeros(index.size)
        count = np.zeros(index.size)
        todo = np.ones(index.size, dtype=bool)
        goal = se_goal * self.tol * self.target[index]
        while todo.any():
            mask = np.zeros(self.shape, dtype=bool)
            mask.ravel()[self.where[index[todo]]] = True
            samples = self.tile.verify_read(mask, self.v_read, repeats)
            total[todo] += samples.sum(axis=0)
            total_sq[todo] += np.square(samples).sum(axis=0)
            count[todo] += repeats
            mean = total / count
            var = np.maximum(total_sq / count - mean**2, 0.0) * count / np.maximum(count - 1, 1)
            se = np.sqrt(var / count)
            todo = (se > goal) & (count + repeats <= self.k.max_repeats)
        return mean, se

    def _learn(self, active: np.ndarray) -> None:
        k, g, before = self.k, self.g, self.g_before
        self.at_cap += active & self.at_limit
        noise = k.detect_z * np.hypot(self.se, self.se_before)

        fine = active & (self.last_kind == _FINE)
        if fine.any():
            headroom = np.maximum(self.g_cc_fine[fine] - before[fine], 1e-12)
            change = g[fine] - before[fine]
            visible = np.maximum(noise[fine], 0.005 * before[fine])
            seen = change > visible
            frac = np.clip(change / headroom, 0.0, 0.95)
            # Too small to see: the progress was below what the verify can detect.
            frac = np.where(seen, frac, 0.5 * visible / headroom)
            self.known_v[fine] = self.last_v[fine]
            self.known_p[fine] = -np.log1p(-np.clip(frac, 1e-9, 0.95))

        reset = active & (self.last_kind == _RESET)
        if reset.any():
            ratio = np.maximum(g[reset], 1e-12) / np.maximum(before[reset], 1e-12)
            too_weak = np.log(ratio) > -0.02
            too_deep = g[reset] < k.coarse_below * self.target[reset]
            step = np.where(too_weak, k.reset_step_V, np.where(too_deep, -k.reset_step_V, 0.0))
            self.reset_offset[reset] += step

    def _pulse(self, active: np.ndarray) -> None:
        k, g, target = self.k, self.g, self.target
        above = active & (g > target)
        coarse = active & ~above & (g < k.coarse_below * target) & (self.coarse < k.max_coarse)
        fine = active & ~above & ~coarse

        amplitude = np.zeros(g.size)
        gate = np.zeros(g.size)
        limit = np.zeros(g.size)

        # RESET: amplitude from the calibration, aimed below the target.
        depth = np.log(k.reset_g_top_S / (k.reset_aim * target[above]))
        v_reset = k.reset_v_top_V + k.reset_depth_V * np.maximum(depth, 0.0)
        v_reset = v_reset + self.reset_offset[above]
        amplitude[above] = -np.clip(v_reset, k.reset_v_top_V - 0.3, k.reset_v_max_V)
        gate[above] = self.tile.spec.gate_range_V[1]
        limit[above] = k.reset_v_max_V

        amplitude[coarse] = k.coarse_v_V
        gate[coarse] = self.gate_coarse[coarse]
        self.coarse[coarse] += 1

        if fine.any():
            amplitude[fine] = self._fine_amplitude(fine)
            gate[fine] = self.gate_fine[fine]
            limit[fine] = k.set_v_range_V[1]

        amplitude = self._grid(amplitude, k.amplitude_grid_V)
        self.at_limit = active & (np.abs(amplitude) >= limit - 1e-9) & ~coarse
        self.last_kind = np.where(
            above, _RESET, np.where(coarse, _COARSE, np.where(fine, _FINE, _NONE))
        ).astype(np.int8)
        self.last_v = amplitude
        self.pulses += active
        self._apply(active, amplitude, gate)

    def _fine_amplitude(self, fine: np.ndarray) -> np.ndarray:
        """Amplitude (V) of each fine SET: the one whose progress covers ``fine_aim`` of
        the gap, from the cell's last known (amplitude, progress) pair."""
        k = self.k
        g, target = self.g[fine], self.target[fine]
        headroom = np.maximum(self.g_cc_fine[fine] - g, 1e-12)
        want = np.clip(k.fine_aim * (target - g) / headroom, 1e-6, 0.9)
        p_want = -np.log1p(-want)
        known_v, known_p = self.known_v[fine], self.known_p[fine]
        fresh = np.isnan(known_v)
        step = k.set_efold_V * np.log(p_want / np.where(fresh, 1.0, known_p))
        step = np.clip(step, -k.set_drop_max_V, k.set_step_max_V)
        v = np.where(fresh, k.fine_v0_V, known_v + step)
        return np.clip(v, *k.set_v_range_V)

    def _apply(self, active: np.ndarray, amplitude: np.ndarray, gate: np.ndarray) -> None:
        """One crossbar pulse per (amplitude, gate) group; one shot per row of it."""
        cells = np.flatnonzero(active)
        keys = np.stack([amplitude[cells], gate[cells]], axis=1)
        groups, which = np.unique(keys, axis=0, return_inverse=True)
        rows_of = self.where[cells] // self.shape[1]
        shots = 0
        for n, (v, vg) in enumerate(groups):
            members = cells[which.ravel() == n]
            mask = np.zeros(self.shape, dtype=bool)
            mask.ravel()[self.where[members]] = True
            self.tile.pulse(float(v), self.k.width_s, float(vg), mask=mask, advance=False)
            shots += np.unique(rows_of[which.ravel() == n]).size
        self.tile.sleep(self.tile.spec.pulse_time_s(self.k.width_s, shots))

    @staticmethod
    def _grid(values: np.ndarray, step: float) -> np.ndarray:
        return np.round(np.asarray(values, dtype=float) / step) * step
