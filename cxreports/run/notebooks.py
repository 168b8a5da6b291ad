"""Run the research notebooks with papermill, once per site and vendor.

The executed notebooks are the audit trail of a scheduled run: each is kept
(with an HTML copy) as ``OUT/notebooks/<name>--<group>.ipynb``, including
the ones that failed, which keep the error in the cell that raised it.

Parameters are checked before a kernel starts: papermill only warns about a
name the notebook does not declare, we refuse it, and a value must have the
type the notebook's ``parameters`` cell annotates. A kernel that fails to
start is retried; several notebooks run at once in separate processes.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, as_completed, wait
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from ..analyses.analysis import Analysis
from ..core.errors import Interrupted, UnusableInputError
from ..core.files import atomic_path, safe_filename
from ..core.periods import month_name
from ..core.resources import notebook_dir as kit_notebook_dir
from ..data.snapshots import SNAPSHOT_FOLDER
from ..data.sources import resolve_source
from .executors import open_executor
from .params import RunParams
from .progress import progress_step

__all__ = [
    "NotebookJob",
    "NotebookResult",
    "SHARED_PARAMETERS",
    "check_parameters",
    "html_title",
    "list_notebooks",
    "notebook_dir",
    "notebook_parameters",
    "notebook_path",
    "output_name",
    "plan_notebook_jobs",
    "plan_run_jobs",
    "run_notebook",
    "run_notebook_step",
    "run_notebooks",
]

#: Every notebook's parameters cell declares these.
SHARED_PARAMETERS = ("source", "period", "group_by", "group", "kpi")
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
    "dict": (dict,),
}


def notebook_dir() -> Path:
    """The folder of notebooks (:func:`cxreports.core.resources.notebook_dir`), checked."""
    folder = kit_notebook_dir()
    if not folder.is_dir():
        raise UnusableInputError(
            f"notebook folder {folder} not found; set CXREPORTS_NOTEBOOKS to the project's "
            "notebooks/ folder")
    return folder


def list_notebooks(folder: Path | None = None) -> list[str]:
    """Names (without ``.ipynb``) of the notebooks in ``folder``."""
    folder = folder or notebook_dir()
    return sorted(p.stem for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def notebook_path(name: str, folder: Path | None = None) -> Path:
    """Path of notebook ``name``; a clear error naming the available ones if missing."""
    folder = folder or notebook_dir()
    path = folder / f"{name}.ipynb"
    if not path.exists():
        raise UnusableInputError(f"notebook {name!r} not found in {folder} "
                                 f"(available: {', '.join(list_notebooks(folder))})")
    return path


def notebook_parameters(path: Path) -> dict[str, dict]:
    """The notebook's declared parameters: name -> papermill's description (type, default)."""
    import papermill as pm

    return pm.inspect_notebook(str(path))


def check_parameters(path: Path, values: dict) -> None:
    """Refuse a parameter the notebook does not declare, or a value of the wrong type."""
    declared = notebook_parameters(path)
    if not declared:
        raise UnusableInputError(f"{path.name} has no cell tagged 'parameters'")
    for name, value in values.items():
        if name not in declared:
            raise UnusableInputError(
                f"{path.name} has no parameter {name!r} (it declares "
                f"{', '.join(declared)})")
        expected = _TYPES.get(declared[name]["inferred_type_name"])
        if expected and (not isinstance(value, expected)
                         or (bool not in expected and isinstance(value, bool))):
            raise UnusableInputError(
                f"{path.name}: parameter {name!r} must be "
                f"{declared[name]['inferred_type_name']}, not {type(value).__name__} "
                f"({value!r})")


def output_name(notebook: str, group: str) -> str:
    """``<notebook>--<group>``, with the group made safe for a file name."""
    return f"{notebook}--{safe_filename(group)}"


@dataclass
class NotebookJob:
    """One notebook to execute with one set of parameters."""

    notebook: str
    parameters: dict
    out_dir: str
    group_by: str = ""
    group: str = ""
    kernel_name: str | None = None
    timeout: int = 1800
    retries: int = 2
    folder: str | None = None

    @property
    def stem(self) -> str:
        return output_name(self.notebook, self.group or "all")


@dataclass
class NotebookResult:
    """What happened to a job: ``ok`` or ``failed`` with the cell and error."""

    notebook: str
    group_by: str
    group: str
    status: str
    ipynb: str | None = None
    html: str | None = None
    seconds: float = 0.0
    error: str | None = None
    cell: int | None = None
    attempts: int = 1
    parameters: dict = field(default_factory=dict)


def _failed_cell(path: Path) -> tuple[int | None, str | None]:
    """Index and error of the first cell that raised, read from an executed notebook."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # unreadable output: nothing more to say than the exception
        return None, None
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return code_index, f"{output.get('ename')}: {output.get('evalue')}"
    return None, None


