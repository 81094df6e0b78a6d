"""The board's operations on its tiles: PULSE, READ, MVM, INV and WV.

Each function takes the firmware (its state: tile, selection, gate, read voltage), the
parsed command and its block (already CRC-checked), validates everything before it
touches the array (so a refused command changes nothing), runs the operation through
the tile's converters and returns the reply lines. Formats are those of
docs/board-protocol.md: currents and voltages as float32 little-endian blocks, indices
and counts as uint16.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rramlab.errors import ConvergenceError, InstabilityError
from rramlab.sim.board import commands
from rramlab.sim.board.commands import BoardError, Command
from rramlab.sim.board.framing import Reply
from rramlab.sim.board.write_verify import write_verify

if TYPE_CHECKING:
    from rramlab.sim.board.firmware import BoardFirmware

F32 = np.dtype("<f4")
U16 = np.dtype("<u2")


def _f32(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype=F32).tobytes()


def _values(block: bytes, dtype: np.dtype, count: int, what: str) -> np.ndarray:
    """Decode a host block of ``count`` values (202 if its size is wrong)."""
    expected = count * dtype.itemsize
    if len(block) != expected:
        raise BoardError(
            202,
            f"{what} needs a block of {expected} bytes ({count} x {dtype.itemsize}), "
            f"got {len(block)}",
        )
    return np.frombuffer(block, dtype=dtype).astype(float if dtype == F32 else np.int64)


def _block_range(
    fw: BoardFirmware, r0: str, c0: str, n_rows: str, n_cols: str
) -> tuple[slice, slice]:
    """Rows and columns ``[r0, r0+n_rows) x [c0, c0+n_cols)`` inside the current tile."""
    rows, cols = fw.tile.shape
    first = (commands.integer(r0, "r0"), commands.integer(c0, "c0"))
    size = (commands.integer(n_rows, "n_rows"), commands.integer(n_cols, "n_cols"))
    for start, count, total, name in zip(first, size, (rows, cols), ("row", "column"), strict=True):
        if count < 1 or start < 0 or start + count > total:
            raise BoardError(
                102, f"{name}s {start}..{start + count - 1} are outside the tile's 0..{total - 1}"
            )
    return slice(first[0], first[0] + size[0]), slice(first[1], first[1] + size[1])


def _saturated(fw: BoardFirmware, count: int, what: str) -> str | None:
    """Record the saturation count; the ERR 300 line when any conversion clipped."""
    fw.saturations = count
    if count:
        return f"ERR 300 {count} {what} saturated; values clipped at the ADC range"
    return None


# -- pulses ----------------------------------------------------------------------------


def pulse(fw: BoardFirmware, cmd: Command, block: bytes | None) -> list[Reply]:
    """``PULSE <V> <width_s> [ROW <r> | CELLS <n>]``."""
    commands.expect_count(cmd, 2, 4)
    spec, tile = fw.spec, fw.tile
    v = commands.number(cmd.args[0], "amplitude")
    width = commands.number(cmd.args[1], "width")
    commands.in_range(v, -spec.pulse_amplitude_V, spec.pulse_amplitude_V, "amplitude", "V")
    commands.in_range(width, *spec.pulse_width_s, "width", "s")
    if len(cmd.args) == 2:
        if block is not None:
            raise BoardError(101, "PULSE on the selected cell takes no binary block")
        if fw.selected is None:
            raise BoardError(103, "no cell selected (SEL <row> <col>)")
        row, col = fw.selected
        result = tile.pulse(v, width, fw.gate_V, rows=row, cols=col)
        error = _saturated(fw, result.saturated, "pulse current monitor")
        if error:
            return [Reply(f"{error}; the pulse was applied")]
        return [Reply(f"OK {float(result.values.ravel()[0]):.9g}")]
    form = commands.word(cmd.args[2], ("ROW", "CELLS"), "PULSE target")
    if form == "ROW":
        if block is not None:
            raise BoardError(101, "PULSE ... ROW takes no binary block")
        row = commands.index(cmd.args[3], tile.shape[0], "row")
        tile.pulse(v, width, fw.gate_V, rows=row)
        return [Reply("OK")]
    n = commands.integer(cmd.args[3], "cell count")
    if n < 0:
        raise BoardError(102, f"cell count {n} is negative")
    if block is None:
        raise BoardError(200, "PULSE ... CELLS expects a binary block of (row, col) pairs")
    pairs = _values(block, U16, 2 * n, f"PULSE ... CELLS {n}").reshape(n, 2)
    rows, cols = tile.shape
    bad = (pairs[:, 0] >= rows) | (pairs[:, 1] >= cols)
    if bad.any():
        r, c = pairs[np.flatnonzero(bad)[0]]
        raise BoardError(102, f"cell ({r}, {c}) is outside the {rows} x {cols} tile")
    _pulse_cells(fw, v, width, pairs)
    return [Reply("OK")]


def _pulse_cells(fw: BoardFirmware, v: float, width: float, pairs: np.ndarray) -> None:
    """Pulse listed cells one after the other. Where the order cannot matter (1T1R,
    ideal wires: each cell sees only its own pulse) distinct cells go in one crossbar
    call; a cell listed twice, or any cell of an array with wires or sneak paths, is
    pulsed on its own in order."""
    tile = fw.tile
    array = tile.array
    flat = pairs[:, 0] * tile.shape[1] + pairs[:, 1]
    isolated = array.access == "1T1R" and not array.has_wires
    if isolated and np.unique(flat).size == flat.size and flat.size:
        mask = np.zeros(tile.shape, dtype=bool)
        mask.ravel()[flat] = True
        tile.pulse(v, width, fw.gate_V, mask=mask, shots=int(flat.size))
        return
    for r, c in pairs:
        tile.pulse(v, width, fw.gate_V, rows=int(r), cols=int(c))


# -- reads -----------------------------------------------------------------------------


def read(fw: BoardFirmware, cmd: Command, block: bytes | None) -> list[Reply]:
    """``READ``, ``READ <r> <c>``, ``READ ROW <r>``, ``READ COL <c>``, ``READ TILE``."""
    commands.expect_count(cmd, 0, 1, 2)
    tile = fw.tile
    rows, cols = tile.shape
    if not cmd.args:
        if fw.selected is None:
            raise BoardError(103, "no cell selected (SEL <row> <col>)")
        return _read_one(fw, *fw.selected)
    if len(cmd.args) == 1:
        if cmd.args[0].upper() != "TILE":
            raise BoardError(101, "READ takes nothing, <row> <col>, ROW <r>, COL <c> or TILE")
        result = tile.read(fw.v_read_V)
        return _block_reply(fw, result.values, result.saturated)
    if cmd.args[0].upper() == "ROW":
        row = commands.index(cmd.args[1], rows, "row")
        result = tile.read(fw.v_read_V, rows=row)
        return _block_reply(fw, result.values, result.saturated)
    if cmd.args[0].upper() == "COL":
        col = commands.index(cmd.args[1], cols, "column")
        result = tile.read(fw.v_read_V, cols=col)
        return _block_reply(fw, result.values, result.saturated)
    if not cmd.args[0].lstrip("+-").isdigit():
        raise BoardError(101, "READ takes nothing, <row> <col>, ROW <r>, COL <c> or TILE")
    return _read_one(fw, *fw.cell(*cmd.args))


def _read_one(fw: BoardFirmware, row: int, col: int) -> list[Reply]:
    result = fw.tile.read(fw.v_read_V, rows=row, cols=col)
    value = float(result.values.ravel()[0])
    error = _saturated(fw, result.saturated, "conversion(s)")
    if error:
        return [Reply(f"{error}: {value:.9g}")]
    return [Reply(f"OK {value:.9g}")]


def _block_reply(fw: BoardFirmware, values: np.ndarray, saturated: int) -> list[Reply]:
    error = _saturated(fw, saturated, "conversion(s)")
    return [Reply(error or "OK", _f32(values.ravel()))]


# -- computing -------------------------------------------------------------------------


def mvm(fw: BoardFirmware, cmd: Command, block: bytes | None) -> list[Reply]:
    """``MVM <r0> <c0> <n_rows> <n_cols>`` + n_rows float32 row voltages."""
    commands.expect_count(cmd, 4)
    rows, cols = _block_range(fw, *cmd.args)
    assert block is not None
    v = _values(block, F32, rows.stop - rows.start, "MVM")
    if not fw.tile.dac.contains(v):
        raise BoardError(102, f"MVM inputs must be finite and within +-{fw.spec.dac_range_V:g} V")
    result = fw.tile.mvm(v, rows, cols)
    return _block_reply(fw, result.values, result.saturated)


def inv(fw: BoardFirmware, cmd: Command, block: bytes | None) -> list[Reply]:
    """``INV <r0> <c0> <n> [FB=<S>] [COPIES=<k>] [DIFF=<0|1>]`` + n float32 input
    currents (the block is n rows x k n columns, 2 k n with ``DIFF=1``: op-amp ``j``
    drives columns ``c0 + j, c0 + n + j, ...``, and with ``DIFF=1`` its inverted output
    drives ``c0 + k n + j, c0 + k n + n + j, ...``)."""
    commands.expect_count(cmd, 3)
    feedback = commands.number(cmd.named.get("FB", "0"), "FB")
    commands.in_range(feedback, 0.0, fw.spec.inv_feedback_max_S, "FB", "S")
    copies = commands.integer(cmd.named.get("COPIES", "1"), "COPIES")
    commands.in_range(copies, 1, fw.spec.inv_copies_max, "COPIES")
    differential = _differential(fw, cmd.named.get("DIFF", "0"))
    n_cols = str((2 if differential else 1) * copies * commands.integer(cmd.args[2], "n"))
    rows, cols = _block_range(fw, cmd.args[0], cmd.args[1], cmd.args[2], n_cols)
    assert block is not None
    i_in = _values(block, F32, rows.stop - rows.start, "INV")
    if not fw.tile.inv_dac.contains(i_in):
        limit = fw.spec.inv_input_range_A
        raise BoardError(102, f"INV input currents must be finite and within +-{limit:g} A")
    try:
        result, v_out = fw.tile.inv(i_in, rows, cols, feedback, copies, differential)
    except (InstabilityError, ConvergenceError) as exc:
        raise BoardError(311, f"INV circuit unstable: {_first_sentence(exc)}") from None
    settled = Reply(f"OK {result.settling_time_s:.9g}")
    n_clamped = int(np.count_nonzero(result.saturated))
    if n_clamped:
        clamp = fw.tile.array.params.opamp_clamp_V
        head = f"ERR 310 {n_clamped} op-amp output(s) at the +-{clamp:g} V clamp"
        return [Reply(head, _f32(v_out)), settled]
    return [Reply("OK", _f32(v_out)), settled]


def _differential(fw: BoardFirmware, token: str) -> bool:
    """``DIFF=0`` or ``DIFF=1``: 101 if not an integer, 102 if another one (as for
    ``COPIES=``), or 1 on a board without the output inverters."""
    value = commands.in_range(commands.integer(token, "DIFF"), 0, 1, "DIFF")
    if value and not fw.spec.inv_differential:
        raise BoardError(102, "DIFF=1: this board has no differential INV outputs")
    return bool(value)


def _first_sentence(exc: Exception) -> str:
    """The gist of a model exception, on one line, for an ERR message."""
    text = str(exc).split(". ")[0].rstrip(".").replace("\n", " ")
    for prefix in ("INV circuit is unstable: ", "INV circuit: "):
        text = text.removeprefix(prefix)
    return text[:160]


# -- write-verify ----------------------------------------------------------------------


def wv(fw: BoardFirmware, cmd: Command, block: bytes | None) -> list[Reply]:
    """``WV <tol_rel> <max_pulses>`` + rows x cols float32 targets (S; NaN: leave)."""
    commands.expect_count(cmd, 2)
    tol = commands.number(cmd.args[0], "tolerance")
    if not 0 < tol < 1:
        raise BoardError(102, f"tolerance {tol:g} must be between 0 and 1 (relative)")
    max_pulses = commands.integer(cmd.args[1], "max_pulses")
    commands.in_range(max_pulses, 1, fw.spec.max_write_verify_pulses, "max_pulses")
    tile = fw.tile
    rows, cols = tile.shape
    assert block is not None
    targets = _values(block, F32, rows * cols, f"WV on a {rows} x {cols} tile")
    given = targets[~np.isnan(targets)]
    g_max = 0.9 * fw.spec.verify_ranges_A[-1] / abs(fw.v_read_V)
    if not (np.all(np.isfinite(given)) and np.all(given > 0) and np.all(given <= g_max)):
        raise BoardError(
            102, f"WV targets must be NaN or in (0, {g_max:.4g}] S (the verify range at VREAD)"
        )
    result = write_verify(
        tile, targets.reshape(rows, cols), tol, max_pulses, fw.v_read_V, fw.tuning
    )
    counts = np.minimum(result.pulses, np.iinfo(U16).max).astype(U16).tobytes()
    achieved = _f32(result.g_S.ravel())
    if result.n_outside:
        head = f"ERR 320 {result.n_outside} cell(s) outside tolerance"
    else:
        head = "OK"
    return [Reply(head, achieved), Reply("OK", counts)]
