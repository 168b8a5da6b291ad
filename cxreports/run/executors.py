"""Where per-supervisor and per-group work runs: local processes or a Dask cluster.

``executor: local`` uses a process pool on this machine (workers recycled
every 50 tasks so memory stays flat). ``executor: dask://HOST:PORT`` sends
the same tasks to a running Dask distributed scheduler; its workers need
this package installed and must see the output folder at the same path (a
shared file system), since each task writes its file there. The outputs are
the same either way: each task is a pure function of its inputs.

When the run stops (``Interrupted``, or any error) the executor is ended at
once: local workers are killed (the code that submitted has already given
the work in flight its grace), a Dask client's futures are cancelled. Local
workers also die with the run if it is killed (``stopping.die_with_parent``);
Dask's scheduler releases the futures of a client that has gone, and the
tasks already running there finish but nothing waits for them.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from ..core.errors import UnusableInputError
from .stopping import die_with_parent

__all__ = ["RecyclingExecutor", "local_executor", "open_executor"]


class RecyclingExecutor(Executor):
    """A process pool replaced whole after every ``recycle_after`` tasks.

    Recycling keeps memory flat over thousands of renders (WeasyPrint and
    fontconfig caches only grow within a process). It is done here rather
    than with ``ProcessPoolExecutor(max_tasks_per_child=...)`` because that
    deadlocks on Python 3.11-3.14 once a worker retires with work still
    queued (CPython gh-115634). The old pool is drained before the new one
    starts, so the machine never runs more than ``workers`` renders.

    Workers die with this process (:func:`~cxreports.run.stopping.die_with_parent`)
    and ignore SIGINT: Ctrl-C reaches the whole foreground process group, and
    it is this process that decides what a stop means for the work in flight.
    """

    def __init__(self, workers: int, *, recycle_after: int = 50) -> None:
        self.workers, self.recycle_after = workers, recycle_after
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._pool is None or self._submitted >= self.recycle_after * self.workers:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            # The pool starts its workers from the thread that submits.
            main = threading.current_thread() is threading.main_thread()
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=get_context("spawn"),
                                             initializer=_start_worker,
                                             initargs=(os.getpid(), main))
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


def _start_worker(parent_pid: int, started_by_main_thread: bool) -> None:
    die_with_parent(parent_pid, linux_signal=started_by_main_thread)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int, *, recycle_after: int = 50) -> RecyclingExecutor:
    """Processes on this machine, recycled every ``recycle_after`` tasks per worker."""
    return RecyclingExecutor(workers, recycle_after=recycle_after)


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
