"""Behaviour trends: each agent's month against their rolling 3-month baseline.

For every agent and behaviour, the share of applicable evaluations in which
the behaviour was shown this month is compared with the same share over the
three months before. The interval is Agresti-Caffo's (add one success and
one failure to each side), which behaves at the small counts a month of QA
gives (Agresti, A. & Caffo, B. (2000). Simple and effective confidence
intervals for proportions and differences of proportions result from adding
two successes and two failures. The American Statistician 54(4), 280-288).
A change is flagged only when its Benjamini-Hochberg q-value is at most
``alpha`` within the family a supervisor acts on: by default one agent's
behaviours (``family="agent"``), the card a supervisor reads when deciding
what to say to that agent. Correcting across every agent-behaviour pair in
the company (about 1,200 in the demo) would demand a p-value near 0.00004
for the first flag, so with a dozen evaluations an agent-month even a fall
from 58% to 8% would read "within noise"; within the agent, the bar is
alpha/10 for the clearest of ten behaviours, and the false discovery rate
is still controlled for each card. ``family="team"`` (per supervisor) or
``"all"`` are there for stricter uses (Benjamini, Y. & Hochberg, Y. (1995).
JRSS B 57(1), 289-300; on choosing the family: Efron, B. (2008).
Simultaneous inference: when should hypothesis testing problems be
combined? Annals of Applied Statistics 2(1), 197-223).

Months are those of the evaluated contacts (``period`` of
:func:`cxreports.analyses.evaluations.evaluations_with_team`), so QA's lag
does not carry one month's behaviour into the next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from ..core.periods import Period, parse_period
from .stats import bh_qvalues, bh_qvalues_by

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
    family: str = "agent",
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
    family
        Where false discoveries are controlled: ``agent`` (each agent's
        behaviours; default), ``team`` (each supervisor's agents, by the
        team in the month) or ``all``.

    Returns
    -------
    pd.DataFrame
        One row per (agent, behaviour): ``period_mean``, ``period_n``,
        ``baseline_mean``, ``baseline_n``, ``change`` (month minus
        baseline), ``ci_low``, ``ci_high`` (95%, Agresti-Caffo), ``p_value``,
        ``q_value`` (BH within ``family``) and ``trend``: ``improved`` /
        ``declined`` (q <= alpha), ``steady``, or ``insufficient_data``.
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
    if family not in ("agent", "team", "all"):
        raise ValueError(f"family must be agent, team or all, not {family!r}")
    if family == "all":
        result["q_value"] = bh_qvalues(result["p_value"])
    else:
        if family == "agent":
            key = result["agent_id"]
        else:
            now = ev[ev["period"] == str(period)]
            teams = now.sort_values("period").groupby("agent_id")["supervisor_id"].last()
            key = result["agent_id"].map(teams).fillna("")
        result["q_value"] = bh_qvalues_by(result["p_value"], key)
    result["trend"] = np.select(
        [~enough, (result["q_value"] <= alpha) & (diff > 0), (result["q_value"] <= alpha)],
        ["insufficient_data", "improved", "declined"], default="steady")
    return result[TREND_COLUMNS].sort_values(["agent_id", "behavior_id"]).reset_index(drop=True)
