"""Reporting months and their rolling baselines."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .errors import UnusableInputError

__all__ = ["BASELINE_MONTHS", "DRIVER_MONTHS", "MONTHS_NOTE", "RECENT_MONTHS", "Period",
           "ReportWindows", "Window", "generated_on", "month_name", "parse_period", "window_name"]

#: Months before the report month that form its baseline.
BASELINE_MONTHS = 3
#: Months the driver models use, ending with the report month (one month of
#: evaluated, surveyed contacts is rarely enough for a stable model).
DRIVER_MONTHS = 4
#: Months of an agent's recent behaviour scores and coaching, ending with the report month.
RECENT_MONTHS = 3
#: What a month is, as every output that counts by month says it.
MONTHS_NOTE = ("months are each site's local calendar months (sites.time_zone; "
               "UTC for a site without one)")


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

    def baseline(self, months: int = BASELINE_MONTHS) -> list[Period]:
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


def month_name(period: str | Period) -> str:
    """A month as a reader writes it.

    >>> month_name("2026-10")
    'October 2026'
    """
    p = parse_period(period)
    return f"{p.start:%B} {p.year}"


def window_name(months) -> str:
    """A run of months (a :class:`Window`, or ``YYYY-MM`` labels) as a reader writes it.

    >>> window_name(["2026-07", "2026-08", "2026-09"])
    'July to September 2026'
    >>> window_name(["2025-11", "2026-01"])
    'November 2025 to January 2026'
    >>> window_name(["2026-10"])
    'October 2026'
    """
    months = [parse_period(m) for m in getattr(months, "months", months)]
    if not months:
        return ""
    first, last = months[0], months[-1]
    if first == last:
        return month_name(first)
    if first.year == last.year:
        return f"{first.start:%B} to {month_name(last)}"
    return f"{month_name(first)} to {month_name(last)}"


@dataclass(frozen=True)
class Window:
    """A named run of whole months, oldest first.

    Examples
    --------
    >>> w = ReportWindows(parse_period("2026-10")).driver
    >>> str(w), w.labels[0], w.start, w.end
    ('2026-07 to 2026-10', '2026-07', datetime.date(2026, 7, 1), datetime.date(2026, 10, 31))
    """

    name: str
    months: tuple[Period, ...]

    @property
    def labels(self) -> list[str]:
        """The months as ``YYYY-MM`` text, the form the frames' ``period`` column holds."""
        return [str(m) for m in self.months]

    @property
    def start(self) -> date:
        return self.months[0].start

    @property
    def end(self) -> date:
        """Last day of the last month (inclusive)."""
        return self.months[-1].end

    def __str__(self) -> str:
        if len(self.months) == 1:
            return str(self.months[0])
        return f"{self.months[0]} to {self.months[-1]}"


@dataclass(frozen=True)
class ReportWindows:
    """Every window a report month uses, decided here and nowhere else.

    - ``month``: the report month (KPI summaries, coaching activity);
    - ``baseline``: the :data:`BASELINE_MONTHS` before it (trends, KPI change);
    - ``driver``: the :data:`DRIVER_MONTHS` ending with it (driver models,
      rankings, adoption, the QA form audit);
    - ``recent``: the :data:`RECENT_MONTHS` ending with it (an agent's
      behaviour scores, coaching priorities and a pack's coaching history).

    Examples
    --------
    >>> windows = ReportWindows(parse_period("2026-10"))
    >>> {name: str(w) for name, w in windows.named().items()}  # doctest: +NORMALIZE_WHITESPACE
    {'month': '2026-10', 'baseline': '2026-07 to 2026-09', 'driver': '2026-07 to 2026-10',
     'recent': '2026-08 to 2026-10'}
    """

    period: Period

    def _ending(self, name: str, months: int, *, last: int = 0) -> Window:
        return Window(name, tuple(self.period.shift(last - k) for k in range(months - 1, -1, -1)))

    @property
    def month(self) -> Window:
        return Window("month", (self.period,))

    @property
    def baseline(self) -> Window:
        return self._ending("baseline", BASELINE_MONTHS, last=-1)

    @property
    def driver(self) -> Window:
        return self._ending("driver", DRIVER_MONTHS)

    @property
    def recent(self) -> Window:
        return self._ending("recent", RECENT_MONTHS)

    def named(self) -> dict[str, Window]:
        """Each window by name, for a manifest or a report's "About these numbers"."""
        return {w.name: w for w in (self.month, self.baseline, self.driver, self.recent)}


def generated_on() -> date:
    """The date a report says it was made: today, or ``$SOURCE_DATE_EPOCH``'s date.

    Setting ``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds
    convention) makes reports made on different days byte-identical.

    >>> os.environ["SOURCE_DATE_EPOCH"] = "1793404800"; generated_on()
    datetime.date(2026, 10, 31)
    >>> del os.environ["SOURCE_DATE_EPOCH"]
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date()
    return date.today()
