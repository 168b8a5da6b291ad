"""KPI summaries with intervals, and their comparison with targets.

Relationship outcomes first: CSAT (mean and top-box), NPS, FCR, customer
effort. AHT is reported, never the headline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from ..core.kpis import KPI, KPIS
from ..data.sql import sql_identifier
from .stats import mean_interval_from, nps_interval_from, wilson_interval

__all__ = [
    "KPI_SUMMARY_COLUMNS",
    "compare_kpi_to_baseline",
    "compare_to_targets",
    "compute_kpi_summary",
    "kpi_stat_columns",
    "kpi_stats",
    "kpi_stats_sql",
    "summarise_kpi_stats",
]

KPI_SUMMARY_COLUMNS = ["kpi", "value", "ci_low", "ci_high", "n", "enough_data"]


def _stat_expressions() -> dict[str, tuple[str, str]]:
    """Each additive statistic: its column name -> (source column, what is added up).

    Per KPI column: answers (``n``), ``sum`` and ``sumsq``; plus the counts
    a KPI's ``summary`` needs (top-box answers, promoters, detractors).
    """
    out: dict[str, tuple[str, str]] = {}
    for spec in KPIS:
        c = spec.column
        out.update({f"n__{c}": (c, "n"), f"sum__{c}": (c, "sum"), f"sumsq__{c}": (c, "sumsq")})
        if spec.summary == "top_box":
            out[f"top_box__{c}"] = (c, "top_box")
        elif spec.summary == "nps":
            out[f"promoters__{c}"] = (c, "promoters")
            out[f"detractors__{c}"] = (c, "detractors")
    return out


def kpi_stat_columns() -> list[str]:
    """The additive statistics every KPI summary is made from (sums, so groups combine)."""
    return list(_stat_expressions())


_SQL_STAT = {
    "n": "count({x})", "sum": "coalesce(sum({x}), 0)", "sumsq": "coalesce(sum({x} * {x}), 0)",
    "top_box": "count(*) FILTER (WHERE {x} >= 4)",
    "promoters": "count(*) FILTER (WHERE {x} >= 9)",
    "detractors": "count(*) FILTER (WHERE {x} <= 6)",
}


def kpi_stats_sql(relation: str, *, group_by: list[str], where: str = "TRUE",
                  drop_empty: bool = True) -> str:
    """SQL giving :func:`kpi_stats` per group of ``relation`` (contact rows) in the database.

    Only counts and sums leave the database, so a summary of millions of
    contacts needs memory for its groups, not its rows. With ``drop_empty``
    rows with an empty group value are left out, as ``groupby`` leaves them
    out; a ``contacts`` column counts the rows of each group.
    """
    parts = ["count(*) AS contacts"] + [
        _SQL_STAT[stat].format(x=f"CAST({sql_identifier(column)} AS DOUBLE)") + f" AS {name}"
        for name, (column, stat) in _stat_expressions().items()]
    keys = ", ".join(sql_identifier(g) for g in group_by)
    conditions = [where]
    if drop_empty:
        conditions += [f"{sql_identifier(g)} IS NOT NULL" for g in group_by]
    return (f"SELECT {keys + ', ' if keys else ''}{', '.join(parts)} FROM {relation} "
            f"WHERE {' AND '.join(conditions)}"
            + (f" GROUP BY {keys} ORDER BY {keys}" if keys else ""))


def kpi_stats(contacts: pd.DataFrame, *, group_by: list[str]) -> pd.DataFrame:
    """Per group of contact rows, the additive statistics of :func:`kpi_stat_columns`
    (and ``contacts``, the rows counted); in pandas, as :func:`kpi_stats_sql` in SQL.

    A KPI column the frame lacks has no statistics (its summaries say not
    enough data)."""
    frames = {"contacts": pd.Series(1, index=contacts.index, dtype=np.int64)}
    for name, (column, stat) in _stat_expressions().items():
        if column not in contacts.columns:
            continue
        x = pd.to_numeric(contacts[column].astype("float"), errors="coerce")
        frames[name] = {
            "n": lambda v: v.notna().astype(np.int64), "sum": lambda v: v.fillna(0.0),
            "sumsq": lambda v: (v * v).fillna(0.0),
            "top_box": lambda v: (v >= 4).astype(np.int64),
            "promoters": lambda v: (v >= 9).astype(np.int64),
            "detractors": lambda v: (v <= 6).astype(np.int64),
        }[stat](x)
    wide = pd.DataFrame(frames, index=contacts.index)
    if not group_by:
        return wide.sum().to_frame().T
    wide[group_by] = contacts[group_by]
    return wide.groupby(group_by, dropna=True, sort=True).sum().reset_index()


def _summary_value(spec: KPI, row: dict, deff: float = 1.0,
                   n_agents: int = 0) -> tuple[float, float, float, int]:
    """(value, ci_low, ci_high, n) of one KPI from its sums, as its ``summary`` says.

    ``deff`` (at least 1) widens the interval for contacts clustered in
    agents: a mean's t interval uses the variance times ``deff`` on
    ``n_agents - 1`` degrees of freedom; shares and NPS use an effective
    sample size ``n / deff`` (Korn & Graubard 1998).
    """
    c = spec.column
    n = int(row[f"n__{c}"])
    if spec.summary == "mean":
        total, squares = float(row[f"sum__{c}"]), float(row[f"sumsq__{c}"])
        mean = total / n if n else np.nan
        variance = max(squares - total * total / n, 0.0) / (n - 1) if n > 1 else np.nan
        if deff > 1 and n_agents >= 2 and n > 1:
            half = st.t.ppf(0.975, n_agents - 1) * np.sqrt(variance * deff / n)
            return (float(mean), float(mean - half), float(mean + half), n)
        return mean_interval_from(n, mean, variance)
    n_eff = n / deff if n else 0
    if spec.summary == "nps":
        if deff > 1 and n:
            value, low, high, _ = nps_interval_from(
                row[f"promoters__{c}"] / deff, row[f"detractors__{c}"] / deff, n_eff)
            return (100 * (row[f"promoters__{c}"] - row[f"detractors__{c}"]) / n, low, high, n)
        return nps_interval_from(row[f"promoters__{c}"], row[f"detractors__{c}"], n)
    hits = float(row[f"top_box__{c}"] if spec.summary == "top_box" else row[f"sum__{c}"])
    lo, hi = wilson_interval(hits / deff, n_eff) if deff > 1 else wilson_interval(hits, n)
    return (hits / n if n else np.nan, float(lo), float(hi), n)


def _hits_column(spec: KPI) -> list[tuple[str, float]]:
    """The sums whose combination is a KPI's per-contact value (NPS: promoters - detractors)."""
    c = spec.column
    if spec.summary == "nps":
        return [(f"promoters__{c}", 1.0), (f"detractors__{c}", -1.0)]
    if spec.summary == "top_box":
        return [(f"top_box__{c}", 1.0)]
    return [(f"sum__{c}", 1.0)]


