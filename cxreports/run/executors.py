"""Where per-supervisor and per-group work runs: local processes or a Dask cluster.

``executor: local`` uses a process pool on this machine (workers recycled
every 50 tasks so memory stays flat), its workers forked from a fork server
that has imported what they use once (:data:`WORKER_MODULES`).
``executor: dask://HOST:PORT`` sends
the same tasks to a running Dask distributed scheduler; its workers need
this package installed and must see the output folder at the same path (a
shared file system), since each task writes its file there. The outputs are
the same either way: each task is a pure function of its inputs.

When the run stops (``Interrupted``, or any error) the executor is ended at
once: local workers are killed (the code that submitted has already given
the work in flight its grace), a Dask client's futures are cancelled. Local
workers also die with the run if it is killed (``stopping.die_with``);
Dask's scheduler releases the futures of a client that has gone, and the
tasks already running there finish but nothing waits for them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver, get_context

from ..core.errors import UnusableInputError
from .stopping import die_with

__all__ = ["RECYCLE_AFTER", "WORKER_MODULES", "RecyclingExecutor", "local_executor",
           "open_executor"]

#: What a local pool's fork server imports when it starts (once per process that
#: makes pools): every worker is forked from it with these loaded, instead of
#: importing pandas, the analyses, WeasyPrint and papermill itself (~4 CPU-s each).
WORKER_MODULES = ("cxreports.run.worker_imports",)
#: Tasks a local worker runs before its pool is replaced (memory stays flat).
RECYCLE_AFTER = 50


class RecyclingExecutor(Executor):
    """A process pool replaced whole after every ``recycle_after`` tasks.

    Recycling keeps memory flat over thousands of renders (WeasyPrint and
    fontconfig caches only grow within a process). It is done here rather
    than with ``ProcessPoolExecutor(max_tasks_per_child=...)`` because that
    deadlocks on Python 3.11-3.14 once a worker retires with work still
    queued (CPython gh-115634). The old pool is drained before the new one
    starts, so the machine never runs more than ``workers`` renders.

    Workers are forked from this process's fork server (``multiprocessing``'s
    ``forkserver``), which imports ``preload`` once when it starts: a worker
    then costs a fork instead of a new interpreter importing the kit (~4 CPU-s,
    for every worker of every pool). The server only imports: its one Python
    thread forks while the native threads its imports start (OpenBLAS's,
    pyarrow's jemalloc) sit idle, and both libraries handle a fork; forking
    this process instead, with DuckDB's and the run's threads busy, would not
    be safe. A task still reaches a worker pickled, as with ``spawn``. The
    server is one per process, started with the first pool's ``preload``.

    Workers end as soon as this process ends, however it ends
    (:func:`~cxreports.run.stopping.die_with`); the server exits once this
    process and the workers are gone. So a killed run leaves no process behind.
    They ignore SIGINT: Ctrl-C reaches the whole foreground process group, and
    it is this process that decides what a stop means for the work in flight.
    """

    def __init__(self, workers: int, *, recycle_after: int = RECYCLE_AFTER,
                 preload: Sequence[str] = WORKER_MODULES) -> None:
        self.workers, self.recycle_after = workers, recycle_after
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0
        self._context = get_context("forkserver")
        # Read when this process's fork server starts: only the first pool's counts.
        self._context.set_forkserver_preload(list(preload))
        # Started now, not at the first task: its imports (seconds) then overlap
        # with what the caller does before submitting, where the first submit
        # would otherwise wait for them.
        forkserver.ensure_running()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._pool is None or self._submitted >= self.recycle_after * self.workers:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            # A forked worker keeps the fork server's environment: it takes this
            # process's own, as a spawned one would (a test or a caller may have
            # changed it since the server started).
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=self._context,
                initializer=_start_worker,
                initargs=(os.getpid(), dict(os.environ)))
            self._submitted = 0
        self._submitted += 1
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def kill(self) -> None:
        """End the workers now, with whatever they are doing; queued work is cancelled."""
        if self._pool is None:
            return
        # No public handle on the workers before Python 3.14 (kill_workers).
        for process in list((self._pool._processes or {}).values()):
            process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(pool_owner: int, environ: dict[str, str]) -> None:
    # The parent is the fork server, which exits only once the owner *and every
    # worker* have closed its pipe (each worker inherits it): a worker watches the
    # owner itself. An owner already gone (between fork and here) ends it at once.
    die_with(pool_owner)
    os.environ.clear()
    os.environ.update(environ)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int, *, recycle_after: int = RECYCLE_AFTER,
                   preload: Sequence[str] = WORKER_MODULES) -> RecyclingExecutor:
    """Processes on this machine, recycled every ``recycle_after`` tasks per worker,
    forked from this process's fork server (which imports ``preload`` if this is
    the first pool to start it)."""
    return RecyclingExecutor(workers, recycle_after=recycle_after, preload=preload)


@contextmanager
def open_executor(spec: str, workers: int) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor for ``local`` or ``dask://HOST:PORT``."""
    if spec == "local":
        pool = local_executor(workers)
        try:
            yield pool
        except BaseException:
            pool.kill()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    from distributed import Client

    address = "tcp://" + spec.removeprefix("dask://")
    try:
        client = Client(address, timeout="15s", set_as_default=False)
    except OSError as exc:
        raise UnusableInputError(f"cannot reach the Dask scheduler at {address}: {exc}") \
            from None
    try:
        # pure=False: two identical-looking tasks (a retry) must both run.
        executor = client.get_executor(pure=False)
        try:
            yield executor
        except BaseException:
            executor.shutdown(wait=False)  # cancels its futures
            raise
    finally:
        client.close()
