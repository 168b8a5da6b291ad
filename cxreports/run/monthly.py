"""The scheduled monthly run: validate -> notebooks -> packs -> scorecards -> tables -> deliver.

Safe to re-run and to resume:

- A lock on ``OUT/.cxreports.lock`` makes a second run on the same folder
  refuse to start (the operating system releases it if a run dies).
- Each finished item (a notebook, a pack, a scorecard, a table) is appended
  to ``OUT/.journal.jsonl`` at once, and ``OUT/manifest.json`` is rewritten
  whole after every step, so a run killed midway leaves a record.
- ``--resume`` redoes only what is missing, failed, or out of date: an item
  is kept when its fingerprint (input checksums, parameters, package
  version, and the notebook or templates it was made from) is unchanged and
  its file still has the checksum recorded. Kept files are not touched.
- One failing item is recorded with its reason and the rest finish; exit 1
  names what failed or what was set aside, exit 0 only when all is clean.
- SIGINT, SIGTERM or the ``timeout`` stop it cleanly (``run.stopping``):
  what finished is journalled, the workers end, temporary files go, the
  manifest says ``interrupted`` and :class:`Interrupted` is raised (exit
  130, 143 or 124). What a killed run leaves half-written, the next removes.
- With a ``deliver`` section, the last step e-mails the packs and
  scorecards (``run.deliver``), exactly once across runs;
  :func:`deliver_monthly` is that step alone on a finished run
  (``cxreports deliver``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rich.console import Console
from threadpoolctl import threadpool_limits

from ..analyses.analysis import Analysis
from ..core.errors import Interrupted, UnusableInputError
from ..core.files import atomic_path, atomic_write_text, sha256_of
from ..core.periods import MONTHS_NOTE
from ..data.sources import redact_source, resolve_source
from ..data.validation import validate_source
from ..reports.batch import REPORT_KINDS, ReportResult, render_reports
from ..reports.rendering import template_dir
from ..reports.tables import BACKGROUND_TABLES, TABLE_BUILDERS
from .deliver import DeliveryReport, plan_deliveries, send_deliveries
from .executors import open_executor
from .notebooks import (
    NotebookResult,
    notebook_dir,
    notebook_path,
    plan_run_jobs,
    run_notebook_step,
)
from .params import RunParams, smtp_password
from .progress import progress_step
from .stopping import StopRequest, remove_leftovers, stop_on_signals

__all__ = ["RunOutcome", "deliver_monthly", "run_monthly"]

log = logging.getLogger("cxreports")
_PACKAGES = ["cxreports", "pandas", "numpy", "duckdb", "statsmodels", "scipy", "matplotlib",
             "seaborn", "jinja2", "weasyprint", "papermill", "nbclient", "pydantic", "dask",
             "distributed"]


@dataclass
class RunOutcome:
    """How a run ended: exit code, manifest path and what went wrong."""

    exit_code: int
    manifest: Path
    failures: list[dict] = field(default_factory=list)
    rows_set_aside: int = 0
    outputs: list[dict] = field(default_factory=list)


class RunLock:
    """An exclusive, non-blocking lock on the output folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".cxreports.lock"

    def __enter__(self) -> RunLock:
        self.handle = open(self.path, "a+")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise UnusableInputError(
                f"another cxreports run is writing {self.path.parent}; wait for it to finish "
                "or choose another output folder") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


