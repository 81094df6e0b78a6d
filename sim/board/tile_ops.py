"""One tile as the board's circuits see it: the crossbar behind DACs, TIAs, ADCs, gate
drivers and a pulse generator, with the time each operation takes.

Every value the firmware gets from the array passes through a converter of
:mod:`rramlab.sim.board.converters`, and every operation advances the bench clock by
what the datasheet (:class:`~rramlab.sim.board.capabilities.BoardSpec`) says it takes.
The firmware and the write-verify loop never look at the model's true conductances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rramlab.sim import cell
from rramlab.sim.board.capabilities import BoardSpec
from rramlab.sim.board.converters import Converter, auto_range
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.inv_circuit import InvResult
from rramlab.sim.selection import Lines, select

# A real board notices an oscillating INV loop by a watchdog after this long.
INV_WATCHDOG_S = 100e-6


@dataclass(frozen=True)
class Conversion:
    """Converted values and how many conversions clipped."""

    values: np.ndarray
    saturated: int


class Tile:
    """The crossbar ``array`` behind the converters and drivers of ``spec``."""

    def __init__(self, array: Crossbar, spec: BoardSpec) -> None:
        self.array = array
        self.spec = spec
        self.dac = Converter(spec.dac_bits, spec.dac_range_V)
        self.adc = Converter(spec.adc_bits, spec.adc_range_A)
        self.verify_ranges = [Converter(spec.adc_bits, r) for r in spec.verify_ranges_A]
        self.inv_dac = Converter(spec.dac_bits, spec.inv_input_range_A)
        self.inv_adc = Converter(spec.adc_bits, spec.inv_adc_range_V)
        self.monitor = Converter(spec.adc_bits, spec.pulse_monitor_range_A)

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape

    def sleep(self, seconds: float) -> None:
        self.array.clock.sleep(seconds)

    # -- gate -------------------------------------------------------------------------

    def gate_for_pulse(self, v_V: float, gate_V: float) -> float | None:
        """Word-line voltage during a pulse of ``v_V``: the GATE setting limits SET and
        forming currents; a RESET runs with the word line fully on (it needs no
        compliance, and a weak transistor would eat its voltage). None for a passive
        tile, which has no transistors."""
        if self.array.access != "1T1R":
            return None
        return gate_V if v_V > 0 else self.spec.gate_range_V[1]

    def gate_for_current(self, i_A: np.ndarray) -> np.ndarray:
        """Gate voltage (V) whose access-transistor saturation current is ``i_A``, from
        the transistor data of the chip the board was built for (square law)."""
        p = self.array.params
        v = p.transistor_vth_V + np.sqrt(2 * np.maximum(i_A, 0.0) / p.transistor_k_A_per_V2)
        return np.clip(v, *self.spec.gate_range_V)

    def current_limit(self, gate_V: np.ndarray) -> np.ndarray:
        """Compliance (A) that gate voltages ``gate_V`` set."""
        return cell.transistor_current_limit(gate_V, self.array.params)

    # -- pulses -----------------------------------------------------------------------

    def pulse(
        self,
        v_V: float,
        width_s: float,
        gate_V: float,
        *,
        rows: Lines = None,
        cols: Lines = None,
        mask: np.ndarray | None = None,
        shots: int = 1,
        advance: bool = True,
    ) -> Conversion:
        """Pulse the selected cells; ``shots`` is how many pulses the generator makes
        one after the other to do it. The clock advances by their time unless
        ``advance`` is false (a caller batching many pulses lets the time pass once, so
        the array ages once rather than between every two of them). Returns the
        end-of-pulse currents (A) as the current monitor reads them."""
        gate = self.gate_for_pulse(v_V, gate_V)
        if gate is not None and self.current_limit(gate) <= 0:
            # Word line below the transistor's threshold: the cells stay isolated and
            # see nothing (the model would apply the kinetics to them anyway).
            n = int(np.count_nonzero(mask)) if mask is not None else None
            shape = (n,) if n is not None else self._selection_shape(rows, cols)
            currents = np.zeros(shape)
        else:
            currents = self.array.pulse(
                v_V, width_s, rows=rows, cols=cols, mask=mask, v_gate_V=gate
            )
        if advance:
            self.sleep(self.spec.pulse_time_s(width_s, shots))
        values, saturated = self.monitor.quantize(currents)
        return Conversion(values, int(saturated.sum()))

    def _selection_shape(self, rows: Lines, cols: Lines) -> tuple[int, int]:
        """Shape of a rows x cols selection (what a crossbar operation returns)."""
        sel = select(self.shape, rows, cols)
        return sel.rows.size, sel.cols.size

    # -- reads ------------------------------------------------------------------------

    def read(self, v_read_V: float, *, rows: Lines = None, cols: Lines = None) -> Conversion:
        """Read a block of cells at ``v_read_V`` (row by row, columns in parallel):
        currents (A) through the TIAs and ADCs."""
        currents = self.array.read(
            rows=rows, cols=cols, v_read_V=v_read_V, width_s=self.spec.read_width_s
        )
        self.sleep(self.spec.read_time_s(currents.shape[0]))
        values, saturated = self.adc.quantize(currents)
        return Conversion(values, int(saturated.sum()))

    def verify_read(self, mask: np.ndarray, v_read_V: float, repeats: int) -> np.ndarray:
        """``repeats`` reads of the ``mask`` cells through the write-verify sense path
        (auto-ranged), as conductances I/V (S): shape ``(repeats, n)``, cells in
        row-major order."""
        n = int(np.count_nonzero(mask))
        samples = np.empty((repeats, n))
        if n == 0:
            return samples
        for k in range(repeats):
            currents = self.array.read(mask=mask, v_read_V=v_read_V, width_s=self.spec.read_width_s)
            samples[k] = auto_range(currents, self.verify_ranges)[0] / v_read_V
        n_rows = int(np.count_nonzero(mask.any(axis=1)))
        self.sleep(self.spec.read_time_s(n_rows, conversions=repeats))
        return samples

    # -- computing --------------------------------------------------------------------

    def mvm(self, v_in_V: np.ndarray, rows: slice, cols: slice) -> Conversion:
        """Drive ``rows`` with ``v_in_V`` through the DACs, hold ``cols`` at virtual
        ground and convert their currents (A)."""
        v, _ = self.dac.quantize(v_in_V)
        hold = self.spec.mvm_settle_s + self.spec.adc_conversion_s
        currents = self.array.mvm(v, rows=rows, cols=cols, width_s=hold)
        self.sleep(hold)
        values, saturated = self.adc.quantize(currents)
        return Conversion(values, int(saturated.sum()))

    def inv(
        self,
        i_in_A: np.ndarray,
        rows: slice,
        cols: slice,
        feedback_S: float = 0.0,
        copies: int = 1,
        differential: bool = False,
    ) -> tuple[InvResult, np.ndarray]:
        """Run the INV loop with input currents from the current DACs (and
        ``feedback_S`` siemens from each op-amp's output to its input; each output on
        ``copies`` columns, and when ``differential`` its inverse on as many more,
        ``cols`` spanning them all); returns the circuit's result and the outputs (V)
        as the output ADCs convert them. Raises
        :class:`rramlab.errors.InstabilityError` (after the watchdog's time)."""
        i_in, _ = self.inv_dac.quantize(i_in_A)
        self.sleep(self.spec.inv_setup_s)
        try:
            result = self.array.inv(
                i_in,
                rows=rows,
                cols=cols,
                width_s=self.spec.adc_conversion_s,
                feedback_S=feedback_S,
                copies=copies,
                differential=differential,
            )
        except Exception:
            self.sleep(INV_WATCHDOG_S)
            raise
        self.sleep(result.settling_time_s + self.spec.adc_conversion_s)
        return result, self.inv_adc.quantize(result.v_out_V)[0]
