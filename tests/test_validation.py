"""Validation against the data contract: rows set aside, nothing lost, clear errors."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cxreports import UnusableInputError, validate_source
from cxreports.data.contract import TABLES
from tests.conftest import invoke_cli, run_cli


def _copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "src"
    shutil.copytree(source, target)
    return target


# --------------------------------------------------------------------------- rows


def test_clean_sample_sets_nothing_aside(small_source):
    data = validate_source(small_source)
    assert data.rows_set_aside == 0
    for name in ("roster", "interactions", "qa_scores", "qa_form"):
        report = data.reports[name]
        raw_rows = len(pd.read_csv(small_source / f"{name}.csv"))
        assert report.rows_read == raw_rows == report.rows_kept


def test_broken_rows_set_aside_exactly_with_reasons(broken_source, broken_record):
    data = validate_source(broken_source)
    for name, expected in broken_record["expected_set_aside"].items():
        report = data.reports[name]
        assert report.rows_set_aside == expected, name
        # Nothing lost: every row read is either kept or set aside.
        raw_rows = len(pd.read_csv(broken_source / f"{name}.csv", dtype=str))
        assert report.rows_kept + report.rows_set_aside == report.rows_read == raw_rows
    for case in broken_record["cases"]:
        rejects = data.rejects(case["table"])
        reason = rejects.loc[rejects["reason"].str.startswith(f"row {case['row']}: "), "reason"]
        assert len(reason) == 1, case
        assert case["rule"] in reason.iloc[0], (case, reason.iloc[0])


def test_reasons_name_column_value_and_rule(broken_source):
    rejects = validate_source(broken_source).rejects("interactions")
    reasons = set(rejects["reason"].str.split(": ", n=1).str[1])
    assert "csat 6 is outside 1 to 5" in reasons
    assert "aht_seconds -5 is negative" in reasons
    assert "started_at '31/10/2026 10:00' is not an ISO 8601 date" in reasons
    assert "channel 'fax' is not one of voice, chat, email, social, sms" in reasons
    assert "agent_id 'A9999' is not on the roster" in reasons
    assert any(r.startswith("repeated interaction_id 'I0000001' (first at row 1)") for r in reasons)


def test_rejects_keep_rows_as_they_came(broken_source, tmp_path):
    data = validate_source(broken_source)
    written = data.write_rejects(tmp_path / "rejects")
    assert set(written) == {t.name for t in TABLES}
    frame = pd.read_csv(written["interactions"], dtype=str, keep_default_na=False)
    source_cols = list(pd.read_csv(broken_source / "interactions.csv", nrows=0).columns)
    assert list(frame.columns) == [*source_cols, "reason"]
    assert "31/10/2026 10:00" in set(frame["started_at"])
    assert not list(tmp_path.glob("rejects/.*"))


def test_excel_booleans_scores_and_spelling_variants_are_valid(broken_source):
    data = validate_source(broken_source)
    inter = data.table("interactions")
    assert inter.loc[1, "fcr"] == True  # noqa: E712 - "TRUE" in the file
    assert inter.loc[2, "fcr"] == False  # noqa: E712 - "FALSE"
    assert inter.loc[3, "fcr"] == True  # noqa: E712 - "Yes"
    assert inter.loc[4, "channel"] == "voice"  # "Voice"
    assert not inter.loc[5, "agent_id"].startswith(" ")  # " A0002 " trimmed
    qa = data.table("qa_scores")
    assert set(qa.loc[:1, "score"]) <= {0.0, 1.0}  # "Pass"/"fail", "yes"/"NO"


def test_not_applicable_scores_are_missing_not_zero(small_source):
    qa = validate_source(small_source).table("qa_scores")
    raw = pd.read_csv(small_source / "qa_scores.csv", dtype=str, keep_default_na=False)
    na = raw["score"].eq("N/A").to_numpy()
    assert na.any()
    assert qa.loc[na, "score"].isna().all()
    assert qa.loc[~na, "score"].notna().all()


def test_validated_tables_are_typed(small_source):
    data = validate_source(small_source)
    inter = data.table("interactions")
    assert pd.api.types.is_datetime64_any_dtype(inter["started_at"])
    assert pd.api.types.is_float_dtype(inter["csat"])
    assert inter["csat"].dropna().between(1, 5).all()
    roster = data.table("roster")
    assert pd.api.types.is_datetime64_any_dtype(roster["valid_from"])


# --------------------------------------------------------------------------- files


def test_semicolon_csv_with_bom_reads(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    frame = pd.read_csv(src / "targets.csv", dtype=str, keep_default_na=False)
    (src / "targets.csv").write_bytes(
        b"\xef\xbb\xbf" + frame.to_csv(index=False, sep=";").encode("utf-8")
    )
    data = validate_source(src)
    assert data.reports["targets"].rows_kept == len(frame)
    assert list(data.table("targets").columns[:2]) == ["kpi", "target"]


def test_utf16_csv_reads(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    frame = pd.read_csv(src / "qa_form.csv", dtype=str)
    (src / "qa_form.csv").write_bytes(frame.to_csv(index=False).encode("utf-16"))
    assert validate_source(src).reports["qa_form"].rows_kept == len(frame)


def test_wrong_encoding_is_unusable_and_named(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    text = (src / "roster.csv").read_text().replace("Aisha", "Aïsha")
    (src / "roster.csv").write_bytes(text.encode("latin-1"))
    result = invoke_cli("validate", src, "--rejects", tmp_path / "rejects")
    assert result.exit_code == 2
    assert "roster.csv" in result.stderr and "UTF-8" in result.stderr.replace("utf-8", "UTF-8")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "rejects").exists()


def test_header_only_table_is_an_empty_table(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    header = (src / "coaching.csv").read_text().splitlines()[0]
    (src / "coaching.csv").write_text(header + "\n")
    data = validate_source(src)
    assert data.reports["coaching"].rows_read == 0
    assert data.table("coaching").empty


def test_zero_byte_file_is_unusable(small_source, tmp_path):
    # A required table's; an optional table's empty file is absent (issue #15).
    src = _copy(small_source, tmp_path)
    (src / "qa_form.csv").write_bytes(b"")
    with pytest.raises(UnusableInputError, match="qa_form.csv is empty"):
        validate_source(src)


def test_missing_optional_table_is_fine(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    for name in ("coaching", "targets", "supervisor_time"):
        (src / f"{name}.csv").unlink()
    data = validate_source(src)
    assert not data.has_table("coaching")
    assert list(data.table("coaching").columns)[:3] == ["session_id", "supervisor_id", "agent_id"]
    result = invoke_cli("validate", src)
    assert result.exit_code == 0, result.stderr


def test_missing_required_table_exits_2(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    (src / "qa_form.csv").unlink()
    result = invoke_cli("validate", src)
    assert result.exit_code == 2
    assert "required table qa_form is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_required_column_names_file_and_column(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    frame = pd.read_csv(src / "interactions.csv", dtype=str)
    frame.rename(columns={"started_at": "Started_At"}).to_csv(
        src / "interactions.csv", index=False)
    with pytest.raises(UnusableInputError) as info:
        validate_source(src)
    message = str(info.value)
    assert "interactions.csv" in message and "'started_at'" in message
    assert "Started_At" in message  # the near miss is pointed out


def test_unknown_table_file_is_unusable(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    shutil.copy(src / "targets.csv", src / "target.csv")
    with pytest.raises(UnusableInputError, match="target.csv is not a known table"):
        validate_source(src)


def test_table_given_twice_is_unusable(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    pd.read_csv(src / "targets.csv").to_parquet(src / "targets.parquet")
    with pytest.raises(UnusableInputError, match="given twice"):
        validate_source(src)


def test_missing_source_exits_2(tmp_path):
    result = invoke_cli("validate", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_extra_columns_are_kept_and_ignored(small_source, tmp_path):
    src = _copy(small_source, tmp_path)
    frame = pd.read_csv(src / "qa_form.csv", dtype=str)
    frame["owner"] = "QA team"
    frame.to_csv(src / "qa_form.csv", index=False)
    table = validate_source(src).table("qa_form")
    assert table["owner"].eq("QA team").all()


# --------------------------------------------------------------------------- sources


def _counts(data) -> dict[str, tuple[int, int]]:
    return {n: (r.rows_read, r.rows_set_aside) for n, r in data.reports.items()}


def test_parquet_duckdb_and_sqlite_sources_agree_with_csv(tmp_path, broken_source):
    from cxreports.data.sample import write_sample_data
    from tests.conftest import SMALL

    expected = _counts(validate_source(broken_source))
    parquet = write_sample_data(tmp_path / "pq", broken=True, fmt="parquet", **SMALL)
    assert _counts(validate_source(parquet)) == expected
    db = write_sample_data(tmp_path / "db", broken=True, fmt="duckdb", **SMALL)
    assert _counts(validate_source(db)) == expected

    sqlite_path = tmp_path / "cx.sqlite"
    with sqlite3.connect(sqlite_path) as conn:
        for table in TABLES:
            frame = pd.read_csv(broken_source / f"{table.name}.csv", dtype=str,
                                keep_default_na=False)
            frame.to_sql(table.name, conn, index=False)
    assert _counts(validate_source(f"sqlite:///{sqlite_path}")) == expected


def test_duckdb_source_ignores_other_tables(tmp_path):
    from cxreports.data.sample import write_sample_data
    from tests.conftest import SMALL

    db = write_sample_data(tmp_path, fmt="duckdb", **SMALL)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE scratch AS SELECT 1 AS x")
    con.close()
    assert validate_source(db).rows_set_aside == 0


def test_bad_sqlalchemy_url_is_unusable():
    with pytest.raises(UnusableInputError, match="cannot be read"):
        validate_source("postgresql://user:secret@127.0.0.1:1/none")


# --------------------------------------------------------------------------- CLI


def test_cli_validate_exit_codes_and_rejects(small_source, broken_source, tmp_path):
    clean = run_cli("validate", small_source)
    assert clean.returncode == 0, clean.stderr
    broken = run_cli("validate", broken_source, "--rejects", tmp_path / "rej")
    assert broken.returncode == 1
    assert "interactions.csv row" in broken.stderr
    files = sorted(p.name for p in (tmp_path / "rej").glob("*.csv"))
    assert files == sorted(f"{t.name}.csv" for t in TABLES)
