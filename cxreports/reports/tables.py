"""The tidy tables behind the reports, written to ``OUT/tables/*.csv``.

One function per table would only repeat :class:`cxreports.analyses.analysis.Analysis`;
:func:`report_tables` names them, :func:`write_tables` writes them whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..analyses.analysis import Analysis
from ..core.files import atomic_path

__all__ = ["TABLE_BUILDERS", "report_tables", "write_tables"]


def _by_levels(build: Callable[[str | None], pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([build(by) for by in ("site", "vendor", None)], ignore_index=True)


#: Table name -> how to build it from an Analysis.
TABLE_BUILDERS: dict[str, Callable[[Analysis], pd.DataFrame]] = {
    "drivers": lambda a: a.layered_drivers,
    "heterogeneity": lambda a: pd.concat(
        [a.heterogeneity(by=by) for by in ("vendor", "site")], ignore_index=True),
    "kpi_summary_site": lambda a: a.kpi_summary(by=["vendor", "site"]),
    "kpi_summary_vendor": lambda a: a.kpi_summary(by="vendor"),
    "kpi_summary_supervisor": lambda a: a.kpi_summary(by="supervisor_id"),
    "top_overlap": lambda a: _by_levels(lambda by: a.top_overlap(kpi="csat", by=by)),
    "behaviour_trends": lambda a: a.trends,
    "coaching_coverage": lambda a: a.coaching_coverage,
    "coaching_effectiveness": lambda a: pd.concat(
        [a.coaching_effectiveness(by=by) for by in ("supervisor_id", "behavior_id", None)],
        ignore_index=True),
    "coaching_priorities": lambda a: a.coaching_priorities(kpi="csat"),
    "qa_form_audit": lambda a: a.qa_form_audit(),
}


def report_tables(analysis: Analysis, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Build the named tables (all by default) from ``analysis``."""
    return {name: TABLE_BUILDERS[name](analysis) for name in (names or TABLE_BUILDERS)}


def write_tables(analysis: Analysis, folder: str | os.PathLike,
                 names: list[str] | None = None) -> dict[str, Path]:
    """Write ``folder/<name>.csv`` for each table, each whole or not at all."""
    folder = Path(folder)
    written = {}
    for name, table in report_tables(analysis, names).items():
        target = folder / f"{name}.csv"
        with atomic_path(target) as tmp:
            table.to_csv(tmp, index=False)
        written[name] = target
    return written
