"""Progress for long work: rich bars on a terminal, plain log lines otherwise.

A scheduler's log gets one line per finished item (timestamped, greppable);
a person at a terminal gets a bar. Both go through the same calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["Step", "progress_step"]

log = logging.getLogger("cxreports")


class Step:
    """One step's progress: call :meth:`advance` once per finished item."""

    def __init__(self, progress: Progress | None, task, name: str, total: int) -> None:
        self._progress, self._task, self.name, self.total = progress, task, name, total
        self.done = 0

    def advance(self, message: str = "", *, failed: bool = False) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress.advance(self._task)
            if failed:
                self._progress.console.print(f"[red]failed:[/] {message}", highlight=False)
        level = logging.WARNING if failed else logging.INFO
        log.log(level, "%s %d/%d %s%s", self.name, self.done, self.total,
                "FAILED " if failed else "", message)


@contextmanager
def progress_step(name: str, total: int, *, console: Console | None = None) -> Iterator[Step]:
    """A progress context for ``total`` items of step ``name``."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            yield Step(progress, progress.add_task(name, total=total), name, total)
    else:
        log.info("%s: %d to do", name, total)
        yield Step(None, None, name, total)
