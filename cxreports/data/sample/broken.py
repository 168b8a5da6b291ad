"""Rows that break every rule of the data contract, for the validation tests."""

from __future__ import annotations

import pandas as pd

from .generate import SampleData

__all__ = ["add_broken_rows"]


def add_broken_rows(sample: SampleData) -> tuple[dict[str, pd.DataFrame], dict]:
    """Append rows breaking every rule the contract names; also valid oddities.

    Returns the tables as text and a record of each broken row: its table,
    1-based row number in the written file, and the rule it breaks. Valid
    but unusual spellings (``TRUE``/``FALSE``, ``Pass``, ``N/A``, ``Voice``,
    padded ids) are mixed into good rows and must *not* be set aside.
    """
    t = {k: v.astype(str).replace({"nan": "", "NaT": "", "None": ""})
         for k, v in sample.tables.items()}
    cases: list[dict] = []

    def add(table: str, rule: str, **values: str) -> None:
        frame = t[table]
        base = {c: "" for c in frame.columns}
        base.update(values)
        t[table] = pd.concat([frame, pd.DataFrame([base])], ignore_index=True)
        cases.append({"table": table, "row": len(t[table]), "rule": rule})

    inter = t["interactions"]
    good = inter.iloc[0].to_dict()

    def contact(rule: str, **changes: str) -> None:
        row = dict(good, interaction_id=f"BROKEN-{len(cases):03d}", **{
            k: v for k, v in changes.items() if k != "interaction_id"})
        if "interaction_id" in changes:
            row["interaction_id"] = changes["interaction_id"]
        add("interactions", rule, **row)

    # Valid oddities first, on existing good rows.
    inter.loc[1, "fcr"] = "TRUE"
    inter.loc[2, "fcr"] = "FALSE"
    inter.loc[3, "fcr"] = "Yes"
    inter.loc[4, "channel"] = "Voice"
    inter.loc[5, "agent_id"] = f" {inter.loc[5, 'agent_id']} "
    t["interactions"] = inter
    qa = t["qa_scores"]
    qa.loc[0, "score"] = "Pass" if qa.loc[0, "score"] == "1" else "fail"
    qa.loc[1, "score"] = "yes" if qa.loc[1, "score"] == "1" else "NO"
    # An evaluator the evaluators table lacks: kept, and named in a warning.
    qa.loc[qa["evaluation_id"] == qa.loc[0, "evaluation_id"], "evaluator_id"] = "E-UNLISTED"
    t["qa_scores"] = qa

    contact("outside 1 to 5", csat="6")
    contact("outside 1 to 5", csat="0")
    contact("outside 0 to 10", nps="11")
    contact("outside 1 to 7", ces="9")
    contact("negative", aht_seconds="-5")
    contact("not an ISO 8601 date", started_at="31/10/2026 10:00")
    contact("not one of", channel="fax")
    contact("interaction_id is empty", interaction_id="")
    contact("agent_id is empty", agent_id="")
    contact("not true/false", fcr="maybe")
    contact("not a whole number", csat="4.5")
    contact("is not a number", csat="abc")
    contact("is not on the roster", agent_id="A9999")
    contact("is not on the roster on", started_at="2001-01-01T10:00:00")
    add("interactions", "repeated interaction_id", **dict(good, csat="1"))

    q = t["qa_scores"].iloc[0].to_dict()
    for k, (rule, changes) in enumerate([
        ("outside 0 to 1", {"score": "1.5"}),
        ("outside 0 to 1", {"score": "-0.1"}),
        ("is not a number, yes/no", {"score": "maybe"}),
        ("is not on the QA form", {"behavior_id": "mind_reading"}),
        ("not an ISO 8601 date", {"evaluated_at": "yesterday"}),
        ("evaluation_id is empty", {"evaluation_id": ""}),
        ("is not on the roster", {"agent_id": "A9999"}),
    ]):
        changes.setdefault("evaluation_id", f"QBROKEN{k}")
        add("qa_scores", rule, **dict(q, **changes))
    add("qa_scores", "repeated evaluation_id", **q)

    r = t["roster"].iloc[0].to_dict()
    add("roster", "not one of", **dict(r, agent_id="A9001", shore="moon"))
    add("roster", "not an ISO 8601 date", **dict(r, agent_id="A9002", valid_from="not a date"))
    add("roster", "agent_id is empty", **dict(r, agent_id=""))
    add("roster", "vendor is empty", **dict(r, agent_id="A9003", vendor=""))

    f = t["qa_form"].iloc[0].to_dict()
    add("qa_form", "not one of", **dict(f, behavior_id="bogus_behaviour", kind="vibe"))
    add("qa_form", "repeated behavior_id", **dict(f, label="A second greeting row"))

    c = t["coaching"].iloc[0].to_dict()
    add("coaching", "negative", **dict(c, session_id="CB1", minutes="-10"))
    add("coaching", "not an ISO 8601 date", **dict(c, session_id="CB2", held_on="2026-02-30"))
    add("coaching", "is not on the QA form", **dict(c, session_id="CB3",
                                                    behavior_id="mind_reading"))
    add("coaching", "repeated session_id", **c)

    g = t["targets"].iloc[0].to_dict()
    add("targets", "not one of", **dict(g, direction="sideways"))
    add("targets", "not one of", **dict(g, kpi="happiness"))

    s = t["supervisor_time"].iloc[0].to_dict()
    add("supervisor_time", "negative", **dict(s, coaching_minutes="-1"))
    add("supervisor_time", "not an ISO 8601 date", **dict(s, week="week 40"))

    e = t["evaluators"].iloc[0].to_dict()
    add("evaluators", "is neither brand nor a vendor on the roster",
        **dict(e, evaluator_id="EB1", employer="Nobody Ltd"))
    add("evaluators", "employer is empty", **dict(e, evaluator_id="EB2", employer=""))
    add("evaluators", "repeated evaluator_id", **e)

    z = t["sites"].iloc[0].to_dict()
    add("sites", "is not an IANA time zone name", **dict(z, site="Atlantis",
                                                        time_zone="Ocean/Atlantis"))
    add("sites", "repeated site", **z)
    add("sites", "time_zone is empty", **dict(z, site="Nowhere", time_zone=""))

    expected = {name: sum(1 for k in cases if k["table"] == name) for name in t}
    return t, {"expected_set_aside": expected, "cases": cases}
