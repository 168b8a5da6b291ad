"""Effective-dated roster: who an agent reported to, where, on any date.

An agent who moves team has two roster rows. ``valid_to`` is the last day of
an assignment (inclusive) and empty means current. Where two assignments of
one agent overlap, the one that started later wins: it is the newer fact.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from ..core.periods import Period, parse_period

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "assign_roster",
    "roster_for_period",
    "roster_on",
    "roster_segments_sql",
]

#: Roster columns copied onto facts by :func:`assign_roster`.
ASSIGNMENT_COLUMNS = [
    "supervisor_id", "supervisor_name", "site", "vendor", "shore", "agent_name",
]


def roster_on(roster: pd.DataFrame, on: date | str) -> pd.DataFrame:
    """One row per agent on the roster on day ``on``.

    Returns
    -------
    pd.DataFrame
        The roster's columns, one row per agent whose assignment covers
        ``on`` (the latest-starting one where assignments overlap).

    Examples
    --------
    >>> roster = pd.DataFrame({
    ...     "agent_id": ["a1", "a1"], "supervisor_id": ["s1", "s2"],
    ...     "valid_from": pd.to_datetime(["2026-01-01", "2026-08-01"]),
    ...     "valid_to": pd.to_datetime(["2026-07-31", None]),
    ... })
    >>> roster_on(roster, "2026-09-15")["supervisor_id"].tolist()
    ['s2']
    """
    day = pd.Timestamp(on)
    return _latest_assignment(roster, day, day)


def roster_for_period(roster: pd.DataFrame, period: Period | str) -> pd.DataFrame:
    """One row per agent who worked in ``period``, placed in their last team of it.

    An agent who moved team during the month belongs to the team they moved
    to; an agent who left during the month stays with the team they left.

    Examples
    --------
    >>> roster = pd.DataFrame({
    ...     "agent_id": ["a1", "a1"], "supervisor_id": ["s1", "s2"],
    ...     "valid_from": pd.to_datetime(["2026-01-01", "2026-10-15"]),
    ...     "valid_to": pd.to_datetime(["2026-10-14", None]),
    ... })
    >>> roster_for_period(roster, "2026-10")["supervisor_id"].tolist()
    ['s2']
    """
    period = parse_period(period)
    return _latest_assignment(roster, pd.Timestamp(period.start), pd.Timestamp(period.end))


def _latest_assignment(
    roster: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Per agent, the latest-starting assignment that overlaps ``[start, end]``."""
    frm = pd.to_datetime(roster["valid_from"])
    to = pd.to_datetime(roster["valid_to"])
    live = roster[(frm <= end) & (to.isna() | (to >= start))]
    live = live.assign(_from=frm[live.index]).sort_values(["agent_id", "_from"], kind="stable")
    latest = live.drop_duplicates("agent_id", keep="last").drop(columns="_from")
    return latest.reset_index(drop=True)


def assign_roster(
    facts: pd.DataFrame,
    roster: pd.DataFrame,
    *,
    on: str,
    agent: str = "agent_id",
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Add each fact's team (supervisor, site, vendor, shore) as of its own date.

    Parameters
    ----------
    facts
        Rows with an agent id and a date or timestamp column.
    roster
        The validated roster.
    on
        Name of the date column in ``facts``.
    agent
        Name of the agent id column in ``facts``.
    columns
        Roster columns to add; default :data:`ASSIGNMENT_COLUMNS` present in
        the roster.

    Returns
    -------
    pd.DataFrame
        ``facts`` in its original order with the roster columns added (empty
        where no assignment covers the date; validation sets such rows aside,
        so this happens only for unvalidated input).
    """
    wanted = [c for c in (columns or ASSIGNMENT_COLUMNS) if c in roster.columns]
    clash = [c for c in wanted if c in facts.columns]
    facts = facts.drop(columns=clash)
    r = roster[["agent_id", "valid_from", "valid_to", *wanted]]
    f = facts.assign(__fact_row=range(len(facts)))
    con = duckdb.connect()
    try:
        con.register("f", f)
        con.register("r", r)
        picked = con.execute(
            f"""
            SELECT f.__fact_row, {", ".join(f'r."{c}"' for c in wanted)}
            FROM f JOIN r ON r.agent_id = f."{agent}"
             AND CAST(f."{on}" AS DATE) >= CAST(r.valid_from AS DATE)
             AND (r.valid_to IS NULL OR CAST(f."{on}" AS DATE) <= CAST(r.valid_to AS DATE))
            QUALIFY row_number() OVER (PARTITION BY f.__fact_row ORDER BY r.valid_from DESC) = 1
            """
        ).df()
    finally:
        con.close()
    out = f.merge(picked, on="__fact_row", how="left").sort_values("__fact_row")
    return out.drop(columns="__fact_row").reset_index(drop=True)


def roster_segments_sql(roster: str, columns: list[str], *, order: str | None = None) -> str:
    """SQL for an agent's roster as disjoint pieces: ``agent_id, seg_from, seg_to, columns``.

    ``seg_from`` is the first day of a piece and ``seg_to`` the day after its
    last, so a date ``d`` is covered by the piece with ``seg_from <= d <
    seg_to``; where assignments overlap, the piece carries the one that
    started later (ties: the larger ``order``, such as the later roster
    row). A fact table then needs one equality-and-range join instead of
    ranking every fact's matches, which keeps joins over millions of
    contacts linear. ``roster`` is a relation or subquery with ``agent_id``,
    ``valid_from``, ``valid_to`` (inclusive, NULL while current) and
    ``columns``.
    """
    picked = ", ".join(f"r.{c}" for c in columns)
    tie = f", r.{order} DESC" if order else ""
    return f"""
        WITH spans AS (
            SELECT *, CAST(valid_from AS DATE) AS day_from,
                   coalesce(CAST(valid_to AS DATE) + 1, DATE '9999-12-31') AS day_until
            FROM {roster}
        ), bounds AS (
            SELECT agent_id, day_from AS b FROM spans
            UNION SELECT agent_id, day_until FROM spans
        ), pieces AS (
            SELECT agent_id, b AS seg_from,
                   lead(b) OVER (PARTITION BY agent_id ORDER BY b) AS seg_to
            FROM bounds
        )
        SELECT p.agent_id, p.seg_from, p.seg_to, {picked}
        FROM pieces p JOIN spans r ON r.agent_id = p.agent_id
         AND r.day_from <= p.seg_from AND r.day_until >= p.seg_to
        QUALIFY row_number() OVER (PARTITION BY p.agent_id, p.seg_from
                                   ORDER BY r.day_from DESC{tie}) = 1
    """
