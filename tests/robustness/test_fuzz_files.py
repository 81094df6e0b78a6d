"""Fuzzing the file parsers: station files (YAML and TOML) and run folders.

Station files: the examples of docs/examples mutated as text (characters flipped,
inserted, deleted, lines duplicated or dropped, the file truncated, numbers swapped for
huge or malformed ones, deep nesting, YAML anchors, aliases and Python tags, bytes
that are not UTF-8), and random or mutated structures given to ``parse_station``
directly. ``load_station_file`` may only succeed or raise ``StationFileError`` (with a
message naming the file), ``parse_station`` the same.

Run folders: a real run's folder with its ``meta.json`` mutated as text or as JSON
(keys removed, values of the wrong type, deep nesting, huge numbers) and its Parquet
parts damaged (bytes flipped, truncated, emptied, swapped, extra or missing parts).
``load_run`` may only succeed or raise ``RunFileError``.

Every input must also finish within a time budget.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, note, settings
from hypothesis import strategies as st

from rramlab.errors import StationFileError
from rramlab.run_log import RunFileError, load_run
from rramlab.station_schema import load_station_file, parse_station

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.*"))
INPUT_BUDGET_S = 5.0


def examples(default: int) -> int:
    value = os.environ.get("RRAMLAB_FUZZ_EXAMPLES")
    return int(value) if value else default


NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
HUGE = [
    "1e999999",
    "-1e999999",
    "9" * 5000,
    "0x" + "f" * 5000,
    "1" + "0" * 400,
    ".nan",
    "nan",
    "inf",
    "-.inf",
    "0o777",
    "1_000_000",
    "true",
    "null",
    "~",
    '""',
    "[]",
    "{}",
    "2026-01-01T00:00:00Z",
]
SPECIAL = [*":-[]{},#&*!|>'\"%@`\t\n\r\\=. ", "\x00", "\ufeff", "\u2028", "\udcff"]
INJECTIONS = [
    "!!python/object/apply:os.system ['touch pwned']",
    "!!python/name:os.system",
    "&a [*a]",
    "*undefined",
    "[" * 5000 + "]" * 5000,
    "{a: " * 3000 + "1" + "}" * 3000,
    "- " * 3000 + "x",
    "<<: *a",
    "? [complex, key]\n: value",
    "%YAML 9.9\n---",
    "---\n---\n",
    "[[[" * 1000,
    "a = " + "[" * 3000 + "]" * 3000,
    "a = " + "{b = " * 2000 + "1" + "}" * 2000,
    "[[" + "a." * 2000 + "b]]",
    '"""' + "x" * 10,
    "\\u0000",
]


@st.composite
def mutated_text(draw, corpus: list[str]) -> str:
    text = draw(st.sampled_from(corpus))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["flip", "insert", "delete", "truncate", "lines", "number", "inject", "long"]
            )
        )
        i = draw(st.integers(0, len(text)))
        if kind == "flip" and text:
            i = min(i, len(text) - 1)
            char = draw(st.one_of(st.sampled_from(SPECIAL), st.characters()))
            text = text[:i] + char + text[i + 1 :]
        elif kind == "insert":
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)) :]
        elif kind == "truncate":
            text = text[:i]
        elif kind == "lines":
            lines = text.splitlines(keepends=True)
            if lines:
                k = draw(st.integers(0, len(lines) - 1))
                how = draw(st.sampled_from(["drop", "duplicate", "indent", "dedent"]))
                if how == "drop":
                    del lines[k]
                elif how == "duplicate":
                    lines.insert(k, lines[k])
                elif how == "indent":
                    lines[k] = "  " + lines[k]
                else:
                    lines[k] = lines[k].lstrip()
                text = "".join(lines)
        elif kind == "number":
            numbers = list(NUMBER.finditer(text))
            if numbers:
                m = draw(st.sampled_from(numbers))
                text = text[: m.start()] + draw(st.sampled_from(HUGE)) + text[m.end() :]
        elif kind == "inject":
            text = text[:i] + draw(st.sampled_from(INJECTIONS)) + text[i:]
        elif kind == "long" and draw(st.integers(0, 5)) == 3:
            text = text * 200
    return text


