"""Coaching packs and vendor scorecards: report model -> HTML -> PDF, for a whole month.

The parent process builds each report's model and HTML (pandas work that
shares the cached analyses); worker processes turn HTML into PDF
(WeasyPrint, the costly step) and write it under a temporary name before
renaming it, so a reader never sees half a file.
One report that fails is recorded with its reason; the others finish.
Stopped (``Interrupted`` or Ctrl-C), it submits nothing more, cancels the
queued renders, gives those in flight a few seconds and reports the ones
that finished before passing the stop on.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..analyses.analysis import Analysis
from ..core.errors import Interrupted
from ..core.files import safe_filename
from .models import build_coaching_pack, build_vendor_scorecard
from .rendering import render_html, template_dir, write_pdf

__all__ = [
    "REPORT_KINDS",
    "ReportKind",
    "ReportResult",
    "render_packs",
    "render_reports",
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
    max_pending: int,
    on_done: Callable[[ReportResult], None] | None,
    lang: str,
) -> list[ReportResult]:
    folder.mkdir(parents=True, exist_ok=True)
    base_dir = Path(templates).resolve() if templates else template_dir().resolve()
    roots = [str(template_dir().resolve()), str(folder.resolve().parent)]
    if templates:
        roots.append(str(Path(templates).resolve()))
    results: list[ReportResult] = []
    pending: dict[Future, tuple[ReportResult, float]] = {}  # in submission order

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

    def settle() -> None:
        for future in [f for f in pending if f.done()]:
            finish(*pending.pop(future), future)

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
            if executor is None:
                finish(result, started, None,
                       task=lambda h=html, t=target: write_pdf(h, str(t), str(base_dir), roots))
                continue
            future = executor.submit(write_pdf, html, str(target), str(base_dir), roots)
            pending[future] = (result, started)
            # Keep a few renders queued, not hundreds of HTML documents in memory,
            # and report each one as it finishes.
            if len(pending) >= max_pending:
                wait(pending, return_when=FIRST_COMPLETED)
            settle()
        for future in list(pending):
            finish(*pending.pop(future), future)
    except (Interrupted, KeyboardInterrupt):
        # Stopped: cancel what is queued, give the renders in flight a few
        # seconds, report those that made their file (the rest are redone).
        for future in pending:
            future.cancel()
        wait(pending, timeout=Interrupted.grace_seconds)
        for future in [f for f in pending
                       if f.done() and not f.cancelled() and f.exception() is None]:
            with suppress(Interrupted):  # on_done may raise the very stop handled here
                finish(*pending.pop(future), future)
        raise
    for result in results:
        if result.status != "ok":
            result.path = None
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
) -> list[ReportResult]:
    """One ``OUT/<kind>/<key>.pdf`` per key (all keys with agents in the month by default).

    ``kind`` is a name in :data:`REPORT_KINDS`. A key with no agents in the
    month is reported as failed with the reason. ``templates`` overrides the
    kit's templates file by file. PDFs render on ``executor`` (see
    :func:`cxreports.run.executors.open_executor`), at most ``max_pending``
    queued at once, or one by one in this process without it.
    """
    spec = REPORT_KINDS[kind]
    return _render_all(spec.name, keys or spec.keys(analysis),
                       lambda key: spec.build(analysis, key), spec.template, spec.context_name,
                       Path(out) / spec.name, templates=templates, executor=executor,
                       max_pending=max_pending, on_done=on_done, lang=lang)


def render_packs(analysis: Analysis, out: str | os.PathLike, *,
                 supervisors: list[str] | None = None, **options) -> list[ReportResult]:
    """:func:`render_reports` of coaching packs: ``OUT/packs/<supervisor_id>.pdf``."""
    return render_reports("packs", analysis, out, keys=supervisors, **options)


def render_scorecards(analysis: Analysis, out: str | os.PathLike, *,
                      vendors: list[str] | None = None, **options) -> list[ReportResult]:
    """:func:`render_reports` of vendor scorecards: ``OUT/scorecards/<vendor>.pdf``."""
    return render_reports("scorecards", analysis, out, keys=vendors, **options)
