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
from ..data.roster import assign_roster
from ..data.sql import sql_identifier, sql_list, sql_literal

__all__ = [
    "KPI_COLUMNS",
    "agent_months",
    "behaviour_columns",
    "contacts_with_team",
    "evaluated_contacts",
    "evaluation_matrix",
    "evaluations_with_team",
    "in_window",
]

#: The interactions columns KPIs are computed from (the catalogue's, in its order).
KPI_COLUMNS = list(dict.fromkeys(k.column for k in KPIS))
TEAM_COLUMNS = ["supervisor_id", "site", "vendor", "shore"]
_RESERVED = {"interaction_id", "evaluation_id", "agent_id", "evaluated_at", "started_at",
             "period", "n_evaluations", *KPI_COLUMNS, *TEAM_COLUMNS, "channel"}


def behaviour_columns(qa_form: pd.DataFrame) -> list[str]:
    """The behaviour ids of the QA form, in form order, checked for name clashes."""
    behaviors = [str(b) for b in qa_form["behavior_id"]]
    clash = sorted(set(behaviors) & _RESERVED)
    if clash:
        raise ValueError(f"behaviour ids {clash} clash with column names; rename them in qa_form")
    return behaviors


def evaluation_matrix(qa_scores: pd.DataFrame, *, behaviors: list[str]) -> pd.DataFrame:
    """One row per evaluation, one column per behaviour.

    Returns
    -------
    pd.DataFrame
        ``evaluation_id``, ``interaction_id``, ``agent_id``, ``evaluated_at``,
        then a float column per behaviour: the score, NaN where the behaviour
        was not applicable (never zero).
    """
    scores = ", ".join(
        f"max(score) FILTER (WHERE behavior_id = {sql_literal(b)}) "
        f"AS {sql_identifier(b)}" for b in behaviors
    )
    con = duckdb.connect()
    try:
        con.register("qa", qa_scores[["evaluation_id", "interaction_id", "agent_id",
                                      "evaluated_at", "behavior_id", "score"]])
        out = con.execute(
            f"""SELECT evaluation_id, first(interaction_id) AS interaction_id,
                       first(agent_id) AS agent_id, min(evaluated_at) AS evaluated_at, {scores}
                FROM qa WHERE behavior_id IN ({sql_list(behaviors)})
                GROUP BY evaluation_id ORDER BY evaluated_at, evaluation_id"""
        ).df()
    finally:
        con.close()
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
    interactions: pd.DataFrame,
    qa_scores: pd.DataFrame,
    roster: pd.DataFrame,
    *,
    behaviors: list[str],
) -> pd.DataFrame:
    """Contacts that were QA-evaluated, with behaviour scores, KPIs and team.

    A contact evaluated more than once gets the mean of its evaluations'
    scores per behaviour (N/A ignored) and ``n_evaluations`` says how many.

    Returns
    -------
    pd.DataFrame
        One row per evaluated contact: interaction columns, team columns,
        ``period``, ``n_evaluations`` and one column per behaviour.
    """
    matrix = evaluation_matrix(qa_scores, behaviors=behaviors)
    means = ", ".join(f"avg({sql_identifier(b)}) AS {sql_identifier(b)}" for b in behaviors)
    con = duckdb.connect()
    try:
        con.register("m", matrix)
        con.register("i", interactions)
        joined = con.execute(
            f"""WITH per_contact AS (
                    SELECT interaction_id, count(*) AS n_evaluations, {means}
                    FROM m WHERE interaction_id IS NOT NULL GROUP BY interaction_id)
                SELECT i.*, p.* EXCLUDE (interaction_id)
                FROM i JOIN per_contact p USING (interaction_id)
                ORDER BY i.started_at, i.interaction_id"""
        ).df()
    finally:
        con.close()
    out = contacts_with_team(joined, roster)
    out[behaviors] = out[behaviors].astype(float)
    return out


def in_window(frame: pd.DataFrame, periods: list[str], *, column: str = "period") -> pd.DataFrame:
    """Rows whose ``column`` (``YYYY-MM``) is one of ``periods``."""
    return frame[frame[column].isin([str(p) for p in periods])].reset_index(drop=True)


def agent_months(
    contacts: pd.DataFrame,
    evaluations: pd.DataFrame,
    roster: pd.DataFrame,
    *,
    behaviors: list[str],
) -> pd.DataFrame:
    """Per agent and month: mean behaviour scores and KPIs, with counts.

    ``contacts`` comes from :func:`contacts_with_team`; ``evaluations`` from
    :func:`evaluation_matrix`. Each agent-month is placed in the team of
    the agent's contacts that month (the most frequent one).

    Returns
    -------
    pd.DataFrame
        ``agent_id``, ``period``, team columns, ``n_evaluations``, one mean
        column per behaviour with ``n_<behaviour>`` (applicable
        evaluations), and per KPI its mean with ``n_<kpi>`` (responses).
    """
    ev = assign_roster(evaluations, roster, on="evaluated_at")
    ev["period"] = _period_of(ev["evaluated_at"])
    beh = ev.groupby(["agent_id", "period"])[behaviors].agg(["mean", "count"])
    beh.columns = [b if stat == "mean" else f"n_{b}" for b, stat in beh.columns]
    beh["n_evaluations"] = ev.groupby(["agent_id", "period"]).size()
    kpi_frame = contacts.assign(fcr=contacts["fcr"].astype("float"))
    kpis = kpi_frame.groupby(["agent_id", "period"])[KPI_COLUMNS].agg(["mean", "count"])
    kpis.columns = [k if stat == "mean" else f"n_{k}" for k, stat in kpis.columns]
    team = (
        pd.concat([contacts[["agent_id", "period", *TEAM_COLUMNS]],
                   ev[["agent_id", "period", *TEAM_COLUMNS]]])
        .dropna(subset=["supervisor_id"])
        .groupby(["agent_id", "period", *TEAM_COLUMNS], dropna=False).size()
        .rename("n").reset_index()
        .sort_values("n", ascending=False, kind="stable")
        .drop_duplicates(["agent_id", "period"])
        .drop(columns="n")
        .set_index(["agent_id", "period"])
    )
    out = team.join(beh, how="left").join(kpis, how="left").reset_index()
    counts = [c for c in out.columns if c.startswith("n_")]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    return out.sort_values(["period", "agent_id"], kind="stable").reset_index(drop=True)


def evaluations_with_team(
    evaluations: pd.DataFrame, roster: pd.DataFrame, qa_form: pd.DataFrame
) -> pd.DataFrame:
    """Evaluations with the agent's team on the evaluation day, month and overall score.

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
    out = assign_roster(evaluations, roster, on="evaluated_at")
    out["period"] = _period_of(out["evaluated_at"])
    out["qa_score"] = np.where(weight > 0, total / np.where(weight > 0, weight, 1), np.nan)
    return out
