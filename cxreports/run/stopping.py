"""Stopping a run cleanly, and leaving nothing running when it is killed.

Schedulers end a job with SIGTERM (cron wrappers, Airflow, systemd on a
timeout) or SIGKILL (the out-of-memory killer, a second attempt).

- SIGINT, SIGTERM and a run's ``timeout`` are a clean stop:
  :func:`stop_on_signals` raises :class:`~cxreports.core.errors.Interrupted`
  in the main thread. The code it unwinds through cancels what is queued,
  gives the work in flight ``Interrupted.grace_seconds`` to finish and
  records what did, ends the workers (``run.executors``) and removes its
  temporary files (:func:`remove_leftovers`).
- SIGKILL cannot be caught, so each worker process watches the run and ends
  itself when the run ends, however it ends (:func:`die_with`). A notebook kernel
  already exits when the process that started it does (jupyter_client sets
  ``JPY_PARENT_PID`` and ipykernel polls it every second), and the
  multiprocessing resource tracker exits when the last process holding its
  pipe has gone. Whatever a killed run leaves half-written, the next run
  removes (:func:`remove_leftovers`).
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import Interrupted
from ..core.files import remove_temporary_files

__all__ = ["StopRequest", "die_with", "remove_leftovers", "stop_on_signals"]

log = logging.getLogger("cxreports")

_CAUSES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGALRM: "timeout"}


class StopRequest:
    """Whether a stop was asked for: ``cause`` is SIGINT, SIGTERM, timeout or ``None``."""

    def __init__(self) -> None:
        self.cause: str | None = None

    def check(self) -> None:
        """Raise :class:`Interrupted` if a stop was asked for.

        The exception raised by the signal handler can be lost: a library
        (DuckDB) turns it into its own error, which code that records one
        failing item and goes on then catches, or it lands in a weakref
        callback, where Python only prints it. Such code calls this.
        """
        if self.cause is not None:
            raise Interrupted(self.cause)


@contextmanager
def stop_on_signals(timeout_minutes: float | None = None) -> Iterator[StopRequest]:
    """Turn SIGINT, SIGTERM and, after ``timeout_minutes``, the timeout into ``Interrupted``.

    The first one raises; later ones are ignored while the stop proceeds (a
    SIGKILL still ends everything). Python delivers signals to the main
    thread only: elsewhere this does nothing. The previous handlers are
    restored on exit.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        if timeout_minutes:
            log.warning("timeout of %s minutes not set: signals reach the main thread only",
                        timeout_minutes)
        yield stop
        return

    def handle(signum: int, frame) -> None:
        if stop.cause is not None:
            return
        stop.cause = _CAUSES[signum]
        log.warning("%s: stopping; work in flight gets %.0fs to finish",
                    f"timeout of {timeout_minutes} minutes reached" if signum == signal.SIGALRM
                    else f"{stop.cause} received", Interrupted.grace_seconds)
        raise Interrupted(stop.cause)

    previous = {signum: signal.signal(signum, handle) for signum in _CAUSES}
    if timeout_minutes:
        signal.setitimer(signal.ITIMER_REAL, timeout_minutes * 60)
    try:
        yield stop
    except BaseException as exc:
        if stop.cause is None or isinstance(exc, Interrupted):
            raise
        raise Interrupted(stop.cause) from exc  # a library turned ours into its own error
    finally:
        if timeout_minutes:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def die_with(pid: int) -> None:
    """End this process as soon as process ``pid`` (not necessarily its parent) ends.

    Called first thing in a pool worker, for the process that owns the pool:
    the worker's parent is the fork server, which stays while any worker holds
    its pipe open, so the parent's end (``prctl(PR_SET_PDEATHSIG)``) would come
    only after the worker's. A thread waits on a pidfd (Linux 5.3 and later:
    woken by the exit itself, a zombie included); elsewhere it checks every half
    second that ``pid`` still exists.
    """
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, an old kernel, or pid gone already
        handle = None
        if not _exists(pid):
            os._exit(1)
    threading.Thread(target=_wait_for_exit, args=(pid, handle), daemon=True,
                     name="cxreports-owner-watch").start()


def _wait_for_exit(pid: int, handle: int | None) -> None:
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _exists(pid):
            time.sleep(0.5)
    os._exit(1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(out: str | os.PathLike) -> None:
    """Remove what a stopped or killed run left in ``out``.

    That is the notebooks' snapshot and its staging folders (``.snapshot*``),
    the reports' (``<kind>/.snapshot*``), and half-written files
    (atomic-write temporaries) in ``out`` and its subfolders. Only for a
    folder no other process writes to: the run's lock, or after this
    process's workers have ended.
    """
    # Imported here: this module is loaded by every render worker, which
    # must not pay for pandas and DuckDB (data.snapshots imports both).
    from ..data.snapshots import SNAPSHOT_FOLDER

    out = Path(out)
    if not out.is_dir():
        return
    for path in [*out.glob(f"{SNAPSHOT_FOLDER}*"), *out.glob(f"*/{SNAPSHOT_FOLDER}*")]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
    for folder in [out, *(p for p in out.iterdir() if p.is_dir())]:
        for path in remove_temporary_files(folder):
            log.info("removed %s, left half-written by a stopped run", path)
