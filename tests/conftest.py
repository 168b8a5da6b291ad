"""Shared fixtures: small seeded samples written by the real generator, the command line
run in this process or in a subprocess, and the session's two end-to-end runs.

The two end-to-end runs (``shared_run``: the monthly job on the broken sample;
``wheel_demo``: ``cxreports demo`` from a freshly built wheel) take minutes of
mostly parallel work. When a selected test needs one, it starts in a
background thread as the first test begins, so it overlaps the quick tests
(which use one core) instead of running after them; the fixture then waits
for it; ``rendered`` hands tests three of the demo's packs and its scorecards.
Tests read these runs' outputs and never change them: a test that
needs to change a run copies its folder first (``copy_run``). ``make test``
runs the suite on two pytest-xdist workers: both start the session runs, and a
lock file makes one of them do each run while the other waits for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cxreports.data.sample import write_sample_data
from cxreports.run.notebooks import _import_papermill

# Test modules import nbformat, and with it jsonschema, which builds an IRI grammar
# on import: 2.5 CPU-s in each pytest process. Imported first the way the kit
# imports them, without that check (notebooks use no IRI format).
_import_papermill()

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]

#: Small enough to keep the suite fast, large enough for every table to fill.
SMALL = {"agents": 30, "months": 4, "contacts_per_month": 40, "seed": 11}

_CLI_ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


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


# --------------------------------------------------------------------------- command line


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``cxreports`` command in a subprocess (end-to-end tests)."""
    return _wait(_popen([sys.executable, "-m", "cxreports", *map(str, args)], cwd=cwd,
                        env={**os.environ, **_CLI_ENV}), timeout=600)


def invoke_cli(*args: str):
    """Run a ``cxreports`` command in this process with Typer's ``CliRunner``.

    For help texts, argument errors and the exit codes of quick commands,
    where a subprocess proves nothing more. The result has ``exit_code``,
    ``stdout`` and ``stderr``. An exception a command does not turn into an
    exit code propagates (a subprocess would show it as exit 1 and a
    traceback). The log handler a command adds is removed afterwards, as it
    would go with its process.
    """
    from typer.testing import CliRunner

    from cxreports.cli import app

    log = logging.getLogger("cxreports")
    handlers, level = list(log.handlers), log.level
    try:
        return CliRunner().invoke(app, [str(a) for a in args], env=_CLI_ENV,
                                  prog_name="cxreports", catch_exceptions=False)
    finally:
        for handler in [h for h in log.handlers if h not in handlers]:
            log.removeHandler(handler)
        log.setLevel(level)


# --------------------------------------------------------------------------- the default sample


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


@pytest.fixture(scope="session")
def mover(truth):
    """An agent who moved team in the sample's last month."""
    last = truth["months"][-1]
    return next(m for m in truth["movers"] if m["on"].startswith(last))


@pytest.fixture(scope="session")
def rendered(wheel_demo, mover):
    """Three packs (the mover's old and new teams, S05) and every scorecard of the
    default sample for October 2026, as PDFs: ``(out, {supervisor: result},
    {vendor: result})``. They are the demo's (``wheel_demo``: the same sample and
    month), read back rather than rendered again; that a worker process building a
    report from the run's snapshot writes the same bytes is checked in
    ``test_reports.py``."""
    from cxreports.reports.batch import ReportResult

    out = wheel_demo.out
    wanted = {mover["from_supervisor"], mover["to_supervisor"], "S05"}
    packs, cards = {}, {}
    for entry in manifest(out)["outputs"]:
        if entry["step"] == "scorecards" or (entry["step"] == "packs"
                                              and entry["key"] in wanted):
            found = cards if entry["step"] == "scorecards" else packs
            found[entry["key"]] = ReportResult(
                entry["step"], entry["key"], entry["status"], path=str(out / entry["path"]),
                sha256=entry["sha256"], error=entry["error"])
    assert set(packs) == wanted, f"the demo wrote no pack for {wanted - set(packs)}"
    return out, packs, cards


