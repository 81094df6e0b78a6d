"""The simulated bench: one crossbar, one clock, one random generator, and the
simulated instruments wired to it.

Everything on a bench shares the crossbar and the clock, so what one instrument does to
a cell, every other instrument sees. The transports (pyvisa backend, TCP server) serve
a bench's :attr:`SimulatedBench.instruments` by resource name.
"""

from __future__ import annotations

import numpy as np

from rramlab.clock import Clock, VirtualClock
from rramlab.sim.board.capabilities import BoardSpec
from rramlab.sim.board.firmware import BoardFirmware
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.message import MessageInstrument
from rramlab.sim.params import CrossbarParams
from rramlab.sim.probe import CellProbe

SMU_MODELS = ("2450", "2636B", "B2902A")


def make_smu(
    model: str, probes: list[CellProbe], clock: Clock, rng: np.random.Generator
) -> MessageInstrument:
    """A simulated SMU of ``model`` whose channels drive ``probes`` (one per channel)."""
    if model == "2450":
        from rramlab.sim.instruments.keithley2450 import Keithley2450Sim

        return Keithley2450Sim(probes[0], clock, rng)
    if model == "2636B":
        from rramlab.sim.instruments.keithley2636b import Keithley2636BSim

        return Keithley2636BSim(probes[:2], clock, rng)
    if model == "B2902A":
        from rramlab.sim.instruments.keysight_b2902a import KeysightB2902ASim

        return KeysightB2902ASim(probes[:2], clock, rng)
    raise ValueError(f"unknown SMU model {model!r}; simulated models: {', '.join(SMU_MODELS)}")


class SimulatedBench:
    """A crossbar of ``rows`` x ``cols`` cells, simulated SMUs of ``smu_models`` (each
    channel probing cell (0, 0) until the board routes it elsewhere) and an array board
    (:attr:`board`, tile 0 = :attr:`array`) whose datasheet is ``board_spec`` (default
    :class:`~rramlab.sim.board.capabilities.BoardSpec`). More tiles: ``bench.board.add_tile``
    (before a driver reads ``CAPS?``)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        smu_models: tuple[str, ...] = SMU_MODELS,
        rows: int = 8,
        cols: int = 8,
        params: CrossbarParams | None = None,
        access: str = "1T1R",
        clock: Clock | None = None,
        board_spec: BoardSpec | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock if clock is not None else VirtualClock()
        self.rng = np.random.default_rng(seed)
        self.array = Crossbar(
            rows, cols, params=params, access=access, clock=self.clock, rng=self.rng
        )
        self.smus: dict[str, MessageInstrument] = {}
        self.probes: dict[str, list[CellProbe]] = {}
        for model in smu_models:
            probes = [CellProbe(self.array), CellProbe(self.array)]
            self.probes[model] = probes
            self.smus[model] = make_smu(model, probes, self.clock, self.rng)
        # The array board on the same crossbar; its switch matrix moves the SMU probes.
        self.board = BoardFirmware(
            self.array, probes=self.probes, spec=board_spec, serial_number=f"SIM{seed}"
        )
