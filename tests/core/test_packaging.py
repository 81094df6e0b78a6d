"""The package installs as designed: drivers/, protocols/ and sim/ become
rramlab.drivers, rramlab.protocols and rramlab.sim in a normal (wheel) install too."""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = {
    "rramlab": "rramlab",
    "rramlab.drivers": "drivers",
    "rramlab.protocols": "protocols",
    "rramlab.sim": "sim",
}


def test_every_package_folder_is_declared_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    assert config["package-dir"] == PARTS
    found = {"pyvisa_rramsim"}  # top-level: pyvisa imports it for "@rramsim"
    assert (ROOT / "pyvisa_rramsim" / "__init__.py").is_file()
    for package, folder in PARTS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found == declared, "a package folder is missing from [tool.setuptools] packages"


@pytest.mark.slow
def test_a_wheel_install_imports_every_part(tmp_path):
    # Build from a copy: setuptools leaves build/ and *.egg-info/ where it builds.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "runs", "*.egg-info", "__pycache__", ".pytest_cache"
        ),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("rramlab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for module in (
        "rramlab/cli.py",
        "rramlab/sim/crossbar.py",
        "rramlab/drivers/__init__.py",
        "rramlab/protocols/__init__.py",
    ):
        assert module in names
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    probe = (
        "import rramlab, rramlab.sim.crossbar, rramlab.drivers, rramlab.protocols;"
        "print(rramlab.sim.crossbar.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert Path(out.strip()).is_relative_to(site)


def test_the_editable_install_maps_the_parts_to_their_folders():
    import rramlab.drivers
    import rramlab.protocols
    import rramlab.sim

    assert Path(rramlab.sim.__file__).parent == ROOT / "sim"
    assert Path(rramlab.drivers.__file__).parent == ROOT / "drivers"
    assert Path(rramlab.protocols.__file__).parent == ROOT / "protocols"
