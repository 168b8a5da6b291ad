"""KPI summaries with intervals, and their comparison with targets.

Relationship outcomes first: CSAT (mean and top-box), NPS, FCR, customer
effort. AHT is reported, never the headline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _summary_value(spec: KPI, row: dict) -> tuple[float, float, float, int]:
    """(value, ci_low, ci_high, n) of one KPI from its sums, as its ``summary`` says."""
    c = spec.column
    n = int(row[f"n__{c}"])
    if spec.summary == "mean":
        total, squares = float(row[f"sum__{c}"]), float(row[f"sumsq__{c}"])
        mean = total / n if n else np.nan
        variance = max(squares - total * total / n, 0.0) / (n - 1) if n > 1 else np.nan
        return mean_interval_from(n, mean, variance)
    if spec.summary == "nps":
        return nps_interval_from(row[f"promoters__{c}"], row[f"detractors__{c}"], n)
    hits = float(row[f"top_box__{c}"] if spec.summary == "top_box" else row[f"sum__{c}"])
    lo, hi = wilson_interval(hits, n)
    return (hits / n if n else np.nan, float(lo), float(hi), n)


def summarise_kpi_stats(stats: pd.DataFrame, *, group_by: list[str],
                        min_responses: int = 30) -> pd.DataFrame:
    """:func:`compute_kpi_summary`'s frame from :func:`kpi_stats` rows of any finer grain.

    Rows are first added up within each ``group_by`` group (statistics per
    agent and month can be summarised per team, site or vendor directly).
    """
    columns = kpi_stat_columns()
    stats = stats.reindex(columns=[*group_by, *columns], fill_value=0)
    if group_by:
        stats = stats.dropna(subset=group_by).groupby(group_by, sort=True)[columns].sum()
        stats = stats.reset_index()
    elif len(stats) != 1:
        stats = stats[columns].sum().to_frame().T
    rows = []
    for row in stats.to_dict("records"):
        for spec in KPIS:
            value, low, high, n = _summary_value(spec, row)
            rows.append({**{g: row[g] for g in group_by}, "kpi": spec.name, "value": value,
                         "ci_low": low, "ci_high": high, "n": int(n),
                         "enough_data": bool(n >= min_responses)})
    return pd.DataFrame(rows, columns=[*group_by, *KPI_SUMMARY_COLUMNS])


def compute_kpi_summary(
    contacts: pd.DataFrame,
    *,
    group_by: list[str] | str | None = None,
    min_responses: int = 30,
) -> pd.DataFrame:
    """CSAT, top-box, NPS, FCR, CES and AHT per group, each with a 95% interval.

    Intervals: t for means (CSAT, CES, AHT), Wilson for shares (top-box,
    FCR), Wald for NPS (:func:`cxreports.analyses.stats.nps_interval`). A
    value from fewer than ``min_responses`` responses has ``enough_data``
    False; reports then say "not enough data" instead of the number. Which
    KPIs and how each is summarised comes from the KPI catalogue.

    Returns
    -------
    pd.DataFrame
        The ``group_by`` columns, then ``kpi``, ``value`` (CSAT 1-5, shares
        0-1, NPS -100..100, CES 1-7, AHT seconds), ``ci_low``, ``ci_high``,
        ``n`` (responses or contacts) and ``enough_data``.

    Examples
    --------
    >>> contacts = pd.DataFrame({"csat": [5, 4, None], "nps": [10, 3, None],
    ...     "fcr": [True, False, None], "ces": [6, 5, None], "aht_seconds": [300, 200, 400]})
    >>> float(compute_kpi_summary(contacts, min_responses=2).set_index("kpi").loc["nps", "value"])
    0.0
    """
    group_by = [group_by] if isinstance(group_by, str) else list(group_by or [])
    return summarise_kpi_stats(kpi_stats(contacts, group_by=group_by), group_by=group_by,
                               min_responses=min_responses)


def compare_to_targets(
    summary: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    site: str | None = None,
    vendor: str | None = None,
    amber_margin: float = 0.05,
) -> pd.DataFrame:
    """Attach each KPI's target and a red / amber / green status.

    The most specific target wins: ``site`` scope, then ``vendor``, then
    ``all``. Status: ``green`` when the value meets the target; ``amber``
    when it misses by no more than ``amber_margin`` of the target (or the
    interval still reaches it); ``red`` otherwise; ``insufficient_data`` when
    the value is not shown; ``no_target`` without a target. NPS targets are
    in points, FCR as a share (0.72).

    Returns
    -------
    pd.DataFrame
        ``summary`` plus ``target``, ``direction`` and ``status``.
    """
    out = summary.copy()
    t = targets.copy()
    if "scope" not in t or t.empty:
        out["target"], out["direction"], out["status"] = np.nan, None, "no_target"
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
    status = []
    for _, row in out.iterrows():
        if pd.isna(row["target"]):
            status.append("no_target")
        elif not row["enough_data"] or pd.isna(row["value"]):
            status.append("insufficient_data")
        else:
            higher = row["direction"] != "lower"
            gap = (row["value"] - row["target"]) if higher else (row["target"] - row["value"])
            reach = row["ci_high"] if higher else row["ci_low"]
            reaches = (reach >= row["target"]) if higher else (reach <= row["target"])
            if gap >= 0:
                status.append("green")
            elif -gap <= amber_margin * abs(row["target"]) or reaches:
                status.append("amber")
            else:
                status.append("red")
    out["status"] = status
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
