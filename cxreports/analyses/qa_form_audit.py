"""Audit the QA form: which behaviours earn their place?

A behaviour earns its place when it predicts a customer outcome; a behaviour
nearly every agent always shows (a ceiling item) cannot tell agents apart,
however much it matters; and a form should weigh intent (how the customer
perceives the agent) at least as much as tasks.

"Predicts nothing" is a claim of absence, so it needs evidence of absence,
not a failure to find an effect: an equivalence test (two one-sided tests)
showing the effect is smaller than the smallest effect worth scoring, on
every relationship KPI (:data:`SMALLEST_EFFECTS`, configurable). Without
that evidence either way the verdict is ``unproven``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats as st

from ..core.kpis import DEFAULT_KPIS
from ..core.kpis import kpi as kpi_spec
from .stats import bh_qvalues, holm_adjusted, pool_random_effects

__all__ = ["SMALLEST_EFFECTS", "compute_behaviour_adoption", "compute_behaviour_evidence",
           "compute_qa_form_audit"]

#: The smallest effect of interest per KPI, on the driver estimate's own scale
#: (a behaviour going from not shown to shown): below this a behaviour is not
#: worth a line on the QA form for that outcome. A tenth of a CSAT point
#: (1-5), three tenths of a point on the 0-10 recommend answer (about three
#: NPS points when it moves people across the 6/7 and 8/9 lines), five
#: percentage points of first contact resolution, 0.15 effort points (1-7),
#: 15 seconds of handle time. Pass ``smallest_effects`` to use your own.
SMALLEST_EFFECTS: dict[str, float] = {"csat": 0.10, "nps": 0.30, "fcr": 0.05, "ces": 0.15,
                                      "aht_seconds": 15.0}

_LEVELS = ("site", "vendor", "all")


def compute_behaviour_evidence(
    drivers: pd.DataFrame,
    *,
    kpis: tuple[str, ...] = DEFAULT_KPIS,
    smallest_effects: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per behaviour and KPI: the evidence pooled across groups, and what it shows.

    The finest grouping present in ``drivers`` is pooled (sites, else
    vendors, else everyone: groups that partition the contacts, so each
    contact counts once) by a DerSimonian-Laird random-effects model
    (:func:`cxreports.analyses.stats.pool_random_effects`), so an effect that
    differs between sites widens the pooled interval instead of averaging
    away. Then, with ``delta`` the KPI's smallest effect of interest:

    - ``predicts``: the pooled effect is in the KPI's better direction and
      its Benjamini-Hochberg q-value over every behaviour and KPI tested
      here is at most ``alpha``; or some group's is significant after Holm's
      correction over every group, behaviour and KPI of the level (an effect
      real at some sites only must be clear; one lucky test among dozens
      does not pass: Holm, S. (1979). A simple sequentially rejective
      multiple test procedure. Scandinavian Journal of Statistics 6, 65-70);
    - ``harmful``: the pooled effect significant in the wrong direction;
    - ``equivalent``: the 90% interval lies inside (-delta, +delta): both
      one-sided tests of "at least delta" reject at 5% (TOST), and no group
      shows a significant effect either way;
    - ``unproven``: none of these; ``insufficient_data``: no group could
      estimate it.

    References: Schuirmann, D. J. (1987). A comparison of the two one-sided
    tests procedure and the power approach for assessing the equivalence of
    average bioavailability. J. Pharmacokinetics and Biopharmaceutics 15(6),
    657-680. Lakens, D. (2017). Equivalence tests: a practical primer for t
    tests, correlations, and meta-analyses. Social Psychological and
    Personality Science 8(4), 355-362.

    Returns
    -------
    pd.DataFrame
        ``behavior_id``, ``kpi``, ``pooled_from`` (the level pooled),
        ``n_groups``, ``estimate``, ``std_error``, ``tau2``, ``ci_low``,
        ``ci_high`` (95%), ``p_value``, ``q_value``, ``delta``,
        ``p_equivalence`` (the larger TOST p-value), ``groups_predicting``
        and ``groups_significant`` (groups significant in the better / either
        direction, Holm over the level) and ``call``.
    """
    smallest = {**SMALLEST_EFFECTS, **(smallest_effects or {})}
    d = drivers[drivers["kpi"].isin(kpis)]
    present = [lvl for lvl in _LEVELS if (d["group_by"] == lvl).any()]
    level = present[0] if present else None
    if level is not None:
        d = d[d["group_by"] == level]
    z = st.norm.ppf(0.975)
    d = d.assign(_q=holm_adjusted(d["p_value"]))
    rows = []
    for (behavior, kpi), part in d.groupby(["behavior_id", "kpi"], sort=False):
        ok = part[(part["verdict"] != "insufficient_data") & (part["std_error"] > 0)]
        pooled, se, tau2, k = pool_random_effects(ok["estimate"], ok["std_error"])
        delta = float(smallest[kpi])
        better = 1.0 if kpi_spec(kpi).better == "higher" else -1.0
        group_sig = ok["_q"] <= alpha
        row = {"behavior_id": behavior, "kpi": kpi, "pooled_from": level, "n_groups": k,
               "estimate": pooled, "std_error": se, "tau2": tau2,
               "ci_low": pooled - z * se, "ci_high": pooled + z * se,
               "p_value": float(2 * st.norm.sf(abs(pooled / se))) if k else np.nan,
               "delta": delta,
               "p_equivalence": float(max(st.norm.sf((pooled + delta) / se),
                                          st.norm.cdf((pooled - delta) / se))) if k
               else np.nan,
               "groups_predicting": int((group_sig & (ok["estimate"] * better > 0)).sum()),
               "groups_significant": int(group_sig.sum())}
        rows.append(row)
    columns = ["behavior_id", "kpi", "pooled_from", "n_groups", "estimate", "std_error",
               "tau2", "ci_low", "ci_high", "p_value", "q_value", "delta", "p_equivalence",
               "groups_predicting", "groups_significant", "call"]
    out = pd.DataFrame(rows, columns=[c for c in columns if c not in ("q_value", "call")])
    if out.empty:
        return pd.DataFrame(columns=columns)
    out["q_value"] = bh_qvalues(out["p_value"])
    sign = out["kpi"].map(lambda k: 1.0 if kpi_spec(k).better == "higher" else -1.0)
    significant = out["q_value"] <= alpha
    out["call"] = np.select(
        [out["n_groups"] == 0,
         (significant & (out["estimate"] * sign > 0)) | (out["groups_predicting"] > 0),
         significant, (out["p_equivalence"] <= alpha) & (out["groups_significant"] == 0)],
        ["insufficient_data", "predicts", "harmful", "equivalent"], default="unproven")
    return out[columns]