def _design_effect(spec: KPI, agents: pd.DataFrame) -> tuple[float, int]:
    """Design effect of clustering in agents for one KPI of one group, and the agents counted.

    ``agents`` has one row of sums per agent. The cluster-robust variance of
    a ratio mean ``sum y / sum n`` is ``G/(G-1) sum_g (y_g - v n_g)^2 / N^2``
    (Cameron & Miller 2015); divided by the independent-contacts variance,
    floored at 1, so the interval is never narrower than the one that
    treats contacts as independent (Kish, L. (1965). Survey Sampling, ch. 8).
    """
    c = spec.column
    n_g = agents[f"n__{c}"].to_numpy(float)
    y_g = sum(w * agents[col].to_numpy(float) for col, w in _hits_column(spec))
    used = n_g > 0
    g, big_n = int(used.sum()), float(n_g.sum())
    if g < 2 or big_n < 2:
        return 1.0, g
    v = float(y_g.sum() / big_n)
    var_cl = g / (g - 1) * float(np.sum((y_g[used] - v * n_g[used]) ** 2)) / big_n**2
    if spec.summary == "mean":
        total = float(agents[f"sum__{c}"].sum())
        squares = float(agents[f"sumsq__{c}"].sum())
        var_iid = max(squares - total * total / big_n, 0.0) / (big_n - 1) / big_n
    elif spec.summary == "nps":
        p = float(agents[f"promoters__{c}"].sum()) / big_n
        d = float(agents[f"detractors__{c}"].sum()) / big_n
        var_iid = max(p + d - (p - d) ** 2, 0.0) / big_n
    else:
        var_iid = v * (1 - v) / big_n
    if var_iid <= 0:
        return 1.0, g
    return max(1.0, var_cl / var_iid), g