JSON_LIKE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutated_structure(draw, corpus: list[Any]) -> Any:
    """A parsed corpus document with 1-4 of its values replaced, removed or added."""
    data = copy.deepcopy(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        path = []
        node = data
        while isinstance(node, (dict, list)) and node and draw(st.integers(0, 2)):
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            path.append((node, key))
            node = node[key]
        if not path:
            return draw(JSON_LIKE)
        parent, key = path[-1]
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if how == "replace":
            parent[key] = draw(JSON_LIKE)
        elif how == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(JSON_LIKE)
        else:
            parent.append(draw(JSON_LIKE))
    return data


def timed(fn, *args) -> tuple[Any, float]:
    t0 = time.perf_counter()
    try:
        return fn(*args), time.perf_counter() - t0
    finally:
        elapsed = time.perf_counter() - t0
        assert elapsed < INPUT_BUDGET_S, f"took {elapsed:.2f} s"


# ------------------------------------------------------------------------ station files
def test_station_file_parser_gives_a_clear_error_or_a_station(tmp_path, tally):
    corpus = {p.suffix: [] for p in EXAMPLES}
    for p in EXAMPLES:
        corpus[p.suffix].append(p.read_text())

    @settings(settings.get_profile("robustness"), max_examples=examples(400))
    @given(
        suffix=st.sampled_from(sorted(corpus)),
        data=st.data(),
        raw=st.one_of(st.none(), st.binary(max_size=200)),
    )
    def prop(suffix, data, raw):
        path = tmp_path / f"station{suffix}"
        if raw is not None:
            path.write_bytes(raw)
        else:
            text = data.draw(mutated_text(corpus[suffix]), label="text")
            path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        try:
            timed(load_station_file, path)
            outcome = "accepted"
        except StationFileError as error:
            assert str(path) in str(error) and error.problems
            note(str(error)[:300])
            outcome = "refused"
        assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
        tally[f"fuzz station file {suffix}"][outcome] += 1

    prop()


def test_station_checks_give_a_clear_error_or_a_station(tally):
    corpus = [yaml.safe_load(p.read_text()) for p in EXAMPLES if p.suffix == ".yaml"]
    import tomllib

    corpus += [tomllib.loads(p.read_text()) for p in EXAMPLES if p.suffix == ".toml"]

    @settings(settings.get_profile("robustness"), max_examples=examples(400))
    @given(data=st.one_of(mutated_structure(corpus), mutated_structure(corpus), JSON_LIKE))
    def prop(data):
        try:
            timed(parse_station, data)
            outcome = "accepted"
        except StationFileError as error:
            assert error.problems
            outcome = "refused"
        tally["fuzz station checks"][outcome] += 1

    prop()


# ------------------------------------------------------------------------ run files
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A completed read-map run (32 rows)."""
    from rramlab.runner import run_protocol
    from rramlab.station import open_station

    out = tmp_path_factory.mktemp("runs")
    with open_station(rows=4, cols=4) as station:
        result = run_protocol(station, "read-map", {"n_reads": 2}, out_dir=out)
    folder = result.path
    data, _ = load_run(folder)
    assert len(data) == 32
    return folder


@st.composite
def meta_mutations(draw, meta: dict[str, Any]) -> str:
    """``meta.json`` text: the real one mutated as JSON or as text."""
    how = draw(st.sampled_from(["json", "json", "text", "keys"]))
    if how == "text":
        return draw(mutated_text([json.dumps(meta, indent=2)]))
    data = copy.deepcopy(meta)
    if how == "keys":
        key = draw(st.sampled_from([*sorted(data), "resumes", "attempts"]))
        data[key] = draw(
            st.one_of(
                JSON_LIKE,
                st.just([{"first_part": "x"}]),
                st.just([3, "x"]),
                st.just("columns"),
                st.just([["read", "int64"]]),
                st.just({"read": "datetime64[xx]", "row": "category"}),
                st.just([{"first_part": 10**30}]),
                st.just([{"first_part": None}, 3]),
                st.just({"a": "not a dtype"}),
                st.just({"read": {"nested": 1}}),
                st.just("[" * 5000 + "]" * 5000),
            )
        )
        text = json.dumps(data)
        if draw(st.integers(0, 6)) == 2:  # deep nesting the JSON parser must survive
            text = text[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
        return text
    return json.dumps(draw(mutated_structure([data])))


@st.composite
def part_damage(draw, size: int) -> tuple[str, Any]:
    how = draw(st.sampled_from(["flip", "truncate", "empty", "garbage", "extra", "missing", "dir"]))
    if how == "flip":
        return how, (draw(st.integers(0, size - 1)), draw(st.integers(1, 255)))
    if how == "truncate":
        return how, draw(st.integers(0, size - 1))
    if how == "garbage":
        return how, draw(st.binary(max_size=300))
    return how, None


def damage_part(folder: Path, how: str, arg: Any) -> None:
    parts = sorted((folder / "data").glob("part-*.parquet"))
    target = parts[-1]
    if how == "flip":
        raw = bytearray(target.read_bytes())
        raw[arg[0]] ^= arg[1]
        target.write_bytes(bytes(raw))
    elif how == "truncate":
        target.write_bytes(target.read_bytes()[:arg])
    elif how == "empty":
        target.write_bytes(b"")
    elif how == "garbage":
        target.write_bytes(arg)
    elif how == "extra":
        shutil.copy(parts[0], folder / "data" / "part-999999.parquet")
    elif how == "missing":
        target.unlink()
    elif how == "dir":
        target.unlink()
        target.mkdir()


def test_run_loader_gives_a_clear_error_or_the_run(run_folder, tmp_path, tally):
    meta = json.loads((run_folder / "meta.json").read_text())
    part_size = min(p.stat().st_size for p in (run_folder / "data").glob("part-*.parquet"))
    counter = iter(range(10**9))

    @settings(settings.get_profile("robustness"), max_examples=examples(250))
    @given(
        meta_text=st.one_of(st.none(), meta_mutations(meta)),
        part=st.one_of(st.none(), part_damage(part_size)),
        raw_meta=st.one_of(st.none(), st.binary(max_size=100)),
    )
    def prop(meta_text, part, raw_meta):
        folder = tmp_path / f"run{next(counter)}"
        shutil.copytree(run_folder, folder)
        if meta_text is not None:
            (folder / "meta.json").write_bytes(meta_text.encode("utf-8", errors="surrogatepass"))
        if raw_meta is not None and meta_text is None:
            (folder / "meta.json").write_bytes(raw_meta)
        if part is not None:
            damage_part(folder, *part)
        try:
            timed(load_run, folder)
            outcome = "loaded"
        except RunFileError as error:
            note(str(error)[:300])
            outcome = "refused"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        tally["fuzz run folder"][outcome] += 1

    prop()
