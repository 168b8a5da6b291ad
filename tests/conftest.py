"""Shared fixtures: small seeded samples written by the real generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxreports.data.sample import write_sample_data

os.environ.setdefault("MPLBACKEND", "Agg")

#: Small enough to keep the suite fast, large enough for every table to fill.
SMALL = {"agents": 30, "months": 4, "contacts_per_month": 40, "seed": 11}


@pytest.fixture(scope="session")
def small_source(tmp_path_factory) -> Path:
    """A clean CSV sample (read-only: copy it before changing it)."""
    return write_sample_data(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="session")
def broken_source(tmp_path_factory) -> Path:
    """The small sample plus one row per contract rule broken (see broken.json)."""
    return write_sample_data(tmp_path_factory.mktemp("broken"), broken=True, **SMALL)


@pytest.fixture(scope="session")
def broken_record(broken_source) -> dict:
    return json.loads((broken_source / "broken.json").read_text())


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``cxreports`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cxreports", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=600,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )


@pytest.fixture(scope="session")
def default_source(tmp_path_factory) -> Path:
    """The default-size sample (what `make demo` uses): 120 agents, 6 months."""
    return write_sample_data(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def truth(default_source) -> dict:
    return json.loads((default_source / "truth.json").read_text())


@pytest.fixture(scope="session")
def analysis(default_source):
    from cxreports.analyses.analysis import Analysis

    return Analysis.from_source(default_source, period="2026-10")
