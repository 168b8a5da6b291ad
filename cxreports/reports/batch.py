"""Coaching packs and vendor scorecards: report model -> HTML -> PDF, for a whole month.

On an executor, each task makes a whole report: the worker builds the
report model and its HTML (pandas and charts) and renders the PDF
(WeasyPrint), so model building runs on every worker instead of one parent
process that the renderers wait for. The parent builds the first report
itself (which fills the frames every report shares) and saves its
:class:`Analysis` while that PDF renders (``OUT/<kind>/.snapshot-*``: the
validated tables and the built frames, as Parquet, by :meth:`Analysis.save`;
removed afterwards); each worker process opens that snapshot once and
keeps while it lives; a site's team chart is laid out once per process, and
the next teams' charts change only its bars. A Dask
worker must see that folder at the same path, as it must see the outputs.
Without an executor everything happens here, report by report.

Files are written under a temporary name and renamed, so a reader never sees
half a file; with ``html`` a standalone HTML copy
(:func:`~cxreports.reports.rendering.standalone_html`) goes beside each PDF.
One report that fails is recorded with its reason; the others finish.
Stopped (``Interrupted`` or Ctrl-C), it submits nothing more, cancels the
queued reports, gives those in flight a few seconds and reports the ones
that finished before passing the stop on.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..analyses.analysis import Analysis
from ..analyses.drivers import DriverRules
from ..core.errors import Interrupted
from ..core.files import safe_filename
from ..data.snapshots import SNAPSHOT_FOLDER, Snapshot, snapshot_key
from .models import build_coaching_pack, build_vendor_scorecard
from .rendering import (
    ReportFiles,
    render_html,
    template_dir,
    write_pdf,
    write_prebuilt_report,
    write_report,
)

__all__ = [
    "REPORT_KINDS",
    "ReportKind",
    "ReportResult",
    "render_packs",
    "render_reports",
    "render_scorecards",
    "write_pdf",
]

log = logging.getLogger("cxreports")
#: Reports in a batch from which workers build whole reports from a snapshot
#: (below it each worker's start-up, opening the snapshot and rebuilding the
#: per-report analyses, costs more than the model building it takes off the
#: parent). Tuned when each worker also imported the kit (spawned, not forked).
SHARE_FROM = 40


@dataclass
class ReportResult:
    """One report: ``ok`` with its file and checksum, or ``failed`` with the reason.

    ``html_path`` and ``html_sha256``: its standalone HTML copy, when asked for.
    ``model_seconds``: building the model and HTML; ``render_seconds``: the PDF.
    """

    kind: str
    key: str
    status: str
    path: str | None = None
    sha256: str | None = None
    seconds: float = 0.0
    render_seconds: float = 0.0
    error: str | None = None
    html_path: str | None = None
    html_sha256: str | None = None
    model_seconds: float = 0.0


@dataclass(frozen=True)
class _Shared:
    """Where a worker finds the run's analysis: a snapshot folder and what it must match."""

    folder: str
    key: dict
    period: str | None
    rules: DriverRules


def _report_html(analysis: Analysis, task: ReportFiles) -> str:
    spec = REPORT_KINDS[task.kind]
    model = spec.build(analysis, task.key)
    return render_html(spec.template, overrides=task.templates, lang=task.lang,
                       generated_on=model.generated_on, **{spec.context_name: model})


def _make(analysis: Analysis, task: ReportFiles) -> tuple[str, float, str | None, float]:
    """Model, HTML, PDF (and HTML copy) of one report: sha256s and seconds."""
    started = time.perf_counter()
    html = _report_html(analysis, task)
    model_seconds = time.perf_counter() - started
    digest, seconds, html_digest = write_report(task, html)
    return digest, seconds, html_digest, model_seconds


# The analysis a worker process opened (one at a time: a long-lived Dask worker
# serves run after run), and a lock: threads of one Dask worker share it, and
# pandas caches and DuckDB connections are not for concurrent use.
_worker_analysis: tuple[str, Analysis] | None = None
_worker_lock = threading.Lock()


def _shared_analysis(shared: _Shared) -> Analysis:
    global _worker_analysis
    if _worker_analysis is None or _worker_analysis[0] != shared.folder:
        _worker_analysis = None  # let the previous one go first
        opened = Snapshot.open(shared.folder, key=shared.key)
        if opened is None:
            raise RuntimeError(f"the run's snapshot {shared.folder} cannot be read here "
                               "(a Dask worker must see the output folder at the same path)")
        _worker_analysis = (shared.folder, Analysis(opened.data, period=shared.period,
                                                    rules=shared.rules, snapshot=opened))
    return _worker_analysis[1]


