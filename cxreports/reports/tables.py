"""The tidy tables behind the reports, written to ``OUT/tables/*.csv``.

One function per table would only repeat
:class:`~cxreports.analyses.analysis.Analysis`: :data:`TABLE_BUILDERS` names
each table and how it is built from one; the run writes each whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pandas as pd

from ..analyses.analysis import Analysis
from ..core.kpis import PRIMARY_KPI

__all__ = ["BACKGROUND_TABLES", "QA_TABLES", "QA_TABLE_COLUMNS", "TABLE_BUILDERS", "report_tables"]


def _by_levels(build: Callable[[str | None], pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([build(by) for by in ("site", "vendor", None)], ignore_index=True)


def _qa_agreement(analysis: Analysis) -> pd.DataFrame:
    # The two groupings bootstrap from generators of their own and spend nearly
    # all their time in numpy's multinomial draws, which release the GIL: two
    # threads take the time of one (the numbers are those of a serial run).
    # The frames they read are built first, here: only one thread may use the
    # DuckDB connection. Daemon threads, not a ThreadPoolExecutor, whose threads
    # Python joins at exit: a stopped run must not wait for a bootstrap.
    # (The run limits BLAS to one thread for its tables step: OpenBLAS's waiting
    # threads spin and would take the second core from the other draw.)
    for frame in BACKGROUND_TABLES["qa_agreement"]:
        getattr(analysis, frame)
    frames: dict[str | None, pd.DataFrame] = {}
    errors: list[BaseException] = []

    def build(by: str | None) -> None:
        try:
            frames[by] = analysis.qa_agreement(group_by=by)
        except BaseException as exc:  # raised on the calling thread below
            errors.append(exc)

    groupings = (None, "vendor")
    threads = [threading.Thread(target=build, args=(by,), daemon=True,
                                name=f"qa_agreement-{by or 'all'}") for by in groupings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return pd.concat([frames[by] for by in groupings],
                     ignore_index=True)[QA_TABLE_COLUMNS["qa_agreement"]]


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
    "qa_agreement": _qa_agreement,
    "qa_evaluators": lambda a: a.evaluator_leniency()[QA_TABLE_COLUMNS["qa_evaluators"]],
    "qa_vendor_alignment": lambda a: a.vendor_alignment()[
        QA_TABLE_COLUMNS["qa_vendor_alignment"]],
    "qa_sampling_plan": lambda a: a.sampling_plan()[QA_TABLE_COLUMNS["qa_sampling_plan"]],
}

#: Tables a run builds in a background thread, in this order, while it builds
#: the others, with the Analysis frames each reads (built first on the run's
#: thread, which alone uses the DuckDB connection). Their work is mostly numpy
#: that releases the GIL (bootstrap draws, least squares), so on two cores it
#: takes little time from the rest.
BACKGROUND_TABLES: dict[str, tuple[str, ...]] = {
    "qa_agreement": ("windows", "behaviors", "all_evaluations"),
    "qa_evaluators": ("windows", "behaviors", "all_evaluations"),
    "qa_vendor_alignment": ("windows", "behaviors", "all_evaluations", "qa_form"),
    "qa_sampling_plan": ("windows", "behaviors", "scored_evaluations", "team"),
}

#: The QA calibration tables (``cxreports calibration`` writes these alone).
QA_TABLES = ["qa_agreement", "qa_evaluators", "qa_vendor_alignment", "qa_sampling_plan"]


def report_tables(analysis: Analysis, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Build the named tables (all by default) from ``analysis``."""
    return {name: TABLE_BUILDERS[name](analysis) for name in (names or TABLE_BUILDERS)}
