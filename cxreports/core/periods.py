"""Reporting months and their rolling baselines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import UnusableInputError

__all__ = ["Period", "parse_period"]


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, ``YYYY-MM``.

    Examples
    --------
    >>> p = parse_period("2026-10")
    >>> p.start, p.end
    (datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
    >>> [str(b) for b in p.baseline()]
    ['2026-07', '2026-08', '2026-09']
    """

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """Last day of the month (inclusive)."""
        return self.shift(1).start - timedelta(days=1)

    def shift(self, months: int) -> Period:
        index = self.year * 12 + (self.month - 1) + months
        return Period(index // 12, index % 12 + 1)

    def baseline(self, months: int = 3) -> list[Period]:
        """The ``months`` months before this one, oldest first."""
        return [self.shift(-k) for k in range(months, 0, -1)]

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)


def parse_period(text: str | Period) -> Period:
    """Parse ``YYYY-MM``; a clear :class:`UnusableInputError` otherwise."""
    if isinstance(text, Period):
        return text
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(text).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UnusableInputError(f"period {text!r} is not a month written YYYY-MM")
    return Period(int(match.group(1)), int(match.group(2)))
