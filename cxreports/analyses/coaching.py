"""Coaching analytics: who to coach on what, whether coaching worked, and how much happens.

"Coaching drives behaviours drives results": these functions measure the
first arrow (does a coached behaviour improve?) and turn the driver evidence
into a tailored plan per agent (strengths to celebrate, opportunities with a
peer mentor).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as st

from ..core.kpis import PRIMARY_KPI
from ..core.periods import Period, parse_period
from ..data.roster import roster_for_period
from .drivers import drivers_for
from .stats import shrink_means, wls_cluster

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


#: What a coaching lift is measured in.
LIFT_UNIT = "change per session in the share of evaluated contacts showing the behaviour"

_PANEL_COLUMNS = ["agent_id", "behavior_id", "period", "supervisor_id", "site", "vendor",
                  "pre_mean", "pre_n", "pre_shrunk", "agent_pre", "post_mean", "post_n",
                  "sessions", "recent_sessions", "earlier_sessions", "next_sessions"]


def compute_session_effects(
    coaching: pd.DataFrame,
    evaluations: pd.DataFrame,
    *,
    behaviors: list[str],
    selection_months: int = 2,
) -> pd.DataFrame:
    """The coaching panel: one row per agent, behaviour and treatment month.

    The data :func:`compute_coaching_effectiveness` fits. For an agent ``a``,
    behaviour ``b`` and month ``m`` (every month with ``selection_months``
    months of evaluations before it and one after):

    - ``pre_mean`` / ``pre_n``: ``a``'s score on ``b`` over the
      ``selection_months`` before ``m``: the data a supervisor (or this kit's
      pack) looks at when choosing what to coach, low partly by chance for
      the behaviours picked;
    - ``post_mean`` / ``post_n``: the score in month ``m + 1``, disjoint from
      those data and after every session of month ``m``;
    - ``sessions``: sessions on ``b`` with ``a`` held in month ``m`` (the
      treatment; repeated sessions count as doses, never as separate
      experiments); ``recent_sessions`` (in the selection months),
      ``earlier_sessions`` (before them) and ``next_sessions`` (in month
      ``m + 1``, whose effect lands partly in the post month) are adjusted for;
    - ``pre_shrunk``: ``pre_mean`` shrunk toward the behaviour's mean that
      month at the agent's site by its reliability (Kelley's formula; see
      :func:`cxreports.analyses.stats.shrink_means`), the expected true score
      given what was observed; ``agent_pre`` the agent's mean pre score over
      all behaviours.

    Evaluations are placed by when the contact happened (``contact_at``,
    else ``evaluated_at``), so QA's lag does not move behaviour across months.

    Returns
    -------
    pd.DataFrame
        ``agent_id``, ``behavior_id``, ``period`` (the treatment month ``m``),
        ``supervisor_id`` (who held the month's sessions on ``b``; else the
        agent's supervisor), ``site``, ``vendor``, ``pre_mean``, ``pre_n``,
        ``pre_shrunk``, ``agent_pre``, ``post_mean``, ``post_n``,
        ``sessions``, ``recent_sessions``, ``earlier_sessions`` and
        ``next_sessions``. Rows with no evaluation on either side are left out.
    """
    if evaluations.empty:
        return pd.DataFrame(columns=_PANEL_COLUMNS)
    when = pd.to_datetime(evaluations["contact_at"]).fillna(
        pd.to_datetime(evaluations["evaluated_at"])) if "contact_at" in evaluations \
        else pd.to_datetime(evaluations["evaluated_at"])
    month = when.dt.to_period("M")
    ev = evaluations.assign(_month=month)
    long = ev.melt(id_vars=["agent_id", "_month"], value_vars=behaviors,
                   var_name="behavior_id", value_name="score").dropna(subset=["score"])
    cells = long.groupby(["agent_id", "behavior_id", "_month"])["score"].agg(["sum", "count"])
    months = sorted(month.dropna().unique())
    if len(months) < selection_months + 2:
        return pd.DataFrame(columns=_PANEL_COLUMNS)
    team = ev.sort_values("_month").groupby(["agent_id", "_month"])[
        ["supervisor_id", "site", "vendor"]].last()

    focused = coaching[coaching["behavior_id"].isin(behaviors)].copy()
    focused["_month"] = pd.to_datetime(focused["held_on"]).dt.to_period("M")
    doses = focused.groupby(["agent_id", "behavior_id", "_month"]).size()
    held_by = focused.sort_values("held_on").groupby(
        ["agent_id", "behavior_id", "_month"])["supervisor_id"].first()

    def window_sum(series: pd.Series, lo, hi) -> pd.Series:
        """Sum per (agent, behaviour) over months lo..hi inclusive."""
        if series.empty:
            return pd.Series(dtype=float)
        m = series.index.get_level_values("_month")
        return series[(m >= lo) & (m <= hi)].groupby(level=["agent_id", "behavior_id"]).sum()

    frames = []
    first_month = months[0]
    for m in months[selection_months:-1]:
        lo = m - selection_months
        pre = window_sum(cells["sum"], lo, m - 1).rename("pre_sum").to_frame().join(
            window_sum(cells["count"], lo, m - 1).rename("pre_n"))
        post = window_sum(cells["sum"], m + 1, m + 1).rename("post_sum").to_frame().join(
            window_sum(cells["count"], m + 1, m + 1).rename("post_n"))
        frame = pre.join(post, how="inner")
        frame = frame[(frame["pre_n"] > 0) & (frame["post_n"] > 0)]
        if frame.empty:
            continue
        frame["sessions"] = window_sum(doses, m, m).reindex(frame.index)
        frame["recent_sessions"] = window_sum(doses, lo, m - 1).reindex(frame.index)
        frame["earlier_sessions"] = window_sum(doses, first_month - 120, lo - 1).reindex(
            frame.index)
        frame["next_sessions"] = window_sum(doses, m + 1, m + 1).reindex(frame.index)
        frame = frame.fillna({"sessions": 0, "recent_sessions": 0, "earlier_sessions": 0,
                              "next_sessions": 0}).reset_index()
        frame["period"] = str(m)
        placed = team.xs(m, level="_month") if m in team.index.get_level_values("_month") \
            else team.iloc[0:0].droplevel("_month")
        frame = frame.join(placed, on="agent_id")
        key = pd.MultiIndex.from_arrays([frame["agent_id"], frame["behavior_id"],
                                         [m] * len(frame)])
        by = held_by.reindex(key).to_numpy() if len(held_by) else np.full(len(frame), None)
        frame["supervisor_id"] = np.where(pd.notna(by), by, frame["supervisor_id"])
        frame["pre_mean"] = frame["pre_sum"] / frame["pre_n"]
        frame["post_mean"] = frame["post_sum"] / frame["post_n"]
        agent_pre = frame.groupby("agent_id")[["pre_sum", "pre_n"]].transform("sum")
        frame["agent_pre"] = agent_pre["pre_sum"] / agent_pre["pre_n"]
        shrunk = []
        for _, part in frame.groupby(["site", "behavior_id"], sort=False, dropna=False):
            share = float(part["pre_sum"].sum() / part["pre_n"].sum())
            shrunk.append(shrink_means(part["pre_mean"], part["pre_n"],
                                       max(share * (1 - share), 1e-4)))
        frame["pre_shrunk"] = pd.concat(shrunk)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=_PANEL_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    for col in ("pre_n", "post_n", "sessions", "recent_sessions", "earlier_sessions",
                "next_sessions"):
        out[col] = out[col].astype(int)
    return out[_PANEL_COLUMNS].sort_values(["period", "agent_id", "behavior_id"]) \
        .reset_index(drop=True)


def compute_coaching_effectiveness(
    session_effects: pd.DataFrame,
    *,
    group_by: str | None = None,
    min_sessions: int = 5,
    min_agents: int = 3,
    level: float = 0.95,
) -> pd.DataFrame:
    """Did coached behaviours improve? The lift per session, per group or overall.

    Method: ANCOVA on the pre-score (a lagged-dependent-variable model), the
    design that survives choosing what to coach from observed scores.
    Supervisors coach the behaviour that *looked* worst recently; that score
    was low partly by chance and rises on its own (regression to the mean),
    so a before/after or difference-in-differences comparison reports a lift
    where coaching did nothing. Here each agent-behaviour-month of the panel
    (:func:`compute_session_effects`) has its next month's score (data
    disjoint from those that drove the choice) regressed on

    - the reliability-shrunk score over the selection months and the agent's
      mean over all behaviours (what the choice was based on; conditioning
      on them compares coached pairs with uncoached and not-yet-coached
      pairs that looked just as weak),
    - behaviour-by-month effects,
    - sessions held in the selection months, before them and in the post
      month (so repeated sessions are doses, not separate experiments, and
      are never counted twice),
    - and the number of sessions on the behaviour in the treatment month,
      one coefficient per group of ``group_by`` (or one overall): the lift
      per session.

    Weighted by the post month's evaluations; standard errors clustered by
    agent, with t intervals on (coached agents in the group - 1) degrees of
    freedom (see the code for why not G-1). "worked" means the
    interval lies above zero, so with no true effect a group is called
    "worked" with probability about (1 - level) / 2.

    References: Angrist, J. D. & Pischke, J.-S. (2009). Mostly Harmless
    Econometrics, section 5.4 (fixed effects vs lagged dependent variables;
    Ashenfelter's dip). Barnett, A. G., van der Pols, J. C. & Dobson, A. J.
    (2005). Regression to the mean: what it is and how to deal with it.
    International Journal of Epidemiology 34(1), 215-220 (ANCOVA on the
    baseline). Kelley, T. L. (1947). Fundamentals of Statistics (the
    reliability-shrunk true score). Cameron, A. C. & Miller, D. L. (2015),
    J. Human Resources 50(2), 317-372 (cluster-robust inference).

    Returns
    -------
    pd.DataFrame
        One row per group: ``group_by``, ``group``, ``lift`` (per session,
        in the share of evaluated contacts showing the behaviour: 0.10 = ten
        percentage points), ``ci_low``, ``ci_high``, ``p_value``,
        ``n_sessions`` (treatment-month sessions measured), ``n_agents``
        (agents coached among them), ``unit`` and ``verdict`` (``worked``,
        ``no_evidence``, ``backfired`` or ``insufficient_data``).
    """
    label = group_by or "all"
    columns = ["group_by", "group", "lift", "ci_low", "ci_high", "p_value", "n_sessions",
               "n_agents", "unit", "verdict"]
    panel = session_effects[session_effects["post_n"] > 0] if len(session_effects) \
        else session_effects
    if panel.empty:
        return pd.DataFrame(columns=columns)
    panel = panel.reset_index(drop=True)
    treated = panel[panel["sessions"] > 0]
    groups = sorted(treated[group_by].dropna().unique()) if group_by else ["all"]
    member = (treated[group_by] if group_by else pd.Series("all", index=treated.index))
    by_group = treated.groupby(member.to_numpy())
    sessions_in, agents_in = by_group["sessions"].sum(), by_group["agent_id"].nunique()
    rows, fitted = [], []
    for g in groups:
        # "all" with no coached agent in the panel has no entry: none of either.
        row = {"group_by": label, "group": g, "lift": np.nan, "ci_low": np.nan,
               "ci_high": np.nan, "p_value": np.nan, "n_sessions": int(sessions_in.get(g, 0)),
               "n_agents": int(agents_in.get(g, 0)), "unit": LIFT_UNIT,
               "verdict": "insufficient_data"}
        if row["n_sessions"] >= min_sessions and row["n_agents"] >= min_agents:
            fitted.append(g)
        rows.append(row)
    if fitted:
        # A sparse design: behaviour-by-month effects and one dose column per
        # fitted group are mostly zeros (see :func:`.wls_cluster`).
        n = len(panel)
        names = ["const", "pre_shrunk", "agent_pre"]
        dense = [np.ones(n), panel["pre_shrunk"].to_numpy(float),
                 panel["agent_pre"].to_numpy(float)]
        for name in ("recent_sessions", "earlier_sessions", "next_sessions"):
            if panel[name].any():
                names.append(name)
                dense.append(panel[name].to_numpy(float))
        blocks = [sparse.csr_matrix(np.column_stack(dense))]
        # Cells as pd.get_dummies(drop_first=True) makes them: sorted, the first dropped.
        cell = pd.Categorical(panel["behavior_id"] + "|" + panel["period"].astype(str))
        codes = np.asarray(cell.codes)
        kept = codes > 0
        blocks.append(sparse.csr_matrix(
            (np.ones(int(kept.sum())), (np.flatnonzero(kept), codes[kept] - 1)),
            shape=(n, max(len(cell.categories) - 1, 0))))
        names += [f"fe:{c}" for c in cell.categories[1:]]
        group_of = (panel[group_by] if group_by else pd.Series("all", index=panel.index))
        sessions = panel["sessions"].to_numpy(float)
        doses = [g for g in groups if g in fitted]
        column = {g: i for i, g in enumerate(doses)}
        which = group_of.map(column)
        dosed = which.notna().to_numpy() & (sessions != 0)
        blocks.append(sparse.csr_matrix(
            (sessions[dosed], (np.flatnonzero(dosed), which[dosed].astype(int).to_numpy())),
            shape=(n, len(doses))))
        names += [f"dose:{g}" for g in doses]
        other = np.where(group_of.isin(set(groups) - set(fitted)), sessions, 0.0)
        if other.any():
            blocks.append(sparse.csr_matrix(other[:, None]))
            names.append("dose:other")
        x = sparse.hstack(blocks, format="csr")
        clusters = pd.factorize(panel["agent_id"])[0]
        params, bse = wls_cluster(x, panel["post_mean"].to_numpy(float),
                                  panel["post_n"].to_numpy(float), clusters)
        fit = SimpleNamespace(params=pd.Series(params, index=names),
                              bse=pd.Series(bse, index=names))
        n_clusters = int(clusters.max()) + 1  # factorize codes run 0..G-1
        for row in rows:
            name = f"dose:{row['group']}"
            if row["group"] not in fitted or not np.isfinite(fit.bse[name]):
                continue
            # A group's lift rests on its coached agents only: t on their
            # number less one (never more than the model's G - 1), because a
            # cluster-robust error from few treated clusters is too small
            # (MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference
            # for wildly different cluster sizes. J. Applied Econometrics
            # 32(2), 233-254; Conley, T. G. & Taber, C. R. (2011), REStat 93(1)).
            df = max(min(row["n_agents"], n_clusters) - 1, 1)
            est, se = float(fit.params[name]), float(fit.bse[name])
            half = st.t.ppf(0.5 + level / 2, df) * se
            low, high = est - half, est + half
            row.update(lift=est, ci_low=low, ci_high=high,
                       p_value=float(2 * st.t.sf(abs(est / se), df)) if se > 0 else np.nan,
                       verdict="worked" if low > 0 else ("backfired" if high < 0
                                                         else "no_evidence"))
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- priorities


def compute_agent_behaviour_scores(
    evaluations: pd.DataFrame,
    team: pd.DataFrame,
    *,
    behaviors: list[str],
    group_by: str = "site",
    period: str | Period | None = None,
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
        strong agent here achieves), ``site_adoption`` (the group's share of
        applicable evaluations showing it), then ``month_mean`` and
        ``month_n``: the same agent's raw score in ``period`` alone (the
        window's last month; NaN without ``period``).
    """
    id_vars = ["agent_id", "period"] if period is not None else ["agent_id"]
    long = evaluations.melt(id_vars=id_vars, value_vars=behaviors,
                            var_name="behavior_id", value_name="score")
    agg = long.groupby(["agent_id", "behavior_id"])["score"].agg(["mean", "count", "var"])
    agg = agg.rename(columns={"count": "n"}).reset_index()
    if period is not None:
        month = long[long["period"] == str(parse_period(period))].groupby(
            ["agent_id", "behavior_id"])["score"].agg(["mean", "count"])
        month = month.rename(columns={"mean": "month_mean", "count": "month_n"})
        agg = agg.join(month, on=["agent_id", "behavior_id"])
    else:
        agg["month_mean"], agg["month_n"] = np.nan, 0
    placed = team[["agent_id", "supervisor_id", "site", "vendor"]]
    grid = placed.merge(pd.DataFrame({"behavior_id": behaviors}), how="cross")
    out = grid.merge(agg, on=["agent_id", "behavior_id"], how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    out["month_n"] = out["month_n"].fillna(0).astype(int)
    frames = []
    for _, part in out.groupby([group_by, "behavior_id"], sort=False):
        part = part.copy()
        shown = (part["mean"] * part["n"]).sum()
        part["site_adoption"] = shown / part["n"].sum() if part["n"].sum() else np.nan
        noise = float(np.nanmean(part["var"])) if part["var"].notna().any() else 0.0
        part["shrunk"] = shrink_means(part["mean"], part["n"], noise)
        part["benchmark"] = part["shrunk"].quantile(0.75) if part["shrunk"].notna().any() \
            else np.nan
        frames.append(part)
    cols = ["agent_id", "supervisor_id", "site", "vendor", "behavior_id", "n", "mean", "shrunk",
            "benchmark", "site_adoption", "month_mean", "month_n"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


#: Coaching picks worth less than this many KPI points (on the KPI's own
#: scale) are not printed: a supervisor's time is better spent elsewhere.
MIN_EXPECTED_GAIN = {"csat": 0.03, "nps": 0.08, "fcr": 0.01, "ces": 0.04, "aht_seconds": 5.0}
#: At most this many teammates are sent to the same peer mentor.
MAX_MENTEES = 3


def compute_coaching_priorities(
    scores: pd.DataFrame,
    drivers: pd.DataFrame,
    *,
    kpi: str = PRIMARY_KPI,
    n_opportunities: int = 2,
    n_strengths: int = 2,
    min_evaluations: int = 3,
    min_gain: float | None = None,
    ceiling: float = 0.95,
    max_mentees: int = MAX_MENTEES,
) -> pd.DataFrame:
    """Per agent: behaviours to coach (gap x impact) and strengths to celebrate, with mentors.

    Everything here reads one window, the recent one of ``scores``
    (:func:`compute_agent_behaviour_scores`): an agent's shrunk score there
    is the ``score`` every pick quotes, and the strong-agent ``benchmark``
    (the site's 75th percentile) is in the same window.

    The impact of a behaviour is its driver estimate for ``kpi`` at the
    agent's site, or their vendor where the site model had too little data,
    or everyone's; a behaviour that is not a proven driver there (verdict
    ``driver``: an effect in the KPI's better direction) has no impact (we
    do not coach on what has not been shown to matter). The gap is how far
    the agent's shrunk score is below the benchmark; ``expected_gain`` = gap
    x impact, the KPI points the agent would gain by closing it.

    Rules (each one a contradiction a pack must not print):

    - never coach a behaviour the agent already shows at the strong-agent
      level in the recent window, by the shrunk score, the raw score, or the
      report month alone (with ``min_evaluations`` there);
    - skip picks worth less than ``min_gain`` KPI points
      (:data:`MIN_EXPECTED_GAIN`); an agent whose every pick falls below it
      gets one row of kind ``below_minimum`` so the pack can say so;
    - a strength is a proven driver at the agent's site shown at or above the
      benchmark, never a ceiling item (site adoption at or above
      ``ceiling``, which every agent shows);
    - a mentor is a teammate at or above the benchmark, best-scoring first,
      taking at most ``max_mentees`` teammates (biggest gains are served
      first).

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
        (``opportunity``, ``strength``, ``below_minimum`` or
        ``insufficient_data``), ``rank``, ``score``, ``benchmark``, ``gap``,
        ``impact``, ``expected_gain``, ``n``, ``impact_from`` (which model
        supplied the impact), ``mentor_agent_id``, ``month_score`` and
        ``month_n`` (the report month alone, for the pack's table) and
        ``min_gain``.
    """
    columns = ["agent_id", "supervisor_id", "behavior_id", "kind", "rank", "score", "benchmark",
               "gap", "impact", "expected_gain", "n", "impact_from", "mentor_agent_id",
               "month_score", "month_n", "min_gain"]
    min_gain = MIN_EXPECTED_GAIN.get(kpi, 0.0) if min_gain is None else float(min_gain)
    drivers = drivers[drivers["kpi"] == kpi]
    better = drivers["better"]
    sign = -1.0 if (len(better) and better.iloc[0] == "lower") else 1.0
    if "month_mean" not in scores:
        scores = scores.assign(month_mean=np.nan, month_n=0)
    if "site_adoption" not in scores:
        scores = scores.assign(site_adoption=np.nan)

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
    month_ok = m["month_n"] >= min_evaluations
    already = ((m["shrunk"] >= m["benchmark"]) | (m["mean"] >= m["benchmark"])
               | (month_ok & (m["month_mean"] >= m["benchmark"])))

    def top(frame: pd.DataFrame, by: str, n: int) -> pd.DataFrame:
        # Largest first; ties by behaviour id, so the order of rows never decides.
        ranked = frame.assign(_neg=-frame[by]).sort_values(["agent_id", "_neg", "behavior_id"],
                                                           kind="stable")
        ranked = ranked.groupby("agent_id", sort=False).head(n)
        return ranked.assign(rank=ranked.groupby("agent_id", sort=False).cumcount() + 1)

    candidates = m[(m["expected_gain"] > 0) & ~already]
    worth = candidates[candidates["expected_gain"] >= min_gain]
    opportunities = top(worth, "expected_gain", n_opportunities)
    small = candidates[~candidates["agent_id"].isin(set(worth["agent_id"]))]
    below = top(small, "expected_gain", 1).assign(kind="below_minimum", score=lambda f: f["shrunk"])

    ceiling_item = m["site_adoption"] >= ceiling
    strong = m[(m["shrunk"] >= m["benchmark"]) & (m["impact"] * sign > 0) & ~ceiling_item]
    strengths = top(strong.assign(merit=strong["impact"] * sign), "merit", n_strengths)

    # Mentors: biggest gains first, each mentor at most ``max_mentees`` teammates.
    # Candidates per team and behaviour, best first, grouped once: a lookup per
    # opportunity in a frame costs minutes at thousands of agents.
    pool = scores[scores["n"] >= min_evaluations].sort_values(
        ["shrunk", "agent_id"], ascending=[False, True], kind="stable")
    teammates = {key: list(zip(group["agent_id"], group["shrunk"], strict=True))
                 for key, group in pool.groupby(["supervisor_id", "behavior_id"],
                                                sort=False, observed=True)}
    load: dict[str, int] = {}
    mentor = pd.Series(None, index=opportunities.index, dtype=object)
    ordered = opportunities.sort_values("expected_gain", ascending=False, kind="stable")
    for idx, agent, team, behaviour, benchmark in zip(
            ordered.index, ordered["agent_id"], ordered["supervisor_id"],
            ordered["behavior_id"], ordered["benchmark"], strict=True):
        for who, shrunk in teammates.get((team, behaviour), ()):
            if who != agent and shrunk >= benchmark and load.get(who, 0) < max_mentees:
                load[who] = load.get(who, 0) + 1
                mentor[idx] = who
                break
    opportunities = opportunities.assign(kind="opportunity", score=opportunities["shrunk"],
                                         mentor_agent_id=mentor)
    strengths = strengths.assign(kind="strength", score=strengths["shrunk"], gap=0.0,
                                 expected_gain=0.0, mentor_agent_id=None)

    placed = scores.drop_duplicates("agent_id")
    lacking = placed[~placed["agent_id"].isin(set(measured["agent_id"]))]
    lacking = lacking[["agent_id", "supervisor_id"]].assign(kind="insufficient_data", rank=1)
    out = pd.concat([opportunities, below, strengths, lacking], ignore_index=True)
    out["month_score"] = out.get("month_mean")
    out["min_gain"] = min_gain
    out["_kind"] = out["kind"].map({"opportunity": 0, "below_minimum": 0, "strength": 1,
                                    "insufficient_data": 0})
    out = out.sort_values(["agent_id", "_kind", "rank"], kind="stable")
    out["mentor_agent_id"] = out["mentor_agent_id"].astype(scores["agent_id"].dtype)
    return out.reset_index(drop=True).reindex(columns=columns)
