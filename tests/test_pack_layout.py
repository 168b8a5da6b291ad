"""The coaching pack reads in five minutes: a cover that states the month's findings, a
team page, agent cards two or more to a page, dates as readers write them, no internal
codes on a page, and charts drawn the way the verdicts are decided (issue 12).

Reads back the packs the demo wrote (``rendered`` in conftest.py);
the chart and interval checks use the session's ``analysis`` and cost well under
a second.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from cxreports.analyses.drivers import fcr_adjusted_intervals
from cxreports.reports.charts import (
    KIT_PALETTE,
    MIN_FONT_PT,
    VERDICT_COLORS,
    figure_svg,
    panel_positions,
    plot_drivers_and_adoption,
    set_adoption,
)
from tests.pdfs import pages_text

#: Where the short technical note starts: codes and model names may appear after it.
ABOUT = "About these numbers"
#: A snake_case code (insufficient_data, no_evidence, not_a_goal, site_id ...).
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
#: A month or a day written as a code: 2026-10, 2026-10-15.
ISO_MONTH = re.compile(r"\b\d{4}-\d{2}\b")


def layout_problems(path: str | Path, n_agents: int, month: str = "October 2026") -> list[str]:
    """What a pack of ``n_agents`` agents breaks of the five-minute layout (empty: none)."""
    pages = pages_text(path)
    problems = []
    if len(pages) > 2 + math.ceil(n_agents / 2):
        problems.append(f"{len(pages)} pages for {n_agents} agents")
    body = " ".join(pages).split(ABOUT)[0]
    if ISO_MONTH.search(body):
        problems.append(f"a date written as a code: {ISO_MONTH.findall(body)[:3]}")
    if CODE.search(body):
        problems.append(f"internal codes in the body: {sorted(set(CODE.findall(body)))[:5]}")
    if month not in pages[0]:
        problems.append(f"the cover does not name {month}")
    cover = pages[0]
    if "Three things this month" not in cover or not all(f"{i}." in cover for i in (1, 2, 3)):
        problems.append("the cover states no findings")
    return problems


def test_demo_packs_read_in_five_minutes(analysis, rendered):
    _, packs, _ = rendered
    for supervisor, result in packs.items():
        assert result.status == "ok", result.error
        team = analysis.team[analysis.team["supervisor_id"] == supervisor]
        assert not layout_problems(result.path, len(team)), supervisor
        cover = pages_text(result.path)[0]
        # The findings name the team's headline outcome, what matters most and an agent.
        assert "Your team's CSAT was" in cover
        assert "What matters most here" in cover
        assert any(name in cover for name in team["agent_name"]), supervisor


def test_team_page_holds_the_table_sentences_and_chart(rendered):
    _, packs, _ = rendered
    pages = pages_text(packs["S05"].path)
    assert "Your team in October 2026" in pages[1] and "What matters at" in pages[1]
    assert "Effect on CSAT" in pages[1]  # the chart's text, on the same page
    assert "Your agents" in pages[2]
    cards = [page.count("Customers, October 2026") for page in pages[2:]]
    assert max(cards) >= 2  # cards, not a page each


def test_pack_words_say_what_each_number_counts(rendered):
    _, packs, _ = rendered
    for supervisor, result in packs.items():
        pages = pages_text(result.path)
        text = " ".join(pages)
        # Plain words, even in the note: no column names, model codes or method jargon.
        for jargon in ("time_zone", "Model codes", "Yekutieli", "Spearman", "csat: site"):
            assert jargon not in text, (supervisor, jargon)
        # The coaching effect says what it is measured on; the report month has no
        # following month, and the two coaching-time sources are labelled apart.
        assert "Measured over all" not in text
        if "Does your coaching work?" in pages[0]:
            assert "that have a following month of evaluations" in pages[0]
        assert "0-10 scale" not in text
        # The closing note never stands alone on a last page.
        if ABOUT in pages[-1]:
            assert "Customers, October 2026" in pages[-1].split(ABOUT)[0], supervisor


def _site_csat(analysis) -> pd.DataFrame:
    drivers = analysis.layered_drivers
    csat = drivers[(drivers["group_by"] == "site") & (drivers["kpi"] == "csat")]
    return fcr_adjusted_intervals(csat[csat["group"] == csat["group"].iloc[0]])


def _adoption(csat: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([csat[["behavior_id", "label"]].assign(
        adoption=rng.uniform(0, 1, len(csat)), who=who) for who in ("this team", "site average")])


def _chart(analysis) -> tuple[str, list[str]]:
    csat = _site_csat(analysis)
    svg = figure_svg(plot_drivers_and_adoption(csat, _adoption(csat, 1), hue="who"))
    order = csat.sort_values("estimate", ascending=False)["label"].tolist()
    return svg, order


def test_a_behaviour_with_no_adoption_keeps_its_row_in_both_panels(analysis):
    # The adoption panel once listed only behaviours with an adoption and set the shared
    # y axis from that count: the bars below a missing one moved up a row, beside another
    # behaviour's name, and the last row was cut off both panels.
    csat = _site_csat(analysis)
    rows = csat.sort_values("estimate", ascending=False)["label"].tolist()
    adoption = _adoption(csat, 1)
    adoption = adoption[adoption["label"] != rows[1]]
    left, right = plot_drivers_and_adoption(csat, adoption, hue="who").axes
    assert left.get_ylim() == right.get_ylim() == (len(rows) - 0.5, -0.5)
    assert [t.get_text() for t in left.get_yticklabels()] == rows
    team = right.containers[0]  # "this team", one bar per row, top to bottom
    assert len(team) == len(rows) and not np.isfinite(team[1].get_width())
    for i, bar in enumerate(team):
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(i - 0.2)


def test_a_site_chart_given_another_teams_bars_is_that_teams_chart(analysis):
    # Packs lay out a site's first team chart, place the second's panels where it put
    # them, and give the later teams that figure with their own adoption bars
    # (models._team_chart): only those bars differ between the teams of a site.
    csat = _site_csat(analysis)
    first = plot_drivers_and_adoption(csat, _adoption(csat, 1), hue="who")
    first_svg = figure_svg(first)
    placed = plot_drivers_and_adoption(csat, _adoption(csat, 2), hue="who",
                                       panels_at=panel_positions(first))
    own = figure_svg(plot_drivers_and_adoption(csat, _adoption(csat, 2), hue="who"))
    assert figure_svg(placed) == own != first_svg
    lacking_one = _adoption(csat, 3)
    lacking_one = lacking_one[lacking_one["label"] != csat["label"].iloc[0]]
    for adoption in (_adoption(csat, 4), lacking_one):  # no bar for a behaviour: NaN
        own = figure_svg(plot_drivers_and_adoption(csat, adoption, hue="who"))
        for figure in (placed, first):  # placed, or laid out (then kept so)
            assert figure_svg(set_adoption(figure, adoption, hue="who")) == own
    with pytest.raises(ValueError, match="adoption groups"):
        set_adoption(placed, _adoption(csat, 2).assign(who="another"), hue="who")
    # A behaviour with an adoption but no effect row would have a row of its own.
    extra = pd.DataFrame({"behavior_id": ["new"], "label": ["A new behaviour"],
                          "adoption": [0.5], "who": ["this team"]})
    with pytest.raises(ValueError, match="no row for"):
        set_adoption(placed, pd.concat([_adoption(csat, 2), extra]), hue="who")


def test_chart_text_prints_at_8pt_or_more(analysis):
    svg, _ = _chart(analysis)
    width = float(re.search(r'<svg[^>]*width="([\d.]+)pt"', svg).group(1))
    # Drawn at the width it prints at: A4 less 15 mm margins is 510 pt; never enlarged
    # nor shrunk by the page (report.css shows charts at their natural size).
    assert width <= 510
    sizes = [float(s) for s in re.findall(r"font(?:-size)?:[^;\"]*?([\d.]+)px", svg)]
    assert sizes and min(sizes) >= MIN_FONT_PT >= 8


def test_effect_and_adoption_panels_share_one_order(analysis):
    svg, order = _chart(analysis)
    # One set of row names (the panels share their axis), largest effect at the top.
    ns = "{http://www.w3.org/2000/svg}"
    ticks = [(float(t.get("y")), t.text)
             for g in ElementTree.fromstring(svg.encode()).iter(f"{ns}g")
             if g.get("id", "").startswith("ytick_")
             for t in g.iter(f"{ns}text") if t.text]
    assert [name for _, name in ticks] == order
    assert [y for y, _ in ticks] == sorted(y for y, _ in ticks)


def test_drawn_intervals_clear_zero_exactly_when_the_verdict_names_an_effect(analysis):
    drivers = fcr_adjusted_intervals(analysis.layered_drivers)
    tested = drivers[drivers["p_value"].notna()]
    clear = (tested["adj_low"] > 0) | (tested["adj_high"] < 0)
    named = tested["verdict"].isin(["driver", "harmful", "association"])
    assert (clear == named).all()
    assert (tested["adj_high"] - tested["adj_low"]
            >= tested["ci_high"] - tested["ci_low"] - 1e-12).all()  # never narrower


def test_verdict_colours_are_colour_blind_safe():
    helps, hurts = VERDICT_COLORS["driver"], VERDICT_COLORS["harmful"]
    assert helps in KIT_PALETTE and hurts in KIT_PALETTE  # Okabe-Ito: blue vs vermillion
    assert VERDICT_COLORS["worked"] == helps and VERDICT_COLORS["backfired"] == hurts


@pytest.mark.parametrize(("row", "expected"), [
    # The rounded range would reach the 4.00 target the red status says it misses.
    ({"kpi": "csat", "enough_data": True, "ci_low": 3.62, "ci_high": 3.996, "target": 4.0,
      "status": "red"}, "3.620–3.996"),
    ({"kpi": "csat", "enough_data": True, "ci_low": 3.35, "ci_high": 3.74, "target": 4.0,
      "status": "red"}, "3.35–3.74"),
    ({"kpi": "nps", "enough_data": True, "ci_low": -36.2, "ci_high": -0.3, "target": 20,
      "status": "red"}, "-36 to 0"),
    ({"kpi": "csat", "enough_data": False, "ci_low": None, "ci_high": None}, None),
])
def test_ranges_never_contradict_the_status(row, expected):
    from cxreports.reports.models import _range_text

    assert _range_text(row) == expected
