"""The scheduled run end to end: manifest, rejects, fault isolation, resume, lock, Dask.

Most tests read the session's monthly run (``shared_run`` in conftest.py: the
broken sample, so rows are set aside and a finished run exits 1 even when
nothing failed) or change and resume a copy of it (``copy_run``). The shared
run and the Dask run are ``cxreports run`` in a subprocess (runs killed and
resumed are in test_stopping.py);
the resume tests run the command in this process (``invoke_cli``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cxreports.core.files import sha256_of
from cxreports.run.monthly import RunLock
from tests.conftest import copy_run, invoke_cli, manifest, run_cli, write_params


def check_outputs(out: Path, data: dict) -> None:
    for entry in data["outputs"]:
        if entry["status"] == "ok":
            assert sha256_of(out / entry["path"]) == entry["sha256"], entry["path"]
            for rel, digest in entry.get("extra", []):
                assert sha256_of(out / rel) == digest


@pytest.mark.slow
def test_end_to_end_with_broken_rows(shared_run, broken_record):
    out, result = shared_run.out, shared_run.result
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


@pytest.mark.slow
def test_failed_pack_recorded_then_resume_redoes_only_it(shared_run, tmp_path, monkeypatch):
    run = copy_run(shared_run, tmp_path / "run")
    params = run.params(notebooks=[])
    (run.out / "packs" / "S02.pdf").unlink()  # to be made again, and this time it fails:
    blocker = run.out / "packs" / "S02.pdf"
    blocker.mkdir()  # a directory where the PDF should go: the rename fails
    others = {p.name: p.stat().st_mtime_ns for p in (run.out / "packs").glob("*.pdf")
              if p.is_file()}
    monkeypatch.chdir(run.folder)  # the parameters name src/ and out/ relative to it
    first = invoke_cli("run", params.name, "--resume")
    assert first.exit_code == 1
    data = manifest(run.out)
    assert [f["key"] for f in data["failures"]] == ["S02"]
    assert "S02" in first.stderr
    assert data["steps"]["packs"]["kept"] == len(others) >= 2
    blocker.rmdir()
    second = invoke_cli("run", params.name, "--resume")
    assert second.exit_code == 1, second.stderr  # the rows set aside, nothing failed:
    data = manifest(run.out)
    assert data["steps"]["packs"]["done"] == 1 and data["failures"] == []
    assert data["steps"]["scorecards"]["done"] == 0 and data["steps"]["tables"]["done"] == 0
    for name, mtime in others.items():
        assert (run.out / "packs" / name).stat().st_mtime_ns == mtime  # untouched
    check_outputs(run.out, data)


@pytest.mark.slow
def test_resume_redoes_what_changed_inputs_affect(shared_run, tmp_path, monkeypatch):
    assert manifest(shared_run.out)["steps"]["packs"]["kept"] == 0  # a fresh run made them
    run = copy_run(shared_run, tmp_path / "run")
    params = run.params(notebooks=[], scorecards=False)
    monkeypatch.chdir(run.folder)  # the parameters name src/ and out/ relative to it
    again = invoke_cli("run", params.name, "--resume")
    assert again.exit_code == 1, again.stderr  # the rows set aside, nothing failed
    assert manifest(run.out)["failures"] == []
    assert manifest(run.out)["steps"]["packs"]["done"] == 0  # nothing to do
    targets = run.src / "targets.csv"
    text = targets.read_text()
    assert "4.0,all" in text
    targets.write_text(text.replace("4.0,all", "4.2,all"))
    changed = invoke_cli("run", params.name, "--resume")
    assert changed.exit_code == 1, changed.stderr
    assert manifest(run.out)["failures"] == []
    assert manifest(run.out)["steps"]["packs"]["kept"] == 0  # inputs changed: all redone


def test_second_run_on_same_folder_refuses(small_source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    params = write_params(tmp_path / "p.yaml", small_source, out, notebooks=[])
    with RunLock(out):  # flock: a second open of the file conflicts, even in this process
        result = invoke_cli("run", params)
    assert result.exit_code == 2
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
        result = invoke_cli("run", params)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    params = write_params(tmp_path / "p.yaml", tmp_path / "missing", out)
    result = invoke_cli("run", params)
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert not out.exists()


def _notebook_cells(path: Path, out: Path) -> list:
    """Cells and outputs, with the run's own folder (named by the snapshot parameter) as OUT."""
    nb = nbformat.read(path, as_version=4)
    return [(c.source.replace(str(out.resolve()), "OUT"), [o for o in c.get("outputs", [])])
            for c in nb.cells]


@pytest.mark.slow
def test_dask_executor_gives_the_same_outputs(shared_run, tmp_path):
    from distributed import LocalCluster

    local = shared_run.out  # the same source and parameters, run with executor: local
    # One worker process (with its nanny), as a remote machine would run them: what
    # crosses to it (pickled tasks, the notebooks' snapshot read by its own kernel) is
    # what is tested; the local runs have two workers.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        remote = tmp_path / "dask"
        params = write_params(tmp_path / "dask.yaml", shared_run.src.resolve(), remote,
                              executor=f"dask://{address}")
        result = run_cli("run", params)
    assert result.returncode == 1, result.stderr  # the rows set aside, nothing failed
    assert manifest(remote)["failures"] == []
    a = {(e["step"], e["key"]): e for e in manifest(local)["outputs"]}
    b = {(e["step"], e["key"]): e for e in manifest(remote)["outputs"]}
    assert a.keys() == b.keys()
    for key, entry in a.items():
        if key[0] == "notebooks":  # executed notebooks carry timings; compare cells
            assert _notebook_cells(local / entry["path"], local) == _notebook_cells(
                remote / b[key]["path"], remote)
        else:
            assert entry["sha256"] == b[key]["sha256"], key
