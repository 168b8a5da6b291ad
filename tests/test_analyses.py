"""Rankings, trends, coaching, QA form audit and KPI summaries on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxreports.analyses.kpi_summary import compare_to_targets, compute_kpi_summary
from cxreports.analyses.rankings import compute_top_overlap, rank_agents
from cxreports.analyses.stats import nps_interval, shrink_means, wilson_interval, wls_cluster
from cxreports.analyses.trends import compute_behaviour_trends

# ----------------------------------------------------------------- coaching


def test_coaching_lift_recovered_within_interval(analysis, truth):
    # The default sample picks each session's focus from the lowest observed
    # recent score and repeats sessions; the truth is a lift per session of
    # ``coaching_lift`` in probability, a little less where the 0.97 cap binds.
    overall = analysis.coaching_effectiveness().iloc[0]
    assert overall["verdict"] == "worked"
    planted = truth["coaching"]
    assert planted["selection"] == "observed"
    assert overall["ci_low"] <= planted["lift_per_session"]
    assert overall["ci_high"] >= planted["lift_per_session_next_month"]
    assert "per session" in overall["unit"]
    per_behaviour = analysis.coaching_effectiveness(group_by="behavior_id")
    measured = per_behaviour[per_behaviour["verdict"] != "insufficient_data"]
    assert len(measured) >= 4 and (measured["lift"] > 0).all()


def test_coaching_effectiveness_per_supervisor_has_intervals(analysis):
    per = analysis.coaching_effectiveness(group_by="supervisor_id")
    shown = per[per["verdict"] != "insufficient_data"]
    assert len(shown) >= 5
    # Each supervisor's lift is a coefficient of one model fitted on the whole
    # panel; its interval is t on (coached agents - 1) df around the
    # coefficient, so lift, interval and p-value agree with each other.
    for row in shown.itertuples():
        se = (row.ci_high - row.ci_low) / 2 / stats.t.ppf(0.975, row.n_agents - 1)
        assert row.lift == pytest.approx((row.ci_low + row.ci_high) / 2, abs=1e-12)
        assert row.p_value == pytest.approx(2 * stats.t.sf(abs(row.lift / se), row.n_agents - 1),
                                            rel=1e-9)
    panel = analysis.session_effects
    sessions = panel[panel["sessions"] > 0].groupby("supervisor_id")["sessions"].sum()
    assert (shown["n_sessions"].to_numpy() == shown["group"].map(sessions).to_numpy()).all()


def test_no_coached_agent_is_not_enough_data_rather_than_an_error(analysis):
    from cxreports.analyses.coaching import compute_coaching_effectiveness

    panel = analysis.session_effects
    uncoached = panel[panel["post_n"] > 0].assign(sessions=0)
    assert len(uncoached)
    [row] = compute_coaching_effectiveness(uncoached).to_dict("records")
    assert (row["group"], row["verdict"], row["n_sessions"], row["n_agents"]) == \
        ("all", "insufficient_data", 0, 0)
    assert compute_coaching_effectiveness(uncoached, group_by="supervisor_id").empty


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


def test_coaching_picks_follow_the_pack_rules(analysis):
    from cxreports.analyses.coaching import MAX_MENTEES, MIN_EXPECTED_GAIN

    prio = analysis.coaching_priorities(kpi="csat")
    scores = analysis.agent_behaviour_scores.set_index(["agent_id", "behavior_id"])
    opp = prio[prio["kind"] == "opportunity"]
    mine = scores.loc[list(zip(opp["agent_id"], opp["behavior_id"], strict=True))]
    # Never a behaviour already at the strong-agent level in the recent window or this month.
    assert (mine["shrunk"].to_numpy() < opp["benchmark"].to_numpy()).all()
    assert (mine["mean"].to_numpy() < opp["benchmark"].to_numpy()).all()
    enough = mine["month_n"].to_numpy() >= 3
    assert (mine["month_mean"].to_numpy()[enough] < opp["benchmark"].to_numpy()[enough]).all()
    # Never a pick worth less than the stated minimum; such agents are told so.
    assert (opp["expected_gain"] >= MIN_EXPECTED_GAIN["csat"]).all()
    below = prio[prio["kind"] == "below_minimum"]
    assert not set(below["agent_id"]) & set(opp["agent_id"])
    assert (below["expected_gain"] < MIN_EXPECTED_GAIN["csat"]).all()
    # Strengths are proven drivers at the agent's site, never ceiling items.
    strengths = prio[prio["kind"] == "strength"]
    assert len(strengths) and (strengths["impact"] > 0).all()
    assert "use_name" not in set(strengths["behavior_id"])
    # No mentor takes more than the cap.
    assert opp["mentor_agent_id"].value_counts().max() <= MAX_MENTEES


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


_SIXTY = [f"a{i}" for i in range(60)]


def _differing_scores(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """QA scores (10 an agent) and CSAT answers (20 an agent) of 60 agents who differ
    in both, independently of each other."""
    qa_mean, csat_mean = rng.normal(0.7, 0.1, 60), rng.normal(3.5, 0.6, 60)
    qa = np.repeat(qa_mean, 10) + rng.normal(0, 0.05, 600)
    csat = np.clip(np.round(np.repeat(csat_mean, 20) + rng.normal(0, 0.8, 1200)), 1, 5)
    return qa, csat


def _rank_sixty(qa: np.ndarray, csat: np.ndarray) -> pd.DataFrame:
    return rank_agents(pd.DataFrame({"agent_id": np.repeat(_SIXTY, 10), "qa_score": qa}),
                       pd.DataFrame({"agent_id": np.repeat(_SIXTY, 20), "csat": csat}),
                       kpi="csat")


def test_unrelated_rankings_are_not_aligned():
    ranked = _rank_sixty(*_differing_scores(np.random.default_rng(12)))
    assert ranked["qa_rank"].nunique() > 30 and ranked["kpi_rank"].nunique() > 30
    out = compute_top_overlap(ranked, kpi="csat", top_n=10, n_boot=300).iloc[0]
    assert out["verdict"] == "not_aligned"
    assert out["spearman_ci_low"] < 0 < out["spearman_ci_high"]


@pytest.mark.parametrize("tied", ["qa_rank", "kpi_rank"])
def test_a_ranking_that_ties_every_agent_is_not_a_verdict(tied, recwarn):
    # One measure shows no difference between agents (QA: none beyond chance, so
    # shrinkage ties them all; CSAT: every agent gets the same answers), so that
    # ranking says nothing and no rank correlation exists (scipy would warn, NaN).
    qa, csat = _differing_scores(np.random.default_rng(12))
    if tied == "qa_rank":  # a draw whose between-agent variance estimate is 0
        qa = np.random.default_rng(12).random(600)
    else:
        csat = np.tile(np.repeat([1.0, 2, 3, 4, 5], 4), 60)
    ranked = _rank_sixty(qa, csat)
    other = "kpi_rank" if tied == "qa_rank" else "qa_rank"
    assert ranked[tied].nunique() == 1 and ranked[other].nunique() > 30
    out = compute_top_overlap(ranked, kpi="csat", top_n=10, n_boot=300).iloc[0]
    assert out["verdict"] == "insufficient_data" and out["n_agents"] == 60
    assert out[["overlap", "spearman", "spearman_ci_low", "p_value"]].isna().all()
    assert not [w for w in recwarn if issubclass(w.category, stats.ConstantInputWarning)]


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


def test_tied_shrunk_scores_share_a_rank_whatever_the_row_order():
    # Four agents, identical CSAT answers: the shrunk KPI ties for all, so every
    # kpi_rank is the average rank 2.5, and the top-N overlap does not depend on order.
    ev = pd.DataFrame({"agent_id": list("abcd") * 3, "qa_score": [1.0, 0.8, 0.6, 0.4] * 3})
    co = pd.DataFrame({"agent_id": list("abcd") * 12, "csat": [4.0] * 48})
    one = rank_agents(ev, co, kpi="csat", min_evaluations=2, min_responses=10)
    two = rank_agents(ev.iloc[::-1], co.iloc[::-1], kpi="csat", min_evaluations=2,
                      min_responses=10)
    assert (one["kpi_rank"] == 2.5).all()
    key = ["agent_id", "qa_rank", "kpi_rank"]
    pd.testing.assert_frame_equal(one[key].sort_values("agent_id").reset_index(drop=True),
                                  two[key].sort_values("agent_id").reset_index(drop=True))


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
    # Planted drivers and nulls in full: tests/test_evidence.py.
    audit = analysis.qa_form_audit().set_index("behavior_id")
    assert audit.loc["use_name", "is_ceiling"]
    for behavior in truth["effects"]["csat"]:
        assert not audit.loc[behavior, "predicts_nothing"]
        assert "csat" in audit.loc[behavior, "kpis_driven"]
    for behavior in audit.index[audit["predicts_nothing"]]:
        assert all(behavior not in truth["effects"][k] for k in ("csat", "nps", "fcr", "ces"))
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
        "kpi": ["csat", "nps", "aht_seconds", "ces", "fcr"],
        "value": [4.1, 15.0, 500.0, 4.0, 0.70],
        "ci_low": [4.0, 10.0, 490.0, 3.5, 0.66], "ci_high": [4.2, 20.0, 510.0, 4.5, 0.74],
        "n": [100, 100, 100, 5, 100], "enough_data": [True, True, True, False, True]})
    targets = pd.DataFrame({
        "kpi": ["csat", "csat", "nps", "aht_seconds", "ces", "fcr"],
        "target": [4.0, 4.5, 40.0, 480.0, 5.0, 0.72],
        "scope": ["all", "vendor", "all", "all", "all", "all"],
        "scope_value": [None, "X", None, None, None, None],
        "direction": ["higher", "higher", "higher", "lower", "higher", "higher"]})
    out = compare_to_targets(summary, targets, vendor="Y").set_index("kpi")
    assert out.loc["csat", "status"] == "green"
    assert out.loc["csat", "distance"] == pytest.approx(0.1)
    # NPS 15 (10 to 20) against 40: 25 points short, the whole interval short.
    assert out.loc["nps", "status"] == "red"
    assert (out.loc["nps", "distance"], out.loc["nps", "distance_ci_high"]) == (-25.0, -20.0)
    # FCR 70% (66% to 74%) against 72%: short, but the interval reaches it.
    assert out.loc["fcr", "status"] == "amber"
    assert out.loc["fcr", "distance"] == pytest.approx(-0.02)
    assert out.loc["aht_seconds", "status"] == "not_a_goal"  # reported, never a goal
    assert out.loc["ces", "status"] == "insufficient_data"
    vendor_x = compare_to_targets(summary, targets, vendor="X").set_index("kpi")
    assert vendor_x.loc["csat", "target"] == 4.5  # the vendor's own target wins
    assert vendor_x.loc["csat", "status"] == "red"


def test_kpi_intervals_are_clustered_by_agent():
    # Two agents' customers: agent a's all say 5, agent b's all say 1 (perfectly
    # clustered). Reference by hand: mean 3; cluster-robust variance
    # G/(G-1) * sum_g (y_g - 3 n_g)^2 / N^2 = 2 * (20^2 + 20^2) / 20^2 = 4, against the
    # independent-contacts variance s^2 / N; the design effect is their ratio, and the
    # t interval uses G - 1 = 1 degree of freedom.
    contacts = pd.DataFrame({"agent_id": ["a"] * 10 + ["b"] * 10,
                             "csat": [5.0] * 10 + [1.0] * 10})
    out = compute_kpi_summary(contacts, min_responses=2).set_index("kpi").loc["csat"]
    var_iid = (np.var([5.0] * 10 + [1.0] * 10, ddof=1)) / 20
    deff = 4.0 / var_iid
    assert out["design_effect"] == pytest.approx(deff)
    half = stats.t.ppf(0.975, 1) * np.sqrt(var_iid * deff)
    assert out["ci_low"] == pytest.approx(3 - half) and out["ci_high"] == pytest.approx(3 + half)
    # Per agent, nothing to cluster.
    per = compute_kpi_summary(contacts, group_by="agent_id", min_responses=2)
    assert (per["design_effect"] == 1).all()


def test_coaching_panel_by_hand():
    """One agent, behaviours a and b, evaluations June to October, two sessions on a in
    August and one in September. The panel's treatment months are August and September
    (two selection months before, one month after)."""
    from cxreports.analyses.coaching import compute_session_effects

    rows = [  # (contact day, evaluated day, a, b)
        ("2026-06-10", "2026-06-12", 0, 1), ("2026-06-20", "2026-06-22", 0, 1),
        ("2026-07-10", "2026-07-12", 0, 0), ("2026-07-30", "2026-08-05", 1, 1),
        ("2026-08-10", "2026-08-12", 1, 1), ("2026-09-10", "2026-09-12", 1, 0),
        ("2026-09-28", "2026-10-03", 1, 1),  # a September contact evaluated in October
        ("2026-10-10", "2026-10-12", 0, 1),
    ]
    evaluations = pd.DataFrame(rows, columns=["contact_at", "evaluated_at", "a", "b"]).assign(
        agent_id="X", supervisor_id="S", site="s", vendor="v",
        contact_at=lambda f: pd.to_datetime(f["contact_at"]),
        evaluated_at=lambda f: pd.to_datetime(f["evaluated_at"]))
    coaching = pd.DataFrame({"session_id": ["s1", "s2", "s3"], "supervisor_id": "S",
                             "agent_id": "X", "behavior_id": ["a", "a", "a"],
                             "held_on": ["2026-08-01", "2026-08-20", "2026-09-15"]})
    out = compute_session_effects(coaching, evaluations, behaviors=["a", "b"])
    cell = out.set_index(["period", "behavior_id"])
    aug = cell.loc[("2026-08", "a")]
    # Two sessions in August are one cell with two doses, never two experiments.
    assert (aug["sessions"], aug["recent_sessions"], aug["next_sessions"]) == (2, 0, 1)
    assert (aug["pre_n"], aug["pre_mean"]) == (4, 0.25)  # June-July contacts
    assert (aug["post_n"], aug["post_mean"]) == (2, 1.0)  # September contacts, by contact day
    sep = cell.loc[("2026-09", "a")]
    assert (sep["sessions"], sep["recent_sessions"], sep["earlier_sessions"]) == (1, 2, 0)
    assert (sep["post_n"], sep["post_mean"]) == (1, 0.0)  # October
    assert cell.loc[("2026-08", "b"), "sessions"] == 0
    assert len(out) == 4


def test_sparse_cluster_wls_matches_statsmodels():
    """The coaching-effect model's sparse fit gives statsmodels' WLS estimates and
    cluster-robust (CR1) errors, on a design with dummies and dose columns."""
    from scipy import sparse
    from statsmodels.regression.linear_model import WLS

    rng = np.random.default_rng(1)
    n = 3000
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 3, n),
                         (rng.random(n) < 0.1) * rng.integers(1, 4, n),
                         (rng.random((n, 5)) < 0.2).astype(float)])
    y = x @ rng.normal(size=x.shape[1]) + rng.normal(size=n)
    weights = rng.integers(1, 10, n).astype(float)
    groups = rng.integers(0, 200, n)
    fit = WLS(y, x, weights=weights).fit(cov_type="cluster", cov_kwds={"groups": groups})
    params, bse = wls_cluster(sparse.csr_matrix(x), y, weights, groups)
    np.testing.assert_allclose(params, fit.params, rtol=1e-10)
    np.testing.assert_allclose(bse, fit.bse, rtol=1e-10)
