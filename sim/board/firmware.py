"""The simulated board's firmware: its state machine and command dispatch.

:class:`BoardFirmware` holds what a board's microcontroller holds (the selected tile
and cell, the SMU switch matrix, the gate and read voltages, the idle state of the
lines) and executes one command line (with its block) at a time, returning the reply
lines. The operations on the array (pulses, reads, MVM, INV, write-verify) live in
:mod:`rramlab.sim.board.operations`; the converters, drivers and timing of a tile in
:mod:`rramlab.sim.board.tile_ops`.

What the simulation does with settings a real board would wire up:

- ``ROUTE r c`` moves every SMU probe of the bench (``SimulatedBench.probes``) to that
  cell of the current tile, so an SMU measuring through the bench then drives that
  cell. ``ROUTE OFF`` opens the switch: the SMUs then see an open circuit. ``*RST``
  reconnects them to cell (0, 0) of tile 0, where they start, so single-device scripts
  work on a freshly reset board (``ROUTE?`` says ``OFF`` then, as nothing was routed).
- ``GND``/``FLOAT`` set the idle state of the tile's lines. In a 1T1R tile the word
  lines are off between operations, so idle lines bias no cell either way; the model
  has no leakage through floating lines, and operations drive their own lines. The
  state is kept (and reset by ``*RST``) but changes no physics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence

from rramlab.clock import Clock
from rramlab.sim.board import commands, operations
from rramlab.sim.board.capabilities import PROTOCOL_VERSION, BoardSpec
from rramlab.sim.board.commands import Block, BoardError, Command
from rramlab.sim.board.framing import Frame, Reply
from rramlab.sim.board.tile_ops import Tile
from rramlab.sim.board.write_verify import WriteVerifyTuning
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams
from rramlab.sim.probe import CellProbe

log = logging.getLogger(__name__)

Probes = Mapping[str, Sequence[CellProbe]] | Sequence[CellProbe]


class BoardFirmware:
    """An array test board on crossbar ``array`` (tile 0).

    ``probes``: the bench's SMU probes (a mapping of model to probes, read at every
    ``ROUTE``, or a plain sequence) that the switch matrix moves. ``serial_number``
    appears in ``*IDN?``.
    """

    def __init__(
        self,
        array: Crossbar,
        *,
        probes: Probes = (),
        spec: BoardSpec | None = None,
        serial_number: str = "0",
        tuning: WriteVerifyTuning | None = None,
    ) -> None:
        self.spec = spec if spec is not None else BoardSpec()
        self.tiles: list[Tile] = [Tile(array, self.spec)]
        self.serial_number = serial_number
        self.tuning = tuning if tuning is not None else WriteVerifyTuning()
        self._probes = probes
        self.reset()

    # -- configuration -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.tiles[0].array.clock

    def add_tile(
        self,
        rows: int,
        cols: int,
        *,
        params: CrossbarParams | None = None,
        access: str = "1T1R",
    ) -> int:
        """Add a tile: a new crossbar sharing tile 0's clock and random generator
        (its cells are sampled from that generator now). Returns its id."""
        first = self.tiles[0].array
        array = Crossbar(
            rows,
            cols,
            params=params if params is not None else first.params,
            access=access,
            clock=first.clock,
            rng=first.rng,
        )
        self.tiles.append(Tile(array, self.spec))
        self.lines.append("ground")
        return len(self.tiles) - 1

    def reset(self) -> None:
        """Power-on state (``*RST``): tile 0, no cell selected, switch open, lines
        grounded, default gate and read voltages."""
        self.tile_id = 0
        self.selected: tuple[int, int] | None = None
        self.route: tuple[int, int, int] | None = None  # (tile, row, col)
        self.gate_V = self.spec.default_gate_V
        self.v_read_V = self.spec.read_voltage_V
        self.lines = ["ground"] * len(self.tiles)
        self.saturations = 0
        self._move_probes(self.tiles[0], 0, 0)

    @property
    def tile(self) -> Tile:
        """The selected tile."""
        return self.tiles[self.tile_id]

    # -- dispatch ----------------------------------------------------------------------

    def execute(self, frame: Frame) -> list[Reply]:
        """Run one framed command; returns its reply lines (with blocks)."""
        try:
            if frame.error is not None:
                raise BoardError(frame.error, frame.message)
            cmd = commands.parse(frame.text)
            self._check_block(cmd, frame)
            if cmd.keyword != "SAT?":
                self.saturations = 0  # SAT? reports the command before it
            self.clock.sleep(self.spec.command_time_s)
            handler = getattr(self, f"_cmd_{cmd.spec.handler}", None)
            if handler is not None:
                return handler(cmd)
            return getattr(operations, cmd.spec.handler)(self, cmd, frame.block)
        except BoardError as exc:
            return [Reply(f"ERR {exc.code} {exc.message}")]
        except Exception:  # a bug must not take the board down: report and go on
            log.exception("board firmware failed on %r", frame.text[:80])
            return [Reply("ERR 400 internal firmware fault (logged); the board is still up")]

    @staticmethod
    def _check_block(cmd: Command, frame: Frame) -> None:
        if frame.block is None:
            if cmd.spec.block is Block.REQUIRED:
                raise BoardError(200, f"{cmd.keyword} expects a binary block (BLOCK <n> <crc>)")
            return
        if cmd.spec.block is Block.NONE:
            raise BoardError(101, f"{cmd.keyword} takes no binary block")
        if not frame.crc_ok:
            raise BoardError(201, "block checksum mismatch; nothing was changed")

    # -- identity ----------------------------------------------------------------------

    def _cmd_idn(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        s = self.spec
        return [Reply(f"{s.maker},{s.model},{self.serial_number},{s.firmware_version}")]

    def _cmd_proto(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        return [Reply(f"OK {PROTOCOL_VERSION}")]

    def _cmd_caps(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        tiles = [
            {"id": i, "rows": t.shape[0], "cols": t.shape[1], "access": t.array.access}
            for i, t in enumerate(self.tiles)
        ]
        caps = self.spec.caps(tiles, self.tiles[0].array.params.opamp_clamp_V)
        return [Reply("OK " + json.dumps(caps, separators=(",", ":")))]

    def _cmd_rst(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        self.reset()
        self.clock.sleep(self.spec.route_switch_s)
        return [Reply("OK")]

    # -- selection and routing ---------------------------------------------------------

    def _cmd_tile(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 1)
        new = commands.index(cmd.args[0], len(self.tiles), "tile")
        if new != self.tile_id:
            self.tile_id, self.selected = new, None  # a cell of another tile
        return [Reply("OK")]

    def _cmd_tile_query(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        return [Reply(f"OK {self.tile_id}")]

    def cell(self, row: str, col: str) -> tuple[int, int]:
        """Parse a (row, col) of the current tile (101/102)."""
        rows, cols = self.tile.shape
        return commands.index(row, rows, "row"), commands.index(col, cols, "column")

    def _cmd_sel(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 2)
        self.selected = self.cell(*cmd.args)
        return [Reply("OK")]

    def _cmd_sel_query(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        if self.selected is None:
            return [Reply("OK NONE")]
        return [Reply(f"OK {self.selected[0]} {self.selected[1]}")]

    def _cmd_route(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 1, 2)
        if len(cmd.args) == 1:
            commands.word(cmd.args[0], ("OFF",), "ROUTE")
            self.route = None
            for probe in self._iter_probes():
                probe.disconnect()
        else:
            row, col = self.cell(*cmd.args)
            self._move_probes(self.tile, row, col)
            self.route = (self.tile_id, row, col)
        self.clock.sleep(self.spec.route_switch_s)
        return [Reply("OK")]

    def _cmd_route_query(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        if self.route is None:
            return [Reply("OK OFF")]
        return [Reply(f"OK {self.route[1]} {self.route[2]}")]

    def _iter_probes(self) -> Iterator[CellProbe]:
        groups = self._probes.values() if isinstance(self._probes, Mapping) else [self._probes]
        for group in groups:
            yield from group

    def _move_probes(self, tile: Tile, row: int, col: int) -> None:
        for probe in self._iter_probes():
            probe.array = tile.array
            probe.move_to(row, col)

    def _cmd_gnd(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        self.lines[self.tile_id] = "ground"
        return [Reply("OK")]

    def _cmd_float_lines(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        self.lines[self.tile_id] = "float"
        return [Reply("OK")]

    # -- settings ----------------------------------------------------------------------

    def _cmd_gate(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 1)
        low, high = self.spec.gate_range_V
        self.gate_V = commands.in_range(
            commands.number(cmd.args[0], "gate"), low, high, "GATE", "V"
        )
        return [Reply("OK")]

    def _cmd_gate_query(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        return [Reply(f"OK {self.gate_V:.9g}")]

    def _cmd_vread(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 1)
        v = commands.number(cmd.args[0], "read voltage")
        r = self.spec.dac_range_V
        commands.in_range(v, -r, r, "VREAD", "V")
        if v == 0:
            raise BoardError(102, "VREAD must not be 0 V (nothing would flow)")
        self.v_read_V = v  # from the read reference, not the row DACs: exact
        return [Reply("OK")]

    def _cmd_vread_query(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        return [Reply(f"OK {self.v_read_V:.9g}")]

    def _cmd_sat_query(self, cmd: Command) -> list[Reply]:
        commands.expect_count(cmd, 0)
        return [Reply(f"OK {self.saturations}")]
