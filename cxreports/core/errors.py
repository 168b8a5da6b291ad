"""Exceptions that the command line turns into exit codes."""

from __future__ import annotations

__all__ = ["CxReportsError", "UnusableInputError"]


class CxReportsError(Exception):
    """Base class for errors the kit reports as one sentence, not a traceback."""

    exit_code = 2


class UnusableInputError(CxReportsError):
    """The input cannot be used at all: nothing is written, exit code 2.

    Raised for an unreadable file, a missing required table or column, an
    unknown table, or bad arguments. The message is one sentence naming the
    file and the problem.
    """
