"""The simulated array board's datasheet: converter ranges, limits and timing.

What ``CAPS?`` reports comes from here, and so does every number the firmware uses to
quantise, refuse or let time pass. Defaults describe a plausible lab board for the
0.5-35 uS TaOx chip of Zuo et al., Nature Electronics 8, 1222 (2025) [PKU25]:

=============================  ==============================================================
row DACs (reads, MVM inputs)   12 bit over +-1.0 V (LSB 0.49 mV)
column TIAs + ADCs             12 bit over +-100 uA (LSB 49 nA, 0.24 uS at a 0.2 V read)
write-verify sense path        12 bit, auto-ranging over +-1, +-10 and +-100 uA (LSB down
                               to 0.49 nA, 2.4 nS at 0.2 V): the on-board verify reads the
                               low states that the compute ADCs cannot resolve
INV input current DACs         12 bit over +-100 uA (row DAC through a 10 kohm resistor)
INV output ADCs                12 bit over +-0.5 V (the op-amps clamp at +-0.4 V [PKU25])
INV feedback conductances      0 .. 1 mS per op-amp, output to inverting input (a
                               precision resistor bank; realises the diagonal split
                               A+ = Ap + nI of [PKU25]); set exactly
INV parallel copies            each op-amp output switches onto up to 4 column lines
                               (``INV ... COPIES=k``): k cells in parallel per entry
INV differential columns       each op-amp output also drives, through a unity-gain
                               inverter, as many columns again with -V (``INV ...
                               DIFF=1``): signed entries G+ - G- from cell pairs
word-line gate                 0 .. 3.3 V (1T1R compliance via the transistor's I_sat)
pulse generator                +-5 V, 50 ns .. 1 s; end-of-pulse current monitor 12 bit
                               over +-1 mA
read voltage                   0.2 V by default, 1 us per row, column-parallel ADCs
write-verify                   at most 1000 pulses per cell
=============================  ==============================================================

Timing (virtual time on the bench clock): every command costs ``command_time_s`` of
firmware time; a pulse costs its width plus ``pulse_overhead_s``; a read of one row
costs ``read_width_s`` plus one ADC conversion (all columns convert at once); an MVM
settles in 60 ns [PKU25] before its conversion; INV costs its set-up, the circuit's own
settling time and a conversion; moving the relay switch matrix (``ROUTE``) 1 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = "1.1"  # 1.1 added INV ... DIFF= and CAPS? inv_differential


@dataclass(frozen=True)
class BoardSpec:
    """Ranges, resolutions, limits and timing of the simulated board. SI units."""

    maker: str = "RRAMLAB"
    model: str = "RRAMSIM-AB1"
    firmware_version: str = "1.0.0"

    dac_bits: int = 12
    dac_range_V: float = 1.0
    adc_bits: int = 12
    adc_range_A: float = 100e-6
    verify_ranges_A: tuple[float, ...] = (1e-6, 10e-6, 100e-6)  # write-verify sense path
    inv_input_range_A: float = 100e-6
    inv_adc_range_V: float = 0.5
    inv_feedback_max_S: float = 1e-3  # [assume] resistor bank down to 1 kohm per op-amp
    inv_copies_max: int = 4  # [assume] column lines each op-amp output can switch onto
    inv_differential: bool = True  # [assume] unity-gain inverters on the op-amp outputs
    pulse_monitor_range_A: float = 1e-3

    gate_range_V: tuple[float, float] = (0.0, 3.3)
    default_gate_V: float = 1.2  # ~50 uA compliance with the default transistor: safe
    # for forming, the first thing a new chip needs
    pulse_amplitude_V: float = 5.0
    pulse_width_s: tuple[float, float] = (50e-9, 1.0)
    read_voltage_V: float = 0.2  # [PKU25]/[typ] reads at 0.1-0.2 V do not disturb
    max_write_verify_pulses: int = 1000

    command_time_s: float = 10e-6  # firmware parses and dispatches a command
    pulse_overhead_s: float = 1e-6  # drivers settle, lines return to their idle state
    read_width_s: float = 1e-6  # read bias per row
    adc_conversion_s: float = 1e-6  # one conversion, all columns in parallel
    mvm_settle_s: float = 60e-9  # [PKU25] MVM settles in ~60 ns
    inv_setup_s: float = 2e-6  # configure the loop and load the input DACs
    route_switch_s: float = 1e-3  # relay switch matrix

    def caps(self, tiles: list[dict[str, Any]], inv_clamp_V: float) -> dict[str, Any]:
        """The ``CAPS?`` JSON object (docs/board-protocol.md section 2)."""
        return {
            "tiles": tiles,
            "dac_bits": self.dac_bits,
            "dac_range_V": self.dac_range_V,
            "adc_bits": self.adc_bits,
            "adc_range_A": self.adc_range_A,
            "gate_range_V": list(self.gate_range_V),
            "pulse_amplitude_V": self.pulse_amplitude_V,
            "pulse_width_s": list(self.pulse_width_s),
            "read_voltage_V": self.read_voltage_V,
            "inv_clamp_V": inv_clamp_V,
            "inv_input_range_A": self.inv_input_range_A,
            "inv_feedback_max_S": self.inv_feedback_max_S,
            "inv_copies_max": self.inv_copies_max,
            "inv_differential": self.inv_differential,
            "max_write_verify_pulses": self.max_write_verify_pulses,
        }

    def read_time_s(self, n_rows: int, conversions: int = 1) -> float:
        """Seconds to read ``n_rows`` rows, each biased once while its columns convert
        together ``conversions`` times."""
        return n_rows * (self.read_width_s + conversions * self.adc_conversion_s)

    def pulse_time_s(self, width_s: float, n_shots: int = 1) -> float:
        """Seconds for ``n_shots`` pulses of ``width_s`` seconds, one after the other."""
        return n_shots * (width_s + self.pulse_overhead_s)
