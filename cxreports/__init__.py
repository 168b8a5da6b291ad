"""cxreports: which agent behaviours move customer outcomes, and who to coach on them.

The public surface, by layer (see ARCHITECTURE.md):

- sources and validation: :func:`validate_source`
- roster effective dating: :func:`assign_roster`, :func:`roster_on`,
  :func:`roster_for_period`
- sample data with planted truth: :func:`make_sample_data`,
  :func:`write_sample_data`
- analyses (tidy frames in, tidy frames out): :func:`compute_drivers`,
  :func:`compute_heterogeneity`, :func:`rank_agents`,
  :func:`compute_top_overlap`, :func:`compute_behaviour_trends`,
  :func:`compute_coaching_coverage`, :func:`compute_session_effects`,
  :func:`compute_coaching_effectiveness`, :func:`compute_coaching_priorities`,
  :func:`compute_qa_form_audit`, :func:`compute_kpi_summary`; QA calibration:
  :func:`compute_agreement`, :func:`compute_evaluator_leniency`,
  :func:`compute_vendor_alignment`, :func:`compute_agent_reliability`,
  :func:`reliability_curve`, :func:`compute_sampling_plan`
- :class:`Analysis`: one source validated and joined once, with every
  analysis as a method (what notebooks and reports call)

Names are imported on first use (PEP 562), so a process that needs one
corner of the kit (a Dask worker that only renders PDFs imports only
``reports.rendering``)
does not pay for pandas, statsmodels and matplotlib.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analyses.analysis import Analysis
    from .analyses.calibration import (
        compute_agent_reliability,
        compute_agreement,
        compute_evaluator_leniency,
        compute_sampling_plan,
        compute_vendor_alignment,
        reliability_curve,
    )
    from .analyses.coaching import (
        compute_agent_behaviour_scores,
        compute_coaching_coverage,
        compute_coaching_effectiveness,
        compute_coaching_priorities,
        compute_session_effects,
    )
    from .analyses.drivers import (
        DriverRules,
        compare_to_reference,
        compute_drivers,
        compute_heterogeneity,
    )
    from .analyses.kpi_summary import compare_to_targets, compute_kpi_summary
    from .analyses.qa_form_audit import compute_behaviour_adoption, compute_qa_form_audit
    from .analyses.rankings import compute_top_overlap, rank_agents
    from .analyses.trends import compute_behaviour_trends
    from .core.errors import CxReportsError, UnusableInputError
    from .core.periods import Period, parse_period
    from .data.roster import assign_roster, roster_for_period, roster_on
    from .data.sample import builtin_source, make_sample_data, write_sample_data
    from .data.sources import SourceRef, resolve_source
    from .data.validation import TableReport, ValidatedData, validate_source

try:
    __version__ = version("cxreports")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Analysis",
    "CxReportsError",
    "DriverRules",
    "compare_to_reference",
    "compare_to_targets",
    "compute_agent_behaviour_scores",
    "compute_behaviour_adoption",
    "compute_behaviour_trends",
    "compute_coaching_coverage",
    "compute_coaching_effectiveness",
    "compute_coaching_priorities",
    "compute_drivers",
    "compute_heterogeneity",
    "compute_kpi_summary",
    "compute_qa_form_audit",
    "compute_session_effects",
    "compute_agent_reliability",
    "compute_agreement",
    "compute_evaluator_leniency",
    "compute_sampling_plan",
    "compute_vendor_alignment",
    "reliability_curve",
    "compute_top_overlap",
    "builtin_source",
    "rank_agents",
    "SourceRef",
    "resolve_source",
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

#: Where each public name lives, by module.
_MODULES = {
    ".analyses.analysis": ["Analysis"],
    ".analyses.calibration": ["compute_agent_reliability", "compute_agreement",
                              "compute_evaluator_leniency", "compute_sampling_plan",
                              "compute_vendor_alignment", "reliability_curve"],
    ".analyses.coaching": ["compute_agent_behaviour_scores", "compute_coaching_coverage",
                           "compute_coaching_effectiveness", "compute_coaching_priorities",
                           "compute_session_effects"],
    ".analyses.drivers": ["DriverRules", "compare_to_reference", "compute_drivers",
                          "compute_heterogeneity"],
    ".analyses.kpi_summary": ["compare_to_targets", "compute_kpi_summary"],
    ".analyses.qa_form_audit": ["compute_behaviour_adoption", "compute_qa_form_audit"],
    ".analyses.rankings": ["compute_top_overlap", "rank_agents"],
    ".analyses.trends": ["compute_behaviour_trends"],
    ".core.errors": ["CxReportsError", "UnusableInputError"],
    ".core.periods": ["Period", "parse_period"],
    ".data.roster": ["assign_roster", "roster_for_period", "roster_on"],
    ".data.sample": ["builtin_source", "make_sample_data", "write_sample_data"],
    ".data.sources": ["SourceRef", "resolve_source"],
    ".data.validation": ["TableReport", "ValidatedData", "validate_source"],
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
