"""The tidy tables behind the reports, written to ``OUT/tables/*.csv``.

One function per table would only repeat
:class:`~cxreports.analyses.analysis.Analysis`: :data:`TABLE_BUILDERS` names
each table and how it is built from one; the run writes each whole.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..analyses.analysis import Analysis
from ..core.kpis import PRIMARY_KPI

__all__ = ["QA_TABLES", "QA_TABLE_COLUMNS", "TABLE_BUILDERS", "report_tables"]


def _by_levels(build: Callable[[str | None], pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([build(by) for by in ("site", "vendor", None)], ignore_index=True)


#: The columns of the QA calibration tables: a contract the outside world reads.
QA_TABLE_COLUMNS: dict[str, list[str]] = {
    "qa_agreement": ["group_by", "group", "behavior_id", "alpha", "alpha_ci_low",
                     "alpha_ci_high", "ac1", "n_interactions"],
    "qa_evaluators": ["evaluator_id", "employer", "leniency", "ci_low", "ci_high",
                      "n_evaluations", "flag"],
    "qa_vendor_alignment": ["vendor", "behavior_id", "leniency", "ci_low", "ci_high",
                            "n_interactions"],
    "qa_sampling_plan": ["agent_id", "supervisor_id", "evaluations_last_3_months",
                         "reliability_now", "evaluations_needed"],
}

#: Table name -> how to build it from an Analysis.
TABLE_BUILDERS: dict[str, Callable[[Analysis], pd.DataFrame]] = {
    "drivers": lambda a: a.layered_drivers,
    "heterogeneity": lambda a: pd.concat(
        [a.heterogeneity(group_by=by) for by in ("vendor", "site")], ignore_index=True),
    "kpi_summary_site": lambda a: a.kpi_summary(group_by=["vendor", "site"]),
    "kpi_summary_vendor": lambda a: a.kpi_summary(group_by="vendor"),
    "kpi_summary_supervisor": lambda a: a.kpi_summary(group_by="supervisor_id"),
    "top_overlap": lambda a: _by_levels(lambda by: a.top_overlap(kpi=PRIMARY_KPI, group_by=by)),
    "behaviour_trends": lambda a: a.trends,
    "coaching_coverage": lambda a: a.coaching_coverage,
    "coaching_effectiveness": lambda a: pd.concat(
        [a.coaching_effectiveness(group_by=by) for by in ("supervisor_id", "behavior_id", None)],
        ignore_index=True),
    "coaching_priorities": lambda a: a.coaching_priorities(kpi=PRIMARY_KPI),
    "qa_form_audit": lambda a: a.qa_form_audit(),
    "qa_agreement": lambda a: pd.concat(
        [a.qa_agreement(group_by=by) for by in (None, "vendor")], ignore_index=True)[
        QA_TABLE_COLUMNS["qa_agreement"]],
    "qa_evaluators": lambda a: a.evaluator_leniency()[QA_TABLE_COLUMNS["qa_evaluators"]],
    "qa_vendor_alignment": lambda a: a.vendor_alignment()[
        QA_TABLE_COLUMNS["qa_vendor_alignment"]],
    "qa_sampling_plan": lambda a: a.sampling_plan()[QA_TABLE_COLUMNS["qa_sampling_plan"]],
}

#: The QA calibration tables (``cxreports calibration`` writes these alone).
QA_TABLES = ["qa_agreement", "qa_evaluators", "qa_vendor_alignment", "qa_sampling_plan"]


def report_tables(analysis: Analysis, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Build the named tables (all by default) from ``analysis``."""
    return {name: TABLE_BUILDERS[name](analysis) for name in (names or TABLE_BUILDERS)}
