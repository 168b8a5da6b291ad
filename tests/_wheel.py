"""Build the project's wheel and install it into a new virtual environment.

Used by ``tests/test_wheel.py`` (through the ``wheel_demo`` fixture in
conftest.py). Everything happens in temporary folders outside the checkout:
the source is copied before building, so the build leaves no ``build/`` or
``*.egg-info`` behind in the work tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Not needed to build, and large or machine-specific: left out of the copy (with every
#: hidden file or folder at the top: .git, .venv, caches).
_SKIP_AT_ROOT = {"outputs", "build", "dist", "tests", "benchmarks", "docs"}
_SKIP_ANYWHERE = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache",
                  ".ipynb_checkpoints"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n in _SKIP_ANYWHERE or n.endswith(".egg-info")}
    if Path(folder).resolve() == ROOT:
        skipped |= {n for n in names if n in _SKIP_AT_ROOT or n.startswith(".")}
    return skipped


def _run(args: list, *, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=900, cwd=cwd, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def build_wheel(workdir: Path) -> Path:
    """``python -m build --wheel`` on a copy of the checkout; the path of the wheel."""
    source = workdir / "source"
    shutil.copytree(ROOT, source, ignore=_ignore)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", workdir / "dist", source],
         cwd=workdir)
    [wheel] = (workdir / "dist").glob("cxreports-*.whl")
    return wheel


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def install_in_new_venv(wheel: Path, venv: Path) -> Path:
    """A new venv with ``wheel`` installed (no dependencies); its ``python``.

    The dependencies come from this interpreter's environment through a
    ``.pth`` file, written only after the install so pip never sees (or tries
    to replace) the editable cxreports there. A directory named in a ``.pth``
    file is only appended to ``sys.path``: its own ``.pth`` files, such as the
    editable install's import hook, are not run, so ``import cxreports`` in
    the new venv can only find the wheel's copy.

    Data files that dependencies install beside the environment rather than
    in site-packages are not seen through a ``.pth`` file. Of those, the run
    needs nbconvert's HTML templates (``share/jupyter/nbconvert``), linked
    into the new venv as a full install would have put them there; this
    environment's Jupyter kernel spec (``share/jupyter/kernels``, which runs
    this environment's Python) is deliberately not.
    """
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv_python(venv)
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet", wheel],
         cwd=venv.parent)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=venv.parent, env=clean_env(venv)).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_cxreports_test_dependencies.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours)))
    templates = Path(sys.prefix, "share", "jupyter", "nbconvert")
    if templates.is_dir():
        (venv / "share" / "jupyter").mkdir(parents=True)
        (venv / "share" / "jupyter" / "nbconvert").symlink_to(templates)
    return python


def clean_env(venv: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (this environment), minus whatever could point the new venv back at the
    checkout, plus the new venv on ``PATH``."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH",
                        "CXREPORTS_TEMPLATES", "CXREPORTS_NOTEBOOKS", "CXREPORTS_CACHE")
           and not k.startswith("PYTEST_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.update({"MPLBACKEND": "Agg", "COLUMNS": "200", "NO_COLOR": "1"})
    return env
