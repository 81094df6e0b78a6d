"""Reading a station file's YAML or TOML, unchecked: a strict YAML loader (no duplicate
keys, ``1e-3`` is a number) and syntax errors as a
:class:`~rramlab.errors.StationFileError` naming the line and column."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from rramlab.errors import StationFileError

__all__ = ["SUFFIXES", "read_station_file"]

SUFFIXES = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}
#: deepest nesting of YAML flow collections (``[``, ``{``) a station file may have: it
#: needs a handful, and PyYAML's scanner takes time quadratic in the depth (thousands
#: of levels: seconds, before it runs out of stack)
MAX_FLOW_DEPTH = 100


def read_station_file(path: str | Path) -> Any:
    """The parsed content of a ``.yaml``/``.yml``/``.toml`` file, unchecked; syntax
    errors raise :class:`~rramlab.errors.StationFileError` naming the line."""
    path = Path(path)
    source = str(path)
    language = SUFFIXES.get(path.suffix.lower())
    if language is None:
        raise StationFileError(
            source,
            [("", f"expected a .yaml, .yml or .toml station file, got {path.suffix or 'none'!r}")],
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StationFileError(source, [("", f"not UTF-8 text ({error})")]) from None
    try:
        return _parse(text, language, source)
    except RecursionError:
        raise StationFileError(source, [("", f"{language} nested too deeply")]) from None
    except ValueError as error:  # an integer of more digits than Python converts
        if isinstance(error, StationFileError):
            raise
        what = "a number with too many digits" if "digits" in str(error) else str(error)
        raise StationFileError(source, [("", f"{language}: unreadable value: {what}")]) from None


def _parse(text: str, language: str, source: str) -> Any:
    if language == "TOML":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
            if where is None:
                raise StationFileError(source, [("", f"TOML syntax error: {message}")]) from None
            problem = message[: where.start()]
            place = f"line {where.group(1)}, column {where.group(2)}"
            raise StationFileError(source, [(place, f"TOML syntax error: {problem}")]) from None
    if _flow_depth(text) > MAX_FLOW_DEPTH:
        raise RecursionError  # refused at once, as PyYAML would after a long while
    try:
        return yaml.load(text, Loader=_StationLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "malformed YAML"
        if error.context and error.problem:
            started = error.context_mark
            if started is not None and mark is not None and started.line != mark.line:
                problem += f" ({error.context} started at line {started.line + 1})"
            else:
                problem += f" ({error.context})"
        place = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
        raise StationFileError(source, [(place, f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as error:
        raise StationFileError(source, [("", f"YAML syntax error: {error}")]) from None


def _flow_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in YAML ``text``, outside quoted scalars and
    comments (brackets in plain scalars count too: an upper bound)."""
    depth = deepest = 0
    quote = ""
    previous = "\n"
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and (previous in " \t\n[{,:" or previous == "-"):
            quote = char
        elif char == "#" and previous in " \t\n":
            quote = "\n"  # a comment runs to the end of the line
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char
    return deepest


class _StationLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (a typo'd copy would silently win) and
    reads ``1e-3`` as a number (YAML 1.2; PyYAML's YAML 1.1 reads it as a string)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; the base class reports it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_StationLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
