"""Malformed CSV (issue #15): a broken line is set aside, never the file or the month.

A *broken line* is a line of a CSV that is not a row at all: a field too many
or too few, a quote that is never closed, bytes that are not in the file's
encoding. It goes to the rejects with its line number, the line as it came
and a reason; every other row is read and validated as usual (exit 1). Only
a file without a readable header or without one usable row stops (exit 2).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxreports import UnusableInputError, validate_source
from cxreports.data.sample.damage import DAMAGE_KINDS, Damage, add_broken_lines
from cxreports.data.sources import WRONG_ENCODING_SHARE
from tests.conftest import invoke_cli, manifest, write_params

_LINE = re.compile(r"^row (\d+): line (\d+)(?: \(the last\))? (.+)$")


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("broken.json"))
    return target


def _broken_rejects(data, table: str) -> pd.DataFrame:
    """The rejects of ``table`` that are broken lines, with row, line and problem parsed."""
    rejects = data.rejects(table)
    if "raw_line" not in rejects:
        return rejects.iloc[0:0].assign(row=[], line=[], problem=[])
    lines = rejects[rejects["raw_line"].notna()].copy()
    parsed = lines["reason"].str.extract(_LINE)
    lines["row"], lines["line"] = parsed[0].astype(int), parsed[1].astype(int)
    lines["problem"] = parsed[2]
    return lines


@pytest.fixture(scope="module")
def clean(small_source):
    """The clean sample, validated once: what every damaged copy must still keep."""
    return validate_source(small_source)


# --------------------------------------------------------------------------- the case


def test_a_handful_of_broken_lines_costs_only_those_lines(small_source, clean, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    planted = {
        "interactions": add_broken_lines(src / "interactions.csv", [
            Damage(500, "extra_field"), Damage(1200, "missing_field"),
            Damage(2000, "garbage"), Damage(2600, "stray_byte", seed=3),
            Damage(3100, "open_quote", seed=1), Damage(4000, "glued"),
        ], cut_last_line=True),
        "qa_scores": add_broken_lines(src / "qa_scores.csv", [
            Damage(0, "garbage", text="exported by TelephonyPro 7.2 on 2026-11-01"),
            Damage(3000, "extra_field"), Damage(5000, "open_quote", seed=4),
        ]),
        "coaching": add_broken_lines(src / "coaching.csv", [
            Damage(7, "open_quote", seed=2), Damage(60, "missing_field"),
        ]),
    }
    result = invoke_cli("validate", str(src), "--rejects", str(tmp_path / "rejects"))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "has no column" not in result.stderr
    data = validate_source(src)
    for table, lines in planted.items():
        report = data.reports[table]
        assert report.broken_lines == report.rows_set_aside == len(lines), table
        assert report.rows_kept == clean.reports[table].rows_kept, table
        assert report.rows_read == report.rows_kept + report.rows_set_aside
        pd.testing.assert_frame_equal(data.table(table), clean.table(table))
        written = pd.read_csv(tmp_path / "rejects" / f"{table}.csv", dtype=str,
                              keep_default_na=False)
        source_columns = list(pd.read_csv(small_source / f"{table}.csv", nrows=0).columns)
        assert list(written.columns) == [*source_columns, "reason", "raw_line"]
        assert len(written) == len(lines)
        for line, row in zip(lines, written.itertuples(), strict=True):
            row_number, line_number, _ = _LINE.match(row.reason).groups()
            assert int(line_number) == line["line"]
            assert int(row_number) == line["line"] - 1  # one line per row here
            assert row.raw_line == line["raw"]
            assert all(getattr(row, c) == "" for c in source_columns[:3])
    reasons = set(_broken_rejects(data, "interactions")["problem"])
    assert "has 10 fields, the header has 9" in reasons
    assert "has 8 fields, the header has 9" in reasons
    assert "has 1 field, the header has 9" in reasons
    assert "has 17 fields, the header has 9" in reasons  # two lines glued
    assert "has 4 fields, the header has 9" in reasons  # the last line, cut short
    assert any(r.startswith("has bytes that are not valid UTF-8 (0x") for r in reasons)
    assert any("quote" in r for r in reasons)
    assert "broken lines:" in result.stderr and "line 502 has 10 fields" in result.stderr


def test_good_rows_after_a_broken_line_keep_their_row_numbers(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    frame = pd.read_csv(src / "interactions.csv", dtype=str, keep_default_na=False)
    frame.loc[29, "csat"] = "9"  # data row 30: line 31 before the damage
    frame.loc[39, "interaction_id"] = frame.loc[4, "interaction_id"]  # row 40 repeats row 5
    frame.to_csv(src / "interactions.csv", index=False)
    add_broken_lines(src / "interactions.csv", [Damage(10, "extra_field"),
                                                Damage(20, "open_quote")])
    lines = (src / "interactions.csv").read_text(errors="replace").splitlines()
    assert ",9," in lines[32]  # now line 33: two broken lines came before it
    data = validate_source(src)
    rejects = data.rejects("interactions")
    reasons = list(rejects["reason"])
    # Rows count every record after the header, broken lines included, so row N
    # is line N + 1 of a file without line breaks inside quoted values.
    assert reasons[0] == "row 11: line 12 has 10 fields, the header has 9"
    assert reasons[1] == "row 22: line 23 has a quote that is not closed on the line"
    assert reasons[2] == "row 32: csat 9 is outside 1 to 5"
    assert reasons[3].startswith("row 42: repeated interaction_id")
    assert reasons[3].endswith("(first at row 5)")
    assert rejects["raw_line"].isna().sum() == 2  # the rule-breaking rows: no raw line


def test_a_quoted_line_break_makes_rows_and_lines_differ(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    frame = pd.read_csv(src / "coaching.csv", dtype=str, keep_default_na=False)
    frame.loc[2, "topic"] = "Two lines\nof topic"  # row 3 takes lines 4 and 5
    frame.loc[9, "minutes"] = "-1"  # row 10
    frame.to_csv(src / "coaching.csv", index=False)
    text = (src / "coaching.csv").read_text().split("\n")
    text.insert(7, "a broken line")  # line 8: after row 5, which is on line 7
    (src / "coaching.csv").write_text("\n".join(text))
    data = validate_source(src)
    reasons = list(data.rejects("coaching")["reason"])
    # Row 3 takes two lines, so from there on line = row + 2.
    assert reasons == ["row 6: line 8 has 1 field, the header has 8",
                       "row 11: minutes -1 is negative"]  # on line 13
    kept = data.table("coaching")
    assert kept.loc[2, "topic"] == "Two lines\nof topic"
    assert len(kept) == len(frame) - 1


def test_an_unclosed_quote_does_not_swallow_the_lines_after_it(small_source, clean, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    planted = add_broken_lines(src / "interactions.csv",
                               [Damage(1, "open_quote", seed=k) for k in range(3)])
    data = validate_source(src)
    assert [r["line"] for r in planted] == [3, 4, 5]
    assert list(_broken_rejects(data, "interactions")["line"]) == [3, 4, 5]
    pd.testing.assert_frame_equal(data.table("interactions"), clean.table("interactions"))


def test_windows_line_ends_and_gzip(small_source, clean, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    path = src / "qa_scores.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    planted = add_broken_lines(path, [Damage(100, "extra_field"), Damage(900, "stray_byte"),
                                      Damage(2000, "open_quote")])
    roster = src / "roster.csv"
    planted_roster = add_broken_lines(roster, [Damage(3, "garbage")])
    with gzip.open(src / "roster.csv.gz", "wb") as handle:
        handle.write(roster.read_bytes())
    roster.unlink()
    data = validate_source(src)
    assert list(_broken_rejects(data, "qa_scores")["line"]) == [r["line"] for r in planted]
    assert list(_broken_rejects(data, "roster")["line"]) == [planted_roster[0]["line"]]
    pd.testing.assert_frame_equal(data.table("qa_scores"), clean.table("qa_scores"))
    pd.testing.assert_frame_equal(data.table("roster"), clean.table("roster"))


# --------------------------------------------------------------------------- what still stops


def test_a_file_without_one_usable_row_stops_naming_the_cause(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    frame = pd.read_csv(src / "interactions.csv", dtype=str, keep_default_na=False)
    header = ",".join(frame.columns)
    (src / "interactions.csv").write_text(header + "\n" + frame.to_csv(
        index=False, header=False, sep=";"))
    result = invoke_cli("validate", str(src), "--rejects", str(tmp_path / "rejects"))
    assert result.exit_code == 2
    assert "interactions.csv has no usable rows" in result.stderr
    assert "line 2 has 1 field, the header has 9" in result.stderr
    assert not (tmp_path / "rejects").exists()


def test_a_header_that_cannot_be_read_stops(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    body = (src / "roster.csv").read_bytes().split(b"\n", 1)[1]
    (src / "roster.csv").write_bytes(b'agent_id,"agent_name,supervisor_id\n' + body)
    with pytest.raises(UnusableInputError, match="roster.csv has no readable header"):
        validate_source(src)
    (src / "roster.csv").write_bytes(b"agent_id,agent_n\xe4me,site\n" + body)
    with pytest.raises(UnusableInputError, match="no readable header.*--encoding"):
        validate_source(src)


def test_header_only_file_is_still_an_empty_table(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    header = (src / "coaching.csv").read_text().splitlines()[0]
    (src / "coaching.csv").write_text(header + "\n   \n\n")  # blank lines are not rows
    data = validate_source(src)
    assert data.reports["coaching"].rows_read == 0 and data.has_table("coaching")


def test_blank_and_white_space_lines_are_skipped_not_set_aside(small_source, clean, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    text = (src / "targets.csv").read_text().splitlines()
    text[3:3] = ["", "   ", "\t"]
    (src / "targets.csv").write_text("\n".join(text) + "\n")
    data = validate_source(src)
    assert data.reports["targets"].rows_set_aside == 0
    pd.testing.assert_frame_equal(data.table("targets"), clean.table("targets"))


# --------------------------------------------------------------------------- encodings


def _accented(src: Path) -> str:
    frame = pd.read_csv(src / "roster.csv", dtype=str, keep_default_na=False)
    frame["agent_name"] = frame["agent_name"].str.replace("a", "à").str.replace("e", "é")
    frame.loc[0, "agent_name"] = "Zoë “Zed” O’Brien €"
    frame.to_csv(src / "roster.csv", index=False)
    return (src / "roster.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(("codec", "option"), [
    ("latin-1", "latin-1"), ("cp1252", "cp1252"), ("cp1252", "windows-1252"),
    ("utf-16", None),  # a byte-order mark says it all
    ("utf-16-le", "utf-16"), ("utf-8-sig", None),
])
def test_encoding_option_reads_whole_files(small_source, tmp_path, codec, option):
    src = _copy(small_source, tmp_path / "src")
    _accented(src)
    for path in src.glob("*.csv"):  # a whole export in one encoding
        text = path.read_text(encoding="utf-8")
        if codec == "latin-1":
            text = text.replace("“", "'").replace("”", "'").replace("’", "'").replace("€", "E")
        path.write_bytes(text.encode(codec))
    data = validate_source(src, **({"encoding": option} if option else {}))
    names = data.table("roster")["agent_name"]
    assert data.rows_set_aside == 0
    assert names.str.contains("à").any()
    if codec != "latin-1":
        assert names.iloc[0] == "Zoë “Zed” O’Brien €"
    args = ["validate", str(src)] + (["--encoding", option] if option else [])
    assert invoke_cli(*args).exit_code == 0


def test_a_file_in_another_encoding_stops_with_a_hint(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    (src / "roster.csv").write_bytes(_accented(src).encode("cp1252"))
    result = invoke_cli("validate", str(src))
    assert result.exit_code == 2
    assert "roster.csv is not UTF-8" in result.stderr and "--encoding" in result.stderr
    result = invoke_cli("validate", str(src), "--encoding", "no-such-codec")
    assert result.exit_code == 2 and "'no-such-codec' is not one Python knows" in result.stderr


def test_a_stray_byte_below_the_share_is_a_broken_line(small_source, clean, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    rows = clean.reports["interactions"].rows_read
    allowed = int(WRONG_ENCODING_SHARE * rows)
    add_broken_lines(src / "interactions.csv",
                     [Damage(10 * k + 1, "stray_byte", seed=k) for k in range(allowed)])
    data = validate_source(src)
    assert data.reports["interactions"].broken_lines == allowed
    add_broken_lines(src / "interactions.csv", [Damage(3, "stray_byte")] * 2)
    with pytest.raises(UnusableInputError, match="interactions.csv is not UTF-8"):
        validate_source(src)


def test_undecodable_bytes_in_a_declared_encoding_are_a_broken_line(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    frame = pd.read_csv(src / "interactions.csv", dtype=str, keep_default_na=False)
    body = frame.to_csv(index=False).encode("cp1252").split(b"\n")
    body[100] = body[100].replace(b"A0", b"A\x810", 1)  # 0x81: not a cp1252 character
    (src / "interactions.csv").write_bytes(b"\n".join(body))
    data = validate_source(src, encoding="cp1252")
    lines = _broken_rejects(data, "interactions")
    assert list(lines["line"]) == [101]
    assert lines["problem"].iloc[0] == "has bytes that are not valid Windows-1252 (0x81)"
    assert "\\x81" in lines["raw_line"].iloc[0]


def test_params_take_an_encoding(tmp_path, small_source):
    from cxreports.run.params import load_params

    params = load_params(write_params(tmp_path / "p.yaml", small_source, tmp_path / "out",
                                      encoding="cp1252"))
    assert params.encoding == "cp1252"
    assert load_params(write_params(tmp_path / "q.yaml", small_source, tmp_path / "out")
                       ).encoding == "utf-8"
    with pytest.raises(UnusableInputError, match="encoding is not an encoding Python knows"):
        load_params(write_params(tmp_path / "r.yaml", small_source, tmp_path / "out",
                                 encoding="klingon"))


def test_every_source_reading_command_takes_encoding():
    for command in ("validate", "drivers", "packs", "scorecards"):
        result = invoke_cli(command, "--help")
        assert "--encoding" in result.stdout, command


# --------------------------------------------------------------------------- warnings


def test_an_empty_optional_file_is_absent_with_a_warning(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    (src / "targets.csv").write_bytes(b"")
    (src / "supervisor_time.csv").write_bytes(b"\xef\xbb\xbf\r\n")
    data = validate_source(src)
    assert not data.has_table("targets") and not data.has_table("supervisor_time")
    assert any("targets.csv is empty" in w and "absent" in w for w in data.warnings)
    result = invoke_cli("validate", str(src))
    assert result.exit_code == 0 and "warning:" in result.stderr
    (src / "qa_form.csv").write_bytes(b"")
    with pytest.raises(UnusableInputError, match="qa_form.csv is empty"):
        validate_source(src)


def test_a_column_named_twice_is_a_warning_naming_the_copy_used(small_source, tmp_path):
    src = _copy(small_source, tmp_path / "src")
    frame = pd.read_csv(src / "interactions.csv", dtype=str, keep_default_na=False)
    frame["csat_again"] = "1"
    text = frame.to_csv(index=False).replace("csat_again", "csat", 1)
    (src / "interactions.csv").write_text(text)
    data = validate_source(src)
    assert data.rows_set_aside == 0
    warning = next(w for w in data.warnings if "twice" in w)
    assert "names column 'csat' twice (columns 7 and 10): column 7 is used" in warning
    pd.testing.assert_series_equal(data.table("interactions")["csat"],
                                   pd.to_numeric(frame["csat"], errors="coerce"),
                                   check_dtype=False, check_names=False)


# --------------------------------------------------------------------------- the run


def test_the_run_counts_broken_lines_in_the_manifest(small_source, tmp_path):
    from cxreports.run.monthly import run_monthly
    from cxreports.run.params import load_params

    src = _copy(small_source, tmp_path / "src")
    add_broken_lines(src / "interactions.csv", [Damage(5, "extra_field"), Damage(6, "garbage")])
    params = load_params(write_params(tmp_path / "p.yaml", src, tmp_path / "out",
                                      notebooks=[], packs=False, scorecards=False))
    outcome = run_monthly(params)
    assert outcome.exit_code == 1
    data = manifest(tmp_path / "out")
    assert data["rejects"]["interactions"]["count"] == 2
    table = data["inputs"]["tables"]["interactions"]
    assert table["rows"] == table["kept"] + table["set_aside"] and table["set_aside"] == 2
    rejects = pd.read_csv(tmp_path / "out" / "rejects" / "interactions.csv", dtype=str)
    assert list(rejects["reason"].str.extract(r"line (\d+)")[0]) == ["7", "9"]


# --------------------------------------------------------------------------- any damage


def _source_tables(small_source: Path) -> list[str]:
    return sorted(p.name.removesuffix(".csv") for p in small_source.glob("*.csv"))


_damage = st.tuples(st.floats(0, 1), st.sampled_from(DAMAGE_KINDS), st.integers(0, 99),
                    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30))


@pytest.mark.long
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), damages=st.lists(_damage, min_size=1, max_size=8),
       cut_last_line=st.booleans())
def test_any_damage_sets_aside_exactly_the_damaged_lines(small_source, clean, tmp_path_factory,
                                                         data, damages, cut_last_line):
    table = data.draw(st.sampled_from(_source_tables(small_source)), label="table")
    src = _copy(small_source, tmp_path_factory.mktemp("damage") / "src")
    rows = clean.reports[table].rows_read
    # Undecodable lines above the share mean a file in another encoding (exit
    # 2, tested above): keep stray bytes below it here.
    allowed = int(WRONG_ENCODING_SHARE * (rows + len(damages) + cut_last_line))
    plan = []
    for where, kind, seed, text in damages:
        if kind == "stray_byte":
            allowed -= 1
            kind = kind if allowed >= 0 else "extra_field"
        plan.append(Damage(round(where * rows), kind, seed, text))
    planted = add_broken_lines(src / f"{table}.csv", plan, cut_last_line=cut_last_line)

    checked = validate_source(src)
    report = checked.reports[table]
    # Every undamaged row is kept, as it was, in order ...
    pd.testing.assert_frame_equal(checked.table(table), clean.table(table))
    assert report.rows_kept == clean.reports[table].rows_kept
    # ... and every damaged line is in the rejects exactly once, with its line.
    assert report.broken_lines == report.rows_set_aside == len(planted)
    assert report.rows_read == report.rows_kept + report.rows_set_aside
    lines = _broken_rejects(checked, table)
    assert list(lines["line"]) == [p["line"] for p in planted]
    assert list(lines["row"]) == [p["line"] - 1 for p in planted]
    assert list(lines["raw_line"]) == [p["raw"] for p in planted]
    assert checked.rejects(table)["reason"].str.match(r"^row \d+: line \d+ .+").all()
    for other in set(_source_tables(small_source)) - {table}:
        assert checked.reports[other].rows_set_aside == 0


def test_damage_record_is_json_friendly(tmp_path, small_source):
    shutil.copy(small_source / "targets.csv", tmp_path / "targets.csv")
    planted = add_broken_lines(tmp_path / "targets.csv", [Damage(2, "stray_byte", seed=5)])
    assert json.loads(json.dumps(planted))[0]["kind"] == "stray_byte"
