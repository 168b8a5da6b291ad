"""Drivers against planted truth and against statsmodels fitted directly."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from cxreports.analyses.analysis import Analysis
from cxreports.analyses.drivers import DriverRules, compute_drivers
from cxreports.analyses.stats import shapley_r2
from cxreports.data.sample import write_sample_data


def planted(truth: dict, kpi: str, vendor: str) -> dict[str, float]:
    effects = dict(truth["effects"][kpi])
    effects.update(truth["vendor_overrides"].get(vendor, {}).get(kpi, {}))
    return effects


@pytest.mark.parametrize("kpi", ["csat", "nps", "ces"])
def test_planted_drivers_found_at_each_vendor(analysis, truth, kpi):
    drivers = analysis.drivers(kpis=kpi, group_by="vendor")
    for vendor, part in drivers.groupby("group"):
        effects = planted(truth, kpi, vendor)
        rows = part.set_index("behavior_id")
        for behavior, effect in effects.items():
            row = rows.loc[behavior]
            if effect > 0:
                assert row["verdict"] == "driver", (vendor, behavior, row["estimate"])
            # The estimate is within its interval's reach of the planted value.
            assert row["ci_low"] - 0.05 <= effect <= row["ci_high"] + 0.05, (vendor, behavior)
    # Nulls are not crowned: at most one false driver over all vendors (the
    # error rate over many seeds is checked in the slow test below).
    nulls = drivers[drivers["behavior_id"].isin(truth["zero_effect"][kpi])]
    assert (nulls["verdict"] == "driver").sum() <= 1


def test_planted_drivers_found_at_each_site(analysis, truth):
    drivers = analysis.drivers(kpis="csat", group_by="site")
    vendor_of = {s["site"]: s["vendor"] for s in truth["sites"]}
    found = []
    for site, part in drivers.groupby("group"):
        rows = part.set_index("behavior_id")
        for behavior, effect in planted(truth, "csat", vendor_of[site]).items():
            if effect >= 0.3:
                assert rows.loc[behavior, "verdict"] == "driver", (site, behavior)
            if effect >= 0.25:
                found.append(rows.loc[behavior, "verdict"] == "driver")
    # 0.25 CSAT points at the smallest site (18 agents) is found most of the time, not always.
    assert np.mean(found) >= 0.85


def test_vendor_specific_effect_is_not_a_driver_there_and_differs(analysis, truth):
    drivers = analysis.drivers(kpis="csat", group_by="vendor").set_index(["group", "behavior_id"])
    assert drivers.loc[("Harbor BPO", "confirm_resolution"), "verdict"] != "driver"
    assert drivers.loc[("in-house", "confirm_resolution"), "verdict"] == "driver"
    het = analysis.heterogeneity(kpis="csat", group_by="vendor").set_index("behavior_id")
    assert het.loc["confirm_resolution", "verdict"] == "differs"
    assert het.loc["confirm_resolution", "lowest_group"] == "Harbor BPO"
    assert (het.drop(index="confirm_resolution")["verdict"] == "differs").sum() <= 1


def test_fcr_marginal_effects_recover_planted_probabilities(analysis, truth):
    drivers = analysis.drivers(kpis="fcr").set_index("behavior_id")
    for behavior, effect in truth["fcr_probability_effects"].items():
        row = drivers.loc[behavior]
        assert row["verdict"] == "driver"
        assert row["ci_low"] - 0.02 <= effect <= row["ci_high"] + 0.02, behavior


@pytest.mark.long
@pytest.mark.slow
def test_zero_effect_behaviours_rarely_crowned_over_seeds(tmp_path):
    """Over several seeds, nulls are called drivers no more often than BH at 5% allows."""
    false, tested = 0, 0
    for seed in (21, 22, 23, 24):
        src = write_sample_data(tmp_path / str(seed), agents=80, months=4,
                                contacts_per_month=100, seed=seed)
        a = Analysis.from_source(src)
        truth = __import__("json").loads((src / "truth.json").read_text())
        for kpi in ("csat", "nps", "ces", "fcr"):
            d = a.drivers(kpis=kpi, group_by="vendor")
            nulls = d[d["behavior_id"].isin(truth["zero_effect"][kpi])
                      & (d["verdict"] != "insufficient_data")]
            false += int((nulls["verdict"] == "driver").sum())
            tested += len(nulls)
    assert tested >= 150
    # 5% FDR bounds the expected share of nulls crowned; 8% leaves room for chance.
    assert false / tested <= 0.08, (false, tested)


def _design_frame(contacts: pd.DataFrame, behaviors: list[str]) -> tuple[pd.DataFrame, str]:
    frame = contacts.copy()
    terms = []
    for b in behaviors:
        na = frame[b].isna()
        frame[f"x_{b}"] = frame[b].fillna(0.0)
        terms.append(f"x_{b}")
        if na.any():
            frame[f"na_{b}"] = na.astype(float)
            terms.append(f"na_{b}")
    return frame, " + ".join(terms)


def test_ols_matches_statsmodels_fitted_directly(analysis):
    contacts = analysis.evaluated
    contacts = contacts[(contacts["vendor"] == "Atlas CX") & contacts["csat"].notna()]
    ours = compute_drivers(contacts, kpi="csat", behaviors=analysis.behaviors).set_index(
        "behavior_id")
    frame, terms = _design_frame(contacts, analysis.behaviors)
    # Reference: statsmodels formula OLS with agent-clustered SEs on the same rows.
    ref = smf.ols(f"csat ~ {terms}", data=frame).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["agent_id"])[0]}, use_t=True)
    ci = ref.conf_int()
    for b in analysis.behaviors:
        assert ours.loc[b, "estimate"] == pytest.approx(ref.params[f"x_{b}"], abs=1e-9)
        assert ours.loc[b, "std_error"] == pytest.approx(ref.bse[f"x_{b}"], rel=1e-7)
        assert ours.loc[b, "ci_low"] == pytest.approx(ci.loc[f"x_{b}", 0], abs=1e-9)
        assert ours.loc[b, "ci_high"] == pytest.approx(ci.loc[f"x_{b}", 1], abs=1e-9)
        assert ours.loc[b, "p_value"] == pytest.approx(ref.pvalues[f"x_{b}"], rel=1e-6, abs=1e-12)


def test_logit_marginal_effects_match_statsmodels(analysis):
    contacts = analysis.evaluated
    contacts = contacts[(contacts["vendor"] == "in-house") & contacts["fcr"].notna()].copy()
    contacts["fcr"] = contacts["fcr"].astype(float)
    ours = compute_drivers(contacts, kpi="fcr", behaviors=analysis.behaviors).set_index(
        "behavior_id")
    frame, terms = _design_frame(contacts, analysis.behaviors)
    ref = smf.logit(f"fcr ~ {terms}", data=frame).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["agent_id"])[0]})
    margins = ref.get_margeff(at="overall", dummy=True).summary_frame()
    g = frame["agent_id"].nunique()
    for b in analysis.behaviors:
        assert ours.loc[b, "estimate"] == pytest.approx(margins.loc[f"x_{b}", "dy/dx"], abs=1e-7)
        assert ours.loc[b, "std_error"] == pytest.approx(margins.loc[f"x_{b}", "Std. Err."],
                                                         rel=1e-5)
        # Intervals are t on G-1 df for G agents, as the linear models' (statsmodels'
        # margins use the normal): dy/dx +/- t_{G-1} * its delta-method SE.
        half = stats.t.ppf(0.975, g - 1) * margins.loc[f"x_{b}", "Std. Err."]
        assert ours.loc[b, "ci_low"] == pytest.approx(margins.loc[f"x_{b}", "dy/dx"] - half,
                                                      abs=1e-7)
        assert ours.loc[b, "ci_high"] == pytest.approx(margins.loc[f"x_{b}", "dy/dx"] + half,
                                                       abs=1e-7)
        z = margins.loc[f"x_{b}", "dy/dx"] / margins.loc[f"x_{b}", "Std. Err."]
        assert ours.loc[b, "p_value"] == pytest.approx(2 * stats.t.sf(abs(z), g - 1), rel=1e-4)


def _shapley_by_statsmodels(x: np.ndarray, y: np.ndarray,
                            players: list[list[int]] | None = None) -> np.ndarray:
    """Independent reference: each player's Shapley share of R^2, from an OLS fit
    (statsmodels) of every subset of the players (a player is a list of columns)."""
    players = players or [[j] for j in range(x.shape[1])]
    p = len(players)
    fits: dict[tuple[int, ...], float] = {(): 0.0}

    def r2(members: tuple[int, ...]) -> float:
        members = tuple(sorted(members))
        if members not in fits:
            cols = [c for m in members for c in players[m]]
            fits[members] = sm.OLS(y, sm.add_constant(x[:, cols])).fit().rsquared
        return fits[members]

    shares = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        for size in range(p):
            for subset in combinations(others, size):
                w = factorial(size) * factorial(p - size - 1) / factorial(p)
                shares[j] += w * (r2((*subset, j)) - r2(subset))
    return shares


def test_shapley_matches_brute_force_statsmodels():
    rng = np.random.default_rng(np.frombuffer(b"shapley!", dtype=np.uint64)[0])
    n = 400
    x = rng.normal(size=(n, 4))
    x[:, 1] += 0.6 * x[:, 0]  # correlated predictors: where decompositions differ
    y = 1.0 * x[:, 0] + 0.5 * x[:, 1] + 0.2 * x[:, 3] + rng.normal(size=n)
    np.testing.assert_allclose(shapley_r2(x, y), _shapley_by_statsmodels(x, y), atol=1e-10)


def test_relative_weights_are_shares_and_favour_drivers(analysis, truth):
    drivers = analysis.drivers(kpis="csat", group_by="vendor")
    for _, part in drivers.groupby("group"):
        top = set(part.nlargest(3, "relative_weight")["behavior_id"])
        assert top <= set(truth["effects"]["csat"])


def test_relative_weights_match_shapley_by_statsmodels(analysis):
    contacts = analysis.evaluated
    contacts = contacts[(contacts["vendor"] == "Atlas CX") & contacts["csat"].notna()]
    ours = compute_drivers(contacts, kpi="csat", behaviors=analysis.behaviors).set_index(
        "behavior_id")
    modelled = [b for b in analysis.behaviors if pd.notna(ours.loc[b, "relative_weight"])]
    assert len(modelled) >= 8
    # Reference: Shapley shares of R^2 by brute force over statsmodels OLS fits of the
    # fitted model's own design: a behaviour's N/A contacts at 0 plus its N/A indicator,
    # the two one player; as shares of the full model's R^2, which is r_squared.
    columns, players = [], []
    for b in modelled:
        values = contacts[b].to_numpy(float)
        players.append([len(columns)])
        columns.append(np.nan_to_num(values))
        if np.isnan(values).any():
            players[-1].append(len(columns))
            columns.append(np.isnan(values).astype(float))
    x = np.column_stack(columns)
    y = contacts["csat"].to_numpy(float)
    shares = _shapley_by_statsmodels(x, y, players)
    np.testing.assert_allclose(ours.loc[modelled, "relative_weight"].to_numpy(),
                               shares / shares.sum(), atol=1e-10)
    assert ours["r_squared"].iloc[0] == pytest.approx(sm.OLS(y, sm.add_constant(x)).fit().rsquared,
                                                      abs=1e-10)


def test_not_applicable_is_not_zero(analysis):
    contacts = analysis.evaluated
    contacts = contacts[contacts["csat"].notna()].copy()
    behaviors = analysis.behaviors
    full = compute_drivers(contacts, kpi="csat", behaviors=behaviors).set_index("behavior_id")
    rng = np.random.default_rng(5)
    masked = contacts.copy()
    masked.loc[rng.random(len(masked)) < 0.4, "empathy"] = np.nan
    part = compute_drivers(masked, kpi="csat", behaviors=behaviors).set_index("behavior_id")
    # N/A as zero would pull the estimate toward zero; as missing it stays put.
    assert part.loc["empathy", "estimate"] == pytest.approx(full.loc["empathy", "estimate"],
                                                            abs=0.08)
    assert part.loc["empathy", "n_applicable"] < full.loc["empathy", "n_applicable"]
    masked["empathy"] = np.nan
    gone = compute_drivers(masked, kpi="csat", behaviors=behaviors).set_index("behavior_id")
    assert gone.loc["empathy", "verdict"] == "insufficient_data"
    assert gone.loc["ownership", "verdict"] == "driver"


def test_agent_month_fallback_when_few_joined_rows(analysis):
    contacts = analysis.evaluated
    contacts = contacts[contacts["vendor"] == "in-house"].head(60)
    months = analysis.agent_months[analysis.agent_months["vendor"] == "in-house"]
    out = compute_drivers(contacts, kpi="csat", behaviors=analysis.behaviors,
                          agent_months=months)
    assert set(out["level"]) == {"agent_month"}
    assert out["estimate"].notna().any()
    # A between-agent association is never called a driver (or harmful).
    assert not set(out["verdict"]) & {"driver", "harmful"}
    without = compute_drivers(contacts, kpi="csat", behaviors=analysis.behaviors)
    assert set(without["verdict"]) == {"insufficient_data"}


def test_small_groups_are_insufficient_not_guessed(analysis):
    contacts = analysis.evaluated
    few_agents = contacts[contacts["agent_id"].isin(contacts["agent_id"].unique()[:4])]
    out = compute_drivers(few_agents, kpi="csat", behaviors=analysis.behaviors)
    assert set(out["verdict"]) == {"insufficient_data"}
    assert out["estimate"].isna().all()
    strict = compute_drivers(contacts, kpi="csat", behaviors=analysis.behaviors,
                             rules=DriverRules(min_obs=10**9))
    assert set(strict["verdict"]) == {"insufficient_data"}