class Journal:
    """Append-only record of finished items, flushed to disk as each one ends."""

    def __init__(self, path: Path, *, keep: bool) -> None:
        self.path = path
        if not keep and path.exists():
            path.unlink()

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
        return entries

    def add(self, entry: dict) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _folder_digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return _digest([(str(p.relative_to(folder)), sha256_of(p)) for p in files])


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _Run:
    """State of one run; steps add outputs and failures, then the manifest is written."""

    def __init__(self, params: RunParams, params_file: Path | None, resume: bool,
                 console: Console, stop: StopRequest) -> None:
        self.params, self.params_file, self.resume, self.console, self.stop = (
            params, params_file, resume, console, stop)
        self.out = Path(params.out)
        self.outputs: list[dict] = []
        self.failures: list[dict] = []
        self.steps: dict[str, dict] = {}
        self.started = _now()
        self.previous: dict[tuple[str, str], dict] = {}
        self.analysis: Analysis | None = None
        self.planned: int | None = None  # notebooks, reports and tables to have
        self.resend_changed = False
        self.delivery: DeliveryReport | None = None  # the deliver step's messages

    # ------------------------------------------------------------ bookkeeping

    def load_previous(self, journal: Journal) -> None:
        manifest = self.out / "manifest.json"
        entries = []
        if manifest.exists():
            try:
                entries = json.loads(manifest.read_text(encoding="utf-8")).get("outputs", [])
            except json.JSONDecodeError:
                entries = []
        for entry in [*entries, *journal.read()]:  # the journal is newer
            self.previous[(entry["step"], entry["key"])] = entry

    def reusable(self, step: str, key: str, fingerprint: str) -> dict | None:
        if not self.resume:
            return None
        entry = self.previous.get((step, key))
        if not entry or entry.get("status") != "ok" or entry.get("fingerprint") != fingerprint:
            return None
        for rel, digest in [(entry["path"], entry["sha256"]), *entry.get("extra", [])]:
            path = self.out / rel
            if not path.is_file() or sha256_of(path) != digest:
                return None
        return {**entry, "reused": True}

    def record(self, entry: dict, journal: Journal | None = None) -> None:
        if entry["status"] != "ok":
            self.stop.check()  # a failure caused by the stop is not the item's
        self.outputs.append(entry)
        if entry["status"] != "ok":
            self.failures.append({"step": entry["step"], "key": entry["key"],
                                  "reason": entry.get("error") or "failed"})
        if journal is not None and not entry.get("reused"):
            journal.add(entry)
        # A stop whose exception was lost (raised in a weakref callback, turned
        # into DuckDB's own error and caught) is acted on here at the latest.
        self.stop.check()

    def rel(self, path: str | Path | None) -> str | None:
        if path is None:
            return None
        return os.path.relpath(Path(path).resolve(), self.out.resolve())

    def progress(self) -> str:
        """``"N of M done"``: outputs that exist (made or kept) of those the run plans."""
        if self.planned is None:
            return "nothing done yet"
        done = sum(e["status"] == "ok" for e in self.outputs if e["step"] != "rejects")
        delivered = f"; {self.delivery.progress()}" if self.delivery else ""
        return f"{done} of {self.planned} done{delivered}"

    def interrupted(self, data) -> Interrupted:
        """Record a clean stop (the workers have ended): no leftovers, the manifest says so."""
        remove_leftovers(self.out)
        stopped = Interrupted(self.stop.cause, self.progress())
        self.write_manifest(data, self.analysis, stopped.exit_code)
        log.warning("run %s: %s; run again with --resume", self.out, stopped)
        return stopped

    def write_manifest(self, data, analysis: Analysis | None, exit_code: int | None) -> Path:
        reports = data.reports
        manifest = {
            "cxreports": version("cxreports"),
            "status": "running" if exit_code is None else "interrupted" if self.stop.cause else
            ("ok" if exit_code == 0 else "done_with_problems"),
            "exit_code": exit_code,
            "started_at": self.started,
            "finished_at": None if exit_code is None else _now(),
            "period": str(self.params.period),
            "baseline": analysis.baseline if analysis else None,
            "model_window": analysis.driver_window if analysis else None,
            "windows": {name: window.labels for name, window in
                        analysis.windows.named().items()} if analysis else None,
            "months": MONTHS_NOTE,
            "warnings": data.warnings,
            "parameters": {**self.params.model_dump(),
                           "source": redact_source(self.params.source)},
            "parameters_file": str(self.params_file) if self.params_file else None,
            "parameters_sha256": sha256_of(self.params_file) if self.params_file else None,
            "inputs": {
                "source": redact_source(data.source),
                "tables": {name: {"origin": r.origin, "rows": r.rows_read, "kept": r.rows_kept,
                                  "set_aside": r.rows_set_aside, "sha256": r.sha256}
                           for name, r in reports.items()},
            },
            "rejects": {name: {"count": r.rows_set_aside,
                               "path": f"rejects/{name}.csv" if r.rows_set_aside else None}
                        for name, r in reports.items()},
            "versions": _versions(),
            "steps": self.steps,
            "outputs": self.outputs,
            "failures": self.failures,
            "delivery": self.delivery.summary() if self.delivery else None,
            "log": "run.log",
        }
        target = self.out / "manifest.json"
        atomic_write_text(target, json.dumps(manifest, indent=2, default=str))
        return target