# --------------------------------------------------------------------------- subprocesses


_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


def _popen(args: list, **kwargs) -> subprocess.Popen:
    """A child in its own process group, ended with its kernels and workers if the session is."""
    proc = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            **kwargs)
    with _children_lock:
        _children.add(proc)
    return proc


def _wait(proc: subprocess.Popen, *, timeout: float) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(proc)
        raise
    finally:
        with _children_lock:
            _children.discard(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # our own child's group, by its id
    proc.communicate()


def pytest_sessionfinish(session, exitstatus):
    """Nothing started here outlives the session (an interrupted run, a failed test).

    A session run still going when this process's tests are done is left to
    finish (unless the session was interrupted): with pytest-xdist another
    worker may be waiting for it.
    """
    if exitstatus != pytest.ExitCode.INTERRUPTED:
        for job in _jobs.values():
            job.wait()
    with _children_lock:
        left = list(_children)
    for proc in left:
        _end(proc)


# --------------------------------------------------------------------------- monthly runs


def write_params(path: Path, source: Path | str, out: Path | str, **extra) -> Path:
    """A PARAMS.yaml for a small monthly run: October 2026, CSAT and FCR, by vendor."""
    params = {"source": str(source), "period": "2026-10", "out": str(out),
              "kpis": ["csat", "fcr"], "group_by": ["vendor"],
              "notebooks": ["qa_form_audit"], "workers": 2, **extra}
    path.write_text(yaml.safe_dump(params))
    return path


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@dataclass(frozen=True)
class Run:
    """A finished ``cxreports run`` in ``folder``: ``folder/src`` in, ``folder/out`` out.

    The parameters name both relatively (the run's working directory is
    ``folder``), so a copy of the folder is the same run to ``--resume``:
    same source, same parameters, same fingerprints.
    """

    folder: Path
    result: subprocess.CompletedProcess | None = None  # how the run ended, if it was run

    @property
    def src(self) -> Path:
        return self.folder / "src"

    @property
    def out(self) -> Path:
        return self.folder / "out"

    def params(self, name: str = "p.yaml", **extra) -> Path:
        return write_params(self.folder / name, "src", "out", **extra)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """``cxreports run`` in this folder (args: the params file, ``--resume``)."""
        return run_cli("run", *args, cwd=self.folder)


def copy_run(run: Run, target: Path) -> Run:
    """A private copy of ``run`` (inputs, outputs, parameters) to change and resume."""
    shutil.copytree(run.folder, target, symlinks=True)
    return Run(target, run.result)


def new_run(run: Run, target: Path) -> Run:
    """A folder for a new run on a copy of ``run``'s inputs (nothing run yet)."""
    shutil.copytree(run.src, target / "src")
    return Run(target)


def _shared_run(folder: Path, broken_source: Path, env: dict[str, str]) -> Run:
    shutil.copytree(broken_source, folder / "src")
    params = write_params(folder / "p.yaml", "src", "out")
    proc = _popen([sys.executable, "-m", "cxreports", "run", params.name], cwd=folder,
                  env={**env, **_CLI_ENV})
    return Run(folder, _wait(proc, timeout=600))


@pytest.fixture(scope="session")
def shared_run(request) -> Run:
    """The session's monthly run: the broken sample (rows set aside), October 2026,
    CSAT and FCR by vendor, the QA form notebook per vendor, packs, scorecards,
    tables. Read it; copy it (``copy_run``) to change it."""
    return _background(request, "shared_run").result()


# --------------------------------------------------------------------------- the wheel


@dataclass(frozen=True)
class WheelDemo:
    """``cxreports demo`` run from a wheel installed in a new virtual environment."""

    wheel: Path
    venv: Path
    python: Path
    cwd: Path
    out: Path
    result: subprocess.CompletedProcess

    def python_in_venv(self, code: str) -> subprocess.CompletedProcess:
        from tests._wheel import clean_env

        return subprocess.run([str(self.python), "-c", code], capture_output=True, text=True,
                              cwd=self.cwd, env=clean_env(self.venv), timeout=300)


def _wheel_demo(folder: Path, env: dict[str, str]) -> WheelDemo:
    from tests._wheel import build_wheel, clean_env, install_in_new_venv

    wheel = build_wheel(folder / "build")
    venv = folder / "venv"
    python = install_in_new_venv(wheel, venv)
    cwd = folder / "elsewhere"
    cwd.mkdir()
    result = _wait(_popen([venv / "bin" / "cxreports", "demo", "--out", "demo"], cwd=cwd,
                          env=clean_env(venv, env)), timeout=1800)
    return WheelDemo(wheel, venv, python, cwd, cwd / "demo", result)


@pytest.fixture(scope="session")
def wheel_demo(request) -> WheelDemo:
    """The demo (the default sample, every notebook per site and vendor, all packs and
    scorecards) run by the ``cxreports`` of a wheel built from this checkout and
    installed in a new venv, from a working directory outside the checkout."""
    return _background(request, "wheel_demo").result()


# --------------------------------------------------------------------------- background runs


class _Job:
    """A session run executing in a thread; ``result()`` waits for it."""

    def __init__(self, name: str, work: Callable[[], object]) -> None:
        self.name, self._work = name, work
        self._value: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to the tests that wait for it
            self._error = exc

    def start(self) -> _Job:
        self._thread.start()
        return self

    def wait(self) -> None:
        self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"the session's {self.name} failed: {self._error}") \
                from self._error
        return self._value