#: JupyterLab's HTML template with each PNG's ``alt`` from its output's metadata
#: (:func:`cxreports.reports.display.show_figure` puts it there); the lab
#: template writes none, and nbconvert then says "No description has been provided".
_HTML_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
{%- if 'image/png' in output.metadata.get('filenames', {}) %}
<img src="{{ output.metadata.filenames['image/png'] | posix_path | escape_html }}"
{%- else %}
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- endif %}
{%- set alttext=(output | get_metadata('alt', 'image/png')) or (cell | get_metadata('alt')) -%}
{%- if alttext %}
alt="{{ alttext | escape_html }}"
{%- endif %}
{%- set width=output | get_metadata('width', 'image/png') -%}
{%- if width is not none %}
width={{ width | escape_html }}
{%- endif %}
{%- set height=output | get_metadata('height', 'image/png') -%}
{%- if height is not none %}
height={{ height | escape_html }}
{%- endif %}
>
</div>
{%- endblock data_png %}
"""


def html_title(nb, group: str = "", period: str = "") -> str:
    """The HTML copy's title: the notebook's first heading, then the group and month
    ("Which behaviours drive the KPI here? — Harbor BPO, October 2026")."""
    heading = next((line.lstrip("#").strip() for cell in nb.cells
                    if cell.cell_type == "markdown" for line in cell.source.splitlines()
                    if line.startswith("#")), "")
    where = ", ".join(x for x in (group, month_name(period) if period else "") if x)
    return " — ".join(x for x in (heading or "cxreports notebook", where) if x)


def _export_html(ipynb: Path, target: Path, *, group: str = "", period: str = "") -> Path:
    """The executed notebook as HTML, titled :func:`html_title`, figures with their alt."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    exporter = HTMLExporter(template_name="lab", template_file="cxreports.html.j2",
                            extra_loaders=[DictLoader({"cxreports.html.j2": _HTML_TEMPLATE})])
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": html_title(nb, group, period)}})
    with atomic_path(target) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return target


