"""The scheduled run end to end: manifest, rejects, fault isolation, resume, lock, Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from cxreports.core.files import sha256_of
from cxreports.run.monthly import RunLock
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def write_params(path: Path, source: Path, out: Path, **extra) -> Path:
    params = {"source": str(source), "period": "2026-10", "out": str(out),
              "kpis": ["csat", "fcr"], "group_by": ["vendor"],
              "notebooks": ["qa_form_audit"], "workers": 2, **extra}
    path.write_text(yaml.safe_dump(params))
    return path


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def check_outputs(out: Path, data: dict) -> None:
    for entry in data["outputs"]:
        if entry["status"] == "ok":
            assert sha256_of(out / entry["path"]) == entry["sha256"], entry["path"]
            for rel, digest in entry.get("extra", []):
                assert sha256_of(out / rel) == digest


@pytest.fixture(scope="module")
def broken_run(broken_source, broken_record, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    params = write_params(out.parent / "p.yaml", broken_source, out)
    result = run_cli("run", params)
    return out, result


def test_end_to_end_with_broken_rows(broken_run, broken_record):
    out, result = broken_run
    assert result.returncode == 1, result.stderr  # rows were set aside
    data = manifest(out)
    assert data["exit_code"] == 1 and data["failures"] == []
    for table, expected in broken_record["expected_set_aside"].items():
        assert data["rejects"][table]["count"] == expected
        assert data["inputs"]["tables"][table]["set_aside"] == expected
        assert (out / "rejects" / f"{table}.csv").exists()
    check_outputs(out, data)
    steps = {e["step"] for e in data["outputs"]}
    assert steps == {"rejects", "notebooks", "packs", "scorecards", "tables"}
    assert len(list((out / "packs").glob("*.pdf"))) == data["steps"]["packs"]["done"] >= 2
    assert len(list((out / "scorecards").glob("*.pdf"))) == 3
    assert len(list((out / "notebooks").glob("*.ipynb"))) == 3
    assert (out / "run.log").read_text().count("packs ") >= 2
    assert data["versions"]["weasyprint"] and data["inputs"]["tables"]["roster"]["sha256"]
    assert "set aside" in result.stderr and "packs 1/" in result.stderr
    assert not (out / ".journal.jsonl").exists()
    # The notebooks started from the run's snapshot, which is gone afterwards.
    assert "shared snapshot" in (out / "run.log").read_text()
    executed = next((out / "notebooks").glob("*.ipynb")).read_text()
    assert str((out / ".snapshot").resolve()) in executed
    assert not (out / ".snapshot").exists()


def test_failed_pack_recorded_then_resume_redoes_only_it(small_source, tmp_path):
    out = tmp_path / "out"
    params = write_params(tmp_path / "p.yaml", small_source, out, notebooks=[])
    blocker = out / "packs" / "S02.pdf"
    blocker.mkdir(parents=True)  # a directory where the PDF should go: the rename fails
    first = run_cli("run", params)
    assert first.returncode == 1
    data = manifest(out)
    assert [f["key"] for f in data["failures"]] == ["S02"]
    assert "S02" in first.stderr
    others = {p.name: p.stat().st_mtime_ns for p in (out / "packs").glob("*.pdf")
              if p.is_file()}
    assert len(others) == data["steps"]["packs"]["done"] - 1
    blocker.rmdir()
    second = run_cli("run", params, "--resume")
    assert second.returncode == 0, second.stderr
    data = manifest(out)
    assert data["steps"]["packs"]["done"] == 1 and data["failures"] == []
    assert data["steps"]["scorecards"]["done"] == 0 and data["steps"]["tables"]["done"] == 0
    for name, mtime in others.items():
        assert (out / "packs" / name).stat().st_mtime_ns == mtime  # untouched
    check_outputs(out, data)


def test_resume_redoes_what_changed_inputs_affect(small_source, tmp_path):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(small_source, src)
    out = tmp_path / "out"
    params = write_params(tmp_path / "p.yaml", src, out, notebooks=[], scorecards=False)
    assert run_cli("run", params).returncode == 0
    assert manifest(out)["steps"]["packs"]["kept"] == 0
    again = run_cli("run", params, "--resume")
    assert again.returncode == 0
    assert manifest(out)["steps"]["packs"]["done"] == 0  # nothing to do
    targets = src / "targets.csv"
    targets.write_text(targets.read_text().replace("4.0,all", "4.2,all"))
    changed = run_cli("run", params, "--resume")
    assert changed.returncode == 0
    assert manifest(out)["steps"]["packs"]["kept"] == 0  # inputs changed: all redone


def test_killed_run_resumes_to_the_same_result(small_source, tmp_path):
    reference = tmp_path / "reference"
    params = write_params(tmp_path / "ref.yaml", small_source, reference, notebooks=[])
    assert run_cli("run", params).returncode == 0
    expected = {(e["step"], e["key"]): e["sha256"] for e in manifest(reference)["outputs"]}

    out = tmp_path / "out"
    params = write_params(tmp_path / "p.yaml", small_source, out, notebooks=[], workers=1)
    proc = subprocess.Popen([sys.executable, "-m", "cxreports", "run", str(params)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    journal = out / ".journal.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if journal.exists() and journal.read_text().count('"step": "packs"') >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in (out / "packs").glob("*.pdf")}
    assert done_before, "the run was killed after some packs were written"
    assert manifest(out)["exit_code"] is None  # the manifest says the run did not finish

    resumed = run_cli("run", params, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    data = manifest(out)
    got = {(e["step"], e["key"]): e["sha256"] for e in data["outputs"]}
    assert got == expected
    for name, mtime in done_before.items():
        assert (out / "packs" / name).stat().st_mtime_ns == mtime
    assert not list((out / "packs").glob(".*"))  # no half-written file left behind


def test_second_run_on_same_folder_refuses(small_source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    params = write_params(tmp_path / "p.yaml", small_source, out, notebooks=[])
    with RunLock(out):
        result = run_cli("run", params)
    assert result.returncode == 2
    assert "another cxreports run is writing" in result.stderr
    assert not (out / "manifest.json").exists()


def test_bad_parameters_stop_before_anything_is_written(small_source, tmp_path):
    out = tmp_path / "out"
    cases = {
        "unknown key": ({"colour": "blue"}, "unknown key 'colour'"),
        "wrong type": ({"workers": "two"}, "workers"),
        "bad executor": ({"executor": "spark://x"}, "dask://HOST:PORT"),
    }
    for _, (extra, message) in cases.items():
        params = write_params(tmp_path / "p.yaml", small_source, out, **extra)
        result = run_cli("run", params)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    params = write_params(tmp_path / "p.yaml", tmp_path / "missing", out)
    result = run_cli("run", params)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not out.exists()


def _notebook_cells(path: Path, out: Path) -> list:
    """Cells and outputs, with the run's own folder (named by the snapshot parameter) as OUT."""
    nb = nbformat.read(path, as_version=4)
    return [(c.source.replace(str(out.resolve()), "OUT"), [o for o in c.get("outputs", [])])
            for c in nb.cells]


def test_dask_executor_gives_the_same_outputs(small_source, tmp_path):
    from distributed import LocalCluster

    local = tmp_path / "local"
    params = write_params(tmp_path / "local.yaml", small_source, local)
    assert run_cli("run", params).returncode == 0
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        remote = tmp_path / "dask"
        params = write_params(tmp_path / "dask.yaml", small_source, remote,
                              executor=f"dask://{address}")
        result = run_cli("run", params)
    assert result.returncode == 0, result.stderr
    a = {(e["step"], e["key"]): e for e in manifest(local)["outputs"]}
    b = {(e["step"], e["key"]): e for e in manifest(remote)["outputs"]}
    assert a.keys() == b.keys()
    for key, entry in a.items():
        if key[0] == "notebooks":  # executed notebooks carry timings; compare cells
            assert _notebook_cells(local / entry["path"], local) == _notebook_cells(
                remote / b[key]["path"], remote)
        else:
            assert entry["sha256"] == b[key]["sha256"], key
