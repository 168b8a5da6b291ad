"""Agent rankings: are the top agents by QA also the top agents by the KPI?

A QA form is worth its place when the agents it rates best are the agents
customers rate best. Agent means are shrunk toward their group's mean before
ranking (:func:`cxreports.analyses.stats.shrink_means`) so that an agent with three
lucky surveys does not top the list, and agents below a minimum count are
left out rather than ranked on noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from ..core.kpis import kpi as kpi_spec
from .kpi_summary import kpi_stats
from .stats import shrink_means

__all__ = ["OVERLAP_COLUMNS", "compute_top_overlap", "rank_agents"]

OVERLAP_COLUMNS = [
    "group_by", "group", "kpi", "top_n", "n_agents", "overlap", "expected_overlap", "jaccard",
    "spearman", "spearman_ci_low", "spearman_ci_high", "p_value", "verdict",
]


def rank_agents(
    evaluations: pd.DataFrame,
    contacts: pd.DataFrame,
    *,
    kpi: str,
    group_by: str | None = None,
    min_evaluations: int = 5,
    min_responses: int = 10,
) -> pd.DataFrame:
    """Per agent: shrunk QA score and shrunk KPI, with their ranks in the group.

    Parameters
    ----------
    evaluations
        :func:`cxreports.analyses.evaluations.evaluations_with_team` rows (``qa_score``).
    contacts
        :func:`cxreports.analyses.evaluations.contacts_with_team` rows, or
        their sums per agent at any finer grain
        (:func:`cxreports.analyses.kpi_summary.kpi_stats` rows with
        ``agent_id`` and the ``group_by`` column), which is what
        :class:`~cxreports.analyses.analysis.Analysis` passes so contacts
        never enter memory.
    kpi
        KPI column of ``contacts``.
    group_by
        Team column to rank within; ``None`` ranks everyone together.

    Returns
    -------
    pd.DataFrame
        ``group_by``, ``group``, ``agent_id``, ``n_evaluations``,
        ``qa_mean``, ``qa_shrunk``, ``n_responses``, ``kpi_mean``,
        ``kpi_shrunk``, ``eligible`` (both minimums met), ``qa_rank`` and
        ``kpi_rank`` (1 = best, among eligible agents; better AHT is lower;
        ties share their average rank).
    """
    label = group_by or "all"
    ev = evaluations.assign(group=evaluations[group_by] if group_by else "all")
    ev = ev.dropna(subset=["qa_score", "group"])
    qa = ev.groupby(["group", "agent_id"])["qa_score"].agg(["mean", "var", "count"])
    qa.columns = ["qa_mean", "qa_var", "n_evaluations"]
    if f"n__{kpi}" not in contacts.columns:
        contacts = kpi_stats(contacts, group_by=[c for c in ("agent_id", group_by) if c])
    co = contacts.assign(group=contacts[group_by] if group_by else "all").dropna(
        subset=["group"])
    s = co.groupby(["group", "agent_id"])[[f"n__{kpi}", f"sum__{kpi}", f"sumsq__{kpi}"]].sum()
    n, total, squares = (s[f"{p}__{kpi}"].astype(float) for p in ("n", "sum", "sumsq"))
    k = pd.DataFrame({"kpi_mean": total / n,
                      "kpi_var": ((squares - total * total / n).clip(lower=0) / (n - 1))
                      .where(n > 1),
                      "n_responses": n})[n > 0]
    out = qa.join(k, how="outer").reset_index()
    out[["n_evaluations", "n_responses"]] = out[["n_evaluations", "n_responses"]].fillna(0)
    frames = []
    for _, part in out.groupby("group", sort=True):
        part = part.copy()
        # Within-agent variance pooled across agents: one agent's few scores
        # cannot estimate their own noise.
        qa_noise = float(np.nanmean(part["qa_var"])) if part["qa_var"].notna().any() else 0.0
        kpi_noise = float(np.nanmean(part["kpi_var"])) if part["kpi_var"].notna().any() else 0.0
        part["qa_shrunk"] = shrink_means(part["qa_mean"], part["n_evaluations"], qa_noise)
        part["kpi_shrunk"] = shrink_means(part["kpi_mean"], part["n_responses"], kpi_noise)
        part["eligible"] = ((part["n_evaluations"] >= min_evaluations)
                            & (part["n_responses"] >= min_responses))
        el = part["eligible"]
        lower_better = kpi_spec(kpi).better == "lower"
        # Tied scores share the average rank (shrinkage ties every agent when the
        # groups do not differ beyond noise): the order of rows never decides.
        part["qa_rank"] = part.loc[el, "qa_shrunk"].rank(ascending=False, method="average")
        part["kpi_rank"] = part.loc[el, "kpi_shrunk"].rank(ascending=lower_better,
                                                           method="average")
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=["group_by", "group", "agent_id"])
    ranked = pd.concat(frames, ignore_index=True)
    ranked.insert(0, "group_by", label)
    ranked[["n_evaluations", "n_responses"]] = ranked[["n_evaluations", "n_responses"]].astype(int)
    return ranked[["group_by", "group", "agent_id", "n_evaluations", "qa_mean", "qa_shrunk",
                   "n_responses", "kpi_mean", "kpi_shrunk", "eligible", "qa_rank", "kpi_rank"]]


def _resample_ranks(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(values[draws], axis=1)`` (average ranks), by counting.

    A value's average rank in a resample is the number of draws at or below
    it less half its own ties: a count per distinct value instead of a sort
    per resample, and the same half-integers.
    """
    distinct, codes = np.unique(values, return_inverse=True)
    k = len(distinct)
    drawn = codes[draws]
    counts = np.bincount((np.arange(len(draws))[:, None] * k + drawn).ravel(),
                         minlength=len(draws) * k).reshape(len(draws), k)
    average = np.cumsum(counts, axis=1) - (counts - 1) / 2
    return np.take_along_axis(average, drawn, axis=1)


