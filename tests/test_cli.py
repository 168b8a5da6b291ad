"""The command line contract: options, outputs and exit codes (in this process)."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import invoke_cli

DRIVER_CONTRACT = ["group_by", "group", "kpi", "behavior_id", "estimate", "ci_low", "ci_high",
                   "p_value", "q_value", "relative_weight", "n_obs", "n_agents", "verdict"]


def test_drivers_writes_contract_columns(default_source, tmp_path):
    out = tmp_path / "drivers.csv"
    result = invoke_cli("drivers", default_source, "--kpi", "csat", "--by", "vendor",
                        "--period", "2026-10", "--out", out)
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(out)
    assert set(DRIVER_CONTRACT) <= set(table.columns)
    assert set(table["group_by"]) == {"vendor"}
    assert set(table["verdict"]) <= {"driver", "harmful", "association", "no_evidence",
                                    "insufficient_data"}
    assert len(table) == 3 * 10
    assert {"window_start", "window_end", "level"} <= set(table.columns)
    assert table["window_start"].iloc[0] == "2026-07"


def test_drivers_exit_codes(broken_source, small_source, tmp_path):
    broken = invoke_cli("drivers", broken_source, "--kpi", "csat", "--out", tmp_path / "d.csv")
    assert broken.exit_code == 1  # done, but rows were set aside
    assert (tmp_path / "d.csv").exists()
    bad = invoke_cli("drivers", small_source, "--kpi", "happiness", "--out", tmp_path / "x.csv")
    assert bad.exit_code == 2 and "happiness" in bad.stderr
    bad = invoke_cli("drivers", small_source, "--kpi", "csat", "--by", "team",
                     "--out", tmp_path / "x.csv")
    assert bad.exit_code == 2
    bad = invoke_cli("drivers", small_source, "--kpi", "csat", "--period", "Oct",
                     "--out", tmp_path / "x.csv")
    assert bad.exit_code == 2 and "YYYY-MM" in bad.stderr
    assert not (tmp_path / "x.csv").exists()


def test_help_has_an_example_per_command():
    for command in ("demo", "sample-data", "validate", "drivers"):
        result = invoke_cli(command, "--help")
        assert result.exit_code == 0
        assert "Example: cxreports" in result.stdout, command


def test_sample_data_options_reach_the_generator_and_truth(tmp_path):
    result = invoke_cli("sample-data", "--out", tmp_path / "s", "--agents", "12", "--months",
                        "4", "--contacts", "10", "--coaching-lift", "0", "--qa-lag-days", "3")
    assert result.exit_code == 0, result.stderr
    truth = json.loads((tmp_path / "s" / "truth.json").read_text())
    assert truth["coaching_lift"] == 0 and truth["qa_lag_days"] == [1, 3]
    bad = invoke_cli("sample-data", "--out", tmp_path / "t", "--selection", "random")
    assert bad.exit_code == 2 and "observed, propensity" in bad.stderr
