"""cxreports: which agent behaviours move customer outcomes, and who to coach on them.

The public surface, by layer (see ARCHITECTURE.md):

- sources and validation: :func:`validate_source`
- roster effective dating: :func:`assign_roster`, :func:`roster_on`,
  :func:`roster_for_period`
- sample data with planted truth: :func:`make_sample_data`,
  :func:`write_sample_data`
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import CxReportsError, UnusableInputError
from .periods import Period, parse_period
from .roster import assign_roster, roster_for_period, roster_on
from .sample import make_sample_data, write_sample_data
from .validation import TableReport, ValidatedData, validate_source

try:
    __version__ = version("cxreports")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "CxReportsError",
    "Period",
    "TableReport",
    "UnusableInputError",
    "ValidatedData",
    "assign_roster",
    "make_sample_data",
    "parse_period",
    "roster_for_period",
    "roster_on",
    "validate_source",
    "write_sample_data",
]
