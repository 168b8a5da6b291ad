"""Notebooks: thin, parameterised, stored clean, and executed for real by papermill."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cxreports.analyses.analysis import Analysis
from cxreports.core.errors import UnusableInputError
from cxreports.reports.display import TABLE_MIME
from cxreports.run.notebooks import (
    SHARED_PARAMETERS,
    NotebookJob,
    check_parameters,
    list_notebooks,
    notebook_dir,
    plan_notebook_jobs,
    run_notebooks,
)
from tests.conftest import run_cli

NOTEBOOKS = ["behaviour_trends", "coaching_effectiveness", "driver_analysis",
             "qa_form_audit", "vendor_comparison"]


def test_the_five_notebooks_exist():
    assert list_notebooks() == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_declares_shared_names(name):
    nb = nbformat.read(notebook_dir() / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for parameter in SHARED_PARAMETERS:
        assert f"\n{parameter}: " in "\n" + tagged[0].source, parameter


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs_and_thin(name):
    nb = nbformat.read(notebook_dir() / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            # Thin: no function or class definitions; logic lives in cxreports.
            assert "def " not in cell.source and "class " not in cell.source


def test_unknown_and_mistyped_parameters_refused():
    path = notebook_dir() / "driver_analysis.ipynb"
    check_parameters(path, {"group": "Leeds", "kpis": ["csat"]})
    with pytest.raises(UnusableInputError, match="no parameter 'groupp'"):
        check_parameters(path, {"groupp": "Leeds"})
    with pytest.raises(UnusableInputError, match="must be str, not int"):
        check_parameters(path, {"period": 202610})
    with pytest.raises(UnusableInputError, match="must be list"):
        check_parameters(path, {"kpis": "csat"})


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    nb = nbformat.read(path, as_version=4)
    tables = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if TABLE_MIME in data:
                payload = data[TABLE_MIME]
                tables[payload["name"]] = pd.DataFrame(payload["records"],
                                                       columns=payload["columns"])
    return tables


def _figures(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def executed(default_source, tmp_path_factory):
    """Every notebook for one site and one vendor, plus a failing job, run in parallel."""
    out = tmp_path_factory.mktemp("notebooks")
    jobs = plan_notebook_jobs(notebooks=NOTEBOOKS, groups={"site": ["Lisbon"],
                                                           "vendor": ["Harbor BPO"]},
                              source=str(default_source), period="2026-10",
                              kpis=["csat", "fcr"], out_dir=out)
    jobs.append(NotebookJob("driver_analysis", {**jobs[0].parameters, "group": "Atlantis"},
                            str(out), "site", "Atlantis", folder=jobs[0].folder))
    results = run_notebooks(jobs, workers=2)
    return {(r.notebook, r.group): r for r in results}


@pytest.mark.slow
def test_every_notebook_runs_for_a_site_and_a_vendor(executed):
    for name in NOTEBOOKS:
        for group in ("Lisbon", "Harbor BPO"):
            result = executed[(name, group)]
            assert result.status == "ok", (name, group, result.error)
            assert Path(result.ipynb).exists() and Path(result.html).exists()
            assert _figures(Path(result.ipynb)) >= 1, name
            assert len(_tables(Path(result.ipynb))) >= 1, name


@pytest.mark.slow
def test_failing_notebook_recorded_and_others_finish(executed):
    bad = executed[("driver_analysis", "Atlantis")]
    assert bad.status == "failed"
    assert "ValueError" in bad.error and "Atlantis" in bad.error
    assert bad.cell is not None
    assert Path(bad.ipynb).exists()  # the executed notebook is kept as the record
    assert sum(r.status == "ok" for r in executed.values()) == 2 * len(NOTEBOOKS)


@pytest.mark.slow
def test_numbers_shown_equal_the_library(executed, default_source):
    analysis = Analysis.from_source(default_source, period="2026-10")
    shown = _tables(Path(executed[("driver_analysis", "Harbor BPO")].ipynb))["drivers"]
    expected = analysis.drivers(kpis=["csat", "fcr"], group_by="vendor")
    expected = expected[(expected["group"] == "Harbor BPO") & (expected["kpi"] == "csat")]
    pd.testing.assert_series_equal(shown["estimate"].reset_index(drop=True),
                                   expected["estimate"].reset_index(drop=True),
                                   check_names=False, rtol=1e-12)
    assert list(shown["verdict"]) == list(expected["verdict"])

    shown = _tables(Path(executed[("vendor_comparison", "Harbor BPO")].ipynb))["kpi_by_vendor"]
    expected = analysis.kpi_summary(group_by="vendor")
    pd.testing.assert_series_equal(shown["value"], expected["value"], check_names=False,
                                   rtol=1e-12)

    shown = _tables(Path(executed[("qa_form_audit", "Lisbon")].ipynb))["qa_form_audit"]
    expected = analysis.qa_form_audit(group_by="site", group="Lisbon")
    assert list(shown["recommendation"]) == list(expected["recommendation"])


@pytest.mark.slow
def test_cli_notebooks_runs_params_file(default_source, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(json.dumps({
        "source": str(default_source), "period": "2026-10", "out": str(tmp_path / "out"),
        "group_by": ["vendor"], "notebooks": ["qa_form_audit"], "workers": 2}))
    result = run_cli("notebooks", params)
    assert result.returncode == 0, result.stderr
    made = sorted(p.name for p in (tmp_path / "out" / "notebooks").glob("*.ipynb"))
    assert len(made) == 3 and all(n.startswith("qa_form_audit--") for n in made)
    assert "notebooks 3/3" in result.stderr  # plain log lines when not on a terminal


def test_cli_notebooks_refuses_bad_params(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("source: ''\nperiod: 2026-10\nout: x\nworkerz: 2\n")
    result = run_cli("notebooks", params)
    assert result.returncode == 2 and "unknown key 'workerz'" in result.stderr
    params.write_text("source: ''\nperiod: 2026-10-01\nout: x\n")
    result = run_cli("notebooks", params)
    assert result.returncode == 2 and "YYYY-MM" in result.stderr
    params.write_text("source: ''\nperiod: 2026-10\nout: x\nnotebooks: [nope]\n")
    result = run_cli("notebooks", params)
    assert result.returncode == 2 and "notebook 'nope' not found" in result.stderr
