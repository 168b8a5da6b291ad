"""Verdicts a supervisor can trust, on data generated the way real centres behave.

The generator picks each coaching focus from the lowest *observed* recent
score (so chance lows are coached and regress to the mean on their own),
repeats sessions, evaluates contacts days after they happen and plants real
last-month changes. Each test states the planted truth it checks against.
The heavier simulation (many seeds) is ``benchmarks/coaching_selection.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cxreports.analyses.analysis import Analysis
from cxreports.analyses.drivers import compute_drivers
from cxreports.analyses.qa_form_audit import SMALLEST_EFFECTS, compute_behaviour_evidence
from cxreports.analyses.trends import compute_behaviour_trends
from cxreports.data.sample import write_sample_data

_SAMPLE = {"agents": 60, "months": 5, "contacts_per_month": 60, "seed": 3}


def _analysis(folder, **planted) -> tuple[Analysis, dict]:
    src = write_sample_data(folder, **_SAMPLE, **planted)
    return (Analysis.from_source(src, period="2026-10"),
            json.loads((folder / "truth.json").read_text()))


@pytest.fixture(scope="module")
def null_coaching(tmp_path_factory):
    return _analysis(tmp_path_factory.mktemp("null"), coaching_lift=0.0)


def test_no_lift_is_not_called_worked_despite_selection_on_observed_scores(null_coaching):
    # Planted: coaching does nothing; the focus is the lowest observed score of
    # the two months before, so a before/after comparison would rise by itself.
    analysis, truth = null_coaching
    assert truth["coaching"]["selection"] == "observed" and truth["coaching_lift"] == 0
    assert truth["coaching"]["repeated_sessions"] > 0
    overall = analysis.coaching_effectiveness().iloc[0]
    assert overall["verdict"] == "no_evidence"
    assert overall["ci_low"] <= 0 <= overall["ci_high"]
    assert abs(overall["lift"]) < 0.03
    rows = pd.concat([analysis.coaching_effectiveness(group_by=by)
                      for by in ("supervisor_id", "behavior_id")])
    decided = rows[rows["verdict"] != "insufficient_data"]
    assert len(decided) >= 8 and (decided["verdict"] != "worked").all()


def test_planted_lift_per_session_is_recovered(tmp_path):
    analysis, truth = _analysis(tmp_path, coaching_lift=0.12)
    overall = analysis.coaching_effectiveness().iloc[0]
    assert overall["verdict"] == "worked"
    # The truth is 0.12 a session, a little less where the 0.97 cap binds.
    assert overall["ci_low"] <= 0.12
    assert overall["ci_high"] >= truth["coaching"]["lift_per_session_next_month"]


def test_planted_declines_are_flagged_and_little_else(analysis, truth):
    trends = analysis.trends.set_index(["agent_id", "behavior_id"])
    planted = {(c["agent_id"], c["behavior_id"]): c["direction"]
               for c in truth["behaviour_changes"]}
    assert len(planted) >= 5
    found = [trends.loc[key, "trend"] == direction for key, direction in planted.items()]
    assert np.mean(found) >= 0.5
    others = trends[~trends.index.isin(list(planted))]
    flagged = others["trend"].isin(["improved", "declined"])
    # Some flags elsewhere are real (coaching raises behaviours); few are noise.
    assert flagged.mean() < 0.03


def test_a_fall_from_58_to_8_percent_is_flagged_within_the_agent():
    # 100 agents x 10 behaviours; one agent falls from 58% (21 of 36) to 8% (1 of 12).
    rng = np.random.default_rng(11)
    behaviours = [f"b{k}" for k in range(10)]
    frames = []
    for a in range(100):
        for period, n in (("2026-07", 12), ("2026-08", 12), ("2026-09", 12), ("2026-10", 12)):
            frames.append(pd.DataFrame({"agent_id": f"A{a:03d}", "period": period,
                                        "supervisor_id": f"S{a // 10}",
                                        **{b: (rng.random(n) < 0.6).astype(float)
                                           for b in behaviours}}))
    ev = pd.concat(frames, ignore_index=True)
    mine = ev["agent_id"] == "A000"
    ev.loc[mine & (ev["period"] != "2026-10"), "b0"] = ([1.0] * 21 + [0.0] * 15)
    ev.loc[mine & (ev["period"] == "2026-10"), "b0"] = [1.0] + [0.0] * 11
    by_agent = compute_behaviour_trends(ev, period="2026-10", behaviors=behaviours)
    row = by_agent.set_index(["agent_id", "behavior_id"]).loc[("A000", "b0")]
    assert row["trend"] == "declined"
    # Across every pair in the company, the same fall would be lost in the family.
    everyone = compute_behaviour_trends(ev, period="2026-10", behaviors=behaviours,
                                        family="all")
    assert everyone.set_index(["agent_id", "behavior_id"]).loc[("A000", "b0"), "q_value"] \
        > row["q_value"]
    # Under the null, per-agent BH flags about 5% of agents (FDR = FWER when all are null).
    others = by_agent[(by_agent["agent_id"] != "A000") | (by_agent["behavior_id"] != "b0")]
    assert others["trend"].isin(["improved", "declined"]).mean() < 0.02


def test_driver_verdict_has_a_direction():
    # Planted: ``good`` adds 0.5 CSAT points, ``bad`` takes 0.5 away, ``noise`` nothing.
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({"agent_id": rng.integers(0, 60, n).astype(str),
                          "good": (rng.random(n) < 0.5).astype(float),
                          "bad": (rng.random(n) < 0.5).astype(float),
                          "noise": (rng.random(n) < 0.5).astype(float)})
    frame["csat"] = 3 + 0.5 * frame["good"] - 0.5 * frame["bad"] + rng.normal(0, 0.8, n)
    frame["aht_seconds"] = 400 - 30 * frame["good"] + 30 * frame["bad"] + rng.normal(0, 60, n)
    for kpi in ("csat", "aht_seconds"):  # higher is better / lower is better
        out = compute_drivers(frame, kpi=kpi, behaviors=["good", "bad", "noise"])
        verdicts = out.set_index("behavior_id")["verdict"]
        assert verdicts["good"] == "driver" and verdicts["bad"] == "harmful", kpi
        assert verdicts["noise"] == "no_evidence"


def _drivers(estimates: list[float], se: float, kpi: str = "csat") -> pd.DataFrame:
    from scipy import stats

    b = np.asarray(estimates, dtype=float)
    return pd.DataFrame({"group_by": "site", "group": [f"g{k}" for k in range(len(b))],
                         "kpi": kpi, "behavior_id": "b", "estimate": b, "std_error": se,
                         "p_value": 2 * stats.norm.sf(np.abs(b / se)), "verdict": "no_evidence"})


def test_predicts_nothing_needs_evidence_of_absence():
    delta = SMALLEST_EFFECTS["csat"]
    # Precise and small everywhere: equivalent (90% interval inside +/- delta).
    tight = compute_behaviour_evidence(_drivers([0.01, -0.02, 0.0], 0.02), kpis=("csat",))
    assert tight["call"].iloc[0] == "equivalent"
    # Small sample, a real effect of 0.3 not yet significant: unproven, never "nothing".
    loose = compute_behaviour_evidence(_drivers([0.3, 0.25], 0.3), kpis=("csat",))
    assert loose["call"].iloc[0] == "unproven"
    # An effect that is real at one site only widens the pooled interval (random effects).
    mixed = compute_behaviour_evidence(_drivers([0.0, 0.0, 0.0, 0.45], 0.03), kpis=("csat",))
    assert mixed["call"].iloc[0] != "equivalent" and mixed["tau2"].iloc[0] > 0
    # A significant effect in the wrong direction is harmful, not "predicts".
    wrong = compute_behaviour_evidence(_drivers([-0.3, -0.25], 0.05), kpis=("csat",))
    assert wrong["call"].iloc[0] == "harmful"
    # Reference: DerSimonian-Laird with tau2 = 0 is the inverse-variance mean; TOST
    # p = max(1 - Phi((b + d) / se), Phi((b - d) / se)), se = 0.02 / sqrt(3).
    from scipy import stats
    se = 0.02 / np.sqrt(3)
    b = (0.01 - 0.02 + 0.0) / 3
    assert tight["estimate"].iloc[0] == pytest.approx(b)
    assert tight["p_equivalence"].iloc[0] == pytest.approx(
        max(stats.norm.sf((b + delta) / se), stats.norm.cdf((b - delta) / se)))


def test_audit_on_planted_drivers_and_nulls(analysis, truth):
    audit = analysis.qa_form_audit().set_index("behavior_id")
    drivers = {b for k in ("csat", "nps", "ces", "fcr") for b in truth["effects"][k]}
    for behavior in drivers:
        assert audit.loc[behavior, "verdict"] == "predicts", behavior
        assert not audit.loc[behavior, "predicts_nothing"]
    for behavior in truth["effects"]["csat"]:
        assert "csat" in audit.loc[behavior, "kpis_driven"].split(", ")
    nulls = [b for b in audit.index if b not in drivers]
    assert not audit.loc[nulls, "verdict"].eq("predicts").any()
    assert audit.loc[nulls, "predicts_nothing"].any()  # evidence of absence is found
    # predicts_nothing is true only with equivalence on every KPI.
    assert (audit["predicts_nothing"] == (audit["verdict"] == "predicts_nothing")).all()


def test_comparison_with_the_reference_never_contradicts_the_interval_beside_it():
    from cxreports.analyses.drivers import compare_to_reference

    rows = [  # group, behaviour, estimate, ci_low, ci_high, verdict
        ("in-house", "b1", 0.40, 0.30, 0.50, "driver"),
        ("in-house", "b2", -30.0, -40.0, -20.0, "driver"),  # handle time: lower is better
        ("V", "b1", 0.35, 0.25, 0.45, "driver"),        # holds
        ("W", "b1", 0.20, 0.10, 0.30, "driver"),        # driver, but in-house is beyond: weaker
        ("X", "b1", -0.08, -0.15, -0.01, "harmful"),    # the other way: reverses, not weaker
        ("Y", "b1", 0.05, -0.10, 0.45, "no_evidence"),  # not shown
        ("Z", "b1", float("nan"), float("nan"), float("nan"), "insufficient_data"),
        ("V", "b2", -5.0, -10.0, -1.0, "driver"),       # same sign, smaller: weaker
        ("W", "b2", 6.0, 2.0, 10.0, "harmful"),         # longer calls: reverses
    ]
    drivers = pd.DataFrame(rows, columns=["group", "behavior_id", "estimate", "ci_low",
                                          "ci_high", "verdict"]).assign(kpi="k")
    got = compare_to_reference(drivers, reference="in-house").set_index(
        ["group", "behavior_id"])["status"].to_dict()
    assert got == {("V", "b1"): "holds", ("W", "b1"): "weaker", ("X", "b1"): "reverses",
                   ("Y", "b1"): "not_shown", ("Z", "b1"): "insufficient_data",
                   ("V", "b2"): "weaker", ("W", "b2"): "reverses"}