def compute_qa_form_audit(
    evaluations: pd.DataFrame,
    qa_form: pd.DataFrame,
    drivers: pd.DataFrame,
    *,
    ceiling: float = 0.95,
    kpis: tuple[str, ...] = DEFAULT_KPIS,
    smallest_effects: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row per behaviour on the form: adoption, ceiling, driver evidence, advice.

    Parameters
    ----------
    evaluations
        One row per evaluation, a score column per behaviour.
    qa_form
        The validated QA form.
    drivers
        :func:`cxreports.analyses.drivers.compute_drivers` output; the finest
        grouping present is pooled (:func:`compute_behaviour_evidence`).
    ceiling
        Adoption at or above which a behaviour is a ceiling item.
    smallest_effects
        Per KPI, the smallest effect worth scoring (:data:`SMALLEST_EFFECTS`
        by default).

    Returns
    -------
    pd.DataFrame
        ``behavior_id``, ``label``, ``kind``, ``weight``, ``n_evaluations``
        (applicable), ``applicable_share``, ``adoption`` (mean score where
        applicable), ``is_ceiling``, ``groups_tested`` and
        ``groups_driver`` (group-KPI models with enough data / with a driver
        verdict, relationship KPIs only), ``kpis_driven`` (KPIs the pooled
        evidence says it predicts, in the better direction), ``kpis_harmful``,
        ``kpis_unproven``, ``verdict`` (``predicts``, ``harmful``,
        ``predicts_nothing``, ``unproven`` or ``insufficient_data``),
        ``predicts_nothing`` (True only when every KPI's effect is shown to
        be smaller than its smallest effect of interest) and
        ``recommendation``.
    """
    rows = []
    d = drivers[drivers["kpi"].isin(kpis)]
    evidence = compute_behaviour_evidence(d, kpis=kpis, smallest_effects=smallest_effects,
                                          alpha=alpha)
    total = len(evaluations)
    for form in qa_form.itertuples(index=False):
        b = form.behavior_id
        scores = evaluations[b] if b in evaluations else pd.Series(dtype=float)
        applicable = scores.notna()
        mine = d[d["behavior_id"] == b]
        tested = mine[mine["verdict"] != "insufficient_data"]
        driving = tested[tested["verdict"] == "driver"]
        calls = evidence[evidence["behavior_id"] == b].set_index("kpi")["call"]
        adoption = float(scores[applicable].mean()) if applicable.any() else np.nan
        is_ceiling = bool(adoption >= ceiling) if applicable.any() else False
        driven = sorted(calls.index[calls == "predicts"])
        harmful = sorted(calls.index[calls == "harmful"])
        unproven = sorted(calls.index[calls.isin(["unproven", "insufficient_data"])])
        estimated = calls[calls != "insufficient_data"]
        predicts_nothing = bool(len(estimated) == len(kpis) and (estimated == "equivalent").all())
        if driven:
            verdict = "predicts"
        elif harmful:
            verdict = "harmful"
        elif predicts_nothing:
            verdict = "predicts_nothing"
        elif len(estimated):
            verdict = "unproven"
        else:
            verdict = "insufficient_data"
        if verdict == "insufficient_data":
            advice = "not enough data to judge yet"
        elif verdict == "predicts" and is_ceiling:
            advice = "keep as a standard; nearly always shown, so it cannot rank agents"
        elif verdict == "predicts":
            advice = "keep: predicts " + ", ".join(driven)
        elif verdict == "harmful":
            advice = ("check the definition: customers do worse when it is scored as shown ("
                      + ", ".join(harmful) + ")")
        elif predicts_nothing and is_ceiling:
            advice = "review: nearly always shown, and shown to move no outcome"
        elif predicts_nothing:
            advice = ("review: shown to move no customer outcome by a meaningful amount; "
                      "reword toward intent or drop")
        else:
            advice = ("unproven: the data cannot yet tell whether it matters ("
                      + ", ".join(unproven) + "); keep scoring it")
        rows.append({
            "behavior_id": b, "label": form.label, "kind": form.kind,
            "weight": getattr(form, "weight", np.nan),
            "n_evaluations": int(applicable.sum()),
            "applicable_share": applicable.sum() / total if total else np.nan,
            "adoption": adoption, "is_ceiling": is_ceiling,
            "groups_tested": len(tested), "groups_driver": len(driving),
            "kpis_driven": ", ".join(driven), "kpis_harmful": ", ".join(harmful),
            "kpis_unproven": ", ".join(unproven), "verdict": verdict,
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
