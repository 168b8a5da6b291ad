"""Coaching analytics: who to coach on what, whether coaching worked, and how much happens.

"Coaching drives behaviours drives results": these functions measure the
first arrow (does a coached behaviour improve?) and turn the driver evidence
into a tailored plan per agent (strengths to celebrate, opportunities with a
peer mentor).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS

from ..core.kpis import PRIMARY_KPI
from ..core.periods import Period, parse_period
from ..data.roster import roster_for_period
from .drivers import drivers_for
from .stats import shrink_means

__all__ = [
    "compute_agent_behaviour_scores",
    "compute_coaching_coverage",
    "compute_coaching_effectiveness",
    "compute_coaching_priorities",
    "compute_session_effects",
]

TIME_SHARE_GOAL = 0.5


# --------------------------------------------------------------------------- coverage


def compute_coaching_coverage(
    coaching: pd.DataFrame,
    roster: pd.DataFrame,
    supervisor_time: pd.DataFrame,
    *,
    period: str | Period,
    goal: float = TIME_SHARE_GOAL,
) -> pd.DataFrame:
    """Coaching activity per supervisor in the month, against the 50% time goal.

    Returns
    -------
    pd.DataFrame
        One row per supervisor with agents in the month: ``supervisor_id``,
        ``team_size``, ``agents_coached``, ``coverage`` (share of the team
        coached at least once), ``sessions``, ``sessions_per_agent``,
        ``minutes``, ``coaching_minutes``, ``total_minutes``, ``time_share``
        (coaching / total from ``supervisor_time`` weeks starting in the
        month; NaN without it) and ``meets_goal`` (``time_share >= goal``;
        NA without time data).
    """
    period = parse_period(period)
    team = roster_for_period(roster, period)
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    sessions = coaching[(pd.to_datetime(coaching["held_on"]) >= start)
                        & (pd.to_datetime(coaching["held_on"]) <= end)]
    # Count only sessions with the supervisor's own team this month.
    sessions = sessions.merge(team[["agent_id", "supervisor_id"]],
                              on=["agent_id", "supervisor_id"], how="inner")
    out = team.groupby("supervisor_id").size().rename("team_size").to_frame()
    per = sessions.groupby("supervisor_id").agg(
        agents_coached=("agent_id", "nunique"), sessions=("session_id", "count"),
        minutes=("minutes", "sum"))
    out = out.join(per).fillna({"agents_coached": 0, "sessions": 0, "minutes": 0})
    out["coverage"] = out["agents_coached"] / out["team_size"]
    out["sessions_per_agent"] = out["sessions"] / out["team_size"]
    weeks = supervisor_time[(pd.to_datetime(supervisor_time["week"]) >= start)
                            & (pd.to_datetime(supervisor_time["week"]) <= end)]
    time = weeks.groupby("supervisor_id")[["coaching_minutes", "total_minutes"]].sum()
    out = out.join(time)
    out["time_share"] = out["coaching_minutes"] / out["total_minutes"].where(
        out["total_minutes"] > 0)
    out["meets_goal"] = (out["time_share"] >= goal).astype("boolean").mask(
        out["time_share"].isna())
    for col in ("agents_coached", "sessions"):
        out[col] = out[col].astype(int)
    return out.reset_index()[[
        "supervisor_id", "team_size", "agents_coached", "coverage", "sessions",
        "sessions_per_agent", "minutes", "coaching_minutes", "total_minutes", "time_share",
        "meets_goal"]]


# --------------------------------------------------------------------------- effectiveness


def compute_session_effects(
    coaching: pd.DataFrame,
    evaluations: pd.DataFrame,
    *,
    behaviors: list[str],
    window_days: int = 60,
    min_evaluations: int = 3,
) -> pd.DataFrame:
    """Per coaching session with a behaviour focus: change in it against the agent's others.

    For a session on behaviour ``b`` with agent ``a`` on day ``d``: the
    change in ``a``'s mean score on ``b`` from the ``window_days`` before
    ``d`` to the ``window_days`` after, minus the mean change over ``a``'s
    behaviours not coached in that window (a within-agent
    difference-in-differences: the uncoached behaviours absorb whatever else
    changed for the agent, such as a new product or a new team). A behaviour
    counts on a side only with at least ``min_evaluations`` applicable
    scores there.

    Window sums come from running totals over each agent's evaluations in
    time order, so the cost grows with evaluations plus sessions, not with
    their product.

    Returns
    -------
    pd.DataFrame
        One row per session that could be measured: ``session_id``,
        ``supervisor_id``, ``agent_id``, ``behavior_id``, ``held_on``,
        ``coached_before``, ``coached_after``, ``coached_change``,
        ``uncoached_change``, ``did`` and the evaluation counts.
    """
    columns = ["session_id", "supervisor_id", "agent_id", "behavior_id", "held_on",
               "coached_before", "coached_after", "coached_change", "uncoached_change", "did",
               "n_before", "n_after"]
    focused = coaching[coaching["behavior_id"].notna() & coaching["behavior_id"].isin(behaviors)]
    sessions = focused.assign(on_day=pd.to_datetime(focused["held_on"])).reset_index(drop=True)
    if sessions.empty or evaluations.empty:
        return pd.DataFrame(columns=columns)
    window = pd.Timedelta(days=window_days)
    ev = evaluations[evaluations["agent_id"].isin(set(sessions["agent_id"]))]
    at_time = pd.to_datetime(ev["evaluated_at"]).to_numpy("datetime64[ns]")
    day = sessions["on_day"].to_numpy("datetime64[ns]")
    # One sort key for (agent, time): agent code times the number of distinct
    # instants, plus the instant's rank. Exact, and cannot overflow.
    instants, ranks = np.unique(np.concatenate([at_time, day - window, day, day + window]),
                                return_inverse=True)
    size = len(instants) + 1
    agents = pd.Index(pd.unique(pd.concat([ev["agent_id"], sessions["agent_id"]])))
    n_ev = len(ev)
    ev_key = agents.get_indexer(ev["agent_id"]).astype(np.int64) * size + ranks[:n_ev]
    order = np.argsort(ev_key, kind="stable")
    ev_key = ev_key[order]
    scores = ev[behaviors].to_numpy(dtype=float, na_value=np.nan)[order]
    present = ~np.isnan(scores)
    zero = np.zeros((1, len(behaviors)))
    total = np.vstack([zero, np.cumsum(np.where(present, scores, 0.0), axis=0)])
    count = np.vstack([zero, np.cumsum(present, axis=0)])

    base = agents.get_indexer(sessions["agent_id"]).astype(np.int64) * size
    n_s = len(sessions)
    r_start, r_day, r_end = (ranks[n_ev + k * n_s: n_ev + (k + 1) * n_s] for k in range(3))
    # before: [d - window, d); after: (d, d + window]
    lo_b = np.searchsorted(ev_key, base + r_start, side="left")
    hi_b = np.searchsorted(ev_key, base + r_day, side="left")
    lo_a = np.searchsorted(ev_key, base + r_day, side="right")
    hi_a = np.searchsorted(ev_key, base + r_end, side="right")
    n_before, n_after = count[hi_b] - count[lo_b], count[hi_a] - count[lo_a]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_before = (total[hi_b] - total[lo_b]) / n_before
        mean_after = (total[hi_a] - total[lo_a]) / n_after

    # Behaviours coached for the same agent within the window (this session included).
    codes = pd.Index(behaviors).get_indexer(sessions["behavior_id"])
    near = np.zeros((n_s, len(behaviors)), dtype=bool)
    pairs = sessions[["agent_id", "on_day"]].reset_index().merge(
        sessions[["agent_id", "on_day"]].assign(code=codes), on="agent_id")
    pairs = pairs[(pairs["on_day_y"] >= pairs["on_day_x"] - window)
                  & (pairs["on_day_y"] <= pairs["on_day_x"] + window)]
    near[pairs["index"].to_numpy(), pairs["code"].to_numpy()] = True

    usable = (~near & (n_before >= min_evaluations) & (n_after >= min_evaluations))
    n_usable = usable.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        uncoached = np.where(usable, mean_after - mean_before, 0.0).sum(axis=1) / n_usable
    rows = np.arange(n_s)
    nb, na = n_before[rows, codes], n_after[rows, codes]
    keep = (nb >= min_evaluations) & (na >= min_evaluations) & (n_usable > 0)
    before, after = mean_before[rows, codes], mean_after[rows, codes]
    out = pd.DataFrame({
        "session_id": sessions["session_id"], "supervisor_id": sessions["supervisor_id"],
        "agent_id": sessions["agent_id"], "behavior_id": sessions["behavior_id"],
        "held_on": sessions["on_day"], "coached_before": before, "coached_after": after,
        "coached_change": after - before, "uncoached_change": uncoached,
        "did": (after - before) - uncoached, "n_before": nb.astype(int),
        "n_after": na.astype(int),
    })
    return out[keep].reset_index(drop=True)[columns]


def compute_coaching_effectiveness(
    session_effects: pd.DataFrame,
    *,
    group_by: str | None = None,
    min_sessions: int = 5,
    min_agents: int = 3,
) -> pd.DataFrame:
    """Pool session effects per supervisor, per behaviour, or overall.

    The pooled lift is the mean of the sessions' difference-in-differences
    with a t interval clustered by agent (an agent coached twice is not two
    independent experiments; Cameron & Miller 2015, see
    :mod:`cxreports.analyses.drivers`).

    Returns
    -------
    pd.DataFrame
        One row per group: ``group_by``, ``group``, ``lift`` (mean change in
        the coached behaviour's score beyond the agent's other behaviours,
        0-1 scale), ``ci_low``, ``ci_high``, ``p_value``, ``n_sessions``,
        ``n_agents`` and ``verdict`` (``worked``, ``no_evidence``,
        ``backfired`` or ``insufficient_data``).
    """
    label = group_by or "all"
    groups = (session_effects.groupby(group_by, sort=True) if group_by
              else [("all", session_effects)])
    rows = []
    for group, part in groups:
        row = {"group_by": label, "group": group, "lift": np.nan, "ci_low": np.nan,
               "ci_high": np.nan, "p_value": np.nan, "n_sessions": len(part),
               "n_agents": int(part["agent_id"].nunique()), "verdict": "insufficient_data"}
        if len(part) >= min_sessions and row["n_agents"] >= min_agents:
            clusters = pd.factorize(part["agent_id"])[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = OLS(part["did"].to_numpy(float), np.ones(len(part))).fit(
                    cov_type="cluster", cov_kwds={"groups": clusters}, use_t=True)
            low, high = fit.conf_int()[0]
            row.update(lift=float(fit.params[0]), ci_low=float(low), ci_high=float(high),
                       p_value=float(fit.pvalues[0]),
                       verdict="worked" if low > 0 else ("backfired" if high < 0
                                                         else "no_evidence"))
        rows.append(row)
    return pd.DataFrame(rows, columns=["group_by", "group", "lift", "ci_low", "ci_high",
                                       "p_value", "n_sessions", "n_agents", "verdict"])


# --------------------------------------------------------------------------- priorities


def compute_agent_behaviour_scores(
    evaluations: pd.DataFrame,
    team: pd.DataFrame,
    *,
    behaviors: list[str],
    group_by: str = "site",
) -> pd.DataFrame:
    """Each agent's score on each behaviour, shrunk toward their ``group_by`` mean.

    Parameters
    ----------
    evaluations
        Evaluations in the window to score (a row per evaluation, a column
        per behaviour).
    team
        One row per agent placing them (``roster_for_period``): the agent's
        ``supervisor_id``, ``site`` and ``vendor`` come from here.

    Returns
    -------
    pd.DataFrame
        One row per (agent, behaviour): ``agent_id``, ``supervisor_id``,
        ``site``, ``vendor``, ``behavior_id``, ``n`` (applicable
        evaluations), ``mean``, ``shrunk`` and ``benchmark`` (the group's
        75th percentile of shrunk scores among agents with any data: what a
        strong agent here achieves).
    """
    long = evaluations.melt(id_vars=["agent_id"], value_vars=behaviors,
                            var_name="behavior_id", value_name="score")
    agg = long.groupby(["agent_id", "behavior_id"])["score"].agg(["mean", "count", "var"])
    agg = agg.rename(columns={"count": "n"}).reset_index()
    placed = team[["agent_id", "supervisor_id", "site", "vendor"]]
    grid = placed.merge(pd.DataFrame({"behavior_id": behaviors}), how="cross")
    out = grid.merge(agg, on=["agent_id", "behavior_id"], how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    frames = []
    for _, part in out.groupby([group_by, "behavior_id"], sort=False):
        part = part.copy()
        noise = float(np.nanmean(part["var"])) if part["var"].notna().any() else 0.0
        part["shrunk"] = shrink_means(part["mean"], part["n"], noise)
        part["benchmark"] = part["shrunk"].quantile(0.75) if part["shrunk"].notna().any() \
            else np.nan
        frames.append(part)
    cols = ["agent_id", "supervisor_id", "site", "vendor", "behavior_id", "n", "mean", "shrunk",
            "benchmark"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def compute_coaching_priorities(
    scores: pd.DataFrame,
    drivers: pd.DataFrame,
    *,
    kpi: str = PRIMARY_KPI,
    n_opportunities: int = 2,
    n_strengths: int = 2,
    min_evaluations: int = 3,
) -> pd.DataFrame:
    """Per agent: behaviours to coach (gap x impact) and strengths to celebrate, with mentors.

    The impact of a behaviour is its driver estimate for ``kpi`` at the
    agent's site, or their vendor where the site model had too little data,
    or everyone's; a behaviour that is not a proven driver there has no
    impact (we do not coach on what has not been shown to matter). The gap
    is how far the agent's shrunk score is below the site benchmark.
    ``expected_gain`` = gap x impact: the KPI points the agent would gain by
    closing the gap. A mentor for an opportunity is the teammate with the
    highest score on it, at or above the benchmark.

    Parameters
    ----------
    scores
        :func:`compute_agent_behaviour_scores`.
    drivers
        :func:`cxreports.analyses.drivers.compute_drivers` rows for ``kpi``, grouped
        by ``site`` and/or ``vendor`` and/or everyone (``all``).

    Returns
    -------
    pd.DataFrame
        Up to ``n_opportunities + n_strengths`` rows per agent:
        ``agent_id``, ``supervisor_id``, ``behavior_id``, ``kind``
        (``opportunity`` or ``strength``), ``rank``, ``score``,
        ``benchmark``, ``gap``, ``impact``, ``expected_gain``, ``n``,
        ``impact_from`` (which model supplied the impact) and
        ``mentor_agent_id``. An agent with too few evaluations gets one
        row of kind ``insufficient_data``.
    """
    columns = ["agent_id", "supervisor_id", "behavior_id", "kind", "rank", "score", "benchmark",
               "gap", "impact", "expected_gain", "n", "impact_from", "mentor_agent_id"]
    drivers = drivers[drivers["kpi"] == kpi]
    better = drivers["better"]
    sign = -1.0 if (len(better) and better.iloc[0] == "lower") else 1.0

    # Impact per (site, vendor, behaviour): one driver model choice per place.
    places = scores[["site", "vendor"]].drop_duplicates()
    impact_rows, sources = [], {}
    for site, vendor in places.itertuples(index=False):
        rows, source = drivers_for(drivers, site=site, vendor=vendor)
        sources[(site, vendor)] = source.removeprefix(f"{kpi}: ") or "none"
        impact_rows.append(pd.DataFrame({
            "site": site, "vendor": vendor, "behavior_id": rows["behavior_id"],
            "impact": rows["estimate"].where(rows["verdict"] == "driver", 0.0).astype(float)}))
    impacts = (pd.concat(impact_rows, ignore_index=True).drop_duplicates(
        ["site", "vendor", "behavior_id"]) if impact_rows
        else pd.DataFrame(columns=["site", "vendor", "behavior_id", "impact"]))

    scores = scores.reset_index(drop=True).assign(_order=lambda f: np.arange(len(f)))
    measured = scores[scores["n"] >= min_evaluations]
    m = measured.merge(impacts, on=["site", "vendor", "behavior_id"], how="left")
    m["impact"] = m["impact"].astype(float).fillna(0.0)
    m["gap"] = (m["benchmark"] - m["shrunk"]).clip(lower=0)
    m["expected_gain"] = m["gap"] * m["impact"] * sign
    m["impact_from"] = [sources[p] for p in zip(m["site"], m["vendor"], strict=True)]

    def top(frame: pd.DataFrame, by: str, n: int) -> pd.DataFrame:
        # Largest first; ties keep the scores' order (as nlargest does).
        ranked = frame.assign(_neg=-frame[by]).sort_values(["agent_id", "_neg", "_order"],
                                                           kind="stable")
        ranked = ranked.groupby("agent_id", sort=False).head(n)
        return ranked.assign(rank=ranked.groupby("agent_id", sort=False).cumcount() + 1)

    opportunities = top(m[m["expected_gain"] > 0], "expected_gain", n_opportunities)
    # Celebrate what matters to customers here; where nothing proven
    # applies, the agent's best behaviours at or above the benchmark.
    strong = m[m["shrunk"] >= m["benchmark"]]
    proven = strong["impact"] * sign > 0
    has_proven = proven.groupby(strong["agent_id"]).transform("any")
    strong = strong[proven | ~has_proven]
    merit = (strong["impact"] * sign).where(has_proven[strong.index], strong["shrunk"])
    strengths = top(strong.assign(merit=merit), "merit", n_strengths)

    # Mentor: the best-scoring teammate on the behaviour, if at or above the benchmark.
    candidates = scores[scores["n"] >= min_evaluations].assign(_neg=lambda f: -f["shrunk"])
    candidates = candidates.sort_values(["supervisor_id", "behavior_id", "_neg", "_order"],
                                        kind="stable")
    best_two = candidates.groupby(["supervisor_id", "behavior_id"], sort=False).head(2)
    best_two = best_two.assign(_pick=best_two.groupby(["supervisor_id", "behavior_id"],
                                                      sort=False).cumcount())
    first = best_two[best_two["_pick"] == 0].set_index(["supervisor_id", "behavior_id"])
    second = best_two[best_two["_pick"] == 1].set_index(["supervisor_id", "behavior_id"])
    key = pd.MultiIndex.from_frame(opportunities[["supervisor_id", "behavior_id"]])
    one = first.reindex(key)
    two = second.reindex(key)
    is_self = one["agent_id"].to_numpy() == opportunities["agent_id"].to_numpy()
    mentor = np.where(is_self, two["agent_id"].to_numpy(), one["agent_id"].to_numpy())
    mentor_score = np.where(is_self, two["shrunk"].to_numpy(), one["shrunk"].to_numpy())
    ok = pd.notna(mentor) & (mentor_score >= opportunities["benchmark"].to_numpy())
    opportunities = opportunities.assign(
        kind="opportunity", score=opportunities["shrunk"],
        mentor_agent_id=pd.Series(np.where(ok, mentor, None), index=opportunities.index,
                                  dtype=object))
    strengths = strengths.assign(kind="strength", score=strengths["shrunk"], gap=0.0,
                                 expected_gain=0.0, mentor_agent_id=None)

    placed = scores.drop_duplicates("agent_id")
    lacking = placed[~placed["agent_id"].isin(set(measured["agent_id"]))]
    lacking = lacking[["agent_id", "supervisor_id"]].assign(kind="insufficient_data", rank=1)
    out = pd.concat([opportunities, strengths, lacking], ignore_index=True)
    out["_kind"] = out["kind"].map({"opportunity": 0, "strength": 1, "insufficient_data": 0})
    out = out.sort_values(["agent_id", "_kind", "rank"], kind="stable")
    out["mentor_agent_id"] = out["mentor_agent_id"].astype(scores["agent_id"].dtype)
    return out.reset_index(drop=True).reindex(columns=columns)