def make_report_task(shared: _Shared, task: ReportFiles) -> tuple[str, float, str | None, float]:
    """Worker task: one whole report from the run's snapshot (see the module docstring)."""
    started = time.perf_counter()
    with _worker_lock:
        html = _report_html(_shared_analysis(shared), task)
    model_seconds = time.perf_counter() - started
    digest, seconds, html_digest = write_report(task, html)
    return digest, seconds, html_digest, model_seconds


def _reraise(exc: Exception) -> tuple:
    raise exc


def _share(analysis: Analysis, kind: str, folder: Path) -> _Shared:
    """Save ``analysis`` (warmed by one report) to ``folder`` for the workers."""
    started = time.perf_counter()
    analysis.save(folder, source=analysis.data.source)
    log.info("%s: analysis shared with the workers in %.1fs", kind,
             time.perf_counter() - started)
    return _Shared(str(folder.resolve()),
                   snapshot_key(analysis.data.source, analysis.period, analysis.rules),
                   None if analysis.period is None else str(analysis.period), analysis.rules)


def _render_all(
    kind: str,
    analysis: Analysis,
    keys: Iterable[str],
    out: Path,
    *,
    templates: str | os.PathLike | None,
    executor: Executor | None,
    max_pending: int,
    on_done: Callable[[ReportResult], None] | None,
    lang: str,
    html: bool,
    share_from: int,
) -> list[ReportResult]:
    keys = [str(k) for k in keys]
    folder = out / REPORT_KINDS[kind].name
    folder.mkdir(parents=True, exist_ok=True)
    base_dir = str(Path(templates).resolve() if templates else template_dir().resolve())
    roots = [str(template_dir().resolve()), str(folder.resolve().parent)]
    if templates:
        roots.append(str(Path(templates).resolve()))
    overrides = str(Path(templates).resolve()) if templates else None
    results: list[ReportResult] = []
    pending: dict[Future, tuple[ReportResult, float]] = {}  # in submission order
    # In the kind's folder (a killed run's is removed by ``run.stopping.remove_leftovers``).
    snapshot = folder / f"{SNAPSHOT_FOLDER}-{uuid.uuid4().hex[:12]}"

    def finish(result: ReportResult, started: float, outcome: Callable[[], tuple]) -> None:
        try:
            digest, render_seconds, html_digest, model_seconds = outcome()
            result.status, result.sha256, result.html_sha256 = "ok", digest, html_digest
            result.render_seconds = round(render_seconds, 3)
            result.model_seconds = round(model_seconds, 3)
        except Exception as exc:  # one bad report must not stop the others
            result.error = f"{type(exc).__name__}: {exc}"
            if os.environ.get("CXREPORTS_DEBUG"):
                traceback.print_exc()
        result.seconds = round(time.perf_counter() - started, 3)
        if on_done:
            on_done(result)

    def settle() -> None:
        for future in [f for f in pending if f.done()]:
            result, started = pending.pop(future)
            finish(result, started, future.result)

    # Until one report has been built here (which fills the frames every report
    # shares), reports are built here and only rendered on the executor; then the
    # analysis is saved and workers make whole reports. An analysis that cannot
    # be saved (one read from a snapshot itself) keeps to the first way.
    # A month of a few reports is quicker the first way: each worker would
    # otherwise open the snapshot and rebuild the per-report analyses (seconds
    # each) to save a second of model building a report.
    can_share = hasattr(analysis.data, "write_parquet") and len(keys) >= share_from
    shared: _Shared | None = None
    try:
        for key in keys:
            started = time.perf_counter()
            name = safe_filename(key)
            task = ReportFiles(kind, key, str(folder / f"{name}.pdf"),
                         str(folder / f"{name}.html") if html else None, overrides, lang,
                         base_dir, tuple(roots))
            result = ReportResult(kind, key, "failed", path=task.pdf, html_path=task.html)
            results.append(result)
            if executor is None:
                finish(result, started, lambda t=task: _make(analysis, t))
                continue
            if shared is not None:
                pending[executor.submit(make_report_task, shared, task)] = (result, started)
            else:  # the model and HTML here, the PDF on the executor
                try:
                    page = _report_html(analysis, task)
                except Exception as exc:
                    finish(result, started, lambda e=exc: _reraise(e))
                    continue
                model_seconds = time.perf_counter() - started
                future = executor.submit(write_prebuilt_report, task, page, model_seconds)
                pending[future] = (result, started)
                if can_share:  # saved while that PDF renders
                    try:
                        shared = _share(analysis, kind, snapshot)
                    except Exception as exc:  # then the workers only render
                        log.warning("%s: cannot share the analysis with the workers (%s); "
                                    "building every report here", kind, exc)
                        can_share = False
            # Keep a few reports queued, not hundreds, and report each as it finishes.
            if len(pending) >= max_pending:
                wait(pending, return_when=FIRST_COMPLETED)
            settle()
        for future in list(pending):
            result, started = pending.pop(future)
            finish(result, started, future.result)
    except (Interrupted, KeyboardInterrupt):
        # Stopped: cancel what is queued, give the reports in flight a few
        # seconds, report those that made their file (the rest are redone).
        for future in pending:
            future.cancel()
        wait(pending, timeout=Interrupted.grace_seconds)
        for future in [f for f in pending
                       if f.done() and not f.cancelled() and f.exception() is None]:
            with suppress(Interrupted):  # on_done may raise the very stop handled here
                result, started = pending.pop(future)
                finish(result, started, future.result)
        raise
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
    for result in results:
        if result.status != "ok":
            result.path = result.html_path = None
    return results


