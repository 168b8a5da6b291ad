"""The vendor scorecard as a vendor manager reads it, from the PDFs of the default sample
(the demo's, ``rendered`` in conftest.py, read back with pypdf): pages worth turning,
windows named as readers write them, the reference never compared with itself, one
chart per headline outcome."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from cxreports.core.kpis import DEFAULT_KPIS, kpi
from cxreports.core.periods import month_name, window_name

#: The body box of an A4 page in report.css (@page margins: 20 mm top, 18 mm bottom).
_MM = 72 / 25.4
_TOP, _BOTTOM = 20 * _MM, 18 * _MM


def read_page(page) -> tuple[str, float]:
    """A page's text (whitespace collapsed) and how far down the body box its text
    reaches (0: empty, 1: to the bottom), in one pass.

    A chart's text is drawn inside its image (a form XObject: the visitor sees it
    with an identity matrix, in the image's own space), so it cannot be placed on
    the page; a page with a chart counts as at least a third full.
    """
    height = float(page.mediabox.height)
    top, bottom = height - _TOP, _BOTTOM
    ys, charts = [], []

    def visit(text, cm, tm, font, size):
        if not text.strip():
            return
        if list(cm) == [1, 0, 0, 1, 0, 0]:
            charts.append(text)
        else:
            ys.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])

    text = page.extract_text(visitor_text=visit) or ""
    body = [y for y in ys if bottom - 2 < y < top - 2]  # not the running heads and feet
    fill = (top - min(body)) / (top - bottom) if body else 0.0
    return re.sub(r"\s+", " ", text), max(fill, 1 / 3) if charts else fill


@pytest.fixture(scope="module")
def cards(rendered) -> dict[str, list[tuple[str, float]]]:
    """Every scorecard of the default sample: per page, its text and fill (read once)."""
    _, _, results = rendered
    return {vendor: [read_page(p) for p in PdfReader(r.path).pages]
            for vendor, r in results.items()}


def _whole(pages) -> str:
    return " ".join(text for text, _ in pages)


def test_no_scorecard_page_is_under_a_quarter_full(cards):
    for vendor, pages in cards.items():
        fills = [round(fill, 2) for _, fill in pages]
        assert min(fills) > 0.25, (vendor, fills)
        assert len(pages[-1][0]) > 600, vendor  # the last page holds more than a footnote


def test_scorecards_name_months_and_windows_as_readers_write_them(analysis, cards):
    month = month_name(analysis.report_period)
    for vendor, pages in cards.items():
        text = _whole(pages)
        assert month in text and str(analysis.report_period) not in text, vendor
        assert f"Behaviour adoption, {window_name(analysis.windows.driver)}" in text, vendor
        assert window_name(analysis.windows.baseline) in text, vendor


def test_one_chart_per_headline_outcome_with_its_target(cards):
    for vendor, pages in cards.items():
        outcomes = pages[1][0]  # SVG text stays text
        for name in DEFAULT_KPIS:
            assert outcomes.count(f"{kpi(name).short_label} by month") == 1, (vendor, name)
        assert "Handle time by month" not in outcomes
        assert "target 4.00" in outcomes or "target 3.80" in outcomes, vendor


def test_in_house_card_is_the_reference_without_comparing_itself(cards):
    text = _whole(cards["in-house"])
    assert "What drives outcomes in-house" in text
    for itself in ("hold here", "beside in-house", "This is the reference group",
                   "Does your QA score like ours"):
        assert itself not in text, itself
    atlas = _whole(cards["Atlas CX"])
    assert "Do the in-house drivers hold here?" in atlas and "beside in-house" in atlas


def test_shores_and_sites_are_worded_from_the_numbers(analysis, cards):
    team = analysis.team
    one_vendor_each = bool((team.groupby("shore")["vendor"].nunique() == 1).all()
                           and (team.groupby("vendor")["shore"].nunique() == 1).all())
    for vendor, pages in cards.items():
        text = _whole(pages)
        assert "location matters less" not in text
        # Each shore with one vendor: no shore table repeating the vendor table.
        assert ("Shore, all vendors" in text) is not one_vendor_each, vendor
        assert ("cannot be told apart" in text) is one_vendor_each, vendor
        sites = team.loc[team["vendor"] == vendor, "site"].unique()
        if len(sites) == 1:
            assert f"All of {vendor}'s agents sit in" in text, vendor


def test_scorecard_figures_never_seem_to_reach_a_missed_target():
    """A red status with an interval ending just under the target gets the decimals to
    show it, the distance never prints as "-0", and handle time has no target."""
    from cxreports.reports.models import _scorecard_texts

    row = _scorecard_texts({"kpi": "fcr", "headline": True, "enough_data": True,
                            "value": 0.674, "ci_low": 0.629, "ci_high": 0.7196,
                            "target": 0.72, "distance": -0.046, "distance_ci_low": -0.091,
                            "distance_ci_high": -0.0004, "status": "red", "trend": None})
    high = float(row["range_text"].split(" to ")[1].rstrip("%"))
    assert high < 72 and row["status_word"] == "misses"
    assert not re.search(r"-0(\.0+)?\b(?!\.\d*[1-9])", row["distance_range_text"])
    assert row["distance_text"].endswith(" pts")
    aht = _scorecard_texts({"kpi": "aht_seconds", "headline": False, "enough_data": True,
                            "value": 522.0, "ci_low": 515.0, "ci_high": 530.0,
                            "target": 480.0, "status": "not_a_goal", "trend": "up",
                            "change": 13.2})
    assert aht["target_text"] is None and aht["change_text"] == "+13 s"


def test_scorecards_say_what_to_act_on_in_the_words_of_their_pills(cards):
    for vendor, pages in cards.items():
        outcomes = pages[1][0]
        assert "What to act on" in outcomes, vendor
        assert "meets the target" in outcomes and "green meets" not in outcomes, vendor
        text = _whole(pages)
        assert not re.search(r"(?<![\d.])-0(\.0+)?(%| pts| points)", text), vendor
        for jargon in ("Kind", "task", "intent"):
            assert not re.search(rf"\b{jargon}\b", text), (vendor, jargon)
    assert "pool all of" in _whole(cards["in-house"])