def _bootstrap_spearman(x: np.ndarray, y: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Spearman's rho of each resample (a row of ``draws`` indexes agents), all at once.

    Resamples where either variable is constant have no correlation and are dropped.
    """
    xs, ys = x[draws], y[draws]
    ok = (np.ptp(xs, axis=1) > 0) & (np.ptp(ys, axis=1) > 0)
    rx, ry = _resample_ranks(x, draws[ok]), _resample_ranks(y, draws[ok])
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    return (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))


def compute_top_overlap(
    rankings: pd.DataFrame,
    *,
    kpi: str,
    top_n: int = 20,
    min_agents: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Overlap of the top-N by QA and the top-N by the KPI, per group.

    ``top_n`` shrinks to a third of the eligible agents where a group is
    small, so the top is still a top. The Spearman rank correlation between
    shrunk QA score and shrunk KPI has a percentile bootstrap interval over
    agents (Efron, B. & Tibshirani, R. (1993). An Introduction to the
    Bootstrap, ch. 13). ``expected_overlap`` is the overlap two unrelated
    rankings would give (``top_n^2 / n_agents``).

    Returns
    -------
    pd.DataFrame
        One row per group: ``group_by``, ``group``, ``kpi``, ``top_n``,
        ``n_agents`` (eligible), ``overlap``, ``expected_overlap``,
        ``jaccard``, ``spearman``, ``spearman_ci_low``, ``spearman_ci_high``,
        ``p_value`` and ``verdict`` (``aligned`` when the interval is above
        zero, ``not_aligned`` when it is not, ``insufficient_data`` below
        ``min_agents`` eligible agents, or when either ranking ties every agent,
        so that measure does not tell these agents apart and no rank correlation
        is defined: their means were equal, or shrinkage pulled them all to the
        grand mean because the group shows no difference between agents beyond
        chance; also when no correlation or interval could be computed).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for (label, group), part in rankings.groupby(["group_by", "group"], sort=True):
        el = part[part["eligible"]]
        n_agents = len(el)
        n = int(min(top_n, max(n_agents // 3, 1)))
        row = {"group_by": label, "group": group, "kpi": kpi, "top_n": n, "n_agents": n_agents,
               "overlap": np.nan, "expected_overlap": np.nan, "jaccard": np.nan,
               "spearman": np.nan, "spearman_ci_low": np.nan, "spearman_ci_high": np.nan,
               "p_value": np.nan, "verdict": "insufficient_data"}
        ranked = el["qa_rank"].nunique() > 1 and el["kpi_rank"].nunique() > 1
        if n_agents >= min_agents and ranked:
            # Top n by rank; among tied ranks, by agent id (stable, not row order).
            top_qa = set(el.sort_values(["qa_rank", "agent_id"]).head(n)["agent_id"])
            top_kpi = set(el.sort_values(["kpi_rank", "agent_id"]).head(n)["agent_id"])
            both = len(top_qa & top_kpi)
            x, y = el["qa_rank"].to_numpy(float), el["kpi_rank"].to_numpy(float)
            rho, p = st.spearmanr(x, y)
            boots = _bootstrap_spearman(x, y, rng.integers(0, n_agents, (n_boot, n_agents)))
            low, high = (np.percentile(boots, [2.5, 97.5]) if len(boots) else (np.nan, np.nan))
            if np.isnan(rho) or np.isnan(low):  # a NaN interval is not evidence of anything
                rows.append(row)
                continue
            row.update(overlap=both, expected_overlap=n * n / n_agents,
                       jaccard=both / len(top_qa | top_kpi), spearman=float(rho),
                       spearman_ci_low=float(low), spearman_ci_high=float(high),
                       p_value=float(p), verdict="aligned" if low > 0 else "not_aligned")
        rows.append(row)
    return pd.DataFrame(rows, columns=OVERLAP_COLUMNS)
