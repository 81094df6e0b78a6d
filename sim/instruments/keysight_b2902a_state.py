"""The numbers of the simulated Keysight B2902A (B2900 data sheet and SCPI reference) and
the settings of one of its channels (:class:`ChannelState`), shared by the modules of
the simulated instrument (:mod:`rramlab.sim.instruments.keysight_b2902a`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rramlab.sim.scpi import Numeric, ScpiError
from rramlab.sim.smu_channel import SimulatedChannel, SmuSpec

IDN = "Keysight Technologies,B2902A,MY51143745,3.4.2011.5100"
LINE_FREQUENCY_HZ = 50.0
MEASURE_OVERHEAD_S = 200e-6
MIN_PULSE_WIDTH_S = 50e-6  # B2900 user's guide: pulse width 50 us to 100 ks

SPEC = SmuSpec(
    model="B2902A",
    voltage_ranges_V=(0.2, 2.0, 20.0, 200.0),
    current_ranges_A=(1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.5, 3.0),
    max_voltage_V=210.0,
    max_current_A=3.03,  # 3 A ranges are pulse-only; DC stops at 1.5 A
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(4e-4, 100.0),
    min_pulse_width_s=MIN_PULSE_WIDTH_S,
    current_noise_floor_A=0.5e-12,  # [assume] sub-pA floor of a precision SMU
    current_noise_of_range=5e-6,  # [assume]
    voltage_noise_V=5e-6,  # [assume]
    measure_overhead_s=MEASURE_OVERHEAD_S,
    line_frequency_Hz=LINE_FREQUENCY_HZ,
)

CHANNELS = (1, 2)
FUNCTIONS = {"VOLT": "VOLTage", "CURR": "CURRent"}
LEVEL = {"VOLT": Numeric(-210.0, 210.0, 0.0, unit="V"), "CURR": Numeric(-3.03, 3.03, 0.0, unit="A")}
# :SENS:CURR:PROT is the current compliance of a voltage source and vice versa.
PROTECTION = {
    "CURR": Numeric(1e-9, 3.03, 1e-4, unit="A", magnitude=True),
    "VOLT": Numeric(0.02, 210.0, 2.0, unit="V", magnitude=True),
}
RANGES = {"VOLT": SPEC.voltage_ranges_V, "CURR": SPEC.current_ranges_A}
NPLC = Numeric(4e-4, 100.0, 1.0)
APERTURE = Numeric(4e-4 / LINE_FREQUENCY_HZ, 100.0 / LINE_FREQUENCY_HZ, 0.02, unit="S")
RANGE_VALUE = {
    "VOLT": Numeric(-210.0, 210.0, 2.0, unit="V"),
    "CURR": Numeric(-3.03, 3.03, 1e-4, unit="A"),
}
PULSE_DELAY = Numeric(0.0, 99_999.9, 0.0, unit="S")
PULSE_WIDTH = Numeric(MIN_PULSE_WIDTH_S, 100_000.0, 1e-4, unit="S")
POINTS = Numeric(1, 2500, 1, integer=True)
SENSE_NAMES = {"VOLT": "VOLTage", "CURR": "CURRent", "RES": "RESistance"}
MAX_LIST_POINTS = 2500


@dataclass
class Trigger:
    """One trigger layer (acquire or transient) of one channel."""

    count: int = 1
    delay_s: float = 0.0
    source: str = "AINT"
    timer_s: float = 1e-5


@dataclass(frozen=True)
class Point:
    """One acquired point: what FETCh returns."""

    voltage_V: float
    current_A: float
    time_s: float
    status: int
    source: float


@dataclass
class ChannelState:
    """Settings of one B2902A channel beyond what :class:`SimulatedChannel` holds."""

    channel: SimulatedChannel
    function: str = "VOLT"
    shape: str = "DC"
    level: dict[str, float] = field(default_factory=lambda: {"VOLT": 0.0, "CURR": 0.0})
    triggered: dict[str, float | None] = field(default_factory=lambda: {"VOLT": None, "CURR": None})
    mode: dict[str, str] = field(default_factory=lambda: {"VOLT": "FIX", "CURR": "FIX"})
    start: dict[str, float] = field(default_factory=lambda: {"VOLT": 0.0, "CURR": 0.0})
    stop: dict[str, float] = field(default_factory=lambda: {"VOLT": 0.0, "CURR": 0.0})
    points: float = 1  # an integer count (numeric parameters arrive as floats)
    spacing: str = "LIN"
    direction: str = "UP"
    lists: dict[str, list[float]] = field(default_factory=lambda: {"VOLT": [], "CURR": []})
    source_range: dict[str, float | None] = field(
        default_factory=lambda: {"VOLT": None, "CURR": None}
    )
    pulse_delay_s: float = 0.0
    pulse_width_s: float = 1e-4
    protection: dict[str, float] = field(
        default_factory=lambda: {f: PROTECTION[f].default for f in PROTECTION}
    )
    sense_on: set[str] = field(default_factory=lambda: {"VOLT", "CURR"})
    nplc: float = 1.0
    sense_range: dict[str, float | None] = field(
        default_factory=lambda: {"VOLT": None, "CURR": None}
    )
    on_auto: bool = True
    off_auto: bool = False
    trigger: dict[str, Trigger] = field(
        default_factory=lambda: {"ACQ": Trigger(), "TRAN": Trigger()}
    )
    data: list[Point] = field(default_factory=list)

    def sync(self) -> None:
        """Copy the settings the physics needs onto the channel."""
        ch = self.channel
        ch.source_function = self.function
        ch.source_level = self.level[self.function]
        ch.current_limit_A = self.protection["CURR"]
        ch.voltage_limit_V = self.protection["VOLT"]
        ch.nplc = self.nplc
        ch.current_range_A = self.sense_range["CURR"]
        ch.voltage_range_V = self.sense_range["VOLT"]

    def trigger_level(self) -> float:
        value = self.triggered[self.function]
        return self.level[self.function] if value is None else value


def smallest_range(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range holding ``|value|`` (ranges reach 101 %), else -222."""
    for r in ranges:
        if abs(value) <= r * 1.01 * (1 + 1e-12):
            return r
    raise ScpiError(-222, f"{value:g} exceeds the largest range")


def max_current(voltage_V: float, pulsed: bool) -> float:
    """B2902A output envelope: 1.5 A to 6 V (3 A pulsed), 1 A to 21 V, 0.1 A above."""
    v = abs(voltage_V)
    if v <= 6.0 * 1.01:
        return 3.03 if pulsed else 1.515
    return 1.05 if v <= 21.0 * 1.01 else 0.105
