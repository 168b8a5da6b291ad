"""Notebooks: thin, parameterised, stored clean, and executed for real by papermill."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cxreports.core.errors import UnusableInputError
from cxreports.core.files import sha256_of
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
from tests.conftest import invoke_cli, manifest

NOTEBOOKS = ["behaviour_trends", "coaching_effectiveness", "driver_analysis",
             "qa_calibration", "qa_form_audit", "vendor_comparison"]


def test_the_six_notebooks_exist():
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
def demo_notebooks(wheel_demo) -> dict[tuple[str, str], tuple[dict, Path]]:
    """The demo's executed notebooks: every notebook for every site and vendor of the
    default sample, run by the monthly job (see ``wheel_demo`` in conftest.py).
    (notebook, group) -> (manifest entry, the demo's output folder)."""
    found = {}
    for entry in manifest(wheel_demo.out)["outputs"]:
        if entry["step"] == "notebooks":
            notebook, _, group = entry["key"].split("--")
            found[(notebook, group)] = (entry, wheel_demo.out)
    return found


@pytest.mark.slow
def test_every_notebook_runs_for_a_site_and_a_vendor(demo_notebooks):
    assert {"Lisbon", "Harbor BPO"} <= {group for _, group in demo_notebooks}
    assert {name for name, _ in demo_notebooks} == set(NOTEBOOKS)
    for (name, group), (entry, out) in demo_notebooks.items():
        assert entry["status"] == "ok", (name, group, entry["error"])
        ipynb = out / entry["path"]
        [[html, _]] = entry["extra"]
        assert ipynb.exists() and (out / html).exists()
        assert _figures(ipynb) >= 1, name
        assert len(_tables(ipynb)) >= 1, name


@pytest.fixture(scope="module")
def failing_batch(small_source, tmp_path_factory):
    """A failing job (a site that does not exist) first, then a good one, two at a time."""
    out = tmp_path_factory.mktemp("notebooks")
    jobs = plan_notebook_jobs(notebooks=["qa_form_audit"], groups={"vendor": ["Harbor BPO"]},
                              source=str(small_source), period="2026-10",
                              kpis=["csat", "fcr"], out_dir=out)
    jobs.insert(0, NotebookJob("driver_analysis", {**jobs[0].parameters, "group": "Atlantis"},
                               str(out), "site", "Atlantis", folder=jobs[0].folder))
    results = run_notebooks(jobs, workers=2)
    return {(r.notebook, r.group): r for r in results}


@pytest.mark.slow
def test_failing_notebook_recorded_and_others_finish(failing_batch):
    bad = failing_batch[("driver_analysis", "Atlantis")]
    assert bad.status == "failed"
    assert "ValueError" in bad.error and "Atlantis" in bad.error
    assert bad.cell is not None
    assert Path(bad.ipynb).exists()  # the executed notebook is kept as the record
    assert sum(r.status == "ok" for r in failing_batch.values()) == len(failing_batch) - 1


def _same_files(folder: Path, other: Path) -> bool:
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    return names == sorted(p.name for p in other.iterdir() if p.is_file()) and all(
        sha256_of(folder / n) == sha256_of(other / n) for n in names)


@pytest.mark.slow
def test_numbers_shown_equal_the_library(demo_notebooks, wheel_demo, default_source, analysis):
    # The demo's data is the default sample, which `analysis` was made from.
    assert _same_files(wheel_demo.out / "data", default_source)
    entry, out = demo_notebooks[("driver_analysis", "Harbor BPO")]
    shown = _tables(out / entry["path"])["drivers"]
    expected = analysis.drivers(kpis=["csat", "fcr"], group_by="vendor")
    expected = expected[(expected["group"] == "Harbor BPO") & (expected["kpi"] == "csat")]
    pd.testing.assert_series_equal(shown["estimate"].reset_index(drop=True),
                                   expected["estimate"].reset_index(drop=True),
                                   check_names=False, rtol=1e-12)
    assert list(shown["verdict"]) == list(expected["verdict"])

    entry, out = demo_notebooks[("vendor_comparison", "Harbor BPO")]
    shown = _tables(out / entry["path"])["kpi_by_vendor"]
    expected = analysis.kpi_summary(group_by="vendor")
    pd.testing.assert_series_equal(shown["value"], expected["value"], check_names=False,
                                   rtol=1e-12)

    entry, out = demo_notebooks[("qa_form_audit", "Lisbon")]
    shown = _tables(out / entry["path"])["qa_form_audit"]
    expected = analysis.qa_form_audit(group_by="site", group="Lisbon")
    assert list(shown["recommendation"]) == list(expected["recommendation"])


@pytest.mark.slow
def test_cli_notebooks_runs_params_file(small_source, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(json.dumps({
        "source": str(small_source), "period": "2026-10", "out": str(tmp_path / "out"),
        "group_by": ["vendor"], "notebooks": ["qa_form_audit"], "workers": 2}))
    result = invoke_cli("notebooks", params)
    assert result.exit_code == 0, result.stderr
    made = sorted(p.name for p in (tmp_path / "out" / "notebooks").glob("*.ipynb"))
    assert len(made) == 3 and all(n.startswith("qa_form_audit--") for n in made)
    assert "notebooks 3/3" in result.stderr  # plain log lines when not on a terminal


def test_cli_notebooks_refuses_bad_params(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("source: ''\nperiod: 2026-10\nout: x\nworkerz: 2\n")
    result = invoke_cli("notebooks", params)
    assert result.exit_code == 2 and "unknown key 'workerz'" in result.stderr
    params.write_text("source: ''\nperiod: 2026-10-01\nout: x\n")
    result = invoke_cli("notebooks", params)
    assert result.exit_code == 2 and "YYYY-MM" in result.stderr
    params.write_text("source: ''\nperiod: 2026-10\nout: x\nnotebooks: [nope]\n")
    result = invoke_cli("notebooks", params)
    assert result.exit_code == 2 and "notebook 'nope' not found" in result.stderr
