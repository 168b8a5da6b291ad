"""Coaching packs and vendor scorecards: real PDFs from WeasyPrint, read back with pypdf."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from cxreports.analyses.analysis import Analysis
from cxreports.analyses.kpi_summary import compute_kpi_summary
from cxreports.reports.batch import render_packs
from cxreports.reports.rendering import SafeFetcher, fmt_kpi, render_pdf, template_dir
from tests.conftest import invoke_cli
from tests.pdfs import pdf_text

# ``mover`` and ``rendered`` (three packs and every scorecard of the default sample)
# are session fixtures in conftest.py, shared with test_pack_layout.py.


def test_every_report_written_whole(rendered):
    out, packs, cards = rendered
    for result in [*packs.values(), *cards.values()]:
        assert result.status == "ok", result.error
        pdf = Path(result.path).read_bytes()
        assert pdf.startswith(b"%PDF")
        assert hashlib.sha256(pdf).hexdigest() == result.sha256  # what the manifest says
    leftovers = [p for folder in ("packs", "scorecards") for p in (out / folder).rglob("*")
                 if p.name.startswith(".")]
    assert not leftovers


def test_pack_shows_own_team_and_no_other_agents(analysis, rendered):
    _, packs, _ = rendered
    roster = analysis.roster
    for supervisor, result in packs.items():
        text = pdf_text(result.path)
        team = analysis.team[analysis.team["supervisor_id"] == supervisor]
        for name in team["agent_name"]:
            assert name in text, (supervisor, name)
        others = set(roster["agent_name"]) - set(team["agent_name"])
        leaked = [name for name in others if name in text]
        assert not leaked, (supervisor, leaked)
        reader = PdfReader(result.path)
        # cover, team page, agent cards two or more to a page (tests/test_pack_layout.py)
        assert 3 <= len(reader.pages) <= 2 + math.ceil(len(team) / 2)


def test_mover_appears_only_in_new_team_pack(analysis, rendered, mover):
    _, packs, _ = rendered
    name = analysis.roster.set_index("agent_id").loc[mover["agent_id"], "agent_name"]
    name = name.iloc[0] if isinstance(name, pd.Series) else name
    assert name in pdf_text(packs[mover["to_supervisor"]].path)
    assert name not in pdf_text(packs[mover["from_supervisor"]].path)


def test_pack_numbers_equal_the_library(analysis, rendered):
    _, packs, _ = rendered
    members = analysis.team.loc[analysis.team["supervisor_id"] == "S05", "agent_id"]
    month = analysis.contacts_frame(months=["2026-10"], agents=members)
    summary = compute_kpi_summary(month).set_index("kpi")
    text = pdf_text(packs["S05"].path)
    for kpi in ("csat", "nps", "fcr", "ces"):
        assert fmt_kpi(summary.at[kpi, "value"], kpi) in text, kpi
    drivers = analysis.layered_drivers
    site = analysis.team.loc[analysis.team["supervisor_id"] == "S05", "site"].iloc[0]
    here = drivers[(drivers["group"] == site) & (drivers["kpi"] == "csat")
                   & (drivers["verdict"] == "driver")]
    top = here.sort_values("estimate", ascending=False).iloc[0]
    assert f"{top['label']} adds about {top['estimate']:.2f} CSAT points here" in text


def test_packs_never_contradict_themselves(analysis):
    from cxreports.reports.models import build_coaching_pack

    for supervisor in sorted(analysis.team["supervisor_id"].unique())[:4]:
        pack = build_coaching_pack(analysis, supervisor)
        assert pack.recent_window == str(analysis.windows.recent)
        for agent in pack.agents:
            coach = {o["label"] for o in agent["opportunities"]}
            celebrate = {s["label"] for s in agent["strengths"]}
            assert not coach & celebrate
            table = {t["label"]: t for t in agent["trends"]}
            for o in agent["opportunities"]:
                row = table[o["label"]]  # every pick has its row in the table
                assert row["recent"] == pytest.approx(o["score"])  # the same figure
                assert row["recent"] < o["benchmark"]
                if row["period_n"] >= 3:
                    assert row["period_mean"] < o["benchmark"]
                assert "0.00" not in o["why"]
            for s in agent["strengths"]:
                assert table[s["label"]]["recent"] >= s["benchmark"]
            assert all("effect" not in s for s in agent["sessions"])
            # Every proven driver has its row (so "every proven driver" can be checked),
            # every row says what it is, and a no-pick reason is the rule that fired.
            assert {d["label"] for d in pack.drivers} <= set(table)
            assert all(t["tags"] for t in agent["trends"])
            for t in agent["trends"]:
                if t["reason"] == "month":
                    assert t["period_mean"] >= t["benchmark"] > t["recent"]
                if t["reason"] == "strong":
                    assert t["recent"] >= t["benchmark"]
            for i in agent["improved"]:  # celebrated only on a reliable, clear rise
                row = table[i["label"]]
                assert row["reliable"] and row["trend"] == "improved"
                assert "coached" in row["tags"]


def test_scorecards_show_vendor_figures_and_no_agents(analysis, rendered):
    _, _, cards = rendered
    summary = analysis.kpi_summary(group_by="vendor").set_index(["vendor", "kpi"])
    names = set(analysis.roster["agent_name"])
    for vendor, result in cards.items():
        text = pdf_text(result.path)
        assert vendor in text
        assert fmt_kpi(summary.at[(vendor, "csat"), "value"], "csat") in text
        assert not [n for n in names if n in text], vendor
    harbor = pdf_text(cards["Harbor BPO"].path)
    assert "weaker" in harbor  # confirming resolution does not transfer there (planted)


def test_pdfs_are_tagged_with_language_and_title(rendered):
    _, packs, cards = rendered
    for result in [next(iter(packs.values())), next(iter(cards.values()))]:
        reader = PdfReader(result.path)
        root = reader.trailer["/Root"]
        assert "/StructTreeRoot" in root
        assert root.get("/Lang") == "en"
        assert reader.metadata.title and ("Coaching pack" in reader.metadata.title
                                          or "Vendor scorecard" in reader.metadata.title)
        assert "Page 2 of" in pdf_text(result.path)  # page numbers in the margin boxes


def test_no_template_syntax_survives(rendered):
    _, packs, cards = rendered
    for result in [*packs.values(), *cards.values()]:
        text = pdf_text(result.path)
        assert "{{" not in text and "{%" not in text


def test_a_report_built_from_the_snapshot_is_the_same_file(analysis, rendered, tmp_path):
    """From ``share_from`` reports up, workers build whole reports from the run's
    snapshot; such a report must be the very file the demo built from the source.
    One worker process, forked as in a run: the first report is built here and the
    analysis saved, the second is built there from the snapshot (task and snapshot
    reference pickled across)."""
    from cxreports.reports.batch import render_scorecards
    from cxreports.run.executors import open_executor

    _, packs, cards = rendered
    with open_executor("local", 1) as worker:
        built = [*render_packs(analysis, tmp_path, supervisors=sorted(packs)[:2],
                               executor=worker, share_from=1),
                 *render_scorecards(analysis, tmp_path, vendors=sorted(cards)[:2],
                                    executor=worker, share_from=1)]
    demo = {("packs", k): r.sha256 for k, r in packs.items()}
    demo |= {("scorecards", k): r.sha256 for k, r in cards.items()}
    for result in built:
        assert result.status == "ok", result.error
        assert result.sha256 == demo[(result.kind, result.key)], result.key
    assert not [p for p in tmp_path.rglob(".*")]  # the snapshots removed


# --------------------------------------------------------------------------- security


@pytest.fixture
def hostile_source(small_source, tmp_path):
    """The small sample with an agent called like markup and a supervisor id like a path."""
    src = tmp_path / "src"
    shutil.copytree(small_source, src)
    roster = pd.read_csv(src / "roster.csv", dtype=str, keep_default_na=False)
    first_sup = roster["supervisor_id"].iloc[0]
    roster.loc[roster["agent_id"] == roster["agent_id"].iloc[0], "agent_name"] = \
        "<b>O'Brien</b> & {{ 7*7 }}"
    roster.loc[roster["supervisor_id"] == first_sup, "supervisor_id"] = "../../evil"
    roster.to_csv(src / "roster.csv", index=False)
    coaching = pd.read_csv(src / "coaching.csv", dtype=str, keep_default_na=False)
    coaching.loc[coaching["supervisor_id"] == first_sup, "supervisor_id"] = "../../evil"
    coaching.to_csv(src / "coaching.csv", index=False)
    return src


def test_data_is_escaped_and_ids_cannot_escape_the_folder(hostile_source, tmp_path):
    analysis = Analysis.from_source(hostile_source, period="2026-10")
    out = tmp_path / "out"
    [result] = render_packs(analysis, out, supervisors=["../../evil"])
    assert result.status == "ok", result.error
    path = Path(result.path).resolve()
    assert path.parent == (out / "packs").resolve()
    text = pdf_text(path)
    assert "<b>O'Brien</b> & {{ 7*7 }}" in text
    assert "49" not in text.split("O'Brien")[1][:20]
    assert not list(tmp_path.glob("evil*")) and not (tmp_path.parent / "evil.pdf").exists()


def test_fetcher_refuses_network_and_files_outside(tmp_path):
    fetcher = SafeFetcher([template_dir()])
    for url in ("http://127.0.0.1:9/x.css", "https://example.com/a.png", "file:///etc/passwd",
                f"file://{template_dir()}/../pyproject.toml", "ftp://127.0.0.1/x"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    ok = fetcher.fetch(f"file://{template_dir() / 'report.css'}")
    assert b"@page" in ok.read()
    ok.close()


def test_attachments_and_remote_resources_are_not_embedded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not embed")
    html = f"""<html lang="en"><head><title>t</title>
      <link rel="stylesheet" href="http://127.0.0.1:9/evil.css">
      <link rel="attachment" href="file://{secret}"></head>
      <body><p>hello</p><a rel="attachment" href="file://{secret}">x</a>
      <img src="file:///etc/hostname" alt="x"></body></html>"""
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(render_pdf(html, base_dir=template_dir(), roots=[template_dir()]))
    reader = PdfReader(pdf)
    assert reader.attachments == {}
    assert b"do not embed" not in pdf.read_bytes()


# --------------------------------------------------------------------------- faults and CLI


def test_one_failing_pack_does_not_stop_the_others(analysis, tmp_path):
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "coaching_pack.html").write_text(
        '<html lang="en"><head><title>p</title></head><body>'
        '{% if pack.supervisor_id == "S02" %}{{ no_such_value }}{% endif %}'
        '<h1>{{ pack.supervisor_name }}</h1></body></html>')
    results = {r.key: r for r in render_packs(analysis, tmp_path / "out",
                                              supervisors=["S01", "S02", "S03"],
                                              templates=overrides)}
    assert results["S02"].status == "failed" and "no_such_value" in results["S02"].error
    assert results["S01"].status == results["S03"].status == "ok"
    assert not (tmp_path / "out" / "packs" / "S02.pdf").exists()
    assert "Coaching pack" not in pdf_text(results["S01"].path)  # the override was used


def test_cli_packs_and_scorecards(small_source, tmp_path):
    # One pack to render: --workers 1 renders it here rather than start a pool for it.
    result = invoke_cli("packs", small_source, "--period", "2026-10", "--out", tmp_path,
                        "--supervisor", "S01", "--supervisor", "S99", "--workers", "1")
    assert result.exit_code == 1
    assert "S99" in result.stderr and (tmp_path / "packs" / "S01.pdf").exists()
    result = invoke_cli("scorecards", small_source, "--period", "2026-10", "--out", tmp_path,
                        "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "scorecards" / "in-house.pdf").exists()
    assert len(list((tmp_path / "scorecards").glob("*.pdf"))) == 3


def test_a_session_with_no_topic_is_general_not_nan(small_source, tmp_path):
    # DuckDB hands an empty text cell over as NaN, which is truthy: "nan" was printed
    # as the focus of a session with neither a behaviour nor a topic.
    from cxreports.reports.models import build_coaching_pack

    source = tmp_path / "src"
    shutil.copytree(small_source, source)
    coaching = pd.read_csv(source / "coaching.csv", dtype=str, keep_default_na=False)
    bare = (coaching["held_on"] >= "2026-10-01") & (coaching["behavior_id"] == "")
    assert bare.any()
    coaching.loc[bare, "topic"] = ""
    coaching.to_csv(source / "coaching.csv", index=False)
    pack = build_coaching_pack(Analysis.from_source(source, period="2026-10"),
                               coaching.loc[bare, "supervisor_id"].iloc[0])
    focus = [s["focus"] for a in pack.agents for s in a["sessions"]]
    assert "general" in focus and "nan" not in focus
