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
import statsmodels.api as sm

from .drivers import drivers_for
from .periods import Period, parse_period
from .roster import roster_for_period
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
    changed for the agent, such as a new product or a new team).

    Returns
    -------
    pd.DataFrame
        One row per session that could be measured: ``session_id``,
        ``supervisor_id``, ``agent_id``, ``behavior_id``, ``held_on``,
        ``coached_before``, ``coached_after``, ``coached_change``,
        ``uncoached_change``, ``did`` and the evaluation counts.
    """
    focused = coaching[coaching["behavior_id"].notna() & coaching["behavior_id"].isin(behaviors)]
    window = pd.Timedelta(days=window_days)
    ev = evaluations.assign(at_time=pd.to_datetime(evaluations["evaluated_at"]))
    by_agent = dict(tuple(ev.groupby("agent_id")))
    held_all = focused.assign(on_day=pd.to_datetime(focused["held_on"]))
    coached_in = {k: g for k, g in held_all.groupby("agent_id")}
    rows = []
    for s in held_all.itertuples(index=False):
        mine = by_agent.get(s.agent_id)
        if mine is None:
            continue
        before = mine[(mine["at_time"] < s.on_day) & (mine["at_time"] >= s.on_day - window)]
        after = mine[(mine["at_time"] > s.on_day) & (mine["at_time"] <= s.on_day + window)]
        b = s.behavior_id
        nb, na = before[b].notna().sum(), after[b].notna().sum()
        if nb < min_evaluations or na < min_evaluations:
            continue
        sessions = coached_in[s.agent_id]
        near = sessions[(sessions["on_day"] >= s.on_day - window)
                        & (sessions["on_day"] <= s.on_day + window)]
        others = [c for c in behaviors if c not in set(near["behavior_id"])]
        changes = [after[c].mean() - before[c].mean() for c in others
                   if before[c].notna().sum() >= min_evaluations
                   and after[c].notna().sum() >= min_evaluations]
        if not changes:
            continue
        coached_change = after[b].mean() - before[b].mean()
        uncoached = float(np.mean(changes))
        rows.append({
            "session_id": s.session_id, "supervisor_id": s.supervisor_id,
            "agent_id": s.agent_id, "behavior_id": b, "held_on": s.on_day,
            "coached_before": before[b].mean(), "coached_after": after[b].mean(),
            "coached_change": coached_change, "uncoached_change": uncoached,
            "did": coached_change - uncoached, "n_before": int(nb), "n_after": int(na),
        })
    return pd.DataFrame(rows, columns=[
        "session_id", "supervisor_id", "agent_id", "behavior_id", "held_on", "coached_before",
        "coached_after", "coached_change", "uncoached_change", "did", "n_before", "n_after"])


def compute_coaching_effectiveness(
    session_effects: pd.DataFrame,
    *,
    by: str | None = None,
    min_sessions: int = 5,
    min_agents: int = 3,
) -> pd.DataFrame:
    """Pool session effects per supervisor, per behaviour, or overall.

    The pooled lift is the mean of the sessions' difference-in-differences
    with a t interval clustered by agent (an agent coached twice is not two
    independent experiments; Cameron & Miller 2015, see
    :mod:`cxreports.drivers`).

    Returns
    -------
    pd.DataFrame
        One row per group: ``group_by``, ``group``, ``lift`` (mean change in
        the coached behaviour's score beyond the agent's other behaviours,
        0-1 scale), ``ci_low``, ``ci_high``, ``p_value``, ``n_sessions``,
        ``n_agents`` and ``verdict`` (``worked``, ``no_evidence``,
        ``backfired`` or ``insufficient_data``).
    """
    label = by or "all"
    groups = (session_effects.groupby(by, sort=True) if by
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
                fit = sm.OLS(part["did"].to_numpy(float), np.ones(len(part))).fit(
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
    kpi: str = "csat",
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
        :func:`cxreports.drivers.compute_drivers` rows for ``kpi``, grouped
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
    drivers = drivers[drivers["kpi"] == kpi]
    cache: dict[tuple[str, str], tuple[dict, str]] = {}

    def impact_for(site: str, vendor: str) -> tuple[dict, str]:
        # A behaviour that is not a proven driver at the chosen level has no impact.
        if (site, vendor) not in cache:
            rows, source = drivers_for(drivers, site=site, vendor=vendor)
            impacts = {r.behavior_id: (r.estimate if r.verdict == "driver" else 0.0)
                       for r in rows.itertuples()}
            cache[(site, vendor)] = (impacts, source.removeprefix(f"{kpi}: ") or "none")
        return cache[(site, vendor)]

    rows = []
    by_team = {k: g for k, g in scores.groupby("supervisor_id")}
    for agent_id, mine in scores.groupby("agent_id", sort=True):
        first = mine.iloc[0]
        base = {"agent_id": agent_id, "supervisor_id": first["supervisor_id"]}
        measured = mine[mine["n"] >= min_evaluations]
        if measured.empty:
            rows.append({**base, "kind": "insufficient_data", "rank": 1})
            continue
        impacts, source = impact_for(first["site"], first["vendor"])
        m = measured.assign(
            impact=measured["behavior_id"].map(impacts).fillna(0.0).astype(float),
            gap=(measured["benchmark"] - measured["shrunk"]).clip(lower=0),
        )
        better = drivers.loc[drivers["kpi"] == kpi, "better"]
        sign = -1.0 if (len(better) and better.iloc[0] == "lower") else 1.0
        m["expected_gain"] = m["gap"] * m["impact"] * sign
        opportunities = m[m["expected_gain"] > 0].nlargest(n_opportunities, "expected_gain")
        # Celebrate what matters to customers here; where nothing proven
        # applies, the agent's best behaviours at or above the benchmark.
        strong = m[m["shrunk"] >= m["benchmark"]]
        proven = strong[strong["impact"] * sign > 0]
        strengths = (proven.assign(merit=proven["impact"] * sign) if len(proven)
                     else strong.assign(merit=strong["shrunk"])).nlargest(n_strengths, "merit")
        team = by_team[first["supervisor_id"]]
        for rank, r in enumerate(opportunities.itertuples(), start=1):
            peers = team[(team["behavior_id"] == r.behavior_id) & (team["agent_id"] != agent_id)
                         & (team["n"] >= min_evaluations) & (team["shrunk"] >= r.benchmark)]
            mentor = peers.nlargest(1, "shrunk")["agent_id"]
            rows.append({**base, "behavior_id": r.behavior_id, "kind": "opportunity",
                         "rank": rank, "score": r.shrunk, "benchmark": r.benchmark,
                         "gap": r.gap, "impact": r.impact, "expected_gain": r.expected_gain,
                         "n": r.n, "impact_from": source,
                         "mentor_agent_id": mentor.iloc[0] if len(mentor) else None})
        for rank, r in enumerate(strengths.itertuples(), start=1):
            rows.append({**base, "behavior_id": r.behavior_id, "kind": "strength", "rank": rank,
                         "score": r.shrunk, "benchmark": r.benchmark, "gap": 0.0,
                         "impact": r.impact, "expected_gain": 0.0, "n": r.n,
                         "impact_from": source, "mentor_agent_id": None})
    return pd.DataFrame(rows, columns=[
        "agent_id", "supervisor_id", "behavior_id", "kind", "rank", "score", "benchmark", "gap",
        "impact", "expected_gain", "n", "impact_from", "mentor_agent_id"])