_jobs: dict[str, _Job] = {}


def _session_folder(factory, name: str) -> Path:
    """``session-<name>`` in the temporary folder every pytest-xdist worker shares."""
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder above every worker's own
    return shared / f"session-{name}"


def _once_per_session(folder: Path, make: Callable[[Path], object]):
    """``make(folder)`` once per test session, whichever process asks first.

    With pytest-xdist every worker starts the session runs; a lock file beside
    ``folder`` (in the temporary folder all workers share) lets the first do
    the work while the others wait for it, then read its pickled result.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = folder.parent / f"{folder.name}.result"
        if result.exists():
            return pickle.loads(result.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)  # a failed attempt's remains
        folder.mkdir()
        value = make(folder)
        result.write_bytes(pickle.dumps(value))
        return value


def _background(request, name: str) -> _Job:
    """The job for the session fixture ``name``, started now if not already."""
    if name not in _jobs:
        factory = request.getfixturevalue("tmp_path_factory")
        env = dict(os.environ)  # now, not whatever a test running meanwhile has set
        folder = _session_folder(factory, name)
        if name == "shared_run":
            source = request.getfixturevalue("broken_source")
            work = lambda: _once_per_session(  # noqa: E731
                folder, lambda f: _shared_run(f, source, env))
        else:
            work = lambda: _once_per_session(folder, lambda f: _wheel_demo(f, env))  # noqa: E731
        _jobs[name] = _Job(name, work).start()
    return _jobs[name]


@pytest.hookimpl(tryfirst=True)  # before ``-m "not slow"`` deselects
def pytest_collection_modifyitems(config, items):
    """A test that reads a session run (``shared_run``, ``wheel_demo``, or ``rendered``,
    which is the demo's) is an end-to-end test: marked ``slow``. Tests marked
    ``long`` go first."""
    for item in items:
        if {"shared_run", "wheel_demo"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # The long tests first: started last, one of them kept a worker busy for a minute
    # after the other had finished (pytest-xdist hands out tests in this order).
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session", autouse=True)
def _start_session_runs(request):
    """Start the session runs the selected tests need, before the first test."""
    wanted = set()
    for item in request.session.items:
        wanted |= {"shared_run", "wheel_demo"} & set(getattr(item, "fixturenames", ()))
    for name in sorted(wanted, reverse=True):  # the longer one, the demo, first
        _background(request, name)
