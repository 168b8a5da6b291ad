"""Months are the site's months: offsets become local time once, at validation."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cxreports.analyses.analysis import Analysis
from cxreports.data.validation import validate_source
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def zoned(small_source, tmp_path_factory):
    """The small sample (sites in London, Chicago, Lisbon and Manila time; a third of
    the timestamps in UTC with ``Z``, a third with the site's offset) plus hand-made
    contacts at month ends and on daylight-saving weekends."""
    folder = tmp_path_factory.mktemp("zoned")
    shutil.copytree(small_source, folder, dirs_exist_ok=True)
    roster = pd.read_csv(folder / "roster.csv", dtype=str, keep_default_na=False)
    current = roster[roster["valid_to"] == ""].drop_duplicates("site").set_index("site")
    agent = current["agent_id"].to_dict()
    interactions = pd.read_csv(folder / "interactions.csv", dtype=str, keep_default_na=False)
    template = interactions.iloc[0].to_dict()
    cases = [  # id, site, as exported, local time expected
        ("TZ-TULSA", "Tulsa", "2026-10-31T23:30:00-05:00", "2026-10-31 23:30:00"),
        ("TZ-TULSA-UTC", "Tulsa", "2026-11-01T04:30:00Z", "2026-10-31 23:30:00"),
        ("TZ-MANILA", "Manila", "2026-10-31T21:00:00Z", "2026-11-01 05:00:00"),
        ("TZ-MANILA-OWN", "Manila", "2026-11-01T05:00:00+08:00", "2026-11-01 05:00:00"),
        # London leaves summer time at 01:00 UTC on 25 October 2026: 01:30 happens twice.
        ("TZ-LEEDS-BST", "Leeds", "2026-10-25T00:30:00Z", "2026-10-25 01:30:00"),
        ("TZ-LEEDS-GMT", "Leeds", "2026-10-25T01:30:00Z", "2026-10-25 01:30:00"),
        # Chicago enters summer time at 08:00 UTC on 8 March 2026: 02:00-03:00 is skipped.
        ("TZ-TULSA-SPRING", "Tulsa", "2026-03-08T08:30:00Z", "2026-03-08 03:30:00"),
        ("TZ-NAIVE", "Manila", "2026-10-31T23:30:00", "2026-10-31 23:30:00"),
    ]
    rows = [dict(template, interaction_id=i, agent_id=agent[site], started_at=stamp)
            for i, site, stamp, _ in cases]
    interactions = pd.concat([interactions, pd.DataFrame(rows)], ignore_index=True)
    interactions.to_csv(folder / "interactions.csv", index=False)
    # The roster must cover March for the spring case.
    roster.loc[roster["agent_id"] == agent["Tulsa"], "valid_from"] = "2026-01-01"
    roster.to_csv(folder / "roster.csv", index=False)
    return folder, {i: pd.Timestamp(local) for i, _, _, local in cases}


def test_offsets_become_the_sites_local_time_through_daylight_saving(zoned):
    folder, expected = zoned
    data = validate_source(folder)
    assert data.rows_set_aside == 0, [data.rejects(n) for n in data.reports]
    got = data.table("interactions").set_index("interaction_id")["started_at"]
    for interaction, local in expected.items():
        assert got[interaction] == local, interaction


def test_every_sites_monthly_counts_are_its_local_months(default_source, truth, analysis):
    counted = analysis.contacts_frame().groupby(["site", "period"]).size()
    planted = pd.Series({(site, month): n for site, months in
                         truth["local_month_contacts"].items() for month, n in months.items()})
    pd.testing.assert_series_equal(counted.sort_index(), planted.sort_index(),
                                   check_names=False)
    # The check has teeth: counted by UTC month, some contacts would change month.
    raw = pd.read_csv(default_source / "interactions.csv", dtype=str,
                      usecols=["interaction_id", "started_at"]).set_index("interaction_id")
    aware = raw["started_at"].str.contains(r"(?:Z|[+-]\d\d:\d\d)$")
    utc_month = pd.to_datetime(raw.loc[aware, "started_at"], utc=True, format="ISO8601")
    utc_month = utc_month.dt.strftime("%Y-%m")
    local_month = analysis.contacts_frame().set_index("interaction_id")["period"]
    moved = (utc_month != local_month.reindex(utc_month.index)).sum()
    assert moved > 0
    zones = {s["site"]: s["time_zone"] for s in truth["sites"]}
    assert {"Asia/Manila", "America/Chicago"} <= set(zones.values())


def test_month_end_contacts_land_in_their_local_month(zoned):
    folder, _ = zoned
    analysis = Analysis.from_source(folder, period="2026-10")
    months = analysis.contacts_frame().set_index("interaction_id")["period"]
    assert months["TZ-TULSA"] == months["TZ-TULSA-UTC"] == "2026-10"  # UTC: November
    assert months["TZ-MANILA"] == months["TZ-MANILA-OWN"] == "2026-11"  # UTC: October
    site = analysis.kpi_summary(group_by=["vendor", "site"])
    csat = site[(site["site"] == "Manila") & (site["kpi"] == "csat")]["n"].item()
    month = analysis.contacts_frame(months=["2026-10"])
    month = month[month["site"] == "Manila"]
    assert csat == month["csat"].notna().sum()


def test_unknown_zone_set_aside_and_missing_site_named_once(small_source, tmp_path):
    folder = tmp_path / "src"
    shutil.copytree(small_source, folder)
    sites = pd.read_csv(folder / "sites.csv", dtype=str, keep_default_na=False)
    sites.loc[sites["site"] == "Lisbon", "time_zone"] = "Europe/Lisboa"
    sites = sites[sites["site"] != "Cebu"]
    sites.to_csv(folder / "sites.csv", index=False)
    data = validate_source(folder)
    rejects = data.rejects("sites")
    assert rejects["site"].tolist() == ["Lisbon"]
    assert "'Europe/Lisboa' is not an IANA time zone name" in rejects["reason"].item()
    assert data.warnings == ["sites gives no time zone for Cebu, Lisbon: their times are "
                             "taken as UTC"]
    assert data.reports["interactions"].rows_set_aside == 0
    result = run_cli("validate", folder)
    assert result.returncode == 1
    assert "warning: sites gives no time zone for Cebu, Lisbon" in result.stderr
