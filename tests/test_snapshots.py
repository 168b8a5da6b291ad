"""A run's snapshot stands in for validating the source, with the same numbers."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from cxreports.analyses.analysis import Analysis
from cxreports.data.validation import ValidatedData
from cxreports.run.notebooks import NOTEBOOK_FRAMES


@pytest.fixture(scope="module")
def saved(small_source, tmp_path_factory):
    analysis = Analysis.from_source(small_source, period="2026-10").prepare()
    for notebook in NOTEBOOK_FRAMES.values():  # what a batch of notebooks shares
        notebook(analysis, "csat", "vendor")
    folder = tmp_path_factory.mktemp("snap") / ".snapshot"
    analysis.save(folder, source=small_source)
    return analysis, folder


def _calls():
    return {
        "contact_stats": lambda a: a.contact_stats,
        "scored_evaluations": lambda a: a.scored_evaluations,
        "layered_drivers": lambda a: a.layered_drivers,
        "drivers by site": lambda a: a.drivers(kpis=["csat", "nps", "fcr", "ces"], group_by="site"),
        "drivers csat": lambda a: a.drivers(kpis="csat", group_by="vendor"),
        "drivers csat by site (not stored)": lambda a: a.drivers(kpis="csat", group_by="site"),
        "session_effects": lambda a: a.session_effects,
        "priorities": lambda a: a.coaching_priorities(kpi="csat"),
        "kpi_summary": lambda a: a.kpi_summary(group_by="vendor"),
        "top_overlap": lambda a: a.top_overlap(kpi="csat", group_by="vendor"),
        "rankings": lambda a: a.rankings(kpi="csat", group_by="vendor"),
        "all_evaluations": lambda a: a.all_evaluations,
        "qa_agreement": lambda a: a.qa_agreement(group_by="vendor"),
        "evaluator_leniency": lambda a: a.evaluator_leniency(),
        "adoption_adjusted": lambda a: a.adoption_adjusted(),
        "sampling_plan": lambda a: a.sampling_plan(),
        "qa_form_audit": lambda a: a.qa_form_audit(group_by="vendor", group="in-house"),
        "targets table": lambda a: a.data.table("targets"),
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_snapshot_gives_the_same_frames(saved, small_source, name):
    fresh, folder = saved
    reopened = Analysis.from_source(small_source, period="2026-10", snapshot=folder)
    assert not isinstance(reopened.data, ValidatedData)  # nothing was validated again
    call = _calls()[name]
    pd.testing.assert_frame_equal(call(reopened), call(fresh))


def test_snapshot_for_another_period_is_not_used(saved, small_source, caplog):
    _, folder = saved
    with caplog.at_level(logging.WARNING, logger="cxreports"):
        other = Analysis.from_source(small_source, period="2026-09", snapshot=folder)
    assert isinstance(other.data, ValidatedData)
    assert "another period" in caplog.text


def test_missing_snapshot_falls_back_to_the_source(small_source, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="cxreports"):
        analysis = Analysis.from_source(small_source, period="2026-10",
                                        snapshot=tmp_path / "gone")
    assert isinstance(analysis.data, ValidatedData)
    assert "not usable" in caplog.text


def test_snapshot_does_not_store_a_database_password():
    from cxreports.analyses.drivers import DriverRules
    from cxreports.data.snapshots import snapshot_key

    key = snapshot_key("postgresql://me:s3cret@db/cx", "2026-10", DriverRules())
    assert "s3cret" not in str(key)


def test_shared_snapshot_is_removed_afterwards(small_source, tmp_path):
    analysis = Analysis.from_source(small_source, period="2026-10")
    with analysis.shared_snapshot(tmp_path / ".snapshot", source=small_source) as folder:
        assert (folder / "meta.json").exists()
    assert not folder.exists()


def test_written_sources_mask_credentials():
    from cxreports.data.sources import redact_source

    assert redact_source("postgresql://me:s3cret@db/cx") == "postgresql://***@db/cx"
    assert redact_source("data/sample") == "data/sample"


def test_notebooks_read_shared_frames_instead_of_building_them(saved, small_source,
                                                               monkeypatch):
    import cxreports.analyses.analysis as module

    def refuse(*args, **kwargs):
        raise AssertionError("built again in the kernel")

    for name in ("compute_agreement", "compute_top_overlap", "rank_agents",
                 "compute_evaluator_leniency", "compute_vendor_alignment", "evaluation_matrix",
                 "compute_agent_reliability", "compute_drivers", "summarise_kpi_stats"):
        monkeypatch.setattr(module, name, refuse)
    _, folder = saved
    reopened = Analysis.from_source(small_source, period="2026-10", snapshot=folder)
    for notebook in NOTEBOOK_FRAMES.values():
        notebook(reopened, "csat", "vendor")
