"""Standalone HTML packs: one self-contained file a browser and a screen reader can read.

The browser test opens a pack made by ``cxreports packs --html`` in Debian's
Chromium, driven by Playwright with the system browser (Playwright's own
browser builds are never downloaded). ``make test`` installs Chromium with
``apt-get install -y chromium`` before the suite when it is missing and runs
as root; where it is not installed, that test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from cxreports.reports.rendering import standalone_html, template_dir
from cxreports.run.params import load_params
from tests.conftest import invoke_cli

CHROMIUM = "/usr/bin/chromium"


def _chromium() -> tuple[str | None, str]:
    """The system Chromium's path; else ``None`` and why.

    ``make test`` installs it (as root) before the suite starts; installing it
    here, midway, would change the PDFs of every process started after it
    (Chromium brings HarfBuzz-Subset, which WeasyPrint then subsets fonts with).
    """
    found = shutil.which("chromium") or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if found:
        return found, ""
    return None, ("Chromium is not installed: `make test` installs it when run as root, "
                  "or run `sudo apt-get install chromium`")


@pytest.fixture(scope="module")
def chromium() -> str:
    path, reason = _chromium()
    if path is None:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def html_pack(small_source, tmp_path_factory) -> tuple[Path, list[str]]:
    """One pack written by ``cxreports packs --html``: its HTML file and its agents' names."""
    from cxreports.analyses.analysis import Analysis

    out = tmp_path_factory.mktemp("html-pack")
    period = json.loads((small_source / "truth.json").read_text())["months"][-1]
    team = Analysis.from_source(small_source, period=period).team
    supervisor = sorted(team["supervisor_id"].unique())[0]
    result = invoke_cli("packs", small_source, "--period", period, "--out", out,
                        "--supervisor", supervisor, "--workers", "1", "--html")
    assert result.exit_code == 0, result.stderr
    assert (out / "packs" / f"{supervisor}.pdf").is_file()
    names = team.loc[team["supervisor_id"] == supervisor, "agent_name"].tolist()
    return out / "packs" / f"{supervisor}.html", names


def test_html_copy_is_self_contained(html_pack):
    path, names = html_pack
    text = path.read_text(encoding="utf-8")
    assert re.search(r'<html lang="\w+"', text) and "<title>" in text
    assert "<link" not in text  # the style sheets are inline
    assert "url(fonts/" not in text and "@font-face" not in text  # system fonts stand in
    assert str(template_dir()) not in text and str(path.parent) not in text
    assert "Content-Security-Policy" in text
    for src in re.findall(r'<img[^>]*\ssrc="([^"]*)"', text):
        assert src.startswith("data:image/svg+xml;base64,")
    for name in names:
        assert name.replace("'", "&#39;") in text or name in text


def test_only_allowed_files_are_inlined(tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red } /* do not inline */")
    page = (f'<html lang="en"><head><meta charset="utf-8"><title>t</title>'
            f'<link rel="stylesheet" href="report.css">'
            f'<link rel="stylesheet" href="file://{secret}">'
            f'<link rel="stylesheet" href="http://127.0.0.1:9/evil.css">'
            f'<link rel="attachment" href="report.css"></head>'
            f'<body><img src="fonts/DejaVuSans.ttf" alt="x"><img src="/etc/hostname" alt="y">'
            f'</body></html>')
    out = standalone_html(page, base_dir=template_dir(), roots=[template_dir()])
    assert "do not inline" not in out and "127.0.0.1" not in out and "<link" not in out
    assert out.count("<style>") == 2  # the screen style and report.css
    assert 'src="data:font/ttf;base64,' in out or 'src="data:application/' in out
    assert 'src=""' in out  # a file outside the template folder is not read


def test_html_parameter(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("source: ''\nperiod: 2026-10\nout: out\n")
    assert load_params(params).html is False
    params.write_text("source: ''\nperiod: 2026-10\nout: out\nhtml: true\n")
    assert load_params(params).html is True


def test_pack_reads_in_a_real_browser(html_pack, chromium):
    """One page load in headless Chromium: agents, headings, images with alt text,
    the language and title set, nothing fetched from disk or network."""
    from playwright.sync_api import sync_playwright

    path, names = html_pack
    url = path.resolve().as_uri()
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.goto(url, wait_until="load")
            body = page.inner_text("body")
            lang = page.evaluate("document.documentElement.lang")
            title = page.title()
            headings = page.get_by_role("heading").all_inner_texts()
            images = page.evaluate("""[...document.images].map(i => (
                {alt: i.alt, loaded: i.complete && i.naturalWidth > 0}))""")
            styled = page.evaluate("getComputedStyle(document.querySelector('h2')).fontSize")
        finally:
            browser.close()
    assert lang and title
    assert len(headings) >= 3 and any(h.strip() for h in headings)
    for name in names:
        assert name in body, name
    assert images and all(i["alt"].strip() and i["loaded"] for i in images), images
    assert styled != "24px"  # the inline style sheet applies (a bare h2 is 1.5em)
    assert all(u == url or u.startswith("data:") for u in requested), requested
