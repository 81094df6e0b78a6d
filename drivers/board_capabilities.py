"""What an array test board says it can do: its ``CAPS?`` reply (JSON) parsed into
tiles and ranges, in SI units (V, A, s, S)."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Tile:
    id: int
    rows: int
    cols: int
    access: str


@dataclass(frozen=True)
class BoardCapabilities:
    """What ``CAPS?`` reports (SI units)."""

    tiles: tuple[Tile, ...]
    dac_bits: int
    dac_range_V: float
    adc_bits: int
    adc_range_A: float
    gate_range_V: tuple[float, float]
    pulse_amplitude_V: float
    pulse_width_s: tuple[float, float]
    read_voltage_V: float
    inv_clamp_V: float
    inv_input_range_A: float
    max_write_verify_pulses: int
    inv_feedback_max_S: float = 0.0  # 0: no INV feedback conductances (key absent)
    inv_copies_max: int = 1  # column lines per INV op-amp output (1: key absent)
    inv_differential: bool = False  # INV ... DIFF=1 (negated outputs) offered (key absent)

    @classmethod
    def parse(cls, text: str) -> BoardCapabilities:
        data = json.loads(text)
        return cls(
            tiles=tuple(
                Tile(int(t["id"]), int(t["rows"]), int(t["cols"]), str(t["access"]))
                for t in data["tiles"]
            ),
            dac_bits=int(data["dac_bits"]),
            dac_range_V=float(data["dac_range_V"]),
            adc_bits=int(data["adc_bits"]),
            adc_range_A=float(data["adc_range_A"]),
            gate_range_V=(float(data["gate_range_V"][0]), float(data["gate_range_V"][1])),
            pulse_amplitude_V=float(data["pulse_amplitude_V"]),
            pulse_width_s=(float(data["pulse_width_s"][0]), float(data["pulse_width_s"][1])),
            read_voltage_V=float(data["read_voltage_V"]),
            inv_clamp_V=float(data["inv_clamp_V"]),
            inv_input_range_A=float(data["inv_input_range_A"]),
            max_write_verify_pulses=int(data["max_write_verify_pulses"]),
            inv_feedback_max_S=float(data.get("inv_feedback_max_S", 0.0)),
            inv_copies_max=int(data.get("inv_copies_max", 1)),
            inv_differential=_flag(data.get("inv_differential", False), "inv_differential"),
        )


def _flag(value: object, key: str) -> bool:
    """A JSON boolean (``true``/``false``), nothing else."""
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value
