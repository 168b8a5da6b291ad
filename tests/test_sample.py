"""The sample generator: deterministic, realistic shape, truth written beside it."""

from __future__ import annotations

import json

import pandas as pd

from cxreports import Analysis, make_sample_data, validate_source, write_sample_data
from tests.conftest import invoke_cli


def test_same_seed_same_data_and_different_seed_differs():
    a = make_sample_data(agents=20, months=2, contacts_per_month=10, seed=3)
    b = make_sample_data(agents=20, months=2, contacts_per_month=10, seed=3)
    c = make_sample_data(agents=20, months=2, contacts_per_month=10, seed=4)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert not a.tables["interactions"].equals(c.tables["interactions"])


def test_default_sample_shape():
    sample = make_sample_data()
    roster = sample.tables["roster"]
    hired = roster.drop_duplicates("agent_id", keep="first")
    assert hired.groupby("supervisor_id").size().between(8, 15).all()
    # Team moves then shift a team by an agent or two either way.
    current = roster[roster["valid_to"] == ""]
    assert current.groupby("supervisor_id").size().between(6, 17).all()
    assert set(roster["vendor"]) >= {"in-house", "Atlas CX", "Harbor BPO"}
    assert set(roster["shore"]) == {"onshore", "nearshore", "offshore"}
    inter = sample.tables["interactions"]
    answered = (inter["csat"] != "").mean()
    assert 0.15 < answered < 0.35  # a minority answer the survey
    assert set(inter["channel"]) == {"voice", "chat", "email"}
    evaluated = sample.tables["qa_scores"]["interaction_id"].nunique()
    assert evaluated < 0.2 * len(inter)  # QA samples contacts
    truth = sample.truth
    assert truth["zero_effect"]["csat"] and truth["effects"]["csat"]
    assert "Harbor BPO" in truth["vendor_overrides"]
    assert truth["coaching_lift"] > 0 and truth["coaching_lift_realised"] > 0.05
    assert truth["movers"]
    assert set(truth["fcr_probability_effects"]) == set(truth["effects"]["fcr"])


def test_cli_sample_data_writes_contract_tables_and_truth(tmp_path):
    result = invoke_cli("sample-data", "--out", tmp_path, "--agents", "20", "--months", "2",
                        "--contacts", "15", "--seed", "5")
    assert result.exit_code == 0, result.stderr
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 5 and truth["agents"] == 20
    assert validate_source(tmp_path).rows_set_aside == 0


def test_cli_sample_data_refuses_bad_arguments(tmp_path):
    assert invoke_cli("sample-data", "--out", tmp_path, "--agents", "2").exit_code == 2
    bad = invoke_cli("sample-data", "--out", tmp_path, "--format", "xlsx")
    assert bad.exit_code == 2 and "xlsx" in bad.stderr
    bad = invoke_cli("sample-data", "--out", tmp_path, "--last-period", "2026-13")
    assert bad.exit_code == 2 and "YYYY-MM" in bad.stderr


def test_generator_behaves_like_a_real_centre():
    sample = make_sample_data(agents=40, months=4, contacts_per_month=40, seed=2)
    truth = sample.truth
    coaching = truth["coaching"]
    assert coaching["selection"] == "observed" and coaching["selection_window_months"] == 2
    assert coaching["repeated_sessions"] > 0
    sessions = sample.tables["coaching"]
    focused = sessions[sessions["behavior_id"] != ""]
    assert focused.duplicated(["agent_id", "behavior_id"]).any()  # the same behaviour again
    # QA scores contacts days after they happen.
    qa = sample.tables["qa_scores"].drop_duplicates("evaluation_id")
    started = sample.tables["interactions"].set_index("interaction_id")["started_at"]
    lag = (pd.to_datetime(qa["evaluated_at"], utc=True, format="ISO8601")
           - pd.to_datetime(qa["interaction_id"].map(started), utc=True, format="ISO8601"))
    assert lag.dt.days.between(0, truth["qa_lag_days"][1] + 1).all() and lag.dt.days.max() >= 5
    changes = truth["behaviour_changes"]
    assert changes and {c["direction"] for c in changes} <= {"declined", "improved"}
    assert all(c["period"] == truth["months"][-1] for c in changes)
    assert all(c["from"] - c["to"] >= 0.3 for c in changes if c["direction"] == "declined")
    noise_free = make_sample_data(agents=40, months=4, contacts_per_month=40, seed=2,
                                  selection="propensity", coaching_lift=0.0)
    assert noise_free.truth["coaching"]["selection"] == "propensity"
    assert noise_free.truth["coaching_lift"] == 0.0


def test_a_centre_too_small_for_calibration_still_generates_and_reports(tmp_path):
    # 8 agents over 2 months: no contact is scored twice, so there is no calibration
    # unit. The generator once failed here (an empty float mask inverted), and the
    # scorecards (leniency from routine evaluations in an untyped empty frame).
    from cxreports.reports.models import build_vendor_scorecard

    source = write_sample_data(tmp_path / "tiny", agents=8, months=2, contacts_per_month=10,
                               seed=3)
    analysis = Analysis.from_source(source, period="2026-10")
    leniency = analysis.evaluator_leniency()
    assert (leniency["n_interactions"] == 0).all() and set(leniency["basis"]) == {"routine"}
    assert leniency[["leniency", "ci_low", "ci_high", "std_error"]].dtypes.eq(float).all()
    vendors = sorted(analysis.team["vendor"].unique())
    assert [build_vendor_scorecard(analysis, v).vendor for v in vendors] == vendors
