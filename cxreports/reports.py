"""Coaching packs and vendor scorecards: report model -> HTML -> PDF, for a whole month.

The parent process builds each report's model and HTML (pandas work that
shares the cached analyses); worker processes turn HTML into PDF
(WeasyPrint, the costly step) and write it under a temporary name before
renaming it, so a reader never sees half a file. Workers are recycled every
``recycle_after`` reports, which keeps memory flat over thousands of packs.
One report that fails is recorded with its reason; the others finish.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from .analysis import Analysis
from .files import atomic_write_bytes, safe_filename, sha256_of
from .rendering import render_html, render_pdf, template_dir
from .report_models import build_coaching_pack, build_vendor_scorecard

__all__ = [
    "RecyclingExecutor",
    "ReportResult",
    "local_executor",
    "render_packs",
    "render_scorecards",
    "write_pdf",
]


@dataclass
class ReportResult:
    """One report: ``ok`` with its file and checksum, or ``failed`` with the reason."""

    kind: str
    key: str
    status: str
    path: str | None = None
    sha256: str | None = None
    seconds: float = 0.0
    render_seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def write_pdf(html: str, target: str, base_dir: str, roots: list[str]) -> tuple[str, float]:
    """Worker task: render ``html`` to ``target`` (whole or not at all); returns sha256, seconds.

    A module-level function so process pools and Dask workers can import it.
    """
    started = time.perf_counter()
    pdf = render_pdf(html, base_dir=base_dir, roots=roots)
    atomic_write_bytes(target, pdf)
    return sha256_of(target), time.perf_counter() - started


class RecyclingExecutor(Executor):
    """A process pool replaced whole after every ``recycle_after`` tasks.

    Recycling keeps memory flat over thousands of renders (WeasyPrint and
    fontconfig caches only grow within a process). It is done here rather
    than with ``ProcessPoolExecutor(max_tasks_per_child=...)`` because that
    deadlocks on Python 3.11-3.14 once a worker retires with work still
    queued (CPython gh-115634). The old pool is drained before the new one
    starts, so the machine never runs more than ``workers`` renders.
    """

    def __init__(self, workers: int, *, recycle_after: int = 50) -> None:
        self.workers, self.recycle_after = workers, recycle_after
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._pool is None or self._submitted >= self.recycle_after * self.workers:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=get_context("spawn"))
            self._submitted = 0
        self._submitted += 1
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def local_executor(workers: int, *, recycle_after: int = 50) -> Executor:
    """Processes on this machine, recycled every ``recycle_after`` tasks per worker."""
    return RecyclingExecutor(workers, recycle_after=recycle_after)


def _render_all(
    kind: str,
    keys: Iterable[str],
    build: Callable[[str], object],
    template: str,
    context_name: str,
    folder: Path,
    *,
    templates: str | os.PathLike | None,
    executor: Executor | None,
    workers: int,
    on_done: Callable[[ReportResult], None] | None,
    lang: str,
) -> list[ReportResult]:
    folder.mkdir(parents=True, exist_ok=True)
    base_dir = Path(templates).resolve() if templates else template_dir().resolve()
    roots = [str(template_dir().resolve()), str(folder.resolve().parent)]
    if templates:
        roots.append(str(Path(templates).resolve()))
    own = executor is None and workers > 1
    pool = local_executor(workers) if own else executor
    results: list[ReportResult] = []
    pending: list[tuple[ReportResult, float, Future]] = []

    def finish(result: ReportResult, started: float, future: Future | None, task=None) -> None:
        try:
            digest, render_seconds = future.result() if future is not None else task()
            result.status, result.sha256 = "ok", digest
            result.render_seconds = round(render_seconds, 3)
        except Exception as exc:  # one bad report must not stop the others
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = round(time.perf_counter() - started, 3)
        if on_done:
            on_done(result)

    def settle(waiting: list[tuple[ReportResult, float, Future]]) -> list:
        still = []
        for item in waiting:
            if item[2].done():
                finish(*item)
            else:
                still.append(item)
        return still

    try:
        for key in keys:
            started = time.perf_counter()
            target = folder / f"{safe_filename(key)}.pdf"
            result = ReportResult(kind, str(key), "failed", path=str(target))
            results.append(result)
            try:
                model = build(key)
                html = render_html(template, overrides=templates, lang=lang,
                                   generated_on=model.generated_on, **{context_name: model})
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
                result.seconds = round(time.perf_counter() - started, 3)
                if os.environ.get("CXREPORTS_DEBUG"):
                    traceback.print_exc()
                if on_done:
                    on_done(result)
                continue
            if pool is None:
                finish(result, started, None,
                       task=lambda h=html, t=target: write_pdf(h, str(t), str(base_dir), roots))
                continue
            pending.append((result, started, pool.submit(write_pdf, html, str(target),
                                                         str(base_dir), roots)))
            # Keep a few renders queued, not hundreds of HTML documents in memory,
            # and report each one as it finishes.
            if len(pending) >= 2 * max(workers, 2):
                wait([f for _, _, f in pending], return_when=FIRST_COMPLETED)
            pending = settle(pending)
        for result, started, future in pending:
            finish(result, started, future)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    for result in results:
        if result.status != "ok":
            result.path = None
    return results


def render_packs(
    analysis: Analysis,
    out: str | os.PathLike,
    *,
    supervisors: list[str] | None = None,
    templates: str | os.PathLike | None = None,
    executor: Executor | None = None,
    workers: int = 2,
    on_done: Callable[[ReportResult], None] | None = None,
    lang: str = "en",
) -> list[ReportResult]:
    """One ``OUT/packs/<supervisor_id>.pdf`` per supervisor with agents in the month.

    ``supervisors`` limits the run to those ids (an id with no agents in the
    month is reported as failed with the reason). ``templates`` overrides
    the kit's templates file by file.
    """
    known = sorted(analysis.team["supervisor_id"].dropna().unique())
    keys = supervisors if supervisors else known
    return _render_all("pack", keys, lambda k: build_coaching_pack(analysis, k),
                       "coaching_pack.html", "pack", Path(out) / "packs", templates=templates,
                       executor=executor, workers=workers, on_done=on_done, lang=lang)


def render_scorecards(
    analysis: Analysis,
    out: str | os.PathLike,
    *,
    vendors: list[str] | None = None,
    templates: str | os.PathLike | None = None,
    executor: Executor | None = None,
    workers: int = 2,
    on_done: Callable[[ReportResult], None] | None = None,
    lang: str = "en",
) -> list[ReportResult]:
    """One ``OUT/scorecards/<vendor>.pdf`` per vendor with agents in the month."""
    keys = vendors or sorted(analysis.team["vendor"].dropna().unique())
    return _render_all("scorecard", keys, lambda k: build_vendor_scorecard(analysis, k),
                       "vendor_scorecard.html", "card", Path(out) / "scorecards",
                       templates=templates, executor=executor, workers=workers,
                       on_done=on_done, lang=lang)
