"""Audit the QA form: which behaviours earn their place?

A behaviour earns its place when it predicts a customer outcome somewhere;
a behaviour nearly every agent always shows (a ceiling item) cannot tell
agents apart, however much it matters; and a form should weigh intent (how
the customer perceives the agent) at least as much as tasks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.kpis import DEFAULT_KPIS

__all__ = ["compute_behaviour_adoption", "compute_qa_form_audit"]


def compute_qa_form_audit(
    evaluations: pd.DataFrame,
    qa_form: pd.DataFrame,
    drivers: pd.DataFrame,
    *,
    ceiling: float = 0.95,
    kpis: tuple[str, ...] = DEFAULT_KPIS,
) -> pd.DataFrame:
    """One row per behaviour on the form: adoption, ceiling, driver evidence, advice.

    Parameters
    ----------
    evaluations
        One row per evaluation, a score column per behaviour.
    qa_form
        The validated QA form.
    drivers
        :func:`cxreports.analyses.drivers.compute_drivers` output, any groups.
    ceiling
        Adoption at or above which a behaviour is a ceiling item.

    Returns
    -------
    pd.DataFrame
        ``behavior_id``, ``label``, ``kind``, ``weight``, ``n_evaluations``
        (applicable), ``applicable_share``, ``adoption`` (mean score where
        applicable), ``is_ceiling``, ``groups_tested`` and
        ``groups_driver`` (group-KPI models with enough data / with a driver
        verdict, relationship KPIs only), ``kpis_driven`` (comma list),
        ``predicts_nothing`` and ``recommendation``.
    """
    rows = []
    d = drivers[drivers["kpi"].isin(kpis)]
    total = len(evaluations)
    for form in qa_form.itertuples(index=False):
        b = form.behavior_id
        scores = evaluations[b] if b in evaluations else pd.Series(dtype=float)
        applicable = scores.notna()
        mine = d[d["behavior_id"] == b]
        tested = mine[mine["verdict"] != "insufficient_data"]
        driving = tested[tested["verdict"] == "driver"]
        adoption = float(scores[applicable].mean()) if applicable.any() else np.nan
        is_ceiling = bool(adoption >= ceiling) if applicable.any() else False
        predicts_nothing = len(tested) > 0 and len(driving) == 0
        if len(tested) == 0:
            advice = "not enough data to judge yet"
        elif len(driving) > 0 and is_ceiling:
            advice = "keep as a standard; nearly always shown, so it cannot rank agents"
        elif len(driving) > 0:
            advice = "keep: predicts " + ", ".join(sorted(set(driving["kpi"])))
        elif is_ceiling:
            advice = "review: nearly always shown and predicts no outcome"
        else:
            advice = "review: predicts no customer outcome; reword toward intent or drop"
        rows.append({
            "behavior_id": b, "label": form.label, "kind": form.kind,
            "weight": getattr(form, "weight", np.nan),
            "n_evaluations": int(applicable.sum()),
            "applicable_share": applicable.sum() / total if total else np.nan,
            "adoption": adoption, "is_ceiling": is_ceiling,
            "groups_tested": len(tested), "groups_driver": len(driving),
            "kpis_driven": ", ".join(sorted(set(driving["kpi"]))),
            "predicts_nothing": predicts_nothing, "recommendation": advice,
        })
    return pd.DataFrame(rows)


def compute_behaviour_adoption(
    evaluations: pd.DataFrame, *, behaviors: list[str], group_by: list[str] | str | None = None
) -> pd.DataFrame:
    """Share of applicable evaluations in which each behaviour was shown, per group.

    Returns
    -------
    pd.DataFrame
        The ``group_by`` columns, ``behavior_id``, ``adoption`` (mean score where
        applicable, 0-1) and ``n`` (applicable evaluations).
    """
    group_by = [group_by] if isinstance(group_by, str) else list(group_by or [])
    long = evaluations.melt(id_vars=group_by or None, value_vars=behaviors, var_name="behavior_id",
                            value_name="score").dropna(subset=["score"])
    out = long.groupby([*group_by, "behavior_id"], sort=True)["score"].agg(["mean", "count"])
    out = out.rename(columns={"mean": "adoption", "count": "n"}).reset_index()
    order = {b: i for i, b in enumerate(behaviors)}
    return out.sort_values([*group_by, "behavior_id"], key=lambda s: s.map(order) if s.name ==
                           "behavior_id" else s).reset_index(drop=True)
