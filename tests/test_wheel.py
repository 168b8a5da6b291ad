"""The package installs from a wheel and runs, with its templates, fonts, notebooks and
example parameters inside it.

``wheel_demo`` (conftest.py) builds the wheel from a copy of this checkout, installs
it into a new virtual environment in a temporary folder (with ``--no-deps``: the
dependencies come from this environment through a ``.pth`` file), and runs that
environment's ``cxreports demo`` from a working directory outside the checkout.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from tests._wheel import ROOT
from tests.conftest import manifest

pytestmark = pytest.mark.slow


def _inside(path: str | Path, folder: Path) -> bool:
    """Whether ``path`` is in ``folder``, as written (a venv's python is a symlink out)."""
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


def test_wheel_ships_templates_fonts_notebooks_and_params(wheel_demo):
    names = set(zipfile.ZipFile(wheel_demo.wheel).namelist())
    shipped = {  # every file the kit reads at run time, as in the checkout
        "templates": [p.name for p in (ROOT / "templates").iterdir() if p.is_file()],
        "templates/fonts": [p.name for p in (ROOT / "templates" / "fonts").iterdir()],
        "notebooks": [p.name for p in (ROOT / "notebooks").glob("*.ipynb")],
        "params": [p.name for p in (ROOT / "params").glob("*.yaml")],
    }
    for folder, files in shipped.items():
        assert files, folder
        for name in files:
            assert f"cxreports/{folder}/{name}" in names
    assert "cxreports/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/"))]


def test_the_new_venv_runs_the_wheel_not_the_checkout(wheel_demo):
    for folder in (wheel_demo.venv, wheel_demo.cwd):
        assert not _inside(folder, ROOT)
    result = wheel_demo.python_in_venv(
        "import json, sys, cxreports\n"
        "from cxreports.core import resources\n"
        "from jupyter_client.kernelspec import KernelSpecManager\n"
        "print(json.dumps({'python': sys.executable, 'cxreports': cxreports.__file__,\n"
        "    'templates': str(resources.template_dir()),\n"
        "    'notebooks': str(resources.notebook_dir()),\n"
        "    'params': str(resources.params_dir()),\n"
        "    'kernel': KernelSpecManager().get_kernel_spec('python3').argv[0]}))")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for what, path in found.items():
        # The editable install in the project's .venv (visible for the dependencies)
        # must not shadow the wheel, nor its Jupyter kernel run the notebooks.
        assert _inside(path, wheel_demo.venv), (what, path)
        assert not _inside(path, ROOT), (what, path)


def test_demo_runs_from_the_installed_wheel(wheel_demo):
    result, out = wheel_demo.result, wheel_demo.out
    assert result.returncode == 0, result.stderr[-5000:]
    assert (out / "manifest.json").is_file()
    packs = list((out / "packs").glob("*.pdf"))
    scorecards = list((out / "scorecards").glob("*.pdf"))
    assert packs and scorecards
    data = manifest(out)
    assert data["exit_code"] == 0 and data["failures"] == []
    assert len(packs) == data["steps"]["packs"]["done"]
    assert len(scorecards) == data["steps"]["scorecards"]["done"] == 3
    assert data["steps"]["notebooks"]["done"] >= 5
    # The notebooks run were the ones installed with the package.
    assert _inside(data["steps"]["notebooks"]["folder"], wheel_demo.venv)
    assert str(out.resolve() / "manifest.json") in result.stdout