@dataclass(frozen=True)
class ReportKind:
    """A kind of report: one file per value of ``key_column`` in the month's team."""

    name: str
    key_column: str
    template: str
    context_name: str
    build: Callable[[Analysis, str], object]

    def keys(self, analysis: Analysis) -> list[str]:
        """Every key with agents in the report month, sorted."""
        return sorted(analysis.team[self.key_column].dropna().unique())


#: The reports the kit writes, by output folder name; the CLI and the run share it.
REPORT_KINDS: dict[str, ReportKind] = {
    "packs": ReportKind("packs", "supervisor_id", "coaching_pack.html", "pack",
                        build_coaching_pack),
    "scorecards": ReportKind("scorecards", "vendor", "vendor_scorecard.html", "card",
                             build_vendor_scorecard),
}


def render_reports(
    kind: str,
    analysis: Analysis,
    out: str | os.PathLike,
    *,
    keys: list[str] | None = None,
    templates: str | os.PathLike | None = None,
    executor: Executor | None = None,
    max_pending: int = 4,
    on_done: Callable[[ReportResult], None] | None = None,
    lang: str = "en",
    html: bool = False,
    share_from: int = SHARE_FROM,
) -> list[ReportResult]:
    """One ``OUT/<kind>/<key>.pdf`` per key (all keys with agents in the month by default).

    ``kind`` is a name in :data:`REPORT_KINDS`. A key with no agents in the
    month is reported as failed with the reason. ``templates`` overrides the
    kit's templates file by file. On ``executor`` (see
    :func:`cxreports.run.executors.open_executor`) each task makes one whole
    report, at most ``max_pending`` queued at once; without it, reports are
    made one by one in this process. ``html``: also ``OUT/<kind>/<key>.html``,
    a standalone copy for browsers and screen readers. Results come in the
    order of ``keys``. Workers build whole reports from a snapshot of the
    analysis only from ``share_from`` reports up (:data:`SHARE_FROM`); below
    that the models are built here and the workers render.
    """
    spec = REPORT_KINDS[kind]
    return _render_all(spec.name, analysis, keys or spec.keys(analysis), Path(out),
                       templates=templates, executor=executor, max_pending=max_pending,
                       on_done=on_done, lang=lang, html=html, share_from=share_from)


def render_packs(analysis: Analysis, out: str | os.PathLike, *,
                 supervisors: list[str] | None = None, **options) -> list[ReportResult]:
    """:func:`render_reports` of coaching packs: ``OUT/packs/<supervisor_id>.pdf``."""
    return render_reports("packs", analysis, out, keys=supervisors, **options)


def render_scorecards(analysis: Analysis, out: str | os.PathLike, *,
                      vendors: list[str] | None = None, **options) -> list[ReportResult]:
    """:func:`render_reports` of vendor scorecards: ``OUT/scorecards/<vendor>.pdf``."""
    return render_reports("scorecards", analysis, out, keys=vendors, **options)
