"""QA calibration (issue 13): evaluators in the contract, calibration rows counted once,
agreement checked against published values, planted leniency and agreement recovered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxreports.analyses import calibration as cal
from cxreports.analyses.analysis import Analysis
from cxreports.data.sample import write_sample_data
from cxreports.data.validation import validate_source
from cxreports.reports.tables import QA_TABLE_COLUMNS, QA_TABLES, TABLE_BUILDERS
from tests.conftest import invoke_cli

#: Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four
#: observers, twelve units, values 1-5 (NaN = not coded). Published: nominal
#: alpha = 0.743, interval alpha = 0.849.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
])


def _units(matrix: np.ndarray) -> list[np.ndarray]:
    return [col[np.isfinite(col)] for col in matrix.T]


def test_alpha_reproduces_the_published_worked_example():
    units = _units(KRIPPENDORFF_2011)
    assert cal.krippendorff_alpha(units, metric="nominal") == pytest.approx(0.743, abs=5e-4)
    assert cal.krippendorff_alpha(units, metric="interval") == pytest.approx(0.849, abs=5e-4)
    # The vectorised form the bootstrap uses agrees with the package on every metric.
    kept = [u for u in units if len(u) >= 2]
    counts, domain = cal._unit_counts(kept)
    ones = np.ones((1, len(kept)))
    for metric, published in (("nominal", 0.743), ("interval", 0.849)):
        assert cal._alpha_from_counts(counts, domain, ones, metric)[0] == pytest.approx(
            published, abs=5e-4)


def test_bootstrap_alpha_matches_the_reference_package_on_resampled_units():
    import krippendorff

    rng = np.random.default_rng(13)
    data = (rng.random((3, 40)) < 0.6).astype(float)
    data[rng.random((3, 40)) < 0.2] = np.nan
    units = [u for u in _units(data) if len(u) >= 2]
    counts, domain = cal._unit_counts(units)
    weights = rng.multinomial(len(units), np.full(len(units), 1 / len(units)), size=5)
    fast = cal._alpha_from_counts(counts, domain, weights.astype(float))
    for w, value in zip(weights, fast, strict=True):
        repeated = counts[np.repeat(np.arange(len(units)), w)]
        # Computed by the krippendorff package (Castro 2017) from the resampled counts.
        assert value == pytest.approx(krippendorff.alpha(
            value_counts=repeated, value_domain=domain, level_of_measurement="nominal"))


def test_ac1_matches_gwet_two_rater_formula_and_survives_high_prevalence():
    # Two raters, yes/no, as a 2x2 table: a both yes, b/c disagree, d both no.
    # Gwet (2008), eq. for two raters: pa = (a+d)/n, pi = (2a+b+c)/(2n),
    # pe = 2 pi (1-pi), AC1 = (pa-pe)/(1-pe); computed here by hand.
    a, b, c, d = 90, 5, 4, 1
    units = ([np.array([1.0, 1.0])] * a + [np.array([1.0, 0.0])] * b
             + [np.array([0.0, 1.0])] * c + [np.array([0.0, 0.0])] * d)
    n = a + b + c + d
    pa, pi = (a + d) / n, (2 * a + b + c) / (2 * n)
    pe = 2 * pi * (1 - pi)
    assert cal.gwet_ac1(units) == pytest.approx((pa - pe) / (1 - pe))
    # The kappa paradox: 91% agreement, alpha near zero, AC1 high.
    assert cal.krippendorff_alpha(units) < 0.2 < 0.85 < cal.gwet_ac1(units)


def test_icc_reproduces_shrout_fleiss_and_spearman_brown():
    # Shrout & Fleiss (1979), Table 2: six targets rated by four judges; ICC(1,1) = .17.
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                        [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    values = pd.Series(ratings.ravel())
    groups = pd.Series(np.repeat(np.arange(6), 4))
    icc, k, n = cal._icc1(values, groups)
    assert (round(icc, 2), k, n) == (0.17, 6, 24)
    assert float(cal.spearman_brown(0.2, 16)) == pytest.approx(0.8)
    assert cal.evaluations_needed(0.2, 0.8) == 16
    assert cal.evaluations_needed(0.0) == float("inf")


# --------------------------------------------------------------------------- data


def test_evaluators_validated_and_calibration_rows_kept(small_source, broken_source):
    data = validate_source(small_source)
    assert data.reports["evaluators"].rows_set_aside == 0
    qa = data.table("qa_scores")
    assert data.reports["qa_scores"].rows_set_aside == 0
    per_interaction = qa.groupby("interaction_id")["evaluation_id"].nunique()
    assert (per_interaction >= 2).sum() > 20  # calibration rows kept
    analysis = Analysis(data, period="2026-10")
    # Every other analysis counts an interaction once: its earliest (routine) evaluation.
    assert analysis.evaluations["interaction_id"].is_unique
    everything = analysis.all_evaluations
    assert len(everything) == qa["evaluation_id"].nunique()
    first = everything.sort_values(["evaluated_at", "evaluation_id"]).drop_duplicates(
        "interaction_id")
    assert set(first["evaluation_id"]) == set(analysis.evaluations["evaluation_id"])

    broken = validate_source(broken_source)
    reasons = broken.rejects("evaluators")["reason"]
    assert reasons.str.contains("employer 'Nobody Ltd' is neither brand nor a vendor").any()
    assert any("E-UNLISTED" in w and "kept" in w for w in broken.warnings)
    assert "E-UNLISTED" in set(broken.table("qa_scores")["evaluator_id"])


def test_generator_plants_calibration_and_records_truth(small_source):
    truth = json.loads((small_source / "truth.json").read_text())["qa_evaluators"]
    planted = {e["evaluator_id"]: e for e in truth["evaluators"]}
    assert {e["planted"] for e in planted.values()} == {"ok", "lenient", "harsh"}
    assert truth["lenient_vendor"]["vendor"] == "Atlas CX"
    assert set(truth["agreement"]["vendor"]) == {"in-house", "Atlas CX", "Harbor BPO"}
    evaluators = pd.read_csv(small_source / "evaluators.csv")
    assert set(evaluators["evaluator_id"]) == set(planted)
    qa = pd.read_csv(small_source / "qa_scores.csv", dtype=str)
    rescored = qa.groupby("interaction_id")["evaluation_id"].nunique()
    share = (rescored >= 2).mean()
    assert 0.05 < share < 0.15  # ~5% by the brand plus ~5% by a site colleague


# --------------------------------------------------------------------------- recovery


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Analysis, dict, Path]:
    """A small centre with a lot of calibration (30% re-scored), so leniency shows."""
    folder = tmp_path_factory.mktemp("calibration")
    write_sample_data(folder, agents=40, months=4, contacts_per_month=40, seed=5,
                      calibration_share=0.3)
    truth = json.loads((folder / "truth.json").read_text())["qa_evaluators"]
    return Analysis.from_source(folder, period="2026-10"), truth, folder


def test_planted_lenient_and_harsh_evaluators_are_flagged(planted):
    analysis, truth, _ = planted
    found = analysis.evaluator_leniency().set_index("evaluator_id")
    for e in truth["evaluators"]:
        got = found.loc[e["evaluator_id"]]
        # Within the interval of the planted leniency against the average evaluator ...
        assert got["ci_low"] - 0.03 < e["leniency_vs_average"] < got["ci_high"] + 0.03, e
        # ... and the strong ones flagged the right way; none flagged the wrong way.
        if abs(e["leniency_vs_average"]) > 0.08:
            assert got["flag"] == e["planted"], e
        assert not (got["flag"] == "lenient" and e["planted"] == "harsh")
        assert not (got["flag"] == "harsh" and e["planted"] == "lenient")


def test_lenient_vendor_team_found_on_intent_behaviours(planted):
    analysis, truth, _ = planted
    alignment = analysis.vendor_alignment()
    atlas = alignment[alignment["vendor"] == "Atlas CX"].set_index("behavior_id")
    intent = truth["lenient_vendor"]["behaviours"]
    assert atlas.loc[intent, "leniency"].mean() > 0.1
    assert (atlas.loc[intent, "ci_low"] > 0).sum() >= 3
    harbor = alignment[alignment["vendor"] == "Harbor BPO"]
    assert (harbor["ci_low"] > 0.05).sum() == 0
    adjusted = analysis.adoption_adjusted().set_index(["vendor", "behavior_id"])
    assert (adjusted.loc["Atlas CX", "adoption_adjusted"]
            <= adjusted.loc["Atlas CX", "adoption"] + 1e-12).all()


def test_agreement_intervals_cover_the_planted_agreement(planted):
    analysis, truth, _ = planted
    found = analysis.qa_agreement(n_boot=300).set_index("behavior_id")
    covered = [found.loc[b, "alpha_ci_low"] <= v["alpha"] <= found.loc[b, "alpha_ci_high"]
               for b, v in truth["agreement"]["all"].items()]
    assert sum(covered) >= len(covered) - 2
    assert (found["ac1"] >= found["alpha"] - 1e-9).mean() > 0.5


def test_tables_cli_and_scorecard_section(planted, tmp_path):
    analysis, _, folder = planted
    for name in QA_TABLES:
        frame = TABLE_BUILDERS[name](analysis)
        assert list(frame.columns) == QA_TABLE_COLUMNS[name], name
        assert len(frame) > 0
    assert set(TABLE_BUILDERS["qa_evaluators"](analysis)["flag"]) <= {"ok", "lenient", "harsh"}
    plan = analysis.sampling_plan()
    assert (plan["evaluations_needed"] >= 0).all() and plan["agent_id"].is_unique

    from cxreports.reports.models import build_vendor_scorecard
    from cxreports.reports.rendering import render_html

    card = build_vendor_scorecard(analysis, "Atlas CX")
    assert card.qa_alignment["measured"] and card.qa_alignment["lenient"]
    html = render_html("vendor_scorecard.html", lang="en", generated_on=card.generated_on,
                       card=card)
    assert "Does your QA score like ours?" in html and "{{" not in html

    small = tmp_path / "src"
    shutil.copytree(folder, small)
    result = invoke_cli("calibration", small, "--period", "2026-10", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.csv")) == sorted(QA_TABLES)


def test_coaching_pack_marks_figures_below_the_reliability_target(planted):
    from cxreports.reports.models import build_coaching_pack

    analysis, _, _ = planted
    marked = analysis.agent_behaviour_reliability()
    assert {"reliability", "reliable", "evaluations_for_target"} <= set(marked.columns)
    assert (marked["reliable"] == (marked["reliability"] >= 0.8)).all()
    supervisor = analysis.team["supervisor_id"].iloc[0]
    pack = build_coaching_pack(analysis, supervisor)
    figures = [f for a in pack.agents for f in (*a["strengths"], *a["opportunities"])]
    assert figures and all("reliable" in f and "evaluations" in f for f in figures)
