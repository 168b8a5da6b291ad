"""Effective-dated roster: facts land on the team the agent was in on their date."""

from __future__ import annotations

import json

import pandas as pd

from cxreports import assign_roster, roster_for_period, roster_on, validate_source


def test_movers_are_placed_by_date(small_source):
    truth = json.loads((small_source / "truth.json").read_text())
    assert truth["movers"], "the sample plants agents who change team"
    data = validate_source(small_source)
    roster = data.table("roster")
    facts = assign_roster(data.table("interactions"), roster, on="started_at")
    assert facts["supervisor_id"].notna().all()
    for move in truth["movers"]:
        mine = facts[facts["agent_id"] == move["agent_id"]]
        before = mine[mine["started_at"] < pd.Timestamp(move["on"])]
        after = mine[mine["started_at"] >= pd.Timestamp(move["on"])]
        assert set(before["supervisor_id"]) <= {move["from_supervisor"]}
        assert set(after["supervisor_id"]) <= {move["to_supervisor"]}
        day = pd.Timestamp(move["on"])
        assert roster_on(roster, day).set_index("agent_id").loc[
            move["agent_id"], "supervisor_id"] == move["to_supervisor"]
        previous = (day - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        assert roster_on(roster, previous).set_index("agent_id").loc[
            move["agent_id"], "supervisor_id"] == move["from_supervisor"]


def test_mid_month_mover_belongs_to_new_team_for_the_period(small_source):
    truth = json.loads((small_source / "truth.json").read_text())
    last = truth["months"][-1]
    mid = [m for m in truth["movers"] if m["on"].startswith(last)]
    assert mid, "one agent moves mid-way through the last month"
    placed = roster_for_period(validate_source(small_source).table("roster"), last)
    assert placed["agent_id"].is_unique
    for move in mid:
        row = placed.set_index("agent_id").loc[move["agent_id"]]
        assert row["supervisor_id"] == move["to_supervisor"]


def test_overlapping_assignments_latest_start_wins():
    roster = pd.DataFrame({
        "agent_id": ["a", "a"], "supervisor_id": ["old", "new"], "site": ["x", "y"],
        "vendor": ["v", "v"],
        "valid_from": pd.to_datetime(["2026-01-01", "2026-06-01"]),
        "valid_to": pd.to_datetime([None, "2026-06-30"]),
    })
    facts = pd.DataFrame({"agent_id": ["a", "a", "a", "b"],
                          "on": pd.to_datetime(["2026-05-31", "2026-06-15", "2026-07-01",
                                                "2026-06-15"])})
    placed = assign_roster(facts, roster, on="on")
    assert placed["supervisor_id"].tolist()[:3] == ["old", "new", "old"]
    assert pd.isna(placed["supervisor_id"].iloc[3])
    assert len(placed) == len(facts)


def test_roster_segments_agree_with_roster_on_for_nested_and_tied_assignments():
    import duckdb

    from cxreports.data.roster import roster_segments_sql

    roster = pd.DataFrame({
        "agent_id": ["a1", "a1", "a1", "a2", "a2"],
        "site": ["Leeds", "Lisbon", "Manila", "Cebu", "Tulsa"],
        "valid_from": pd.to_datetime(["2026-01-01", "2026-03-01", "2026-03-01",
                                      "2026-05-01", "2026-06-01"]).date,
        "valid_to": pd.to_datetime(["2026-12-31", "2026-04-30", "2026-03-10",
                                    "2026-05-31", None]).date,
        "row": [1, 2, 3, 4, 5],
    })
    con = duckdb.connect()
    con.register("r", roster)
    segments = con.execute(roster_segments_sql("r", ["site"], order="row")).df()
    for day in pd.date_range("2025-12-30", "2027-01-02"):
        d = day.date()
        got = segments[(segments["seg_from"].dt.date <= d) & (segments["seg_to"].dt.date > d)]
        expected = roster_on(roster, day)
        assert sorted(zip(got["agent_id"], got["site"], strict=True)) == sorted(
            zip(expected["agent_id"], expected["site"], strict=True)), d
