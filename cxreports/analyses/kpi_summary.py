"""KPI summaries with intervals, and their comparison with targets.

Relationship outcomes first: CSAT (mean and top-box), NPS, FCR, customer
effort. AHT is reported, never the headline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.kpis import KPI, KPIS
from .stats import mean_interval, nps_interval, wilson_interval

__all__ = [
    "KPI_SUMMARY_COLUMNS",
    "compare_kpi_to_baseline",
    "compare_to_targets",
    "compute_kpi_summary",
]

KPI_SUMMARY_COLUMNS = ["kpi", "value", "ci_low", "ci_high", "n", "enough_data"]


def _share(hits: pd.Series) -> tuple[float, float, float, int]:
    """Share of true values with its Wilson interval."""
    n = len(hits)
    lo, hi = wilson_interval(float(hits.sum()), n)
    return (float(hits.mean()) if n else np.nan, float(lo), float(hi), n)


def _summary_value(spec: KPI, frame: pd.DataFrame) -> tuple[float, float, float, int]:
    """(value, ci_low, ci_high, n) of one KPI, as its catalogue entry's ``summary`` says."""
    column = frame[spec.column]
    if spec.summary == "mean":
        return mean_interval(column)
    if spec.summary == "nps":
        return nps_interval(column)
    if spec.summary == "top_box":
        return _share(pd.to_numeric(column, errors="coerce").dropna() >= 4)
    return _share(column.dropna().astype(float))


def _summarise(frame: pd.DataFrame, min_responses: int) -> list[dict]:
    rows = [(spec.name, *_summary_value(spec, frame)) for spec in KPIS]
    return [
        {"kpi": k, "value": v, "ci_low": lo, "ci_high": hi, "n": int(n),
         "enough_data": bool(n >= min_responses)}
        for k, v, lo, hi, n in rows
    ]


def compute_kpi_summary(
    contacts: pd.DataFrame,
    *,
    group_by: list[str] | str | None = None,
    min_responses: int = 30,
) -> pd.DataFrame:
    """CSAT, top-box, NPS, FCR, CES and AHT per group, each with a 95% interval.

    Intervals: t for means (CSAT, CES, AHT), Wilson for shares (top-box,
    FCR), Wald for NPS (:func:`cxreports.analyses.stats.nps_interval`). A value from
    fewer than ``min_responses`` responses has ``enough_data`` False; reports
    then say "not enough data" instead of the number.

    Returns
    -------
    pd.DataFrame
        The ``group_by`` columns, then ``kpi``, ``value`` (CSAT 1-5, shares 0-1, NPS
        -100..100, CES 1-7, AHT seconds), ``ci_low``, ``ci_high``, ``n``
        (responses or contacts) and ``enough_data``.

    Examples
    --------
    >>> contacts = pd.DataFrame({"csat": [5, 4, None], "nps": [10, 3, None],
    ...     "fcr": [True, False, None], "ces": [6, 5, None], "aht_seconds": [300, 200, 400]})
    >>> compute_kpi_summary(contacts, min_responses=2).set_index("kpi").loc["nps", "value"]
    0.0
    """
    group_by = [group_by] if isinstance(group_by, str) else list(group_by or [])
    if not group_by:
        return pd.DataFrame(_summarise(contacts, min_responses), columns=KPI_SUMMARY_COLUMNS)
    frames = []
    for key, part in contacts.groupby(group_by, dropna=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        frame = pd.DataFrame(_summarise(part, min_responses))
        for name, value in zip(group_by, key, strict=True):
            frame[name] = value
        frames.append(frame[[*group_by, *KPI_SUMMARY_COLUMNS]])
    if not frames:
        return pd.DataFrame(columns=[*group_by, *KPI_SUMMARY_COLUMNS])
    return pd.concat(frames, ignore_index=True)


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
