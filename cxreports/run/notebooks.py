"""Run the research notebooks with papermill, once per site and vendor.

The executed notebooks are the audit trail of a scheduled run: each is kept
(with an HTML copy) as ``OUT/notebooks/<name>--<group>.ipynb``, including
the ones that failed, which keep the error in the cell that raised it.

Parameters are checked before a kernel starts: papermill only warns about a
name the notebook does not declare, we refuse it, and a value must have the
type the notebook's ``parameters`` cell annotates. A kernel that fails to
start is retried; several notebooks run at once in separate processes.

A process keeps its kernel from one notebook to the next (:class:`KeptKernels`):
starting a kernel and importing pandas, statsmodels and matplotlib in it costs
more than most notebooks' own work. Between notebooks the kernel is reset as
a fresh one would be (empty namespace, execution count 1, figures closed), so
a notebook that runs here runs the same in JupyterLab.
"""

from __future__ import annotations

import atexit
import functools
import logging
import multiprocessing.util
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, as_completed, wait
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from ..core.errors import Interrupted, UnusableInputError
from ..core.files import atomic_path, safe_filename
from ..core.periods import month_name
from ..core.resources import notebook_dir as kit_notebook_dir
from ..data.snapshots import SNAPSHOT_FOLDER
from ..data.sources import resolve_source
from .executors import open_executor
from .params import RunParams
from .progress import progress_step

if TYPE_CHECKING:  # a worker that runs notebooks needs none of the analyses (1.8 s)
    from ..analyses.analysis import Analysis

__all__ = [
    "KeptKernels",
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

log = logging.getLogger("cxreports")

#: What the kit's notebooks compute over every group of their ``group_by`` (or
#: for all groups alike) before keeping their own group's rows, called with a
#: job's ``kpi`` and ``group_by``. :func:`run_notebook_step` builds these once,
#: before the snapshot is written, so each kernel reads them from it instead of
#: building them again (at 7,500 agents the QA agreement alone takes 25 s).
NOTEBOOK_FRAMES: dict[str, Callable[[Analysis, str, str], object]] = {
    "driver_analysis": lambda a, kpi, by: (a.drivers(kpis=[kpi], group_by=by),
                                           a.top_overlap(kpi=kpi, group_by=by)),
    "qa_calibration": lambda a, kpi, by: (a.qa_agreement(group_by=by),  # all_evaluations too
                                          a.evaluator_leniency(), a.adoption_adjusted(),
                                          a.sampling_plan()),
    "vendor_comparison": lambda a, kpi, by: (a.kpi_summary(group_by="vendor"),
                                             a.kpi_summary(group_by="shore"),
                                             a.adoption_adjusted(),
                                             a.drivers(kpis=[kpi], group_by="vendor")),
}

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
    return _import_papermill().inspect_notebook(str(path))


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


_exporters = threading.local()


def _html_exporter():
    """This thread's HTML exporter: made once, as loading its templates costs more
    than most exports."""
    if not hasattr(_exporters, "html"):
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        _exporters.html = HTMLExporter(
            template_name="lab", template_file="cxreports.html.j2",
            extra_loaders=[DictLoader({"cxreports.html.j2": _HTML_TEMPLATE})])
    return _exporters.html


def _export_html(ipynb: Path, target: Path, *, group: str = "", period: str = "") -> Path:
    """The executed notebook as HTML, titled :func:`html_title`, figures with their alt."""
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = _html_exporter().from_notebook_node(
        nb, resources={"metadata": {"name": html_title(nb, group, period)}})
    with atomic_path(target) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return target


# --------------------------------------------------------------------------- kept kernels

#: Runs in a kept kernel between two notebooks: what a new kernel would not have goes
#: (the namespace, history, execution count, open figures, a changed working folder).
#: What lives on is process-wide state a notebook could change on purpose (pandas or
#: matplotlib options, environment variables, warning filters); ours change none.
_RESET = """\
_pyplot = __import__("sys").modules.get("matplotlib.pyplot")
if _pyplot is not None:
    _pyplot.close("all")
__import__("os").chdir({folder!r})
get_ipython().reset(new_session=True)
__import__("gc").collect()
"""


class KeptKernels:
    """Kernels a process keeps between notebooks, one per kernel name and folder.

    :meth:`take` hands out an idle kernel (or ``None``); :meth:`give_back`
    resets a kernel that ran a notebook and keeps it for ``idle_seconds``, so
    the notebooks of one batch share it and a finished batch's kernels go
    soon after (a run's workers go on to render packs). A kernel whose
    notebook timed out or died, that does not reset, or that has grown past
    ``max_rss_mb`` (at that size its notebooks' own work dwarfs starting a new
    kernel, and a new one gives the memory back) is shut down instead.
    All kernels go when the process ends: :meth:`close` runs at exit, in
    worker processes too, and a kernel already exits when its parent does
    (see :mod:`cxreports.run.stopping`).
    """

    def __init__(self, idle_seconds: float = 5.0, max_rss_mb: float = 1024.0) -> None:
        self.idle_seconds, self.max_rss_mb = idle_seconds, max_rss_mb
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str], tuple[object, threading.Timer]] = {}
        self._hooked = False

    def take(self, kernel_name: str, folder: str):
        """An idle kernel for ``kernel_name`` started in ``folder``, or ``None``."""
        with self._lock:
            entry = self._idle.pop((kernel_name, folder), None)
        if entry is None:
            return None
        entry[1].cancel()
        if entry[0].is_alive():
            return entry[0]
        _shutdown(entry[0])  # died while idle: its connection file and sockets go too
        return None

    def start(self, kernel_name: str, folder: str):
        """A new kernel (a ``jupyter_client`` ``KernelManager``), started in ``folder``."""
        from jupyter_client.manager import KernelManager

        with self._lock:
            if not self._hooked:  # at exit, in the main process and in pool workers
                atexit.register(self.close)
                multiprocessing.util.Finalize(None, self.close, exitpriority=10)
                self._hooked = True
        manager = KernelManager(kernel_name=kernel_name)
        manager.start_kernel(cwd=folder)
        return manager

    def give_back(self, kernel_name: str, folder: str, manager) -> None:
        """Reset ``manager`` and keep it, or shut it down (see the class)."""
        if not _reset(manager, folder) or _rss_mb(manager) > self.max_rss_mb:
            _shutdown(manager)
            return
        key = (kernel_name, folder)
        timer = threading.Timer(self.idle_seconds, self._expire, (key, manager))
        timer.daemon = True
        with self._lock:
            old = self._idle.pop(key, None)
            self._idle[key] = (manager, timer)
        timer.start()
        if old is not None:
            old[1].cancel()
            _shutdown(old[0])

    def close(self) -> None:
        """Shut down every idle kernel now."""
        with self._lock:
            entries = list(self._idle.values())
            self._idle.clear()
        for manager, timer in entries:
            timer.cancel()
            _shutdown(manager)

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)

    def _expire(self, key: tuple[str, str], manager) -> None:
        with self._lock:
            if self._idle.get(key, (None,))[0] is not manager:
                return  # taken meanwhile
            del self._idle[key]
        _shutdown(manager)


