"""The SCPI header tree: command registration and header lookup.

A personality registers each command by its manual's syntax::

    tree.add(":SOURce<1-2>:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
             command=set_level, query=get_level, args=(1, 1), query_args=(0, 1))
    tree.add("*IDN", query=lambda call: "ACME,1,2,3")
    tree.setting(":OUTPut<1>[:STATe]", Boolean(), get=..., put=...)

- Mnemonics are written in SCPI case: the upper-case letters are the short form
  (``SOURce`` answers to ``SOUR`` and ``SOURCE``, in any case).
- ``[:NODE]`` is optional (a default node); an optional node may also be the root, as
  in the B2900's ``[:SOURce[c]]``.
- ``<lo-hi>`` (or ``<n>``) after a mnemonic accepts a numeric suffix in that range
  (``SOUR2``); an omitted suffix means 1. A suffix outside the range is -114.

Every pattern is expanded into its concrete paths (each optional node present or
absent) in a trie keyed by short and long forms, so a lookup is one dictionary step per
mnemonic. When two patterns expand to the same path, the one that spells out more
nodes wins, then the one registered first; short/long forms that would make a lookup
ambiguous are refused at registration.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rramlab.sim.scpi.call import Call, Handler
from rramlab.sim.scpi.errors import ScpiError
from rramlab.sim.scpi.lexer import Kind
from rramlab.sim.scpi.values import Numeric, ValueType, reject, short_form

_NODE = re.compile(r"(\[)?:([A-Za-z][A-Za-z0-9_]*)(?:<(\d+)(?:-(\d+))?>)?(\])?")


@dataclass(frozen=True)
class NodeSpec:
    mnemonic: str  # long form in SCPI case, e.g. "SOURce"
    optional: bool
    suffixes: range | None  # accepted numeric suffixes; None: no suffix

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple({short_form(self.mnemonic).upper(), self.mnemonic.upper()})


@dataclass
class Command:
    """The handlers of one command; ``args``/``query_args`` are (min, max) counts."""

    pattern: str
    command: Handler | None = None
    query: Handler | None = None
    args: tuple[int, int] = (0, 0)
    query_args: tuple[int, int] = (0, 0)


@dataclass
class _Node:
    spec: NodeSpec | None
    children: dict[str, _Node] = field(default_factory=dict)
    command: Command | None = None
    omitted: int = 0  # optional nodes the command's pattern left out to reach here


def parse_pattern(pattern: str) -> list[NodeSpec]:
    """The nodes of a header pattern such as ``[:SOURce<1-2>]:VOLTage[:LEVel]``."""
    text = pattern if pattern.startswith(("[", ":")) else ":" + pattern
    nodes: list[NodeSpec] = []
    pos = 0
    while pos < len(text):
        m = _NODE.match(text, pos)
        if m is None or bool(m.group(1)) != bool(m.group(5)):
            raise ValueError(f"bad header pattern {pattern!r} at {text[pos:]!r}")
        lo = m.group(3)
        suffixes = None if lo is None else range(int(lo), int(m.group(4) or lo) + 1)
        nodes.append(NodeSpec(m.group(2), optional=bool(m.group(1)), suffixes=suffixes))
        pos = m.end()
    if not nodes or all(n.optional for n in nodes):
        raise ValueError(f"header pattern {pattern!r} needs a mandatory node")
    return nodes


class CommandTree:
    """Registered commands of one instrument and the lookup of headers."""

    def __init__(self) -> None:
        self._root = _Node(None)
        self._common: dict[str, Command] = {}

    # ------------------------------------------------------------------ registration
    def add(
        self,
        pattern: str,
        *,
        command: Handler | None = None,
        query: Handler | None = None,
        args: tuple[int, int] = (0, 0),
        query_args: tuple[int, int] = (0, 0),
    ) -> Command:
        """Register ``pattern``; ``command`` handles the set form, ``query`` the ``?``
        form (returning the response text). Either may be None (then -113)."""
        if command is None and query is None:
            raise ValueError(f"{pattern}: give a command or a query handler")
        entry = Command(pattern, command, query, args, query_args)
        if pattern.startswith("*"):
            name = pattern[1:].upper()
            if not name.isalpha() or name in self._common:
                raise ValueError(f"bad or duplicate common command {pattern!r}")
            self._common[name] = entry
            return entry
        nodes = parse_pattern(pattern)
        optional = [i for i, n in enumerate(nodes) if n.optional]
        for kept in itertools.product((True, False), repeat=len(optional)):
            dropped = {i for i, keep in zip(optional, kept, strict=True) if not keep}
            path = [n for i, n in enumerate(nodes) if i not in dropped]
            if path:
                self._insert(path, entry, len(dropped))
        return entry

    def setting(
        self,
        pattern: str,
        kind: ValueType,
        get: Callable[[Call], Any],
        put: Callable[[Call, Any], None],
    ) -> Command:
        """A setting with one parameter of ``kind``: ``put(call, value)`` on the set form,
        ``get(call)`` formatted on the query; a numeric query also answers MIN/MAX/DEF."""
        numeric = isinstance(kind, Numeric)

        def write(call: Call) -> None:
            put(call, call.arg(0, kind, current=get(call)))

        def read(call: Call) -> str:
            if not call.params:
                return kind.format(get(call), call.style)
            param = call.params[0]
            if not (numeric and param.kind is Kind.CHAR):
                raise reject(param, "MINimum|MAXimum|DEFault")
            return kind.format(kind.keyword(str(param.value)), call.style)  # type: ignore[attr-defined]

        return self.add(
            pattern, command=write, query=read, args=(1, 1), query_args=(0, 1 if numeric else 0)
        )

    def _insert(self, path: list[NodeSpec], entry: Command, omitted: int) -> None:
        node = self._root
        for spec in path:
            child = next((node.children[k] for k in spec.keys if k in node.children), None)
            if child is None:
                child = _Node(NodeSpec(spec.mnemonic, False, spec.suffixes))
            elif child.spec is None or child.spec.mnemonic.upper() != spec.mnemonic.upper():
                raise ValueError(f"{entry.pattern}: {spec.mnemonic} clashes with {child.spec}")
            elif child.spec.suffixes != spec.suffixes:
                raise ValueError(f"{entry.pattern}: suffixes of {spec.mnemonic} differ")
            for key in spec.keys:
                node.children[key] = child
            node = child
        if node.command is None or omitted < node.omitted:
            node.command, node.omitted = entry, omitted
        elif node.command.pattern == entry.pattern:
            raise ValueError(f"{entry.pattern} is registered twice")

    # ------------------------------------------------------------------ lookup
    def common(self, name: str) -> Command | None:
        return self._common.get(name.upper())

    def lookup(self, mnemonics: tuple[str, ...]) -> tuple[Command, dict[str, int]] | None:
        """The command at ``mnemonics`` (as sent, e.g. ``("SOUR2", "VOLT")``) and the
        suffixes given to its suffixed nodes; None if no command lives there. Raises
        -114 when the path exists but a suffix is out of range."""
        node = self._root
        suffixes: dict[str, int] = {}
        bad_suffix = ""
        for token in mnemonics:
            word = token.upper()
            child = node.children.get(word)
            suffix = None
            if child is None or child.spec is None:
                name = word.rstrip("0123456789")
                child = node.children.get(name)
                if child is None or child.spec is None or child.spec.suffixes is None:
                    return None
                digits = word[len(name) :]
                # (a suffix of more digits than any node takes is out of range, -114;
                # int() of thousands of digits would be slow or refused)
                suffix = None if not digits else int(digits) if len(digits) <= 9 else -1
            spec = child.spec
            if spec is not None and spec.suffixes is not None:
                value = 1 if suffix is None else suffix
                if value not in spec.suffixes:
                    bad_suffix = token
                suffixes[spec.mnemonic.upper()] = value
            node = child
        if node.command is None:
            return None
        if bad_suffix:
            raise ScpiError(-114, bad_suffix)
        return node.command, suffixes
