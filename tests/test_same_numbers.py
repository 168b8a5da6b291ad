"""Refactors keep the numbers: every table on a fixed sample equals its recorded reference.

``tests/data/reference/*.csv`` are ``TABLE_BUILDERS`` on the sample below,
written when the generator last changed (issue 11: coaching chosen on observed
scores, repeated sessions, QA lag, real last-month changes; issue 13: evaluators
who err, a lenient vendor QA team and calibration re-scores, which every table
but the qa_* ones counts once; coaching picks its focus from the scores QA
recorded, so contacts and KPIs moved too) and the methods with it (coaching effect,
verdicts with direction, audit equivalence tests, agent-clustered KPI
intervals). A change that is meant to move numbers
rewrites them with ``python -m tests.test_same_numbers --rewrite`` and says
why in its commit; any other change must leave them as they are. Counts must
match exactly and values to 12 significant digits (sums taken in a different
order differ in the 16th).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxreports.analyses.analysis import Analysis
from cxreports.reports.tables import TABLE_BUILDERS

REFERENCE = Path(__file__).parent / "data" / "reference"


@pytest.fixture(scope="module")
def tables(small_source, tmp_path_factory):
    return write_tables(small_source, tmp_path_factory.mktemp("tables"))


def write_tables(source: Path, out: Path) -> Path:
    """Every table of ``TABLE_BUILDERS`` on ``source`` for October 2026, as CSV in ``out``."""
    analysis = Analysis.from_source(source, period="2026-10")
    for name, build in TABLE_BUILDERS.items():
        build(analysis).to_csv(out / f"{name}.csv", index=False)
    return out


@pytest.mark.parametrize("name", sorted(p.stem for p in REFERENCE.glob("*.csv")))
def test_table_equals_its_reference(tables, name):
    expected = pd.read_csv(REFERENCE / f"{name}.csv")
    got = pd.read_csv(tables / f"{name}.csv")
    assert list(got.columns) == list(expected.columns)
    numbers = expected.select_dtypes("number").columns
    # Compare rows in one order: the references need not be written in today's.
    keys = [c for c in expected.columns if c not in numbers]
    expected = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    got = got.sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got.drop(columns=numbers), expected.drop(columns=numbers))
    for column in numbers:
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-12, atol=1e-12,
                                   equal_nan=True, err_msg=f"{name}.{column}")


def test_contact_teams_in_duckdb_match_assign_roster_with_nested_assignments():
    # a1 works for s1 all year, with a secondment to s2 inside it (later-starting wins
    # while it lasts, s1 again after); a2 has a gap, where a contact has no team.
    import duckdb

    from cxreports.analyses.evaluations import contact_stats_sql, contacts_with_team

    roster = pd.DataFrame({
        "agent_id": ["a1", "a1", "a2", "a2"], "supervisor_id": ["s1", "s2", "s3", "s4"],
        "site": ["x", "y", "x", "x"], "vendor": ["v"] * 4, "shore": [None] * 4,
        "valid_from": pd.to_datetime(["2026-01-01", "2026-03-01", "2026-01-01", "2026-06-01"]),
        "valid_to": pd.to_datetime(["2026-12-31", "2026-03-31", "2026-04-30", None]),
    })
    days = ["2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01", "2026-05-15", "2026-06-01"]
    contacts = pd.DataFrame({
        "interaction_id": [f"i{k}" for k in range(12)], "agent_id": ["a1"] * 6 + ["a2"] * 6,
        "started_at": pd.to_datetime(days * 2) + pd.Timedelta(hours=23),
        **{c: 1.0 for c in ("aht_seconds", "csat", "nps", "ces")}, "fcr": True})
    con = duckdb.connect()
    con.register("i", contacts)
    con.register("r", roster)
    stats = con.execute(contact_stats_sql("i", "r")).df()
    expected = contacts_with_team(contacts, roster)
    expected = expected.groupby(["agent_id", "period", "supervisor_id"], dropna=False).size()
    got = stats.set_index(["agent_id", "period", "supervisor_id"])["contacts"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False,
                                   check_dtype=False)


if __name__ == "__main__":  # python -m tests.test_same_numbers --rewrite
    import sys
    import tempfile

    from cxreports.data.sample import write_sample_data
    from tests.conftest import SMALL

    if sys.argv[1:] != ["--rewrite"]:
        sys.exit("usage: python -m tests.test_same_numbers --rewrite")
    with tempfile.TemporaryDirectory() as scratch:
        write_tables(write_sample_data(Path(scratch) / "sample", **SMALL), REFERENCE)
    print(f"rewrote {REFERENCE}")
