"""Command lines of the board protocol: tokens, argument parsing and the command table.

A command line is a case-insensitive keyword and space-separated arguments
(docs/board-protocol.md section 2). Numbers are plain decimals with an optional
exponent; Python spellings such as ``nan``, ``inf``, ``0x10`` or ``1_000`` are refused,
as a microcontroller's parser would. Every parsing problem raises :class:`BoardError`
with the protocol's error code, which the firmware turns into an ``ERR`` reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_SHOWN_CHARS = 24  # how much of a bad token an error message quotes


class BoardError(Exception):
    """A command failed with protocol error ``code`` (nothing changed unless ``message``
    says so)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"ERR {code} {message}")
        self.code = code
        self.message = message


class Block(Enum):
    """Whether a command takes a binary block."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"  # depends on the arguments (PULSE ... CELLS)


@dataclass(frozen=True)
class CommandSpec:
    """One keyword: the firmware method that runs it, whether it takes a block and the
    named arguments (``NAME=value``) it accepts."""

    handler: str
    block: Block = Block.NONE
    named: tuple[str, ...] = ()


#: Every keyword of protocol 1.1 and the firmware method that executes it.
COMMANDS: dict[str, CommandSpec] = {
    "*IDN?": CommandSpec("idn"),
    "*RST": CommandSpec("rst"),
    "PROTO?": CommandSpec("proto"),
    "CAPS?": CommandSpec("caps"),
    "TILE": CommandSpec("tile"),
    "TILE?": CommandSpec("tile_query"),
    "SEL": CommandSpec("sel"),
    "SEL?": CommandSpec("sel_query"),
    "ROUTE": CommandSpec("route"),
    "ROUTE?": CommandSpec("route_query"),
    "GND": CommandSpec("gnd"),
    "FLOAT": CommandSpec("float_lines"),
    "GATE": CommandSpec("gate"),
    "GATE?": CommandSpec("gate_query"),
    "PULSE": CommandSpec("pulse", Block.OPTIONAL),
    "READ": CommandSpec("read"),
    "VREAD": CommandSpec("vread"),
    "VREAD?": CommandSpec("vread_query"),
    "SAT?": CommandSpec("sat_query"),
    "MVM": CommandSpec("mvm", Block.REQUIRED),
    "INV": CommandSpec("inv", Block.REQUIRED, named=("FB", "COPIES", "DIFF")),
    "WV": CommandSpec("wv", Block.REQUIRED),
}


@dataclass(frozen=True)
class Command:
    """A parsed command line: upper-case ``keyword``, its positional argument tokens and
    its named arguments (upper-case name -> value token)."""

    keyword: str
    args: tuple[str, ...]
    spec: CommandSpec
    named: dict[str, str] = field(default_factory=dict)


def parse(text: str) -> Command:
    """Split a command line (without its ``BLOCK`` suffix) and look its keyword up."""
    tokens = text.split()
    if not tokens:
        raise BoardError(101, "empty command")
    keyword = tokens[0].upper()
    spec = COMMANDS.get(keyword)
    if spec is None:
        raise BoardError(100, f"unknown command {shown(tokens[0])}")
    args: list[str] = []
    named: dict[str, str] = {}
    for token in tokens[1:]:
        if "=" not in token:
            args.append(token)
            continue
        name, _, value = token.partition("=")
        name = name.upper()
        if name not in spec.named:
            raise BoardError(101, f"{keyword} takes no named argument {shown(token)}")
        if name in named or not value:
            raise BoardError(101, f"{keyword}: named argument {shown(token)} repeated or empty")
        named[name] = value
    return Command(keyword, tuple(args), spec, named)


def shown(token: str) -> str:
    """A token quoted for an error message, shortened (never a reply's BLOCK suffix)."""
    if len(token) > _SHOWN_CHARS:
        token = token[:_SHOWN_CHARS] + "..."
    return repr(token)


def expect_count(cmd: Command, *counts: int) -> None:
    """Refuse a command whose number of arguments is none of ``counts``."""
    if len(cmd.args) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise BoardError(101, f"{cmd.keyword} takes {wanted} argument(s), got {len(cmd.args)}")


def number(token: str, name: str) -> float:
    """A decimal number (SI units); 101 if it is not one."""
    if not _NUMBER.fullmatch(token):
        raise BoardError(101, f"{name} must be a number, got {shown(token)}")
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise BoardError(102, f"{name} is out of range: {shown(token)}")
    return value


def integer(token: str, name: str) -> int:
    """A decimal integer; 101 if it is not one."""
    if not _INTEGER.fullmatch(token):
        raise BoardError(101, f"{name} must be an integer, got {shown(token)}")
    return int(token)


def word(token: str, choices: Sequence[str], name: str) -> str:
    """One of the sub-keywords ``choices`` (case-insensitive), upper-cased."""
    upper = token.upper()
    if upper not in choices:
        raise BoardError(101, f"{name} must be one of {', '.join(choices)}, got {shown(token)}")
    return upper


def in_range(value: float, low: float, high: float, name: str, unit: str = "") -> float:
    """``value`` if ``low <= value <= high``, else 102."""
    if not low <= value <= high:
        raise BoardError(102, f"{name}={value:g}{unit} is outside {low:g}..{high:g}{unit}")
    return value


def index(token: str, size: int, name: str) -> int:
    """An index into ``size`` lines (0-based); 101 if not an integer, 102 if outside."""
    value = integer(token, name)
    if not 0 <= value < size:
        raise BoardError(102, f"{name} {value} is outside 0..{size - 1}")
    return value
