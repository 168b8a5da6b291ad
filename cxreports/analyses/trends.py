"""Behaviour trends: each agent's month against their rolling 3-month baseline.

For every agent and behaviour, the share of applicable evaluations in which
the behaviour was shown this month is compared with the same share over the
three months before. The interval is Agresti-Caffo's (add one success and
one failure to each side), which behaves at the small counts a month of QA
gives (Agresti, A. & Caffo, B. (2000). Simple and effective confidence
intervals for proportions and differences of proportions result from adding
two successes and two failures. The American Statistician 54(4), 280-288).
A change is flagged only when its Benjamini-Hochberg q-value across all the
agent-behaviour pairs tested is at most ``alpha``: with hundreds of pairs a
month, unadjusted 5% tests would flag dozens of changes that are noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from ..core.periods import Period, parse_period
from .stats import bh_qvalues

__all__ = ["TREND_COLUMNS", "compute_behaviour_trends"]

TREND_COLUMNS = [
    "agent_id", "behavior_id", "period_mean", "period_n", "baseline_mean", "baseline_n",
    "change", "ci_low", "ci_high", "p_value", "q_value", "trend",
]


def compute_behaviour_trends(
    evaluations: pd.DataFrame,
    *,
    period: str | Period,
    behaviors: list[str],
    min_evaluations: int = 3,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per agent and behaviour: this month against the three months before.

    Parameters
    ----------
    evaluations
        One row per evaluation with ``agent_id``, ``period`` (``YYYY-MM``) and
        a score column per behaviour (NaN = not applicable), e.g.
        :func:`cxreports.analyses.evaluations.evaluations_with_team`.
    period
        The reporting month.
    min_evaluations
        Applicable evaluations needed on each side to test a change.

    Returns
    -------
    pd.DataFrame
        One row per (agent, behaviour): ``period_mean``, ``period_n``,
        ``baseline_mean``, ``baseline_n``, ``change`` (month minus
        baseline), ``ci_low``, ``ci_high`` (95%, Agresti-Caffo), ``p_value``,
        ``q_value`` and ``trend``: ``improved`` / ``declined`` (q <= alpha),
        ``steady``, or ``insufficient_data``.
    """
    period = parse_period(period)
    baseline = [str(p) for p in period.baseline()]
    ev = evaluations[evaluations["period"].isin([str(period), *baseline])]
    long = ev.melt(id_vars=["agent_id", "period"], value_vars=behaviors,
                   var_name="behavior_id", value_name="score").dropna(subset=["score"])
    long["side"] = np.where(long["period"] == str(period), "period", "baseline")
    agg = long.groupby(["agent_id", "behavior_id", "side"])["score"].agg(["mean", "count", "sum"])
    wide = agg.unstack("side")
    wide.columns = [f"{side}_{stat}" for stat, side in wide.columns]
    for col in ("period_mean", "period_count", "period_sum", "baseline_mean", "baseline_count",
                "baseline_sum"):
        if col not in wide:
            wide[col] = np.nan
    out = wide.reset_index()
    n1 = out["period_count"].fillna(0).to_numpy(float)
    n0 = out["baseline_count"].fillna(0).to_numpy(float)
    x1 = out["period_sum"].fillna(0).to_numpy(float)
    x0 = out["baseline_sum"].fillna(0).to_numpy(float)
    p1, p0 = (x1 + 1) / (n1 + 2), (x0 + 1) / (n0 + 2)
    se = np.sqrt(p1 * (1 - p1) / (n1 + 2) + p0 * (1 - p0) / (n0 + 2))
    z = st.norm.ppf(0.975)
    diff = p1 - p0
    enough = (n1 >= min_evaluations) & (n0 >= min_evaluations)
    result = pd.DataFrame({
        "agent_id": out["agent_id"],
        "behavior_id": out["behavior_id"],
        "period_mean": out["period_mean"],
        "period_n": n1.astype(int),
        "baseline_mean": out["baseline_mean"],
        "baseline_n": n0.astype(int),
        "change": out["period_mean"] - out["baseline_mean"],
        "ci_low": np.where(enough, diff - z * se, np.nan),
        "ci_high": np.where(enough, diff + z * se, np.nan),
        "p_value": np.where(enough, 2 * st.norm.sf(np.abs(diff / se)), np.nan),
    })
    result["q_value"] = bh_qvalues(result["p_value"])
    result["trend"] = np.select(
        [~enough, (result["q_value"] <= alpha) & (diff > 0), (result["q_value"] <= alpha)],
        ["insufficient_data", "improved", "declined"], default="steady")
    return result[TREND_COLUMNS].sort_values(["agent_id", "behavior_id"]).reset_index(drop=True)