def _reset(manager, folder: str, timeout: float = 60) -> bool:
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=timeout)
        msg_id = client.execute(_RESET.format(folder=folder), silent=True,
                                store_history=False)
        reply = client.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=timeout)
        return reply["content"]["status"] == "ok"
    except Exception:  # a kernel that does not answer is not kept
        return False
    finally:
        client.stop_channels()


def _rss_mb(manager) -> float:
    """The kernel process's resident memory in MB (0 where /proc cannot tell)."""
    try:
        pid = manager.provisioner.process.pid
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            line = next(x for x in status if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except Exception:  # not Linux, or no local process to read
        return 0.0


def _shutdown(manager) -> None:
    with suppress(Exception):  # already gone is fine
        manager.shutdown_kernel(now=True)


#: This process's kept kernels.
KERNELS = KeptKernels()


@functools.cache
def _kept_kernel_engine() -> str:
    """papermill's nbclient engine, run on a kernel it is given and leaves running
    (registered once per process; returns its name).

    nbclient leaves a given kernel running but also its client's channels (a
    thread and sockets per notebook); this engine closes them.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class KeptKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            client = PapermillNotebookClient(nb_man, **merge_kwargs(
                kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                kernel_name=kernel_name, log=logger, log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file))
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register("cxreports-kept-kernel", KeptKernelEngine)
    return "cxreports-kept-kernel"


def _import_papermill():
    """papermill, without the 2-second import jsonschema makes for IRI checks.

    jsonschema imports ``rfc3987_syntax`` (installed with Jupyter) to check the
    "iri" format, and that package builds its grammar on import: about 2 CPU
    seconds in every process that reads a notebook
    (python-jsonschema/jsonschema#1392). Notebook files use no such format;
    if nothing in this process has imported it yet, it stays unimported.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)
        try:
            import jsonschema  # noqa: F401  (with the IRI check left out)
        finally:
            if sys.modules.get("rfc3987_syntax", False) is None:
                del sys.modules["rfc3987_syntax"]
    import papermill

    return papermill


def _kernel_name(job: NotebookJob, source: Path) -> str:
    if job.kernel_name:
        return job.kernel_name
    import json

    spec = json.loads(source.read_text(encoding="utf-8")).get("metadata", {}).get("kernelspec")
    return (spec or {}).get("name") or "python3"


def _execute(job: NotebookJob, source: Path, target: Path, folder: Path) -> None:
    """papermill on ``source`` into ``target``, in this process's kept kernel."""
    pm = _import_papermill()
    from papermill.exceptions import PapermillExecutionError

    name = _kernel_name(job, source)
    manager = KERNELS.take(name, str(folder)) or KERNELS.start(name, str(folder))
    keep = False
    try:
        pm.execute_notebook(str(source), str(target), parameters=job.parameters,
                            kernel_name=name, engine_name=_kept_kernel_engine(), km=manager,
                            progress_bar=False, execution_timeout=job.timeout,
                            cwd=str(folder), report_mode=False, log_output=False)
        keep = True
    except PapermillExecutionError:
        keep = True  # a cell raised; the kernel itself is fine
        raise
    finally:
        if keep:
            KERNELS.give_back(name, str(folder), manager)
        else:
            _shutdown(manager)


def _kernel_start_failed(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return any(s in text for s in ("Kernel died", "kernel_info", "Kernel didn't respond",
                                   "NoSuchKernel", "Timeout waiting for kernel"))


def run_notebook(job: NotebookJob) -> NotebookResult:
    """Execute one notebook; never raises for a failing cell (the result says so)."""
    _import_papermill()
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
                    _execute(job, source, tmp, folder)
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
        try:
            for i, job in enumerate(jobs):
                collect(run_notebook(job), i)
        finally:
            KERNELS.close()  # this process's: nothing outlives the batch
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


def _build_shared_frames(analysis: Analysis, jobs: list[NotebookJob]) -> None:
    """:data:`NOTEBOOK_FRAMES` for ``jobs``; one that fails is left to fail, and be
    reported, in the notebook that asks for it."""
    wanted = {(job.notebook, job.parameters.get("kpi"), job.group_by) for job in jobs
              if job.notebook in NOTEBOOK_FRAMES}
    started = time.perf_counter()
    for notebook, kpi, group_by in sorted(wanted, key=str):
        try:
            NOTEBOOK_FRAMES[notebook](analysis, kpi, group_by)
        except Exception as exc:  # the notebook shows it where it belongs
            log.debug("%s frames for %s: %s", notebook, group_by, exc)
    if wanted:
        log.info("frames the notebooks share built in %.1fs", time.perf_counter() - started)


def run_notebook_step(
    jobs: list[NotebookJob],
    analysis: Analysis,
    params: RunParams,
    *,
    executor: Executor,
    on_done: Callable[[NotebookResult], str | None] | None = None,
    console: Console | None = None,
    stop_check: Callable[[], None] | None = None,
) -> list[NotebookResult]:
    """Run ``jobs`` from one shared snapshot of ``analysis``, with a progress bar.

    The snapshot (the validated tables and shared frames, built once for
    every kernel rather than once per notebook) lives in
    ``OUT/.snapshot`` for the step and is removed after. ``on_done`` may
    return a failure message for the progress line. ``stop_check`` (a run's
    :meth:`StopRequest.check <cxreports.run.stopping.StopRequest.check>`) is
    called once the shared frames are built: a frame that failed is left to
    its notebook, but a stop that DuckDB turned into its own error must not be.
    """
    def done(result: NotebookResult) -> None:
        message = on_done(result) if on_done else None
        failed = result.status != "ok"
        if failed and not message:
            message = f"cell {result.cell}: {result.error}"
        step.advance(f"{result.notebook} {result.group_by}={result.group} "
                     f"({result.seconds:.1f}s)" + (f": {message}" if failed else ""),
                     failed=failed)

    if jobs:
        _build_shared_frames(analysis, jobs)
        if stop_check is not None:
            stop_check()
    sharing = (analysis.shared_snapshot(Path(params.out) / SNAPSHOT_FOLDER,
                                        source=resolve_source(params.source), kpis=params.kpis)
               if jobs else nullcontext())
    with sharing, progress_step("notebooks", len(jobs), console=console) as step:
        return run_notebooks(jobs, executor=executor, on_done=done)