def summarise_kpi_stats(stats: pd.DataFrame, *, group_by: list[str],
                        min_responses: int = 30) -> pd.DataFrame:
    """:func:`compute_kpi_summary`'s frame from :func:`kpi_stats` rows of any finer grain.

    Rows are first added up within each ``group_by`` group (statistics per
    agent and month can be summarised per team, site or vendor directly).
    With an ``agent_id`` column (and ``group_by`` coarser than an agent),
    intervals are clustered by agent: an agent's customers share that agent,
    so a team's contacts are not independent and intervals that pretend
    they are are too narrow (see :func:`_design_effect`); ``n_agents`` and
    ``design_effect`` say by how much.
    """
    columns = kpi_stat_columns()
    cluster = "agent_id" in stats.columns and "agent_id" not in group_by
    keep = [*group_by, "agent_id"] if cluster else list(group_by)
    stats = stats.reindex(columns=[*keep, *columns], fill_value=0)
    if cluster:
        per_agent = stats.dropna(subset=keep).groupby(keep, sort=True)[columns].sum() \
            .reset_index()
    if group_by:
        stats = stats.dropna(subset=group_by).groupby(group_by, sort=True)[columns].sum()
        stats = stats.reset_index()
    elif len(stats) != 1:
        stats = stats[columns].sum().to_frame().T
    rows = []
    for row in stats.to_dict("records"):
        if cluster:
            mask = np.ones(len(per_agent), dtype=bool)
            for g in group_by:
                mask &= (per_agent[g] == row[g]).to_numpy()
            agents = per_agent[mask]
        for spec in KPIS:
            deff, g = _design_effect(spec, agents) if cluster else (1.0, 0)
            value, low, high, n = _summary_value(spec, row, deff, g)
            rows.append({**{g_: row[g_] for g_ in group_by}, "kpi": spec.name, "value": value,
                         "ci_low": low, "ci_high": high, "n": int(n),
                         "enough_data": bool(n >= min_responses),
                         "n_agents": g if cluster else np.nan, "design_effect": deff})
    return pd.DataFrame(rows, columns=[*group_by, *KPI_SUMMARY_COLUMNS, "n_agents",
                                       "design_effect"])


def compute_kpi_summary(
    contacts: pd.DataFrame,
    *,
    group_by: list[str] | str | None = None,
    min_responses: int = 30,
) -> pd.DataFrame:
    """CSAT, top-box, NPS, FCR, CES and AHT per group, each with a 95% interval.

    Intervals: t for means (CSAT, CES, AHT), Wilson for shares (top-box,
    FCR), Wald for NPS (:func:`cxreports.analyses.stats.nps_interval`);
    with an ``agent_id`` column, clustered by agent (see
    :func:`summarise_kpi_stats`). A
    value from fewer than ``min_responses`` responses has ``enough_data``
    False; reports then say "not enough data" instead of the number. Which
    KPIs and how each is summarised comes from the KPI catalogue.

    Returns
    -------
    pd.DataFrame
        The ``group_by`` columns, then ``kpi``, ``value`` (CSAT 1-5, shares
        0-1, NPS -100..100, CES 1-7, AHT seconds), ``ci_low``, ``ci_high``,
        ``n`` (responses or contacts), ``enough_data``, ``n_agents`` and
        ``design_effect`` (1 without clustering).

    Examples
    --------
    >>> contacts = pd.DataFrame({"csat": [5, 4, None], "nps": [10, 3, None],
    ...     "fcr": [True, False, None], "ces": [6, 5, None], "aht_seconds": [300, 200, 400]})
    >>> float(compute_kpi_summary(contacts, min_responses=2).set_index("kpi").loc["nps", "value"])
    0.0
    """
    group_by = [group_by] if isinstance(group_by, str) else list(group_by or [])
    by = [*group_by, "agent_id"] if "agent_id" in contacts and "agent_id" not in group_by \
        else group_by
    return summarise_kpi_stats(kpi_stats(contacts, group_by=by), group_by=group_by,
                               min_responses=min_responses)


