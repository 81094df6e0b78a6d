"""A protocol's parameters as ``rramlab run PROTOCOL --help-params`` lists them, and
values written as ``--set NAME=VALUE`` takes them."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from rich.table import Table
from rich.text import Text

from rramlab.cli_output import add_row

UNITS = {"V": "V", "s": "s", "A": "A", "S": "S"}  # name suffix -> unit (DESIGN.md)


def params_help(spec: Any) -> list[Any]:
    """What ``--help-params`` prints: the parameter class's docstrings and a table of
    its fields (type, default in ``--set`` syntax, the comment in the source)."""
    cls = spec.params
    hints = typing.get_type_hints(cls)
    notes = _field_comments(cls)
    table = Table(title=f"{spec.name} parameters (--set NAME=VALUE)")
    for column in ("parameter", "unit", "type", "default", "--set syntax", "meaning"):
        table.add_column(column, no_wrap=column == "parameter", overflow="fold")
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        add_row(
            table,
            field.name,
            _unit(field.name),
            _type_name(hint),
            as_setting(field.default),
            _syntax(hint),
            notes.get(field.name, ""),
        )
    docs = []
    for klass in cls.__mro__:
        if klass.__name__ == "ProtocolParams" or not dataclasses.is_dataclass(klass):
            break
        if klass.__doc__:
            docs.append(Text(f"{klass.__name__}: {inspect.cleandoc(klass.__doc__)}"))
    footer = Text(
        f"Lists: a,b,c; cell lists: 'r,c; r,c'; none for None. More: docs/protocols/{spec.name}.md",
        style="dim",
    )
    return [*docs, table, footer]


def as_setting(value: Any) -> str:
    """``value`` written as ``--set`` takes it."""
    if value is dataclasses.MISSING:
        return "(required)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) for v in value):
            return "; ".join(",".join(as_setting(x) for x in v) for v in value)
        return ",".join(as_setting(v) for v in value)
    return str(value)


def _field_comments(cls: type) -> dict[str, str]:
    """``name -> comment`` from lines ``name: type = default  # comment`` of the class and
    its bases (the most derived class wins)."""
    found: dict[str, str] = {}
    for klass in cls.__mro__:
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        for match in re.finditer(r"^\s+(\w+):[^=\n#]*=[^#\n]*#\s*(.+)$", source, flags=re.M):
            found.setdefault(match[1], match[2].strip())
    return found


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return str(hint).replace("typing.", "")


def _unit(name: str) -> str:
    stem, _, suffix = name.rpartition("_")
    return UNITS.get(suffix, "") if stem else ""


def _syntax(hint: Any) -> str:
    """How a value of ``hint`` is written after ``--set NAME=``."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        inner = args[0] if args else float
        inner_args = typing.get_args(inner)
        if typing.get_origin(inner) is tuple:
            text = "(Python only)" if Ellipsis in inner_args else "r,c; r,c"
        else:
            text = f"{_type_name(inner)},{_type_name(inner)},..."
    elif hint is bool:
        text = "true / false"
    else:
        text = _type_name(hint)
    return f"{text} or none" if optional and text != "(Python only)" else text
