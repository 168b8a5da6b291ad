"""Rankings, trends, coaching, QA form audit and KPI summaries on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxreports.analyses.kpi_summary import compare_to_targets, compute_kpi_summary
from cxreports.analyses.rankings import compute_top_overlap, rank_agents
from cxreports.analyses.stats import nps_interval, shrink_means, wilson_interval
from cxreports.analyses.trends import compute_behaviour_trends

# ----------------------------------------------------------------- coaching


def test_coaching_lift_recovered_within_interval(analysis, truth):
    overall = analysis.coaching_effectiveness().iloc[0]
    assert overall["verdict"] == "worked"
    assert overall["ci_low"] <= truth["coaching_lift"] <= overall["ci_high"]
    per_behaviour = analysis.coaching_effectiveness(group_by="behavior_id")
    assert (per_behaviour["lift"] > 0).all()


def test_coaching_effectiveness_per_supervisor_has_intervals(analysis):
    per = analysis.coaching_effectiveness(group_by="supervisor_id")
    shown = per[per["verdict"] != "insufficient_data"]
    assert len(shown) >= 5
    # Reference, by hand: the mean of the supervisor's session difference-in-differences
    # with an agent-clustered (CR1) standard error, sqrt(G/(G-1) * sum_g r_g^2) / n where
    # r_g is agent g's sum of residuals, and a t interval on G-1 degrees of freedom.
    sessions = analysis.session_effects
    for row in shown.itertuples():
        part = sessions[sessions["supervisor_id"] == row.group]
        did = part["did"].to_numpy(float)
        mean = did.mean()
        by_agent = pd.Series(did - mean).groupby(part["agent_id"].to_numpy()).sum()
        g = len(by_agent)
        se = np.sqrt(g / (g - 1) * (by_agent**2).sum()) / len(did)
        half = stats.t.ppf(0.975, g - 1) * se
        assert row.n_sessions == len(did) and row.n_agents == g
        assert row.lift == pytest.approx(mean, abs=1e-12)
        assert row.ci_low == pytest.approx(mean - half, abs=1e-12)
        assert row.ci_high == pytest.approx(mean + half, abs=1e-12)
        assert row.p_value == pytest.approx(2 * stats.t.sf(abs(mean / se), g - 1), abs=1e-12)


def test_coaching_coverage_counts_own_team_and_time_share(analysis):
    cov = analysis.coaching_coverage
    team = analysis.team
    assert set(cov["supervisor_id"]) == set(team["supervisor_id"])
    sizes = team.groupby("supervisor_id").size()
    assert (cov["team_size"] == cov["supervisor_id"].map(sizes)).all()
    assert cov["coverage"].between(0, 1).all()
    assert cov["time_share"].between(0.2, 0.7).all()
    assert (cov["meets_goal"] == (cov["time_share"] >= 0.5)).all()


def test_coaching_priorities_use_proven_drivers_and_team_mentors(analysis):
    prio = analysis.coaching_priorities(kpi="csat")
    drivers = analysis.layered_drivers
    proven = set(drivers[(drivers["kpi"] == "csat") & (drivers["verdict"] == "driver")]
                 ["behavior_id"])
    opp = prio[prio["kind"] == "opportunity"]
    assert len(opp) > 0
    assert set(opp["behavior_id"]) <= proven
    assert (opp["expected_gain"] > 0).all()
    assert (opp.groupby("agent_id").size() <= 2).all()
    team_of = analysis.team.set_index("agent_id")["supervisor_id"]
    with_mentor = opp.dropna(subset=["mentor_agent_id"])
    assert len(with_mentor) > 0
    assert (with_mentor["mentor_agent_id"].map(team_of) == with_mentor["supervisor_id"]).all()
    assert (with_mentor["mentor_agent_id"] != with_mentor["agent_id"]).all()
    scores = analysis.agent_behaviour_scores.set_index(["agent_id", "behavior_id"])
    for row in with_mentor.itertuples():
        assert scores.loc[(row.mentor_agent_id, row.behavior_id), "shrunk"] >= row.benchmark


def test_mover_is_scored_in_new_team(analysis, truth):
    last = truth["months"][-1]
    mover = next(m for m in truth["movers"] if m["on"].startswith(last))
    prio = analysis.coaching_priorities()
    assert set(prio.loc[prio["agent_id"] == mover["agent_id"], "supervisor_id"]) == {
        mover["to_supervisor"]}


# ----------------------------------------------------------------- rankings


def test_top_overlap_aligned_on_planted_data(analysis):
    overlap = analysis.top_overlap(kpi="csat").iloc[0]
    assert overlap["verdict"] == "aligned"
    assert overlap["overlap"] > overlap["expected_overlap"]
    assert overlap["spearman_ci_low"] > 0
    # Reference, recomputed from the eligible agents' ranks: the two top-N sets, their
    # overlap and Jaccard index, and pandas' Spearman correlation of the ranks.
    ranked = analysis.rankings(kpi="csat")
    eligible = ranked[ranked["eligible"]]
    n = min(20, len(eligible) // 3)
    top_qa = set(eligible.nsmallest(n, "qa_rank")["agent_id"])
    top_kpi = set(eligible.nsmallest(n, "kpi_rank")["agent_id"])
    assert (overlap["n_agents"], overlap["top_n"]) == (len(eligible), n)
    assert overlap["overlap"] == len(top_qa & top_kpi)
    assert overlap["jaccard"] == pytest.approx(len(top_qa & top_kpi) / len(top_qa | top_kpi))
    assert overlap["expected_overlap"] == pytest.approx(n * n / len(eligible))
    assert overlap["spearman"] == pytest.approx(
        eligible["qa_rank"].corr(eligible["kpi_rank"], method="spearman"), abs=1e-12)


def test_unrelated_rankings_are_not_aligned():
    rng = np.random.default_rng(12)
    agents = [f"a{i}" for i in range(60)]
    ev = pd.DataFrame({"agent_id": np.repeat(agents, 10), "qa_score": rng.random(600)})
    co = pd.DataFrame({"agent_id": np.repeat(agents, 20),
                       "csat": rng.integers(1, 6, 1200).astype(float)})
    ranked = rank_agents(ev, co, kpi="csat")
    out = compute_top_overlap(ranked, kpi="csat", top_n=10, n_boot=300).iloc[0]
    assert out["verdict"] == "not_aligned"


def test_shrinkage_pulls_small_samples_hardest():
    means = pd.Series([5.0, 5.0, 3.0, 3.5, 4.0])
    counts = pd.Series([2, 200, 50, 50, 50])
    shrunk = shrink_means(means, counts, 1.0)
    assert shrunk[0] < shrunk[1]  # same mean, fewer responses: pulled further down
    assert abs(shrunk[1] - 5.0) < abs(shrunk[0] - 5.0)


def test_ineligible_agents_are_not_ranked():
    ev = pd.DataFrame({"agent_id": ["a", "a", "b"], "qa_score": [1.0, 0.9, 1.0]})
    co = pd.DataFrame({"agent_id": ["a"] * 12 + ["b"] * 3, "csat": [5.0] * 15})
    ranked = rank_agents(ev, co, kpi="csat", min_evaluations=2, min_responses=10)
    row = ranked.set_index("agent_id")
    assert row.loc["a", "eligible"] and not row.loc["b", "eligible"]
    assert pd.isna(row.loc["b", "qa_rank"])


# ----------------------------------------------------------------- trends


def _evals(agent: str, period: str, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"agent_id": agent, "period": period, "b": values})


def test_trend_flags_real_change_only():
    ev = pd.concat([
        _evals("up", "2026-07", [0.0] * 10), _evals("up", "2026-08", [0.0] * 10),
        _evals("up", "2026-10", [1.0] * 12),
        _evals("flat", "2026-08", [1.0, 0.0] * 10), _evals("flat", "2026-10", [1.0, 0.0] * 6),
        _evals("few", "2026-09", [0.0, 0.0]), _evals("few", "2026-10", [1.0, 1.0]),
        _evals("old", "2026-01", [0.0] * 10), _evals("old", "2026-10", [1.0] * 10),
    ])
    out = compute_behaviour_trends(ev, period="2026-10", behaviors=["b"]).set_index("agent_id")
    assert out.loc["up", "trend"] == "improved"
    assert out.loc["flat", "trend"] == "steady"
    assert out.loc["few", "trend"] == "insufficient_data"  # 2 v 2 is noise
    assert out.loc["old", "trend"] == "insufficient_data"  # outside the 3-month baseline
    assert out.loc["up", "ci_low"] > 0


def test_trends_on_sample_are_mostly_steady(analysis):
    trends = analysis.trends
    assert set(trends["trend"]) <= {"improved", "declined", "steady", "insufficient_data"}
    decided = trends[trends["trend"] != "insufficient_data"]
    assert len(decided) > 0
    assert (decided["trend"] != "steady").mean() < 0.1  # multiple-comparison control at work


# ----------------------------------------------------------------- QA audit


def test_qa_form_audit_finds_ceiling_and_empty_behaviours(analysis, truth):
    audit = analysis.qa_form_audit().set_index("behavior_id")
    assert audit.loc["use_name", "is_ceiling"]
    for behavior in ("greet_brand", "verify_identity", "use_name"):
        assert audit.loc[behavior, "predicts_nothing"], behavior
    for behavior in truth["effects"]["csat"]:
        assert not audit.loc[behavior, "predicts_nothing"]
        assert "csat" in audit.loc[behavior, "kpis_driven"]
    assert set(audit["kind"]) == {"intent", "task"}


# ----------------------------------------------------------------- KPIs


def test_kpi_summary_matches_hand_computation(analysis):
    summary = analysis.kpi_summary(group_by="vendor").set_index(["vendor", "kpi"])
    month = analysis.contacts_frame(months=["2026-10"])
    inhouse = month[month["vendor"] == "in-house"]
    csat = inhouse["csat"].dropna()
    assert summary.loc[("in-house", "csat"), "value"] == pytest.approx(csat.mean())
    assert summary.loc[("in-house", "csat"), "n"] == len(csat)
    nps = inhouse["nps"].dropna()
    expected = 100 * ((nps >= 9).mean() - (nps <= 6).mean())
    assert summary.loc[("in-house", "nps"), "value"] == pytest.approx(expected)
    assert summary.loc[("in-house", "csat_top_box"), "value"] == pytest.approx((csat >= 4).mean())


def test_small_samples_flagged():
    contacts = pd.DataFrame({"csat": [5.0] * 5, "nps": [10.0] * 5, "fcr": [True] * 5,
                             "ces": [7.0] * 5, "aht_seconds": [100.0] * 5})
    out = compute_kpi_summary(contacts, min_responses=30)
    assert not out["enough_data"].any()


def test_intervals_reference_values():
    # Wilson 95% for 8/10, from R: binom::binom.wilson(8, 10) -> 0.4901625 0.9433178
    low, high = wilson_interval(8, 10)
    assert float(low) == pytest.approx(0.4901625, abs=1e-6)
    assert float(high) == pytest.approx(0.9433178, abs=1e-6)
    # NPS of 5 promoters, 3 passives, 2 detractors: 30 points. Wald interval by hand
    # (Rocks 2016): se = sqrt((p + d - (p - d)^2) / n) = sqrt((0.7 - 0.09) / 10)
    # = 0.2469818; 30 +/- 100 * 1.959964 * se -> -18.40754, 78.40754.
    value, lo, hi, n = nps_interval(pd.Series([10] * 5 + [8] * 3 + [2] * 2))
    assert value == pytest.approx(30.0) and n == 10
    assert float(lo) == pytest.approx(-18.40754, abs=1e-5)
    assert float(hi) == pytest.approx(78.40754, abs=1e-5)


def test_targets_rag_status():
    summary = pd.DataFrame({
        "kpi": ["csat", "nps", "aht_seconds", "ces"], "value": [4.1, 15.0, 500.0, 4.0],
        "ci_low": [4.0, 10.0, 490.0, 3.5], "ci_high": [4.2, 20.0, 510.0, 4.5],
        "n": [100, 100, 100, 5], "enough_data": [True, True, True, False]})
    targets = pd.DataFrame({
        "kpi": ["csat", "csat", "nps", "aht_seconds", "ces"],
        "target": [4.0, 4.5, 40.0, 480.0, 5.0],
        "scope": ["all", "vendor", "all", "all", "all"],
        "scope_value": [None, "X", None, None, None],
        "direction": ["higher", "higher", "higher", "lower", "higher"]})
    out = compare_to_targets(summary, targets, vendor="Y").set_index("kpi")
    assert out.loc["csat", "status"] == "green"
    assert out.loc["nps", "status"] == "red"
    assert out.loc["aht_seconds", "status"] == "amber"  # 4% over a lower-is-better target
    assert out.loc["ces", "status"] == "insufficient_data"
    vendor_x = compare_to_targets(summary, targets, vendor="X").set_index("kpi")
    assert vendor_x.loc["csat", "target"] == 4.5  # the vendor's own target wins


def test_session_effect_by_hand():
    """One agent, a session on ``a`` and one on ``c`` 19 days later (so ``c`` is not a control)."""
    from cxreports.analyses.coaching import compute_session_effects

    rows = [  # (evaluated_at, a, b, c)
        ("2026-02-10", 0, 1, 0), ("2026-02-15", 0, 1, 0), ("2026-02-20", 0, 1, 1),
        ("2026-03-01", 1, 0, 0),  # at the session day's midnight: in neither window
        ("2026-03-05", 1, 1, 1), ("2026-03-10", 1, 1, 1), ("2026-03-15", 1, 0, 1),
    ]
    evaluations = pd.DataFrame(rows, columns=["evaluated_at", "a", "b", "c"]).assign(
        agent_id="X", evaluated_at=lambda f: pd.to_datetime(f["evaluated_at"]))
    coaching = pd.DataFrame({"session_id": ["s1", "s2"], "supervisor_id": "S",
                             "agent_id": "X", "behavior_id": ["a", "c"],
                             "held_on": ["2026-03-01", "2026-03-20"]})
    out = compute_session_effects(coaching, evaluations, behaviors=["a", "b", "c"])
    assert list(out["session_id"]) == ["s1"]  # s2 has no evaluations after it
    s1 = out.iloc[0]
    assert (s1["n_before"], s1["n_after"]) == (3, 3)
    assert s1["coached_change"] == pytest.approx(1.0)
    assert s1["uncoached_change"] == pytest.approx(2 / 3 - 1)  # b only: c was coached nearby
    assert s1["did"] == pytest.approx(1 + 1 / 3)
