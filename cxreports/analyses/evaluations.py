"""The joined frames every analysis starts from.

- :func:`evaluation_matrix`: one row per QA evaluation, one column per
  behaviour (score 0-1; NaN where not applicable or not scored).
- :func:`contacts_with_team`: every contact with the team its agent was in on
  that day and its reporting month.
- :func:`evaluated_contacts`: contacts that were QA-evaluated, with their
  behaviour scores, KPIs and team: the interaction-level driver data.
- :func:`agent_months`: per agent and month, mean behaviour scores and mean
  KPIs with their counts: the fallback level for drivers and the basis of
  rankings.

Joins and pivots run in DuckDB over the pandas frames, so they stay quick at
millions of rows.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from ..core.kpis import KPIS
from ..data.roster import assign_roster, roster_segments_sql
from ..data.sql import sql_identifier, sql_list, sql_literal
from .kpi_summary import kpi_stats_sql

__all__ = [
    "CONTACT_STATS_KEYS",
    "KPI_COLUMNS",
    "agent_months",
    "behaviour_columns",
    "contact_stats_sql",
    "contact_times",
    "contacts_with_team",
    "evaluated_contacts",
    "evaluation_matrix",
    "evaluation_matrix_sql",
    "evaluations_with_team",
    "in_window",
]

#: The interactions columns KPIs are computed from (the catalogue's, in its order).
KPI_COLUMNS = list(dict.fromkeys(k.column for k in KPIS))
TEAM_COLUMNS = ["supervisor_id", "site", "vendor", "shore"]
_RESERVED = {"interaction_id", "evaluation_id", "agent_id", "evaluator_id", "evaluated_at",
             "started_at",
             "contact_at", "evaluated_period",
             "period", "n_evaluations", *KPI_COLUMNS, *TEAM_COLUMNS, "channel"}


def behaviour_columns(qa_form: pd.DataFrame) -> list[str]:
    """The behaviour ids of the QA form, in form order, checked for name clashes."""
    behaviors = [str(b) for b in qa_form["behavior_id"]]
    clash = sorted(set(behaviors) & _RESERVED)
    if clash:
        raise ValueError(f"behaviour ids {clash} clash with column names; rename them in qa_form")
    return behaviors


def evaluation_matrix_sql(qa_scores: str, *, behaviors: list[str],
                          routine_only: bool = True) -> str:
    """SQL pivoting ``qa_scores`` (a relation, long form) to one row per evaluation.

    With ``routine_only`` an interaction scored more than once (calibration:
    the same ``interaction_id`` under another ``evaluation_id`` and
    evaluator) keeps only its routine evaluation, the earliest (by
    ``evaluated_at``, then ``evaluation_id``); evaluations without an
    ``interaction_id`` are all kept.
    """
    scores = ", ".join(
        f"max(score) FILTER (WHERE behavior_id = {sql_literal(b)}) "
        f"AS {sql_identifier(b)}" for b in behaviors
    )
    pivot = (f"SELECT evaluation_id, first(interaction_id) AS interaction_id, "
             f"first(agent_id) AS agent_id, first(evaluator_id) AS evaluator_id, "
             f"min(evaluated_at) AS evaluated_at, {scores} "
             f"FROM {qa_scores} WHERE behavior_id IN ({sql_list(behaviors)}) "
             f"GROUP BY evaluation_id")
    if routine_only:
        pivot = (f"SELECT * FROM ({pivot}) p QUALIFY interaction_id IS NULL OR row_number() "
                 f"OVER (PARTITION BY interaction_id ORDER BY evaluated_at, evaluation_id) = 1")
    return f"SELECT * FROM ({pivot}) ORDER BY evaluated_at, evaluation_id"


def evaluation_matrix(qa_scores: pd.DataFrame | str, *, behaviors: list[str],
                      con: duckdb.DuckDBPyConnection | None = None,
                      routine_only: bool = True) -> pd.DataFrame:
    """One row per evaluation, one column per behaviour.

    ``qa_scores`` is the long-form table as a DataFrame, or a relation in
    ``con`` (then the QA rows stay in the database; only the pivot comes out).
    With ``routine_only`` (the default, what every analysis but calibration
    uses) an interaction counts once: its earliest evaluation; calibration
    re-scores of it are left out (:mod:`cxreports.analyses.calibration` reads
    them with ``routine_only=False``).

    Returns
    -------
    pd.DataFrame
        ``evaluation_id``, ``interaction_id``, ``agent_id``, ``evaluator_id``,
        ``evaluated_at``, then a float column per behaviour: the score, NaN
        where the behaviour was not applicable (never zero).
    """
    sql = evaluation_matrix_sql("qa" if not isinstance(qa_scores, str) else qa_scores,
                                behaviors=behaviors, routine_only=routine_only)
    if isinstance(qa_scores, str):
        out = con.execute(sql).df()
    else:
        own = duckdb.connect()
        try:
            frame = qa_scores.reindex(columns=["evaluation_id", "interaction_id", "agent_id",
                                               "evaluator_id", "evaluated_at", "behavior_id",
                                               "score"])
            frame["evaluator_id"] = frame["evaluator_id"].astype(object)
            own.register("qa", frame)
            out = own.execute(sql).df()
        finally:
            own.close()
    out[behaviors] = out[behaviors].astype(float)
    return out


def _period_of(stamps: pd.Series) -> pd.Series:
    return pd.to_datetime(stamps).dt.strftime("%Y-%m")


def contacts_with_team(interactions: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """Every contact with its agent's team on the contact's day and its month.

    Returns
    -------
    pd.DataFrame
        The interaction columns plus ``supervisor_id``, ``site``, ``vendor``,
        ``shore``, ``agent_name``, ``supervisor_name`` and ``period``
        (``YYYY-MM`` of ``started_at``).
    """
    out = assign_roster(interactions, roster, on="started_at")
    out["period"] = _period_of(out["started_at"])
    return out


def evaluated_contacts(
    con: duckdb.DuckDBPyConnection,
    interactions: str,
    evaluations: pd.DataFrame,
    roster: pd.DataFrame,
    *,
    behaviors: list[str],
) -> pd.DataFrame:
    """Contacts that were QA-evaluated, with behaviour scores, KPIs and team.

    ``interactions`` is a relation in ``con`` (the validated contacts stay in
    the database; only evaluated ones come out); ``evaluations`` comes from
    :func:`evaluation_matrix`. A contact evaluated more than once gets the
    mean of its evaluations' scores per behaviour (N/A ignored) and
    ``n_evaluations`` says how many.

    Returns
    -------
    pd.DataFrame
        One row per evaluated contact: interaction columns, team columns,
        ``period``, ``n_evaluations`` and one column per behaviour.
    """
    means = ", ".join(f"avg({sql_identifier(b)}) AS {sql_identifier(b)}" for b in behaviors)
    name = f"cx_evaluations_{id(evaluations):x}"
    con.register(name, evaluations[["interaction_id", *behaviors]])
    try:
        joined = con.execute(
            f"""WITH per_contact AS (
                    SELECT interaction_id, count(*) AS n_evaluations, {means}
                    FROM {name} WHERE interaction_id IS NOT NULL GROUP BY interaction_id)
                SELECT i.*, p.* EXCLUDE (interaction_id)
                FROM {interactions} i JOIN per_contact p USING (interaction_id)
                ORDER BY i.started_at, i.interaction_id"""
        ).df()
    finally:
        con.unregister(name)
    out = contacts_with_team(joined, roster)
    out[behaviors] = out[behaviors].astype(float)
    return out


def in_window(frame: pd.DataFrame, periods: list[str], *, column: str = "period") -> pd.DataFrame:
    """Rows whose ``column`` (``YYYY-MM``) is one of ``periods``."""
    return frame[frame[column].isin([str(p) for p in periods])].reset_index(drop=True)


#: One row of :func:`contact_stats_sql` per agent, month and team (a mover has two).
CONTACT_STATS_KEYS = ["agent_id", "period", *TEAM_COLUMNS]


def contact_stats_sql(interactions: str, roster: str) -> str:
    """SQL: per agent, month and team, the contacts and their KPI statistics.

    Each contact takes its agent's team on its own (local) day, the
    later-starting assignment where two overlap (as
    :func:`~cxreports.data.roster.assign_roster`), and its month. Only these
    sums leave the database (:func:`~cxreports.analyses.kpi_summary.kpi_stats_sql`),
    so memory grows with agents and months, not with contacts; every KPI
    summary, agent-month and ranking is added up from them.
    """
    kpis = ", ".join(f"f.{sql_identifier(c)}" for c in KPI_COLUMNS)
    # Each contact meets exactly one roster piece: no per-contact ranking
    # over millions of rows.
    segments = roster_segments_sql(roster, [sql_identifier(c) for c in TEAM_COLUMNS])
    team = ", ".join(f"g.{sql_identifier(c)}" for c in TEAM_COLUMNS)
    contacts = (
        f"SELECT f.agent_id, {kpis}, strftime(f.started_at, '%Y-%m') AS period, {team} "
        f"FROM {interactions} f LEFT JOIN ({segments}) g ON g.agent_id = f.agent_id "
        f"AND CAST(f.started_at AS DATE) >= g.seg_from "
        f"AND CAST(f.started_at AS DATE) < g.seg_to"
    )
    return kpi_stats_sql(f"({contacts})", group_by=CONTACT_STATS_KEYS, drop_empty=False)


def agent_months(
    contact_stats: pd.DataFrame,
    evaluations: pd.DataFrame,
    roster: pd.DataFrame,
    *,
    behaviors: list[str],
) -> pd.DataFrame:
    """Per agent and month: mean behaviour scores and KPIs, with counts.

    ``contact_stats`` comes from :func:`contact_stats_sql` (or
    :func:`~cxreports.analyses.kpi_summary.kpi_stats` of contacts by
    :data:`CONTACT_STATS_KEYS`); ``evaluations`` from
    :func:`evaluation_matrix`. Each agent-month is placed in the team of
    the agent's contacts and evaluations that month (the most frequent one).

    Returns
    -------
    pd.DataFrame
        ``agent_id``, ``period``, team columns, ``n_evaluations``, one mean
        column per behaviour with ``n_<behaviour>`` (applicable
        evaluations), and per KPI column its mean with ``n_<kpi>`` (responses).
    """
    ev = assign_roster(evaluations, roster, on="evaluated_at")
    ev["period"] = _period_of(ev["evaluated_at"])
    beh = ev.groupby(["agent_id", "period"])[behaviors].agg(["mean", "count"])
    beh.columns = [b if stat == "mean" else f"n_{b}" for b, stat in beh.columns]
    beh["n_evaluations"] = ev.groupby(["agent_id", "period"]).size()
    sums = contact_stats.groupby(["agent_id", "period"])[
        [f"{s}__{k}" for k in KPI_COLUMNS for s in ("n", "sum")]].sum()
    kpis = pd.DataFrame(index=sums.index)
    for k in KPI_COLUMNS:
        n = sums[f"n__{k}"]
        kpis[k] = (sums[f"sum__{k}"] / n).where(n > 0)
        kpis[f"n_{k}"] = n
    evaluated_teams = (ev.groupby(["agent_id", "period", *TEAM_COLUMNS], dropna=False).size()
                       .rename("n").reset_index())
    contact_teams = contact_stats[[*CONTACT_STATS_KEYS, "contacts"]].rename(
        columns={"contacts": "n"})
    team = (
        pd.concat([contact_teams, evaluated_teams])
        .dropna(subset=["supervisor_id"])
        .groupby(["agent_id", "period", *TEAM_COLUMNS], dropna=False)["n"].sum()
        .reset_index()
        .sort_values("n", ascending=False, kind="stable")
        .drop_duplicates(["agent_id", "period"])
        .drop(columns="n")
        .set_index(["agent_id", "period"])
    )
    out = team.join(beh, how="left").join(kpis, how="left").reset_index()
    counts = [c for c in out.columns if c.startswith("n_")]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    return out.sort_values(["period", "agent_id"], kind="stable").reset_index(drop=True)


def contact_times(con: duckdb.DuckDBPyConnection, interactions: str,
                  interaction_ids: pd.Series) -> pd.Series:
    """When each evaluated contact happened (``started_at``), aligned with ``interaction_ids``.

    ``interactions`` is a relation in ``con``; ids it lacks (or empty ids)
    give NaT.
    """
    wanted = pd.DataFrame({"interaction_id": pd.unique(interaction_ids.dropna())})
    name = f"cx_wanted_{id(wanted):x}"
    con.register(name, wanted)
    try:
        found = con.execute(f"SELECT i.interaction_id, i.started_at FROM {interactions} i "
                            f"JOIN {name} w USING (interaction_id)").df()
    finally:
        con.unregister(name)
    times = found.drop_duplicates("interaction_id").set_index("interaction_id")["started_at"]
    return pd.Series(pd.to_datetime(interaction_ids.map(times)).to_numpy(),
                     index=interaction_ids.index, name="contact_at")


def evaluations_with_team(
    evaluations: pd.DataFrame, roster: pd.DataFrame, qa_form: pd.DataFrame
) -> pd.DataFrame:
    """Evaluations with the agent's team, month and overall score.

    An evaluation describes the contact it scored, so with a ``contact_at``
    column (:func:`contact_times`) its month (``period``) and team are those
    of the contact; QA often scores a contact days later, and a late
    September call evaluated in October shows September's behaviour. Without
    ``contact_at`` (or where it is empty) the evaluation's own date is used.
    ``evaluated_period`` is always the evaluation's month.

    ``qa_score`` is the evaluation's weighted mean over applicable behaviours
    (QA form ``weight``, 1 where empty); an evaluation with every behaviour
    N/A has no overall score.
    """
    behaviors = [b for b in qa_form["behavior_id"] if b in evaluations.columns]
    weights = pd.to_numeric(qa_form.set_index("behavior_id")["weight"], errors="coerce")
    w = weights.reindex(behaviors).fillna(1.0).to_numpy(float)
    scores = evaluations[behaviors].to_numpy(float)
    applicable = np.isfinite(scores)
    total = (np.where(applicable, scores, 0.0) * w).sum(axis=1)
    weight = (applicable * w).sum(axis=1)
    evaluations = evaluations.copy()
    evaluated = pd.to_datetime(evaluations["evaluated_at"])
    if "contact_at" in evaluations:
        when = pd.to_datetime(evaluations["contact_at"]).fillna(evaluated)
    else:
        when = evaluated
    evaluations["_when"] = when
    out = assign_roster(evaluations, roster, on="_when").drop(columns="_when")
    out["period"] = _period_of(when).to_numpy()
    out["evaluated_period"] = _period_of(evaluated).to_numpy()
    out["qa_score"] = np.where(weight > 0, total / np.where(weight > 0, weight, 1), np.nan)
    return out