def run_monthly(params: RunParams, *, params_file: str | os.PathLike | None = None,
                resume: bool = False, console: Console | None = None,
                resend_changed: bool = False) -> RunOutcome:
    """Run the monthly job described by ``params`` (see the module docstring).

    Raises
    ------
    UnusableInputError
        Before anything is written: the source is unreadable, or another run
        holds the output folder.
    Interrupted
        SIGINT, SIGTERM or ``params.timeout`` stopped the run; what finished
        is recorded for ``--resume`` and its ``progress`` says how much.
    """
    console = console or Console(stderr=True)
    if params.deliver is not None:
        smtp_password(params.deliver)  # sending without the password: stop before any work
    with stop_on_signals(params.timeout) as stop:
        source = resolve_source(params.source)
        t0 = time.perf_counter()
        # unusable input stops here, before any write
        data = validate_source(source, encoding=params.encoding)
        validate_seconds = time.perf_counter() - t0
        out = Path(params.out)
        out.mkdir(parents=True, exist_ok=True)
        run = _Run(params, Path(params_file) if params_file else None, resume, console, stop)
        run.resend_changed = resend_changed
        with RunLock(out):
            handler = logging.FileHandler(out / "run.log", encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            try:
                remove_leftovers(out)  # what a killed run left: the lock says it is gone
                return _steps(run, data, validate_seconds)
            except BaseException:
                if stop.cause is None:
                    raise
                raise run.interrupted(data) from None
            finally:
                log.removeHandler(handler)
                handler.close()


def _steps(run: _Run, data, validate_seconds: float) -> RunOutcome:
    params, out = run.params, run.out
    journal = Journal(out / ".journal.jsonl", keep=run.resume)
    run.load_previous(journal)
    log.info("run %s: source %s, period %s, resume=%s", out, redact_source(data.source),
             params.period, run.resume)
    for warning in data.warnings:
        log.warning("validate: %s", warning)

    # 1. validate: rejects beside the outputs
    t = time.perf_counter()
    rejects_dir = out / "rejects"
    for stale in rejects_dir.glob("*.csv") if rejects_dir.exists() else []:
        stale.unlink()
    for name, path in data.write_rejects(rejects_dir).items():
        run.record({"step": "rejects", "key": name, "status": "ok", "path": run.rel(path),
                    "sha256": sha256_of(path)})
        log.warning("validate: %d rows of %s set aside (%s)",
                    data.reports[name].rows_set_aside, name, run.rel(path))
    run.steps["validate"] = {"seconds": round(validate_seconds + time.perf_counter() - t, 2),
                             "rows_set_aside": data.rows_set_aside}
    analysis = run.analysis = Analysis(data, period=params.period)
    run.write_manifest(data, analysis, None)

    inputs = {name: r.sha256 for name, r in data.reports.items()}
    core = params.model_dump(exclude={"out", "workers", "executor", "notebooks", "packs",
                                      "scorecards", "timeout", "deliver", "html"})
    base_fp = _digest(inputs, core, version("cxreports"))
    jobs = plan_run_jobs(params, analysis) if params.notebooks else []
    report_keys = {kind: REPORT_KINDS[kind].keys(analysis) for kind in REPORT_KINDS
                   if getattr(params, kind)}
    run.planned = len(jobs) + sum(map(len, report_keys.values())) + len(TABLE_BUILDERS)

    with open_executor(params.executor, params.workers) as executor:
        # 2. notebooks
        if params.notebooks:
            _notebooks_step(run, analysis, journal, base_fp, executor, jobs)
            run.write_manifest(data, analysis, None)
        # 3 and 4. packs and scorecards
        templates_fp = _folder_digest(template_dir())
        # html only where it is asked for: a run without it keeps earlier fingerprints
        reports_fp = _digest(base_fp, templates_fp, *(["html"] if params.html else []))
        for kind, keys in report_keys.items():
            run.stop.check()  # a stop swallowed by a library in the step before
            _reports_step(run, analysis, journal, reports_fp, executor, kind, keys)
            run.write_manifest(data, analysis, None)

    # 5. tables
    run.stop.check()
    _tables_step(run, analysis, journal, base_fp)
    # 6. deliver
    if params.deliver is not None:
        run.write_manifest(data, analysis, None)
        run.stop.check()
        _deliver_step(run, analysis, run.outputs)
    exit_code = 1 if run.failures or data.rows_set_aside else 0
    manifest = run.write_manifest(data, analysis, exit_code)
    journal.path.unlink(missing_ok=True)  # the manifest now holds everything
    log.info("run finished with exit code %d: %d outputs, %d failures, %d rows set aside",
             exit_code, len(run.outputs), len(run.failures), data.rows_set_aside)
    return RunOutcome(exit_code, manifest, run.failures, data.rows_set_aside, run.outputs)


def _notebooks_step(run: _Run, analysis: Analysis, journal: Journal, base_fp: str,
                    executor, jobs: list) -> None:
    params = run.params
    t = time.perf_counter()
    notebook_fp = {n: sha256_of(notebook_path(n)) for n in {job.notebook for job in jobs}}
    todo, fingerprints = [], {}
    for job in jobs:
        key = f"{job.notebook}--{job.group_by}--{job.group}"
        # The snapshot is a copy of the inputs (already fingerprinted), not an input.
        shown = {k: v for k, v in job.parameters.items() if k != "snapshot"}
        fingerprints[key] = _digest(base_fp, notebook_fp[job.notebook], shown)
        kept = run.reusable("notebooks", key, fingerprints[key])
        if kept:
            run.record(kept)
        else:
            todo.append(job)

    def done(result: NotebookResult) -> str | None:
        key = f"{result.notebook}--{result.group_by}--{result.group}"
        entry = {"step": "notebooks", "key": key, "status": result.status,
                 "path": run.rel(result.ipynb), "seconds": result.seconds,
                 "fingerprint": fingerprints[key],
                 "sha256": sha256_of(result.ipynb) if result.ipynb else None,
                 "extra": [[run.rel(result.html), sha256_of(result.html)]] if result.html
                 else [],
                 "error": None if result.status == "ok" else
                 f"cell {result.cell}: {result.error}"}
        run.record(entry, journal)
        return entry["error"]

    run_notebook_step(todo, analysis, params, executor=executor, on_done=done,
                      console=run.console, stop_check=run.stop.check)
    run.steps["notebooks"] = {"seconds": round(time.perf_counter() - t, 2), "done": len(todo),
                              "kept": len(jobs) - len(todo), "folder": str(notebook_dir())}


def _reports_step(run: _Run, analysis: Analysis, journal: Journal, fingerprint: str,
                  executor, kind: str, keys: list[str]) -> None:
    t = time.perf_counter()
    # whom each report was made for: delivery sends it only while that is still so
    made_for = analysis.team.groupby(REPORT_KINDS[kind].key_column)["agent_id"].agg(sorted)
    todo = []
    for key in keys:
        kept = run.reusable(kind, str(key), fingerprint)
        if kept:
            run.record(kept)
        else:
            todo.append(key)

    def done(result: ReportResult) -> None:
        entry = {"step": kind, "key": result.key, "status": result.status,
                 "path": run.rel(result.path), "sha256": result.sha256,
                 "seconds": result.seconds, "fingerprint": fingerprint, "error": result.error,
                 "extra": [[run.rel(result.html_path), result.html_sha256]]
                 if result.html_path and result.html_sha256 else [],
                 "agents": [str(a) for a in made_for.get(result.key, [])]}
        run.record(entry, journal)
        step.advance(f"{result.key} ({result.seconds:.1f}s)" + (
            f": {result.error}" if result.error else ""), failed=result.status != "ok")

    with progress_step(kind, len(todo), console=run.console) as step:
        if todo:
            render_reports(kind, analysis, run.out, keys=todo, executor=executor,
                           max_pending=2 * max(run.params.workers, 2), on_done=done,
                           html=run.params.html)
    run.steps[kind] = {"seconds": round(time.perf_counter() - t, 2), "done": len(todo),
                       "kept": len(keys) - len(todo)}


def _in_background(names: list[str], analysis: Analysis) -> dict[str, Future]:
    """Build tables ``names`` one after another in a daemon thread (a stopped run
    does not wait for it); each result, or its exception, in a future."""
    futures = {name: Future() for name in names}

    def work() -> None:
        for name, future in futures.items():
            future.set_running_or_notify_cancel()
            try:
                future.set_result(TABLE_BUILDERS[name](analysis))
            except BaseException as exc:  # handed to whoever waits for the table
                future.set_exception(exc)

    threading.Thread(target=work, name="tables-background", daemon=True).start()
    return futures


def _tables_step(run: _Run, analysis: Analysis, journal: Journal, base_fp: str) -> None:
    # BLAS on one thread for the whole step: the background tables keep the
    # other core busy, and a limit that held only while they ran would let the
    # main thread's least squares round differently from one run to the next.
    with threadpool_limits(1, user_api="blas"):
        _build_tables(run, analysis, journal, base_fp)


def _build_tables(run: _Run, analysis: Analysis, journal: Journal, base_fp: str) -> None:
    t = time.perf_counter()
    done = 0
    fingerprints = {name: _digest(base_fp, "table", name) for name in TABLE_BUILDERS}
    kept = {name: run.reusable("tables", name, fingerprints[name]) for name in TABLE_BUILDERS}
    later = []
    for name, frames in BACKGROUND_TABLES.items():
        if kept[name]:
            continue
        try:  # built here: the thread must not use the DuckDB connection
            for frame in frames:
                getattr(analysis, frame)
        except Exception:  # the table is built, and fails, in its turn
            continue
        later.append(name)
    background = _in_background(later, analysis) if later else {}
    with progress_step("tables", len(TABLE_BUILDERS), console=run.console) as step:
        for name, build in TABLE_BUILDERS.items():
            fingerprint = fingerprints[name]
            if kept[name]:
                run.record(kept[name])
                step.advance(f"{name} (kept)")
                continue
            target = run.out / "tables" / f"{name}.csv"
            try:
                with atomic_path(target) as tmp:
                    table = background[name].result() if name in background else build(analysis)
                    table.to_csv(tmp, index=False)
                entry = {"step": "tables", "key": name, "status": "ok",
                         "path": run.rel(target), "sha256": sha256_of(target),
                         "fingerprint": fingerprint, "error": None}
            except Exception as exc:  # one table must not stop the others
                entry = {"step": "tables", "key": name, "status": "failed", "path": None,
                         "sha256": None, "fingerprint": fingerprint,
                         "error": f"{type(exc).__name__}: {exc}"}
            run.record(entry, journal)
            done += 1
            step.advance(name, failed=entry["status"] != "ok")
    run.steps["tables"] = {"seconds": round(time.perf_counter() - t, 2), "done": done,
                           "kept": len(TABLE_BUILDERS) - done}


def _deliver_step(run: _Run, analysis: Analysis, outputs: list[dict]) -> None:
    """E-mail (or, dry-run, write to ``OUT/outbox``) what ``outputs`` made; see ``run.deliver``."""
    params = run.params.deliver
    t = time.perf_counter()
    plans = plan_deliveries(analysis.team, analysis.roster, outputs, run.out, params,
                            run.params.period)
    report = run.delivery = DeliveryReport(params.mode, plans, str(run.params.period))
    for skipped in (d for d in plans if d.status == "skipped"):
        log.warning("deliver: %s skipped: %s", skipped.name, skipped.reason)
    planned = sum(d.status == "planned" for d in plans)
    with progress_step("deliver", planned, console=run.console) as step:
        send_deliveries(report, params=params, out=run.out,
                        password=smtp_password(params), resend_changed=run.resend_changed,
                        on_done=lambda d: step.advance(
                            f"{d.name}: {d.status} {d.file} {d.message_id}"
                            + (f" as {d.eml}" if d.eml else "")
                            + (f" ({d.reason})" if d.reason else ""),
                            failed=d.status == "failed"))
    counts = report.counts
    run.steps["deliver"] = {"seconds": round(time.perf_counter() - t, 2), "mode": params.mode,
                            **{k: v for k, v in counts.items() if k != "planned"}}
    for failed in report.failures:
        run.failures.append({"step": "deliver", "key": failed.name, "reason": failed.reason})
    log.info("deliver (%s): %s", params.mode,
             ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v))


