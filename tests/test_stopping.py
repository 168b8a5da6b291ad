"""A run stopped the way schedulers stop jobs: SIGTERM is a clean stop, SIGKILL leaves
nothing running, and ``--resume`` finishes the job either way.

Real processes throughout: ``cxreports run`` in a subprocess, signalled by its
pid only (not its process group), so its workers, notebook kernels and the
multiprocessing resource tracker must end by themselves. The run's processes
are found by an environment variable only this test sets (``/proc/*/environ``).
The notebook is a stand-in from ``$CXREPORTS_NOTEBOOKS`` that keeps its kernel
busy for as long as the test says, so a stop reliably lands while it runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import nbformat
import pytest

from cxreports.core.files import remove_temporary_files
from cxreports.data.sample import write_sample_data
from cxreports.run.stopping import remove_leftovers
from tests.conftest import invoke_cli, manifest, write_params

MARK = "CXREPORTS_TEST_STOPPING"
SLEEP = "CXREPORTS_TEST_NOTEBOOK_SECONDS"


def _processes(token: str) -> dict[int, str]:
    """Live processes started with ``MARK=token`` in their environment: pid -> command."""
    needle = f"{MARK}={token}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            found[int(entry.name)] = command
    return found


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``out`` with its size and modification time."""
    return {str(p.relative_to(out)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def _journal(out: Path, step: str) -> set[str]:
    path = out / ".journal.jsonl"
    text = path.read_text() if path.exists() else ""
    return {e["path"] for e in map(_json, text.splitlines()) if e and e["step"] == step
            and e["status"] == "ok"}


def _json(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def _waiting_notebook(folder: Path) -> Path:
    """A notebook declaring the shared parameters that sleeps ``$SLEEP`` seconds."""
    folder.mkdir()
    parameters = nbformat.v4.new_code_cell(
        'source: str = ""\nperiod: str = ""\ngroup_by: str = ""\ngroup: str = ""\n'
        'kpi: str = ""')
    parameters.metadata["tags"] = ["parameters"]
    work = nbformat.v4.new_code_cell(f"import os, time\ntime.sleep(float(os.environ['{SLEEP}']))")
    nb = nbformat.v4.new_notebook(cells=[parameters, work], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
    nbformat.write(nb, folder / "wait.ipynb")
    return folder


class Job:
    """``cxreports run`` in ``folder`` (``src`` in, ``out`` out), as subprocesses carrying
    the mark ``token``."""

    def __init__(self, folder: Path, source: Path, notebooks: Path) -> None:
        shutil.copytree(source, folder / "src")
        self.folder, self.out, self.notebooks = folder, folder / "out", notebooks
        self.token = uuid.uuid4().hex
        # One worker process: two of these runs go side by side on a small machine.
        write_params(folder / "all.yaml", "src", "out", notebooks=["wait"], scorecards=False,
                     workers=1)
        write_params(folder / "packs.yaml", "src", "out", notebooks=[], scorecards=False,
                     workers=1)

    def start(self, params: str, *args: str, sleep: float = 0) -> subprocess.Popen:
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", MARK: self.token,
               "CXREPORTS_NOTEBOOKS": str(self.notebooks), SLEEP: str(sleep)}
        self.stderr = self.folder / "stderr.txt"
        with self.stderr.open("w") as err:
            return subprocess.Popen([sys.executable, "-m", "cxreports", "run", params, *args],
                                    cwd=self.folder, env=env, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True)

    def wait_for(self, proc: subprocess.Popen, condition, what: str) -> None:
        deadline = time.monotonic() + 120
        while not condition():
            assert proc.poll() is None, f"the run ended before {what}: {self.stderr.read_text()}"
            assert time.monotonic() < deadline, f"no {what} after 120s"
            time.sleep(0.05)

    def running(self, command: str) -> bool:
        return any(command in c for c in _processes(self.token).values())

    def stop(self, proc: subprocess.Popen, signum: int) -> None:
        """Signal the run's own pid (not its group). Once it has ended, all its processes
        must end within seconds and write nothing more; after SIGTERM it must have
        stopped cleanly: exit 143, said so, journalled, no temporary file left."""
        os.kill(proc.pid, signum)
        code = proc.wait(timeout=60)
        at_exit = _files(self.out)
        deadline = time.monotonic() + 5
        while _processes(self.token):
            assert time.monotonic() < deadline, \
                f"still running 5s after the run ended: {_processes(self.token)}"
            time.sleep(0.1)
        # None of its processes is left to write anything later.
        assert _files(self.out) == at_exit, "files written after the run ended"
        if signum == signal.SIGKILL:
            assert code == -signal.SIGKILL
            assert manifest(self.out)["exit_code"] is None  # it could say nothing more
            return
        said = self.stderr.read_text()
        assert code == 143, said
        assert re.search(r"interrupted: \d+ of \d+ done; run again with --resume", said), said
        assert manifest(self.out)["status"] == "interrupted"
        assert manifest(self.out)["exit_code"] == 143
        assert not [p for p in self.out.rglob(".*")
                    if p.name not in (".cxreports.lock", ".journal.jsonl")]


def _finished(folder: Path) -> set[str]:
    """The outputs in ``folder`` (hidden ones are temporary), as the journal names them."""
    return {f"{folder.name}/{p.name}" for p in folder.glob("*") if not p.name.startswith(".")}


def _stop_twice_then_resume(job: Job, during_notebooks: int, during_packs: int) -> None:
    """Stop ``job`` while notebooks run, then while packs render; ``--resume`` then
    finishes everything."""
    out = job.out

    # 1. While the notebooks run (for longer than the grace a stop gives them).
    proc = job.start("all.yaml", sleep=60)
    job.wait_for(proc, lambda: job.running("ipykernel"), "notebook kernel")
    job.stop(proc, during_notebooks)
    assert not _finished(out / "notebooks")
    if during_notebooks == signal.SIGKILL:
        assert list(out.glob(".snapshot*"))  # for the next run to remove

    # 2. While packs render, once some exist (a SIGTERM gives those in flight the grace).
    proc = job.start("packs.yaml", "--resume")
    job.wait_for(proc, lambda: _journal(out, "packs"), "pack")
    job.stop(proc, during_packs)
    assert not list(out.glob(".snapshot*"))  # the first run's, removed by this one
    if during_packs == signal.SIGTERM:  # every pack made is journalled
        assert _finished(out / "packs") == _journal(out, "packs")

    # 3. --resume finishes everything and clears what the stopped runs left.
    (out / "packs" / ".S01.999999.tmp.pdf").write_bytes(b"%PDF-1.7 cut short")
    proc = job.start("all.yaml", "--resume")
    assert proc.wait(timeout=300) == 0, job.stderr.read_text()
    data = manifest(out)
    assert data["status"] == "ok" and data["failures"] == []
    assert data["steps"]["packs"]["kept"] >= 1  # what the stopped runs finished
    assert {e["step"] for e in data["outputs"]} == {"notebooks", "packs", "tables"}
    assert _finished(out / "packs") == {e["path"] for e in data["outputs"]
                                        if e["step"] == "packs"}
    assert not [p for p in out.rglob(".*") if p.name != ".cxreports.lock"]


@pytest.mark.long
@pytest.mark.slow
def test_stopped_or_killed_run_leaves_nothing_running_and_resumes(tmp_path):
    # Small: 15 agents, 5 supervisors (5 packs), 3 vendors (3 notebooks).
    source = write_sample_data(tmp_path / "source", agents=15, months=4,
                               contacts_per_month=40, seed=11)
    notebooks = _waiting_notebook(tmp_path / "notebooks")
    # SIGTERM and SIGKILL, each once during notebooks and once during packs, in two
    # folders side by side: much of each run is waiting (for a kernel, the grace).
    chains = {(signal.SIGTERM, signal.SIGKILL): Job(tmp_path / "a", source, notebooks),
              (signal.SIGKILL, signal.SIGTERM): Job(tmp_path / "b", source, notebooks)}
    try:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(_stop_twice_then_resume, job, *signals)
                           for signals, job in chains.items()]:
                future.result()
    finally:
        for job in chains.values():  # should the test fail: nothing of its runs outlives it
            for pid in _processes(job.token):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_timeout_stops_the_run_cleanly(small_source, tmp_path):
    out = tmp_path / "out"
    params = write_params(tmp_path / "p.yaml", small_source, out, notebooks=[],
                          scorecards=False, timeout=0.0005)  # 30 ms: while validating
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)]
    result = invoke_cli("run", params)
    assert result.exit_code == 124, result.stderr
    said = r"interrupted: (nothing done yet|0 of \d+ done); run again with --resume"
    assert re.search(said, result.stderr), result.stderr
    assert "timeout of 0.0005 minutes reached" in result.stderr
    # The run's handlers and timer are gone with it.
    assert handlers == [signal.getsignal(s)
                        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_leftovers_of_a_killed_run_are_recognised(tmp_path):
    out = tmp_path / "out"
    keep = [out / "packs" / "S01.pdf", out / "manifest.json", out / ".journal.jsonl",
            out / "packs" / ".S01.pdf", out / "tables" / "a.tmp.csv"]
    gone = [out / "packs" / ".S01.4242.tmp.pdf", out / ".manifest.17.tmp.json",
            out / ".snapshot" / "meta.json", out / ".snapshot-x1y2" / "tables" / "a.parquet",
            out / ".snapshot-old" / "meta.json", out / "notebooks" / ".qa--x.5.tmp.ipynb"]
    for path in keep + gone:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert remove_temporary_files(out / "packs") == [out / "packs" / ".S01.4242.tmp.pdf"]
    remove_leftovers(out)
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in gone)
    assert sorted(p.name for p in out.iterdir()) == [".journal.jsonl", "manifest.json",
                                                     "notebooks", "packs", "tables"]


def test_a_worker_ends_when_the_process_it_serves_ends_though_not_its_parent():
    # A pool worker's parent is the fork server, which outlives a killed run while
    # any worker holds its pipe: the worker must watch the run itself (die_with).
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    worker = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from cxreports.run.stopping import die_with; "
        f"die_with({owner.pid}); print('watching', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline() == "watching\n"
        assert worker.poll() is None
        owner.kill()  # a zombie until reaped below: that already counts as ended
        assert worker.wait(timeout=5) == 1
        owner.wait()
    finally:
        for proc in (owner, worker):
            with suppress(ProcessLookupError):
                proc.kill()
