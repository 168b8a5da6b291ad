"""Exceptions that the command line turns into exit codes."""

from __future__ import annotations

__all__ = ["CxReportsError", "Interrupted", "UnusableInputError"]


class CxReportsError(Exception):
    """Base class for errors the kit reports as one sentence, not a traceback."""

    exit_code = 2


class UnusableInputError(CxReportsError):
    """The input cannot be used at all: nothing is written, exit code 2.

    Raised for an unreadable file, a missing required table or column, an
    unknown table, or bad arguments. The message is one sentence naming the
    file and the problem.
    """


class Interrupted(BaseException):
    """A run stopped by SIGINT, SIGTERM or its ``timeout``: exit 130, 143 or 124.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the handlers that
    record one failing item and go on (``except Exception``) let it through.
    ``progress`` says how far the run got (``"3 of 17 done"``).
    """

    #: The conventional codes: 128 + the signal's number, and GNU timeout's 124.
    EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143, "timeout": 124}
    #: Seconds the work in flight gets to finish once a stop is asked for.
    grace_seconds = 5.0

    def __init__(self, cause: str, progress: str = "nothing done yet") -> None:
        super().__init__(cause, progress)
        self.cause, self.progress = cause, progress

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM, 124 for the run's timeout."""
        return self.EXIT_CODES[self.cause]

    def __str__(self) -> str:
        return f"interrupted ({self.cause}): {self.progress}"
