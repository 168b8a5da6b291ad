"""Where per-supervisor and per-group work runs: local processes or a Dask cluster.

``executor: local`` uses a process pool on this machine (workers recycled
every 50 tasks so memory stays flat). ``executor: dask://HOST:PORT`` sends
the same tasks to a running Dask distributed scheduler; its workers need
this package installed and must see the output folder at the same path (a
shared file system), since each task writes its file there. The outputs are
the same either way: each task is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from .errors import UnusableInputError
from .reports import local_executor

__all__ = ["open_executor"]


@contextmanager
def open_executor(spec: str, workers: int) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor for ``local`` or ``dask://HOST:PORT``."""
    if spec == "local":
        pool = local_executor(workers)
        try:
            yield pool
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
        yield client.get_executor(pure=False)
    finally:
        client.close()
