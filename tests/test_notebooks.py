"""Notebooks: thin, parameterised, stored clean, and executed for real by papermill."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cxreports.core.errors import UnusableInputError
from cxreports.core.files import sha256_of
from cxreports.reports import display as display_module
from cxreports.reports.display import TABLE_MIME, readable_table, show_table, top_n_note
from cxreports.run.notebooks import (
    SHARED_PARAMETERS,
    NotebookJob,
    _export_html,
    check_parameters,
    html_title,
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


def _table_outputs(path: Path) -> list[dict]:
    """The data of every output of ``path`` that shows a table (``show_table``)."""
    nb = nbformat.read(path, as_version=4)
    return [output["data"] for cell in nb.cells for output in cell.get("outputs", [])
            if TABLE_MIME in output.get("data", {})]


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    return {data[TABLE_MIME]["name"]: pd.DataFrame(data[TABLE_MIME]["records"],
                                                   columns=data[TABLE_MIME]["columns"])
            for data in _table_outputs(path)}


_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_DEFAULT_ALT = "No description has been provided for this image"


def _shown_headers(path: Path) -> dict[str, list[str]]:
    """Table name -> the column headers its shown HTML has."""
    return {data[TABLE_MIME]["name"]: re.findall(r"<th>(.*?)</th>", data["text/html"])
            for data in _table_outputs(path)}


def check_readable_notebook(ipynb: Path, html: Path, *, group: str, month: str) -> None:
    """What an analyst shares: a titled HTML copy whose every figure has its own alt
    text, and shown tables without raw snake_case column names (the attached records
    keep them). Also run by hand on scratch outputs."""
    text = html.read_text(encoding="utf-8")
    [title] = re.findall(r"<title>(.*?)</title>", text, flags=re.S)
    assert title.strip() != "Notebook" and group in title and month in title, title
    images = re.findall(r"<img\b[^>]*>", text)
    assert len(images) == _figures(ipynb) >= 1
    for image in images:
        alt = re.search(r'alt="([^"]*)"', image)
        assert alt and alt.group(1).strip() and alt.group(1) != _DEFAULT_ALT, image[-200:]
    headers = _shown_headers(ipynb)
    tables = _tables(ipynb)
    assert headers.keys() == tables.keys()
    for name, columns in headers.items():
        raw = [c for c in columns if _SNAKE.match(c) or c in {"q_value", "n_obs"}]
        assert not raw, (ipynb.name, name, raw)
        if columns and not tables[name].empty:  # an empty table shows its reason instead
            assert len(columns) <= tables[name].shape[1], (name, columns)


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


@pytest.mark.slow
def test_shared_copies_are_readable(demo_notebooks):
    for (_, group), (entry, out) in demo_notebooks.items():
        [[html, _]] = entry["extra"]
        check_readable_notebook(out / entry["path"], out / html, group=group,
                                month="October 2026")
    entry, out = demo_notebooks[("driver_analysis", "Harbor BPO")]
    assert {"q_value", "n_obs", "relative_weight"} <= set(_tables(out / entry["path"])["drivers"])
    assert {"q (FDR-adjusted)", "Contacts"} <= set(
        _shown_headers(out / entry["path"])["drivers"])


@pytest.fixture(scope="module")
def failing_batch(small_source, tmp_path_factory):
    """A failing job (a site that does not exist) first, then a good one in the same,
    kept kernel (the pool path is the CLI test's and the runs')."""
    out = tmp_path_factory.mktemp("notebooks")
    jobs = plan_notebook_jobs(notebooks=["qa_form_audit"], groups={"vendor": ["Harbor BPO"]},
                              source=str(small_source), period="2026-10",
                              kpis=["csat", "fcr"], out_dir=out)
    jobs.insert(0, NotebookJob("driver_analysis", {**jobs[0].parameters, "group": "Atlantis"},
                               str(out), "site", "Atlantis", folder=jobs[0].folder))
    results = run_notebooks(jobs, workers=1)
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

    # Shown as "77%" and "379", attached as the library's raw numbers.
    entry, out = demo_notebooks[("coaching_effectiveness", "Harbor BPO")]
    shown = _tables(out / entry["path"])["coaching_coverage"]
    team = analysis.group_members("vendor", "Harbor BPO")["supervisor_id"]
    expected = analysis.coaching_coverage
    expected = expected[expected["supervisor_id"].isin(set(team))].reset_index(drop=True)
    pd.testing.assert_frame_equal(shown, expected, check_dtype=False, rtol=1e-12)


@pytest.mark.slow
def test_cli_notebooks_runs_params_file(small_source, tmp_path):
    # One worker: one worker process runs the notebooks one after another on its one
    # kernel (the runs in conftest.py use two).
    params = tmp_path / "p.yaml"
    params.write_text(json.dumps({
        "source": str(small_source), "period": "2026-10", "out": str(tmp_path / "out"),
        "group_by": ["vendor"], "notebooks": ["qa_form_audit"], "workers": 1}))
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


def test_readable_table_labels_and_formats_only_what_is_shown(monkeypatch):
    frame = pd.DataFrame({
        "behavior_id": ["empathy", "use_name"], "coverage": [0.6, 0.125],
        "minutes": [323.0, 12.0], "estimate": [0.05, float("nan")],
        "ci_low": [0.01, float("nan")], "q_value": [0.0004, 0.2], "n_obs": [1713, 12],
        "verdict": ["driver", "insufficient_data"]})
    labels = {"empathy": "Acknowledges feelings", "use_name": "Uses the name"}
    shown = readable_table(frame, labels=labels, kpi="fcr")
    assert list(shown.columns) == ["Behaviour", "Coverage", "Coaching minutes (sessions)",
                                   "Effect", "95% CI low", "q (FDR-adjusted)", "Contacts",
                                   "Verdict"]
    assert shown.iloc[0].tolist() == ["Acknowledges feelings", "60%", "323", "+5.0 pts",
                                      "+1.0 pts", "<0.001", "1,713", "proven driver"]
    assert shown.iloc[1].tolist()[-1] == "not enough data"
    assert readable_table(frame[["estimate"]], kpi="csat").iloc[0, 0] == "+0.05"

    bundles = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: bundles.append(obj))
    show_table(frame, "t", labels=labels, kpi="fcr")
    show_table(frame.iloc[:0], "none", empty="no coaching this month")
    payload = bundles[0][TABLE_MIME]
    assert payload["columns"] == list(frame.columns)  # raw names and numbers attached
    assert payload["records"][0]["minutes"] == 323.0 and payload["records"][0]["q_value"] == 4e-4
    assert "q_value" not in bundles[0]["text/html"] and "323.000" not in bundles[0]["text/html"]
    assert "no coaching this month" in bundles[1]["text/plain"]
    assert bundles[1][TABLE_MIME]["records"] == []
    with pytest.raises(ValueError, match="alt text"):
        display_module.show_figure(None, alt=" ")


def test_top_n_note_says_why_the_top_is_smaller():
    assert top_n_note(20, 6, 6, what="behaviours") == "Top 20 asked; 6 behaviours have " \
        "enough data, so the top is 6."
    assert "no top is compared" in top_n_note(20, 2, 8, minimum=10)
    # Enough agents, but they could not be ranked: the note says why, not "only 60".
    tied = top_n_note(20, 20, 60, minimum=10, enough=False, unranked="all tie on QA score")
    assert tied == ("Top 20 asked; the 60 agents with enough data all tie on QA score, "
                    "so no top is compared.")


def test_html_copy_has_title_and_alt(tmp_path):
    import base64

    from cxreports.reports.charts import figure_png, plot_trend_lines

    png = figure_png(plot_trend_lines(pd.DataFrame({"period": ["2026-09", "2026-10"],
                                                    "value": [0.2, 0.3], "behavior_id": "a"})))
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Which behaviours drive the KPI here?\n\nText."),
        nbformat.v4.new_code_cell("show_figure(ax, alt=...)", outputs=[
            nbformat.v4.new_output("display_data",
                                   data={"image/png": base64.b64encode(png).decode()},
                                   metadata={"image/png": {"alt": "Adoption by month"}})])])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert html_title(nb, "Harbor BPO", "2026-10") == \
        "Which behaviours drive the KPI here? — Harbor BPO, October 2026"
    text = _export_html(path, tmp_path / "n.html", group="Harbor BPO", period="2026-10") \
        .read_text(encoding="utf-8")
    assert "<title>Which behaviours drive the KPI here? — Harbor BPO, October 2026</title>" in text
    assert 'alt="Adoption by month"' in text and _DEFAULT_ALT not in text


def _tiny_notebook(path: Path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell("group = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def test_a_kept_kernel_starts_each_notebook_afresh(tmp_path):
    from cxreports.run.notebooks import KERNELS

    folder = tmp_path / "nbs"
    folder.mkdir()
    # The first leaves a name and another working folder behind and says which
    # kernel ran it; the second must not see the name, in the same kernel, in the
    # notebooks' folder, counting cells from 1 again.
    _tiny_notebook(folder / "first.ipynb",
                   "import os\nleft_behind = 1\nos.chdir('/')\nprint(os.getpid())")
    _tiny_notebook(folder / "second.ipynb",
                   "import os\nprint(os.getpid())\nprint(os.getcwd())\nprint(left_behind)")
    jobs = [NotebookJob(name, {"group": "x"}, str(tmp_path / "out"), "site", "x",
                        folder=str(folder)) for name in ("first", "second")]
    first, second = run_notebooks(jobs, workers=1)
    assert first.status == "ok", first.error
    assert second.status == "failed" and "NameError" in second.error
    cells = [nbformat.read(r.ipynb, as_version=4).cells for r in (first, second)]
    pids = [c[-1].outputs[0]["text"].split()[0] for c in cells]
    assert pids[0] == pids[1]  # one kernel ran both
    assert cells[1][-1].outputs[0]["text"].split("\n")[1] == str(folder)
    assert [c.execution_count for c in cells[1] if c.cell_type == "code"] == [1, 2, 3]
    assert len(KERNELS) == 0  # and it is gone with the batch


def test_a_kernel_is_kept_only_under_its_memory_cap(tmp_path):
    from cxreports.run.notebooks import KeptKernels

    for cap, kept in ((100_000, 1), (1, 0)):  # MB: a new kernel uses tens of MB
        kernels = KeptKernels(max_rss_mb=cap)
        manager = kernels.start("python3", str(tmp_path))
        kernels.give_back("python3", str(tmp_path), manager)
        assert len(kernels) == kept
        kernels.close()
        assert not manager.is_alive()