def compare_to_targets(
    summary: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    site: str | None = None,
    vendor: str | None = None,
) -> pd.DataFrame:
    """Attach each KPI's target, the distance to it, and a red / amber / green status.

    The most specific target wins: ``site`` scope, then ``vendor``, then
    ``all``. The distance is in the KPI's own units (CSAT points, NPS
    points, FCR as a share, shown as percentage points), signed so that
    positive is on the good side of the target, with the interval of the
    value carried over. Status: ``green`` when the value meets the target;
    ``amber`` when it misses but its interval still reaches the target (the
    data cannot tell it from on-target); ``red`` when the whole interval
    misses; ``not_a_goal`` for a KPI that is reported but never a goal
    (handle time: see the catalogue's ``headline``), whatever its target;
    ``insufficient_data`` when the value is not shown; ``no_target``
    without a target. A fixed percentage margin is not used: 5% of a CSAT
    target is a fifth of a point, 5% of an NPS target of 20 one point.

    Returns
    -------
    pd.DataFrame
        ``summary`` plus ``target``, ``direction``, ``distance``,
        ``distance_ci_low``, ``distance_ci_high`` and ``status``.
    """
    out = summary.copy()
    t = targets.copy()
    headline = out["kpi"].map({k.name: k.headline for k in KPIS}).fillna(False).astype(bool)
    if "scope" not in t or t.empty:
        out["target"], out["direction"] = np.nan, None
        out["distance"] = out["distance_ci_low"] = out["distance_ci_high"] = np.nan
        out["status"] = np.where(headline, "no_target", "not_a_goal")
        return out
    t["scope"] = t["scope"].fillna("all")
    rank = pd.Series(np.nan, index=t.index)
    rank[t["scope"] == "all"] = 0
    if vendor is not None:
        rank[(t["scope"] == "vendor") & (t["scope_value"] == vendor)] = 1
    if site is not None:
        rank[(t["scope"] == "site") & (t["scope_value"] == site)] = 2
    t = t.assign(rank=rank).dropna(subset=["rank"]).sort_values("rank")
    chosen = t.drop_duplicates("kpi", keep="last").set_index("kpi")
    out["target"] = out["kpi"].map(chosen["target"])
    # A target row may name its direction; otherwise the catalogue's better direction.
    better = out["kpi"].map({k.name: k.better for k in KPIS})
    out["direction"] = out["kpi"].map(chosen["direction"]).fillna(better)
    sign = np.where(out["direction"] == "lower", -1.0, 1.0)
    out["distance"] = sign * (out["value"] - out["target"])
    ends = np.sort(np.column_stack([sign * (out["ci_low"] - out["target"]),
                                    sign * (out["ci_high"] - out["target"])]), axis=1)
    out["distance_ci_low"], out["distance_ci_high"] = ends[:, 0], ends[:, 1]
    shown = out["enough_data"].astype(bool) & out["value"].notna()
    out["status"] = np.select(
        [~headline, out["target"].isna(), ~shown, out["distance"] >= 0,
         out["distance_ci_high"] >= 0],
        ["not_a_goal", "no_target", "insufficient_data", "green", "amber"], default="red")
    hidden = ~shown | out["target"].isna()
    out.loc[hidden, ["distance", "distance_ci_low", "distance_ci_high"]] = np.nan
    return out


def compare_kpi_to_baseline(
    current: pd.DataFrame, baseline: pd.DataFrame, *, on: list[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """This month's KPIs against the baseline months', with the change and its interval.

    Both frames come from :func:`compute_kpi_summary` (same ``group_by``). The
    change's interval combines the two intervals' standard errors (they are
    different contacts, so independent). ``trend`` is ``up`` or ``down``
    when the interval excludes zero, ``steady`` when it does not, and
    ``insufficient_data`` when either side lacks enough responses.

    Returns
    -------
    pd.DataFrame
        ``current`` plus ``baseline_value``, ``change``, ``change_ci_low``,
        ``change_ci_high`` and ``trend``.
    """
    from scipy import stats as st

    keys = [*(on or []), "kpi"]
    base = baseline[[*keys, "value", "ci_low", "ci_high", "enough_data"]].rename(columns={
        "value": "baseline_value", "ci_low": "_b_low", "ci_high": "_b_high",
        "enough_data": "_b_enough"})
    out = current.merge(base, on=keys, how="left")
    z = st.norm.ppf(0.5 + level / 2)
    se_now = (out["ci_high"] - out["ci_low"]) / (2 * z)
    se_base = (out["_b_high"] - out["_b_low"]) / (2 * z)
    se = np.sqrt(se_now**2 + se_base**2)
    out["change"] = out["value"] - out["baseline_value"]
    out["change_ci_low"] = out["change"] - z * se
    out["change_ci_high"] = out["change"] + z * se
    enough = out["enough_data"] & out["_b_enough"].fillna(False).astype(bool)
    out["trend"] = np.select(
        [~enough, out["change_ci_low"] > 0, out["change_ci_high"] < 0],
        ["insufficient_data", "up", "down"], default="steady")
    return out.drop(columns=["_b_low", "_b_high", "_b_enough"])