def _kernel_start_failed(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return any(s in text for s in ("Kernel died", "kernel_info", "Kernel didn't respond",
                                   "NoSuchKernel", "Timeout waiting for kernel"))


def run_notebook(job: NotebookJob) -> NotebookResult:
    """Execute one notebook; never raises for a failing cell (the result says so)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    folder = Path(job.folder) if job.folder else notebook_dir()
    source = folder / f"{job.notebook}.ipynb"
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{job.stem}.ipynb"
    result = NotebookResult(job.notebook, job.group_by, job.group, "failed",
                            parameters=dict(job.parameters))
    started = time.perf_counter()
    html_failed = ""
    for attempt in range(1, job.retries + 2):
        result.attempts = attempt
        try:
            with atomic_path(target) as tmp:
                try:
                    pm.execute_notebook(
                        str(source), str(tmp), parameters=job.parameters,
                        kernel_name=job.kernel_name, progress_bar=False,
                        execution_timeout=job.timeout, cwd=str(folder),
                        report_mode=False, log_output=False)
                except PapermillExecutionError as exc:
                    # Keep the executed notebook: it shows where and why.
                    result.cell = exc.exec_count
                    result.error = f"{exc.ename}: {exc.evalue}"
                # The HTML copy first, then the notebook takes its name: a job stopped
                # midway leaves temporary files (removed later), not half an item.
                try:
                    result.html = str(_export_html(
                        tmp, target.with_suffix(".html"), group=job.group,
                        period=str(job.parameters.get("period", ""))))
                except Exception as exc:  # a convenience; the .ipynb is the record
                    html_failed = f" (HTML export failed: {exc})"
            result.ipynb = str(target)
            if result.error is None:
                result.status = "ok"
            else:
                cell, _ = _failed_cell(target)
                result.cell = cell or result.cell
            break
        except Exception as exc:  # kernel start, I/O: retry the former, report the rest
            if attempt <= job.retries and _kernel_start_failed(exc):
                time.sleep(2 * attempt)
                continue
            result.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            break
    if html_failed:
        result.error = (result.error or "") + html_failed
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def plan_notebook_jobs(
    *,
    notebooks: list[str],
    groups: dict[str, list[str]],
    source: str,
    period: str,
    kpis: list[str],
    out_dir: str | os.PathLike,
    folder: Path | None = None,
    snapshot: str | os.PathLike | None = None,
) -> list[NotebookJob]:
    """One job per notebook per group of each ``group_by`` (e.g. every site and vendor).

    Each job passes the shared parameters (``source``, ``period``,
    ``group_by``, ``group``, ``kpi`` = the first of ``kpis``), plus ``kpis``
    and ``snapshot`` (a folder from :meth:`Analysis.shared_snapshot
    <cxreports.analyses.analysis.Analysis.shared_snapshot>`) to notebooks that declare
    them.
    """
    folder = folder or notebook_dir()
    jobs = []
    for name in notebooks:
        declared = notebook_parameters(notebook_path(name, folder))
        for group_by, values in groups.items():
            for group in values:
                parameters = {"source": resolve_source(source), "period": period,
                              "group_by": group_by, "group": group, "kpi": kpis[0]}
                if "kpis" in declared:
                    parameters["kpis"] = list(kpis)
                if snapshot and "snapshot" in declared:
                    parameters["snapshot"] = str(Path(snapshot).resolve())
                jobs.append(NotebookJob(name, parameters, str(out_dir), group_by, group,
                                        folder=str(folder)))
    return jobs


def run_notebooks(
    jobs: Iterable[NotebookJob],
    *,
    workers: int = 2,
    on_done: Callable[[NotebookResult], None] | None = None,
    executor: Executor | None = None,
) -> list[NotebookResult]:
    """Execute jobs, ``workers`` at a time in separate processes; results in job order.

    Parameters are checked for every job before any runs, so a typo stops
    the batch before a kernel starts. ``executor`` (a process pool or a Dask
    client's executor) runs the jobs instead of a pool made here. Stopped
    (``Interrupted`` or Ctrl-C), it cancels the queued jobs and reports those
    that finish within ``Interrupted.grace_seconds`` before passing the stop on.
    """
    jobs = list(jobs)
    for job in jobs:
        path = notebook_path(job.notebook, Path(job.folder) if job.folder else None)
        check_parameters(path, job.parameters)
    results: dict[int, NotebookResult] = {}

    def collect(result: NotebookResult, index: int) -> None:
        results[index] = result
        if on_done:
            on_done(result)

    if executor is None and (workers <= 1 or len(jobs) <= 1):
        for i, job in enumerate(jobs):
            collect(run_notebook(job), i)
    else:
        with (nullcontext(executor) if executor is not None
              else open_executor("local", workers)) as pool:
            futures = {pool.submit(run_notebook, job): i for i, job in enumerate(jobs)}
            try:
                for future in as_completed(list(futures)):
                    collect(future.result(), futures.pop(future))
            except (Interrupted, KeyboardInterrupt):
                # Stopped: cancel what is queued, give the notebooks in flight a few
                # seconds, report those that finished (the rest are redone).
                for future in futures:
                    future.cancel()
                wait(futures, timeout=Interrupted.grace_seconds)
                for future in [f for f in futures if f.done() and not f.cancelled()
                               and f.exception() is None]:
                    with suppress(Interrupted):  # on_done may raise the stop handled here
                        collect(future.result(), futures.pop(future))
                raise
    return [results[i] for i in range(len(jobs))]


def plan_run_jobs(params: RunParams, analysis: Analysis) -> list[NotebookJob]:
    """The jobs a run's parameters ask for: each notebook once per group of each ``group_by``."""
    names = list_notebooks() if params.notebooks == "all" else list(params.notebooks)
    groups = {g: sorted(analysis.team[g].dropna().unique()) for g in params.group_by}
    out = Path(params.out)
    return plan_notebook_jobs(notebooks=names, groups=groups, source=params.source,
                              period=str(params.period), kpis=list(params.kpis),
                              out_dir=out / "notebooks", snapshot=out / SNAPSHOT_FOLDER)


def run_notebook_step(
    jobs: list[NotebookJob],
    analysis: Analysis,
    params: RunParams,
    *,
    executor: Executor,
    on_done: Callable[[NotebookResult], str | None] | None = None,
    console: Console | None = None,
) -> list[NotebookResult]:
    """Run ``jobs`` from one shared snapshot of ``analysis``, with a progress bar.

    The snapshot (the validated tables and shared frames, built once for
    every kernel rather than once per notebook) lives in
    ``OUT/.snapshot`` for the step and is removed after. ``on_done`` may
    return a failure message for the progress line.
    """
    def done(result: NotebookResult) -> None:
        message = on_done(result) if on_done else None
        failed = result.status != "ok"
        if failed and not message:
            message = f"cell {result.cell}: {result.error}"
        step.advance(f"{result.notebook} {result.group_by}={result.group} "
                     f"({result.seconds:.1f}s)" + (f": {message}" if failed else ""),
                     failed=failed)

    sharing = (analysis.shared_snapshot(Path(params.out) / SNAPSHOT_FOLDER,
                                        source=resolve_source(params.source), kpis=params.kpis)
               if jobs else nullcontext())
    with sharing, progress_step("notebooks", len(jobs), console=console) as step:
        return run_notebooks(jobs, executor=executor, on_done=done)
