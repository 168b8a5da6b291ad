"""The layout is the architecture: layers point down and ARCHITECTURE.md names the tree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_only_point_down_the_layers():
    # import-linter's layers contract in pyproject.toml:
    # cli > run > reports > analyses > data > core.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def _named_in_architecture_md() -> set[str]:
    """Paths the tree block names: ``cxreports/x/`` at the margin, items indented under it."""
    tree = (ROOT / "ARCHITECTURE.md").read_text().split("```")[1]
    named: set[str] = set()
    parents: dict[int, str] = {}
    for line in tree.splitlines():
        match = re.match(r"^( *)(cxreports/[\w/]*\.?\w*|\w+\.py|\w+/)(\s|$)", line)
        if not match:
            continue  # a description continued on the next line
        indent, item = len(match.group(1)), match.group(2)
        path = item if indent == 0 else parents[indent - 2] + item
        named.add(path)
        if path.endswith("/"):
            parents[indent] = path
    return named


def test_architecture_md_names_every_module_and_no_other():
    named = _named_in_architecture_md()
    actual = {str(p.relative_to(ROOT)) for p in (ROOT / "cxreports").rglob("*.py")
              if p.name not in ("__init__.py", "__main__.py")}
    actual |= {str(p.relative_to(ROOT)) + "/" for p in (ROOT / "cxreports").rglob("*")
               if p.is_dir() and p.name != "__pycache__"}
    assert named - actual == set(), f"ARCHITECTURE.md names what the tree lacks: {named - actual}"
    assert actual - named == set(), f"ARCHITECTURE.md does not name: {actual - named}"


def test_a_worker_that_only_renders_imports_no_analysis_stack():
    # What a Dask worker does with a prebuilt report: unpickle the task (which imports
    # the function's module) and nothing else. Pandas, DuckDB, statsmodels and
    # matplotlib would cost each worker ~3.7 CPU-s more at start. (Local workers are
    # forked from a server that has imported them once.)
    import pickle

    from cxreports.reports.rendering import ReportFiles, write_prebuilt_report

    task = pickle.dumps((write_prebuilt_report, ReportFiles(
        "packs", "S01", "x.pdf", None, None, "en", ".", (".",)), "<html></html>", 0.0))
    child = ("import pickle, sys; pickle.loads(bytes.fromhex(sys.argv[1])); "
             "print(sorted(m for m in ('pandas', 'duckdb', 'statsmodels', 'matplotlib') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", child, task.hex()], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "[]"
