"""The Python examples in the README and docs run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize(
    ("path", "index"),
    [(p, i) for p in DOCUMENTS for i in range(len(python_blocks(p)))],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_python_example_runs(path, index, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write runs and pictures where they stand
    exec(compile(python_blocks(path)[index], f"{path.name}[{index}]", "exec"), {})


def test_readme_quick_start_has_exactly_the_two_commands():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)[0].strip().splitlines()
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
