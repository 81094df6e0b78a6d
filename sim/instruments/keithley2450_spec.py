"""The numbers of the simulated Keithley 2450 (2450 datasheet and reference manual): its
identity, ranges, limits and the value types of its settings, shared by the modules of
the simulated instrument (:mod:`rramlab.sim.instruments.keithley2450`)."""

from __future__ import annotations

from rramlab.sim.scpi import Choice, Numeric, ScpiError
from rramlab.sim.smu_channel import SmuSpec

IDN = "KEITHLEY INSTRUMENTS,MODEL 2450,04365704,1.6.4c"
LINE_FREQUENCY_HZ = 50.0
MEASURE_OVERHEAD_S = 200e-6
AUTO_SOURCE_DELAY_S = 1e-3  # [assume] the auto source delay, for every range
SHORTEST_PULSE_S = 0.01 / LINE_FREQUENCY_HZ + MEASURE_OVERHEAD_S  # one list-sweep point

SPEC = SmuSpec(
    model="2450",
    voltage_ranges_V=(0.02, 0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0),
    max_voltage_V=210.0,
    max_current_A=1.05,
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(0.01, 10.0),
    min_pulse_width_s=SHORTEST_PULSE_S,
    current_noise_floor_A=2e-12,  # [assume] below the 10 nA range's 50 pA accuracy term
    current_noise_of_range=1e-5,  # [assume] 10 ppm of range rms at 1 NPLC
    voltage_noise_V=1e-5,  # [assume]
    measure_overhead_s=MEASURE_OVERHEAD_S,
    line_frequency_Hz=LINE_FREQUENCY_HZ,
)

FUNCTIONS = {"VOLT": "VOLTage", "CURR": "CURRent"}
LEVEL = {"VOLT": Numeric(-210.0, 210.0, 0.0, unit="V"), "CURR": Numeric(-1.05, 1.05, 0.0, unit="A")}
# The limit of a voltage source is a current and the other way round (magnitudes).
LIMIT = {
    "VOLT": Numeric(1e-9, 1.05, 105e-6, unit="A", magnitude=True),
    "CURR": Numeric(0.02, 210.0, 21.0, unit="V", magnitude=True),
}
LIMIT_NAME = {"VOLT": "ILIMit", "CURR": "VLIMit"}
RANGES = {"VOLT": SPEC.voltage_ranges_V, "CURR": SPEC.current_ranges_A}
RANGE_VALUE = {
    "VOLT": Numeric(-210.0, 210.0, 0.2, unit="V"),
    "CURR": Numeric(-1.05, 1.05, 1e-4, unit="A"),
}
POWER_V, POWER_I = 21.0, 0.105  # 20 W envelope: above 105 mA only up to 21 V
NPLC = Numeric(0.01, 10.0, 1.0)
DELAY = Numeric(0.0, 10_000.0, 0.0, unit="S")
OUTPUT_OFF_MODES = Choice(("NORMal", "HIMPedance", "ZERO", "GUARd"))


def smallest_range(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range holding ``|value|`` (ranges reach 105 %), else -222."""
    for r in ranges:
        if abs(value) <= r * 1.05 * (1 + 1e-12):
            return r
    raise ScpiError(-222, f"{value:g} exceeds the largest range")