def deliver_monthly(params: RunParams, *, params_file: str | os.PathLike | None = None,
                    resume: bool = False, resend_changed: bool = False,
                    console: Console | None = None) -> RunOutcome:
    """The deliver step alone, on the run in ``params.out`` (``cxreports deliver``).

    Sends what the run's manifest (and, for a run that was stopped, its
    journal) records as made, by the roster the source has now; the sent
    journal (``OUT/sent.jsonl``) makes a repeat send nothing twice, so
    ``resume`` changes nothing (it is accepted so scheduler lines can be
    alike). Updates ``manifest.json`` (``delivery``, ``steps.deliver``, the
    ``deliver`` failures) and appends to ``run.log``. The exit code is 1
    when any message failed or was skipped, else 0.

    Raises
    ------
    UnusableInputError
        No ``deliver`` section, the password is missing, there is no run in
        ``out``, or it is another month's, or another run holds the folder.
    Interrupted
        SIGINT, SIGTERM or the ``timeout``; what was sent is journalled.
    """
    del resume  # the sent journal is always read
    console = console or Console(stderr=True)
    where = params_file or "the parameters"
    if params.deliver is None:
        raise UnusableInputError(f"{where} have no deliver section; add one (see README, "
                                 "'Delivery')")
    smtp_password(params.deliver)
    out = Path(params.out)
    target = out / "manifest.json"
    if not target.is_file():
        raise UnusableInputError(f"{out} holds no finished run (no manifest.json); run "
                                 f"'cxreports run {where}' first")
    with stop_on_signals(params.timeout) as stop:
        data = validate_source(resolve_source(params.source), encoding=params.encoding)
        with RunLock(out):
            manifest = json.loads(target.read_text(encoding="utf-8"))
            if manifest.get("period") != str(params.period):
                raise UnusableInputError(
                    f"{out} holds the run for {manifest.get('period')}, not {params.period}; "
                    "delivery sends only the month the parameters name")
            handler = logging.FileHandler(out / "run.log", encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            run = _Run(params, Path(params_file) if params_file else None, True, console, stop)
            run.resend_changed = resend_changed
            try:
                made = {name: table.get("sha256") for name, table in
                        manifest.get("inputs", {}).get("tables", {}).items()}
                if made != {name: r.sha256 for name, r in data.reports.items()}:
                    log.warning("deliver: the source changed since the run in %s; each file "
                                "goes only to the team it was made for", out)
                outputs = [*manifest.get("outputs", []),
                           *Journal(out / ".journal.jsonl", keep=True).read()]
                _deliver_step(run, Analysis(data, period=params.period), outputs)
            except BaseException:
                if stop.cause is None:
                    raise
                _update_manifest(target, manifest, run)
                raise Interrupted(stop.cause, run.delivery.progress() if run.delivery
                                  else "nothing sent") from None
            finally:
                log.removeHandler(handler)
                handler.close()
            _update_manifest(target, manifest, run)
    exit_code = 1 if run.failures else 0
    return RunOutcome(exit_code, target, run.failures)


def _update_manifest(target: Path, manifest: dict, run: _Run) -> None:
    """Put a delivery's results into a finished run's manifest (and its status with them)."""
    failures = [f for f in manifest.get("failures", []) if f.get("step") != "deliver"]
    manifest["failures"] = [*failures, *run.failures]
    manifest["steps"] = {**manifest.get("steps", {}), **run.steps}
    manifest["delivery"] = run.delivery.summary() if run.delivery else None
    if manifest.get("status") in ("ok", "done_with_problems"):
        set_aside = any(item.get("count") for item in manifest.get("rejects", {}).values())
        manifest["exit_code"] = 1 if manifest["failures"] or set_aside else 0
        manifest["status"] = "ok" if manifest["exit_code"] == 0 else "done_with_problems"
    atomic_write_text(target, json.dumps(manifest, indent=2, default=str))
