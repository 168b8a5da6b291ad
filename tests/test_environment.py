"""pyproject.toml is the single source of dependencies; environment.yml mirrors it."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: PyPI name -> conda-forge name(s) where they differ.
CONDA_NAMES = {"duckdb": ["python-duckdb"], "dask": ["dask", "distributed"],
               "build": ["python-build"]}


def _split(spec: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", spec.strip())
    assert match, spec
    return match.group(1).lower(), match.group(3).replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(s) for s in project["dependencies"])
    wanted.update(_split(s) for s in project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    for name, spec in wanted.items():
        for conda_name in CONDA_NAMES.get(name, [name]):
            assert conda_name in conda, f"{conda_name} missing from environment.yml"
            assert conda[conda_name] == spec, f"{conda_name}: {conda[conda_name]} != {spec}"
    mapped = {c for n in wanted for c in CONDA_NAMES.get(n, [n])}
    extra = set(conda) - mapped - {"python", "pip", "pango"}
    assert not extra, f"environment.yml has packages pyproject.toml lacks: {extra}"
    assert conda["python"] == project["requires-python"]
