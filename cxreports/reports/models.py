"""Report models: a coaching pack and a vendor scorecard as plain data.

Step one of report model -> HTML -> PDF. Every number here comes from an
:class:`cxreports.analyses.analysis.Analysis` method (the same a notebook calls);
this module only selects, words and arranges. Templates then print these
objects and compute nothing.

Privacy is decided here: a pack receives only its own team's agents (and
site- or vendor-level aggregates), a scorecard only vendor-level figures.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analyses.analysis import Analysis
from ..analyses.coaching import MIN_EXPECTED_GAIN, compute_coaching_priorities
from ..analyses.drivers import compare_to_reference, drivers_for, fcr_adjusted_intervals
from ..analyses.kpi_summary import (
    compare_kpi_to_baseline,
    compare_to_targets,
)
from ..analyses.qa_form_audit import compute_behaviour_adoption
from ..core.kpis import DEFAULT_KPIS, PRIMARY_KPI, kpi_names
from ..core.kpis import kpi as kpi_spec
from ..core.periods import MONTHS_NOTE, generated_on, month_name, parse_period, window_name
from .charts import (
    KIT_PALETTE,
    REFERENCE_COLOR,
    drivers_and_adoption_rows,
    figure_svg,
    legend_below,
    panel_positions,
    plot_behaviour_adoption,
    plot_drivers_and_adoption,
    plot_kpi_panels,
    set_adoption,
    vendor_colors,
)
from .rendering import fmt_kpi, fmt_kpi_change

__all__ = ["CoachingPack", "VendorScorecard", "build_coaching_pack", "build_vendor_scorecard",
           "driver_sentence"]

#: The KPIs an agent's card shows (a layout choice: three fit on a card).
_AGENT_CARD_KPIS = ("csat", "nps", "fcr")
#: KPIs a site's row of a scorecard shows, and the monthly trend chart draws.
_SITE_KPIS = ("csat", "nps", "fcr")
_TREND_KPIS = ("csat", "ces")


def _label(name: str) -> str:
    return kpi_spec(name).label


def _catalogue_order(frame: pd.DataFrame) -> pd.DataFrame:
    order = {k: i for i, k in enumerate(kpi_names())}
    return frame.sort_values("kpi", key=lambda s: s.map(order))


def _is_headline(kpis: pd.Series) -> pd.Series:
    return kpis.map(lambda name: kpi_spec(name).headline)


def _clean(value):
    """NaN and NA become None, numpy scalars plain Python, so templates see simple values."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _in_points(row: dict) -> dict:
    """A coaching-effect row with its lift and interval also in percentage points."""
    return {**row, **{f"{k}_pp": None if row.get(k) is None else 100 * row[k]
                      for k in ("lift", "ci_low", "ci_high")}}


def driver_sentence(label: str, kpi: str, estimate: float, low: float, high: float) -> str:
    """Plain words for a driver estimate, e.g. "Confirms the issue is resolved adds about
    0.4 CSAT points here (between 0.3 and 0.5)."""
    spec = kpi_spec(kpi)
    if spec.is_share:
        verb = "raises" if estimate >= 0 else "lowers"
        return (f"{label} {verb} the chance of first contact resolution by about "
                f"{abs(estimate) * 100:.0f} percentage points here (between "
                f"{low * 100:.0f} and {high * 100:.0f}).")
    verb = "adds" if estimate >= 0 else "takes away"
    digits = 0 if spec.fmt == "int" else 1 if abs(estimate) >= 0.95 else 2
    return (f"{label} {verb} about {abs(estimate):.{digits}f} {spec.unit} "
            f"here (between {low:.{digits}f} and {high:.{digits}f}).")


# --------------------------------------------------------------------------- coaching pack


@dataclass
class CoachingPack:
    """Everything one supervisor's pack shows (their own team only).

    ``period``, ``baseline``, ``model_window`` and ``recent_window`` are the
    windows as codes (``2026-10``); ``month``, ``baseline_name``,
    ``model_name`` and ``recent_name`` the same windows as a reader writes them
    ("October 2026"), which is what the pages print.
    """

    supervisor_id: str
    supervisor_name: str
    site: str
    vendor: str
    shore: str | None
    period: str
    baseline: str
    model_window: str
    generated_on: str
    team_size: int
    recent_window: str
    min_gain: float
    team_kpis: list[dict]
    drivers: list[dict]
    drivers_source: str
    other_drivers: list[dict]
    drivers_chart_svg: str | None
    adoption_chart_svg: str | None
    agents: list[dict]
    activity: dict | None
    effectiveness: dict | None
    notes: list[str] = field(default_factory=list)
    month: str = ""
    baseline_name: str = ""
    model_name: str = ""
    recent_name: str = ""
    prepared_on: str = ""
    #: This month's findings for the cover, each ``{"title", "text"}`` (three at most).
    findings: list[dict] = field(default_factory=list)
    #: Where the driver models come from, in words ("the Tulsa site"), per KPI.
    drivers_where: str = ""
    #: The months of coaching on record the coaching effect is measured over.
    coaching_months: str = ""
    #: Customer outcomes reported for context, never a goal (handle time).
    context_kpis: list[dict] = field(default_factory=list)
    #: The windows in a table heading's width: "Oct 2026", "Aug–Oct 2026".
    short: dict = field(default_factory=dict)
    #: The coverage of the driver chart's lines (adjusted for testing every behaviour).
    chart_level: float | None = None

    @property
    def agent_names(self) -> list[str]:
        return [a["name"] for a in self.agents]


def _short_window(months) -> str:
    """A run of months in a table heading's width: "Aug–Oct 2026", "Oct 2026"."""
    months = [parse_period(m) for m in getattr(months, "months", months)]
    if not months:
        return ""
    first, last = months[0], months[-1]
    if first == last:
        return f"{last.start:%b %Y}"
    if first.year == last.year:
        return f"{first.start:%b}–{last.start:%b %Y}"
    return f"{first.start:%b %Y}–{last.start:%b %Y}"


def _number(value, kpi: str, digits: int | None = None) -> str:
    """A KPI value as text, with ``digits`` decimals instead of the catalogue's."""
    if value is None:
        return "–"
    if digits is None:
        return fmt_kpi(value, kpi)
    if kpi_spec(kpi).is_share:
        return f"{value * 100:.{digits}f}%"
    return f"{value:,.{digits}f}"


def _rounding_keeps_reach(low: float, target: float, high: float, scale: float,
                          digits: int) -> bool:
    """Whether ``low..high`` printed with ``digits`` decimals (after ``scale``) reaches
    ``target`` exactly when the real interval does (packs and scorecards share the rule)."""
    shown = round(low * scale, digits) <= round(target * scale, digits) \
        <= round(high * scale, digits)
    return shown == (low <= target <= high)


def _range_text(row: dict) -> str | None:
    """A KPI's 95% range as text ("3.35–3.74"), given one or two more decimals where
    rounding would make it reach a target its status says it misses (or the reverse)."""
    if not row.get("enough_data") or row.get("ci_low") is None or row.get("ci_high") is None:
        return None
    spec = kpi_spec(row["kpi"])
    base = 0 if spec.fmt == "int" else spec.digits
    target, low, high = row.get("target"), row["ci_low"], row["ci_high"]
    digits = None
    if target is not None and row.get("status") in ("red", "amber", "green"):
        scale = 100.0 if spec.is_share else 1.0
        for d in (base, base + 1, base + 2):
            if _rounding_keeps_reach(low, target, high, scale, d):
                digits = None if d == base else d
                break
        else:
            digits = base + 2
    return _span(_number(low, row["kpi"], digits), _number(high, row["kpi"], digits))


def _span(low: str, high: str) -> str:
    """ "3.35–3.74"; "-36 to 0" when a bound is negative (a dash would read as a minus)."""
    low, high = (re.sub(r"^-(0(?:\.0*)?%?)$", r"\1", t) for t in (low, high))
    return f"{low} to {high}" if low.startswith("-") or high.startswith("-") else f"{low}–{high}"


def _team_kpis(analysis: Analysis, members: list[str], site: str, vendor: str) -> list[dict]:
    now = analysis.kpi_summary(agents=members)
    before = analysis.kpi_summary(agents=members, months=analysis.windows.baseline.labels)
    table = compare_kpi_to_baseline(now, before)
    site_now = analysis.kpi_summary(group_by="site")
    site_now = site_now[site_now["site"] == site].set_index("kpi")
    table = compare_to_targets(table, analysis.data.table("targets"), site=site, vendor=vendor)
    table["site_value"] = table["kpi"].map(site_now["value"])
    table["site_enough"] = table["kpi"].map(site_now["enough_data"]).fillna(False)
    table["label"] = table["kpi"].map(_label)
    table["headline"] = _is_headline(table["kpi"])
    rows = _records(_catalogue_order(table))
    for row in rows:
        row["range_text"] = _range_text(row)
        if not row["headline"]:  # reported for context: no gap to a target
            row["distance"] = None
    return rows


#: A status in words: ``{target}`` and ``{range}`` (the 95% range and answers) filled in.
_STATUS_WORDS = {
    "green": ", meeting the {target} target (95% range {range})",
    "amber": ", short of the {target} target, though its 95% range ({range}) still reaches it",
    "red": ", short of the {target} target, and so is its whole 95% range ({range})",
}


def _where(drivers: pd.DataFrame, kpi: str) -> str:
    """Which group's model a KPI's drivers come from, in words: "the Tulsa site"."""
    rows = drivers[drivers["kpi"] == kpi]
    if rows.empty:
        return ""
    level, name = rows["group_by"].iloc[0], rows["group"].iloc[0]
    return {"site": f"the {name} site", "vendor": f"{name} (all its sites)"}.get(
        level, "all sites together")


def _size_text(kpi: str, estimate: float) -> str:
    """A driver's size in the KPI's unit: "+0.42 NPS points (0-10 scale)", "+6 percentage
    points of first contact resolution"."""
    spec = kpi_spec(kpi)
    if spec.is_share:
        return f"{estimate * 100:+.0f} percentage points"
    digits = 0 if spec.fmt == "int" else 2
    return f"{estimate:+.{digits}f} {spec.unit}"


def _size_number(kpi: str, estimate: float) -> str:
    """A driver's size without its unit ("+0.42", "+6" percentage points)."""
    spec = kpi_spec(kpi)
    if spec.is_share:
        return f"{estimate * 100:+.0f}"
    return f"{estimate:+.{0 if spec.fmt == 'int' else 2}f}"


def _findings(pack_kpis: list[dict], drivers: list[dict], adoption: pd.DataFrame,
              agents: list[dict], *, site: str, month: str, recent: str,
              baseline: str) -> list[dict]:
    """This month's three findings for the cover: the team's headline outcome against
    its target and the site, the behaviour that matters most here and how the team
    does on it, and the agent most worth coaching (and one to celebrate)."""
    out = []
    head = next((k for k in pack_kpis if k["kpi"] == PRIMARY_KPI), None)
    if head is not None and head["enough_data"]:
        label = kpi_spec(PRIMARY_KPI).short_label
        text = f"Your team's {label} was {fmt_kpi(head['value'], PRIMARY_KPI)} in {month}"
        spread = f"{head['range_text']}, {head['n']:,} answers"
        if head.get("target") is not None and head["status"] in _STATUS_WORDS:
            text += _STATUS_WORDS[head["status"]].format(
                target=fmt_kpi(head["target"], PRIMARY_KPI), range=spread)
        else:
            text += f" (95% range {spread})"
        text += "."
        if head.get("site_enough"):
            text += f" The {site} site as a whole: {fmt_kpi(head['site_value'], PRIMARY_KPI)}."
        if head["trend"] in ("up", "down"):
            text += (f" {'Up' if head['trend'] == 'up' else 'Down'} "
                     f"{fmt_kpi_change(abs(head['change']), PRIMARY_KPI).lstrip('+')} "
                     f"{kpi_spec(PRIMARY_KPI).unit} compared with {baseline}.")
        elif head["trend"] == "steady":
            text += f" No clear change compared with {baseline}."
        title = {"green": f"{label} on target", "amber": f"{label} just short of target",
                 "red": f"{label} below target"}.get(head["status"], f"{label} this month")
        out.append({"title": title, "text": text})
    else:
        out.append({"title": "Customer outcomes",
                    "text": f"Not enough customer answers in {month} to judge your team's "
                            f"{kpi_spec(PRIMARY_KPI).short_label}."})
    if drivers:
        top = drivers[0]
        text = (f"At {site}, “{top['label']}” moves {kpi_spec(top['kpi']).short_label} most: "
                f"about {_size_text(top['kpi'], top['estimate'])} when shown.")
        mine = adoption[adoption["behavior_id"] == top["behavior_id"]].set_index("who")
        team = _clean(mine["adoption"].get("this team")) if len(mine) else None
        whole = _clean(mine["adoption"].get("site average")) if len(mine) else None
        if team is not None and whole is not None:
            text += (f" Your team showed it on {team:.0%} of evaluated contacts over {recent}, "
                     f"against {whole:.0%} across the site.")
        out.append({"title": "What matters most here", "text": text})
    else:
        out.append({"title": "What matters most here",
                    "text": "Not enough evaluated, surveyed contacts yet to name the "
                            "behaviours that move customer outcomes here."})
    picks = [(o, a) for a in agents for o in a["opportunities"]]
    picks.sort(key=lambda p: (not p[0]["reliable"], -p[0]["expected_gain"]))
    cheers = [(s, a) for a in agents for s in a["strengths"]]
    cheers.sort(key=lambda p: (not p[0]["reliable"], -(p[0]["score"] - p[0]["benchmark"])))
    parts = []
    if picks:
        o, a = picks[0]
        parts.append(f"Coach {a['name']} on “{o['label']}”: shown on {o['score']:.0%} of "
                     f"evaluated contacts over {recent}, against {o['benchmark']:.0%} for "
                     f"strong agents here; closing the gap is worth about "
                     f"{_size_text(PRIMARY_KPI, o['expected_gain'])}."
                     + (f" {o['mentor']} can show how." if o["mentor"] else ""))
    if cheers:
        s, a = cheers[0]
        if not picks or a["name"] != picks[0][1]["name"]:
            parts.append(f"Celebrate {a['name']}: “{s['label']}” on {s['score']:.0%} of "
                         f"evaluated contacts, above the {s['benchmark']:.0%} of strong "
                         f"agents here.")
    if parts:
        out.append({"title": "Coach first" if picks else "Celebrate", "text": " ".join(parts)})
    else:
        out.append({"title": "Your agents",
                    "text": "No coaching pick this month: no agent has enough evaluations, "
                            "or every gap is too small to be worth a session."})
    return out


def build_coaching_pack(analysis: Analysis, supervisor_id: str) -> CoachingPack:
    """The pack for one supervisor: findings, team summary, drivers, a card per agent,
    coaching.

    Agents are placed by the roster's effective dates for the month
    (:attr:`Analysis.team`): an agent who moved team appears only in the
    pack of the team they moved to.
    """
    team = analysis.team[analysis.team["supervisor_id"] == supervisor_id]
    if team.empty:
        raise ValueError(f"supervisor {supervisor_id!r} has no agents in {analysis.report_period}")
    first = team.iloc[0]
    site, vendor = first["site"], first["vendor"]
    members = sorted(team["agent_id"])
    names = team.set_index("agent_id")["agent_name"]
    names = names.where(names.notna() & (names != ""), names.index.to_series())
    month = month_name(analysis.report_period)
    recent = window_name(analysis.windows.recent)
    baseline = window_name(analysis.baseline) if analysis.baseline else ""
    window = analysis.driver_window or []

    drivers, source = drivers_for(analysis.layered_drivers, site=site, vendor=vendor)
    proven = drivers[drivers["verdict"] == "driver"].sort_values("estimate", ascending=False)
    # The headline: CSAT in sentences (at most four); other outcomes in one line each.
    driver_rows, other_drivers = [], []
    for kpi in DEFAULT_KPIS:
        rows = proven[proven["kpi"] == kpi]
        if len(rows) and kpi != PRIMARY_KPI:
            other_drivers.append({
                "kpi_label": _label(kpi), "where": _where(drivers, kpi),
                "behaviours": rows["label"].tolist(),
                # NPS drivers are fitted on the 0-10 answer, not the -100..+100 score.
                "unit": "percentage points" if kpi_spec(kpi).is_share
                else "points on the 0–10 answer, not the NPS scale"
                if kpi_spec(kpi).summary == "nps"
                else kpi_spec(kpi).unit.replace(" (", ", ").removesuffix(")"),
                "examples": [{"label": r.label, "size": _size_number(kpi, r.estimate)}
                             for r in rows.head(3).itertuples()],
                "more": max(len(rows) - 3, 0)})
    for row in proven[proven["kpi"] == PRIMARY_KPI].head(4).itertuples():
        driver_rows.append({"kpi": row.kpi, "kpi_label": _label(row.kpi), "label": row.label,
                            "behavior_id": row.behavior_id,
                            "estimate": row.estimate, "ci_low": row.ci_low,
                            "ci_high": row.ci_high, "level": f"{row.group_by} {row.group}",
                            "sentence": driver_sentence(row.label, row.kpi, row.estimate,
                                                        row.ci_low, row.ci_high)})

    # Team vs site adoption of each behaviour over the recent window.
    recent_rows = analysis.scored_evaluations[
        analysis.scored_evaluations["period"].isin(analysis.recent_window)]
    adoption = pd.concat([
        _adoption(analysis, recent_rows[recent_rows["agent_id"].isin(members)], "this team"),
        _adoption(analysis, recent_rows[recent_rows["site"] == site], "site average"),
    ])
    csat = fcr_adjusted_intervals(drivers[drivers["kpi"] == PRIMARY_KPI])
    chart = None
    if len(csat) and (csat["verdict"] != "insufficient_data").any() and len(adoption):
        chart = _team_chart(
            (f"Effect on {kpi_spec(PRIMARY_KPI).short_label}", "How often shown"),
            f"% of contacts, {_short_window(analysis.windows.recent)}",
            _key_rows(csat[list(_CHART_COLUMNS)]),
            _key_rows(adoption[["behavior_id", "label", "adoption", "who"]]))

    agents = _agent_sections(analysis, team, members, names,
                             list(proven.loc[proven["kpi"] == PRIMARY_KPI, "behavior_id"]))
    activity = analysis.coaching_coverage
    activity = activity[activity["supervisor_id"] == supervisor_id]
    effectiveness = analysis.coaching_effectiveness(group_by="supervisor_id")
    effectiveness = effectiveness[effectiveness["group"] == supervisor_id]
    where_all = "; ".join(f"{kpi_spec(k).short_label}: {_where(drivers, k)}"
                          for k in dict.fromkeys(drivers["kpi"]))
    notes = [f"Which contacts the drivers come from "
             f"({window_name(window) if window else 'all data'}): "
             f"{where_all or 'none had enough data'}.",
             "Months are each site's local calendar months."]
    coaching_months = ""
    if not analysis.data.has_table("coaching"):
        notes.append("No coaching table was supplied: coaching history is not shown.")
    else:
        # The months whose sessions the effect is measured on (each needs a following
        # month of evaluations, so never the report month): the fit's own panel.
        panel = analysis.session_effects
        measured = sorted(panel.loc[(panel["supervisor_id"] == supervisor_id)
                                    & (panel["sessions"] > 0), "period"].unique())
        if measured:
            coaching_months = window_name([measured[0], measured[-1]])
    if not analysis.data.has_table("supervisor_time"):
        notes.append("No supervisor time data: the 50% coaching-time goal is not checked.")
    if not driver_rows and not other_drivers:
        notes.append("Not enough evaluated, surveyed contacts to name proven drivers yet.")
    team_kpis = _team_kpis(analysis, members, site, vendor)
    findings = _findings(team_kpis, driver_rows, adoption, agents, site=str(site),
                         month=month, recent=recent, baseline=baseline)
    prepared = generated_on()
    return CoachingPack(
        supervisor_id=str(supervisor_id),
        supervisor_name=str(first.get("supervisor_name") or supervisor_id),
        site=str(site), vendor=str(vendor), shore=_clean(first.get("shore")),
        period=str(analysis.report_period),
        baseline=f"{analysis.baseline[0]} to {analysis.baseline[-1]}" if analysis.baseline
        else "", model_window=f"{window[0]} to {window[-1]}" if window else "all data",
        generated_on=prepared.isoformat(), team_size=len(members),
        recent_window=str(analysis.windows.recent),
        min_gain=float(MIN_EXPECTED_GAIN.get(PRIMARY_KPI, 0.0)),
        team_kpis=[k for k in team_kpis if k["headline"]],
        context_kpis=[k for k in team_kpis if not k["headline"]],
        drivers=driver_rows, drivers_source=source, other_drivers=other_drivers,
        drivers_chart_svg=chart,
        chart_level=_clean(csat["adj_level"].min()) if chart and "adj_level" in csat else None,
        adoption_chart_svg=None, agents=agents,
        activity=_records(activity)[0] if len(activity) else None,
        effectiveness=_in_points(_records(effectiveness)[0]) if len(effectiveness) else None,
        notes=notes, month=month, baseline_name=baseline,
        model_name=window_name(window) if window else "all data", recent_name=recent,
        prepared_on=f"{prepared.day} {prepared:%B %Y}", findings=findings,
        drivers_where=_where(drivers, PRIMARY_KPI), coaching_months=coaching_months,
        short={"month": _short_window([analysis.report_period]),
               "recent": _short_window(analysis.windows.recent),
               "baseline": _short_window(analysis.baseline)},
    )


_CHART_COLUMNS = ("kpi", "behavior_id", "label", "estimate", "ci_low", "ci_high", "verdict",
                  "adj_low", "adj_high", "adj_level")


def _key_rows(frame: pd.DataFrame) -> tuple[tuple, ...]:
    """``frame``'s rows as plain tuples fit for a cache key, values :func:`_clean`: a
    missing value is ``None``, since NaN is not equal to itself (a key holding one
    would never match)."""
    return tuple(tuple(map(_clean, row)) for row in frame.itertuples(index=False, name=None))


@functools.lru_cache(maxsize=64)
def _team_chart(titles: tuple[str, str], adoption_label: str, drivers: tuple,
                adoption: tuple) -> str:
    # Keyed by content (``_key_rows``): a pack rendered twice (a resume, a test) draws once.
    shown = pd.DataFrame(list(adoption), columns=["behavior_id", "label", "adoption", "who"])
    # The teams of a site share its effects, rows, titles and adoption groups; only
    # their adoption bars differ, inside the right panel. So the site's first chart is
    # laid out, the second placed where the first's panels went (no layout engine, so
    # saving it is one draw, not two), and every later one is that figure with its
    # bars changed: the same bytes as a figure built for each, in a fraction of the time.
    effects = pd.DataFrame(list(drivers), columns=list(_CHART_COLUMNS))
    site = (titles, adoption_label, drivers,
            tuple(drivers_and_adoption_rows(effects, shown)), tuple(shown["who"].unique()))
    with _TEAM_CHART_LOCK:  # threads of one Dask worker may draw at once
        drawn = _TEAM_CHART_SITES.get(site)
        if isinstance(drawn, Figure):
            return figure_svg(set_adoption(drawn, shown, hue="who"))
    figure = plot_drivers_and_adoption(
        effects, shown, hue="who",
        colors={"this team": KIT_PALETTE[1], "site average": REFERENCE_COLOR},
        titles=titles, adoption_label=adoption_label, panels_at=drawn)
    svg = figure_svg(figure)
    with _TEAM_CHART_LOCK:
        if site not in _TEAM_CHART_SITES and len(_TEAM_CHART_SITES) >= 32:
            # a long-lived worker serves run after run
            _TEAM_CHART_SITES.pop(next(iter(_TEAM_CHART_SITES)))
        if not isinstance(_TEAM_CHART_SITES.get(site), Figure):
            _TEAM_CHART_SITES[site] = figure if drawn else panel_positions(figure)
    return svg


#: By what a site's team charts share: where the first one's panels went, then a
#: figure placed there, whose bars the next teams' charts change. At most 32 (a
#: figure holds its last SVG): a month has few sites, and a long-lived Dask worker
#: serving month after month drops the oldest.
_TEAM_CHART_SITES: dict[tuple, tuple | Figure] = {}
_TEAM_CHART_LOCK = threading.Lock()


def _adoption(analysis: Analysis, evaluations: pd.DataFrame, who: str) -> pd.DataFrame:
    out = compute_behaviour_adoption(evaluations, behaviors=analysis.behaviors)
    return out.join(analysis.qa_form.set_index("behavior_id")[["label"]], on="behavior_id") \
        .assign(who=who)


def _reliability(reliable: dict[tuple[str, str], dict], agent_id: str,
                 behavior_id: str) -> dict:
    """Whether an agent's figure on a behaviour reaches the reliability target
    (:meth:`Analysis.agent_behaviour_reliability`, rows by agent and behaviour); below
    it the pack marks the figure provisional instead of presenting it as settled."""
    row = reliable.get((agent_id, behavior_id))
    if row is None:
        return {"reliable": False, "reliability": None, "evaluations": 0}
    return {"reliable": bool(row["reliable"]), "reliability": _clean(row["reliability"]),
            "evaluations": int(row["n"])}


def _rows_by(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, dict]:
    """``frame``'s rows as dicts of their other columns, by the values of ``keys``
    (unique): a dict lookup per cell of a card instead of a pandas ``.loc``."""
    rows = frame.to_dict("records")
    by_key = {tuple(row.pop(k) for k in keys): row for row in rows}
    if len(by_key) != len(rows):
        raise ValueError(f"more than one row for some {', '.join(keys)}")
    return by_key


#: The behaviour rows an agent's card shows at most (coaching picks and strengths first).
_CARD_TREND_ROWS = 5
#: The sessions an agent's card lists at most (the most recent; all are counted).
_CARD_SESSIONS = 6
#: The evaluations :func:`compute_coaching_priorities` needs before it judges a score.
_MIN_EVALUATIONS = inspect.signature(compute_coaching_priorities) \
    .parameters["min_evaluations"].default


def _no_pick_reason(score) -> str:
    """Which of :func:`compute_coaching_priorities`' rules kept a proven driver from
    being a pick: ``few`` evaluations, at the strong-agent level by the ``shrunk``
    score, the ``raw`` score or the report ``month`` alone, else ``other`` (a smaller
    gain than the picks, or one below the minimum worth a session)."""
    if score is None or not score.get("n") or score["n"] < _MIN_EVALUATIONS:
        return "few"
    bench = score.get("benchmark")
    if bench is None:
        return "other"
    if score.get("shrunk") is not None and score["shrunk"] >= bench:
        return "strong"
    if score.get("mean") is not None and score["mean"] >= bench:
        return "raw"
    if (score.get("month_n") or 0) >= _MIN_EVALUATIONS and score.get("month_mean") is not None \
            and score["month_mean"] >= bench:
        return "month"
    return "other"


#: A driver's no-pick reason as a table tag.
_REASON_TAGS = {"few": "too few evaluations", "strong": "at strong level",
                "raw": "raw score at strong level", "month": "strong in {month_short}",
                "other": "smaller gain"}


def _behaviour_rows(agent_id: str, trends: dict[str, dict], scores: dict[tuple, dict],
                    reliable: dict[tuple, dict], labels: pd.Series, driver_ids: list[str], *,
                    picks: list[str], strong: list[str], below: set[str],
                    coached_on: set[str], month: str, recent_short: str
                    ) -> tuple[list[dict], list[str]]:
    """An agent card's behaviour table and, for every proven driver that is not a pick,
    why not in words. The table always lists every proven driver at the site (so "at the
    strong-agent level on every proven driver" can be checked), then other behaviours
    whose trend changed clearly; each row is tagged with its role. ``trends`` holds the
    agent's trend rows by behaviour; ``scores`` and ``reliable`` rows by agent and
    behaviour (:func:`_rows_by`)."""
    order = list(dict.fromkeys(
        picks + strong + list(driver_ids)
        + [b for b, t in trends.items() if t["trend"] in ("improved", "declined")]))
    rows, reasons = [], []
    for b in order:
        t = trends.get(b)
        score = scores.get((agent_id, b))
        if score is not None:
            score = {k: _clean(v) for k, v in score.items()}
        label = str(labels.get(b, b))
        tags = ["coach on" if b in picks else "strength" if b in strong
                else "driver" if b in driver_ids else "not a driver"]
        reason = None
        if b in driver_ids and b not in picks and b not in strong:
            reason = "other" if b in below else _no_pick_reason(score)
            tags.append(_REASON_TAGS[reason].format(month_short=month.split()[0][:3]))
        if b in coached_on:
            tags.append("coached")
        change = None if t is None else _clean(t["change"])
        rows.append({
            "behavior_id": b, "label": label,
            "recent": None if score is None else score.get("shrunk"),
            "benchmark": None if score is None else score.get("benchmark"),
            "period_mean": None if t is None else _clean(t["period_mean"]),
            "period_n": 0 if t is None else _clean(t["period_n"]),
            "baseline_mean": None if t is None else _clean(t["baseline_mean"]),
            "change": change, "change_pp": None if change is None else 100 * change,
            "trend": "insufficient_data" if t is None else t["trend"],
            "ci_low": None if t is None else _clean(t["ci_low"]),
            "ci_high": None if t is None else _clean(t["ci_high"]),
            "role": tags[0], "tags": tags, "reason": reason,
            **_reliability(reliable, agent_id, b)})
        if reason == "month":
            reasons.append(("month", f"“{label}” ({score['month_mean']:.0%})"))
        elif reason == "raw":
            reasons.append(("raw", f"“{label}” ({score['mean']:.0%} of {score['n']} "
                                   f"evaluations)"))
        elif reason in ("few", "other"):
            reasons.append((reason, f"“{label}”"))
    words = {
        "month": f"At the strong-agent level in {month} alone on {{}}, though not yet over "
                 f"{recent_short}: keep it going.",
        "raw": f"At the strong-agent level on {{}} over {recent_short} before the adjustment "
               f"for few evaluations: not a pick.",
        "few": "Too few evaluations to judge {}.",
        "other": "Below the strong-agent level on {}, but closing the gap is worth too "
                 "little for a session."}
    sentences = [words[kind].format(_and([text for k, text in reasons if k == kind]))
                 for kind in words if any(k == kind for k, _ in reasons)]
    at_level = [r for r in rows if r["behavior_id"] in driver_ids
                and (r["reason"] == "strong" or r["role"] == "strength")]
    if driver_ids and len(at_level) == len(driver_ids):
        sentences = ["At the strong-agent level on every proven driver (see the table): "
                     "keep doing what works."]
    elif any(r["reason"] == "strong" for r in rows):
        sentences.append("At the strong-agent level on the other proven drivers.")
    return rows, sentences


def _and(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _by_agent(frame: pd.DataFrame) -> Callable[[str], list[dict]]:
    """``frame``'s rows of one agent as dicts (in their order; none: an empty list)."""
    groups: dict[str, list[dict]] = {}
    for row in frame.to_dict("records"):
        groups.setdefault(row["agent_id"], []).append(row)
    return lambda agent_id: groups.get(agent_id, [])


def _topic(session: dict) -> str:
    """A coaching session's topic in words; "general" when it has none (an empty or
    missing cell, which DuckDB may hand over as NaN: it must not print as "nan")."""
    topic = session["topic"]
    return topic if isinstance(topic, str) and topic else "general"


def _agent_sections(analysis: Analysis, team: pd.DataFrame, members: list[str],
                    names: pd.Series, driver_ids: list[str]) -> list[dict]:
    """One card per agent. Celebrate, coach-on and the behaviour table read one
    frame (:attr:`Analysis.agent_behaviour_scores`, the recent window, with the
    report month alone beside it) and the trends of the same evaluations, so
    they cannot disagree; each figure names its window in the template."""
    labels = analysis.qa_form.set_index("behavior_id")["label"]
    priorities = analysis.coaching_priorities(kpi=PRIMARY_KPI)
    priorities = priorities[priorities["agent_id"].isin(members)]
    scores = analysis.agent_behaviour_scores
    keys = ["agent_id", "behavior_id"]
    scores = _rows_by(scores[scores["agent_id"].isin(members)], keys)
    reliable = analysis.agent_behaviour_reliability()
    reliable = _rows_by(reliable.loc[reliable["agent_id"].isin(members),
                                     [*keys, "n", "reliability", "reliable"]], keys)
    trends = analysis.trends[analysis.trends["agent_id"].isin(members)]
    kpis = analysis.kpi_summary(group_by="agent_id", agents=members, min_responses=10)
    coaching = analysis.data.table("coaching")
    window = analysis.windows.recent
    recent = window_name(window)
    recent_short = _short_window(window)
    month = month_name(analysis.report_period)
    start = pd.Timestamp(window.start)
    end = pd.Timestamp(window.end)
    coaching = coaching[coaching["agent_id"].isin(members)
                        & (pd.to_datetime(coaching["held_on"]) >= start)
                        & (pd.to_datetime(coaching["held_on"]) <= end)]
    # Split once into plain dicts, not filtered per agent: a boolean filter on an Arrow
    # string column costs about a millisecond, and a card needs five of them; a row
    # read through pandas (``itertuples``, ``.loc``) costs tens of microseconds.
    own_priorities, own_trends, own_kpis, own_sessions = (
        _by_agent(frame) for frame in (priorities, trends, kpis, coaching))
    sections = []
    for agent_id in members:
        mine = own_priorities(agent_id)
        sessions_held = own_sessions(agent_id)
        opp = sorted((r for r in mine if r["kind"] == "opportunity"), key=itemgetter("rank"))
        strong = sorted((r for r in mine if r["kind"] == "strength"), key=itemgetter("rank"))
        below = {r["behavior_id"] for r in mine if r["kind"] == "below_minimum"}
        opportunities = [{
            "label": labels.get(r["behavior_id"], r["behavior_id"]), "score": r["score"],
            "benchmark": r["benchmark"], "gap": r["gap"], "expected_gain": r["expected_gain"],
            "why": f"shown on {r['score']:.0%} of evaluated contacts over {recent}, against "
                   f"{r['benchmark']:.0%} for strong agents here; closing the gap is worth "
                   f"about {_size_text(PRIMARY_KPI, r['expected_gain'])}",
            "mentor": str(names.get(r["mentor_agent_id"], r["mentor_agent_id"]))
            if isinstance(r["mentor_agent_id"], str) else None,
            **_reliability(reliable, agent_id, r["behavior_id"]),
        } for r in opp]
        strengths = [{"label": labels.get(r["behavior_id"], r["behavior_id"]),
                      "score": r["score"], "benchmark": r["benchmark"],
                      **_reliability(reliable, agent_id, r["behavior_id"])}
                     for r in strong]
        coached_on = {r["behavior_id"] for r in sessions_held
                      if isinstance(r["behavior_id"], str)}
        trend_rows, no_pick = _behaviour_rows(
            agent_id, {r["behavior_id"]: r for r in own_trends(agent_id)},
            scores, reliable, labels, driver_ids,
            picks=[r["behavior_id"] for r in opp], strong=[r["behavior_id"] for r in strong],
            below=below, coached_on=coached_on, month=month, recent_short=recent_short)
        improved = [{"label": row["label"], "period_mean": row["period_mean"],
                     "baseline_mean": row["baseline_mean"], "change_pp": row["change_pp"]}
                    for row in trend_rows
                    if "coached" in row["tags"] and row["trend"] == "improved"
                    and row["reliable"]]
        sessions = [{"held_on": held.date().isoformat(), "day": f"{held.day} {held:%b}",
                     "focus": labels.get(r["behavior_id"], _topic(r))
                     if isinstance(r["behavior_id"], str) and r["behavior_id"]
                     else _topic(r),
                     "minutes": _clean(r["minutes"])}
                    for held, r in sorted(((pd.Timestamp(r["held_on"]), r)
                                           for r in sessions_held), key=lambda p: p[0])]
        k = {r["kpi"]: r for r in own_kpis(agent_id)}
        kpi_cells = [{"label": _label(name), "short_label": kpi_spec(name).short_label,
                      "kpi": name,
                      **{c: _clean(k[name][c]) for c in ("value", "ci_low", "ci_high", "n",
                                                         "enough_data")}}
                     for name in _AGENT_CARD_KPIS if name in k]
        for cell in kpi_cells:
            cell["range_text"] = _range_text(cell)
        minutes = [s["minutes"] for s in sessions if s["minutes"] is not None]
        sections.append({
            "agent_id": agent_id, "name": str(names.get(agent_id, agent_id)),
            "enough_data": bool(mine) and all(r["kind"] != "insufficient_data" for r in mine),
            "kpis": kpi_cells, "strengths": strengths, "opportunities": opportunities,
            "below_minimum": bool(below) and not opportunities,
            "trends": trend_rows[:max(_CARD_TREND_ROWS, len(driver_ids))],
            "trends_more": max(len(trend_rows) - max(_CARD_TREND_ROWS, len(driver_ids)), 0),
            "no_pick": no_pick, "improved": improved,
            "sessions": sessions, "session_minutes": sum(minutes) if minutes else None,
            # The most recent few on the card (it must stay under half a page).
            "sessions_shown": sessions[-_CARD_SESSIONS:],
            "sessions_earlier": max(len(sessions) - _CARD_SESSIONS, 0),
        })
    return sections


# --------------------------------------------------------------------------- vendor scorecard

#: The outcomes a scorecard charts month by month and shows per site: the relationship
#: outcomes the driver models fit (handle time is never a headline).
_SCORECARD_KPIS = DEFAULT_KPIS


@dataclass
class VendorScorecard:
    """Everything one vendor's scorecard shows: vendor-level figures only, no agents.

    Dates are as readers write them (``month``: "October 2026"); every window
    a figure covers is named beside it. On the reference's own card
    (``is_reference``) nothing is compared with the reference.
    """

    vendor: str
    period: str
    month: str
    baseline: str
    model_window: str
    generated_on: str
    reference: str
    is_reference: bool
    #: Whether the reference has agents this month (otherwise nothing is set beside it).
    reference_present: bool
    shores: list[str]
    sites: list[str]
    n_agents: int
    n_supervisors: int
    outcomes: list[dict]
    kpi_chart_svg: str | None
    kpi_chart_kpis: list[str]
    kpi_headers: list[str]
    chart_window: str
    adoption: list[dict]
    adoption_window: str
    adoption_chart_svg: str | None
    show_adjusted: bool
    transfer: list[dict]
    reference_drivers: list[dict]
    site_outcomes: list[dict]
    single_site: str | None
    shore_sentence: list[str]
    shore_comparison: list[dict]
    vendor_sentence: list[str]
    cross_vendor: list[dict]
    coaching: dict
    notes: list[str] = field(default_factory=list)
    #: "Does your QA score like ours?": the vendor QA team against the brand's.
    qa_alignment: dict | None = None
    #: Up to three things to act on, worded from figures on the card (none may qualify).
    actions: list[str] = field(default_factory=list)


#: A QA form behaviour's kind in plain words (the template explains them once).
_KIND_WORDS = {"task": "procedure", "intent": "manner"}

#: The word a status pill shows (the legend uses the same words).
_SCORECARD_STATUS = {"green": "meets", "amber": "unclear", "red": "misses",
                     "no_target": "no target", "not_a_goal": "not a goal",
                     "insufficient_data": "not enough data"}


def _change_unit(kpi: str) -> str:
    """The unit printed after a change or distance: "pts" (percentage points) for shares,
    "s" for handle time, "points" on the answer scale otherwise."""
    spec = kpi_spec(kpi)
    if spec.is_share:
        return "pts"
    return "s" if spec.label.endswith("(s)") else "points"


def _signed_text(value: float, digits: int) -> str:
    """``+1.2``; a value that rounds to zero is "0" (never "-0" or "+0")."""
    text = f"{value:+,.{digits}f}"
    return text[1:] if float(text.replace(",", "")) == 0 else text


def _shown_digits(row: dict) -> int:
    """Decimals (in the printed scale: % for shares) so the printed interval and distance
    reach the target exactly when the real ones do, and a distance below the target
    never prints as 0: the catalogue's digits, or one or two more."""
    spec = kpi_spec(row["kpi"])
    base = 0 if spec.fmt == "int" else spec.digits
    scale = 100.0 if spec.is_share else 1.0
    target, low, high = row.get("target"), row.get("ci_low"), row.get("ci_high")
    d_mid, d_low, d_high = (row.get(c) for c in ("distance", "distance_ci_low",
                                                 "distance_ci_high"))
    for d in (base, base + 1, base + 2):
        ok = True
        if target is not None and low is not None and high is not None:
            ok &= _rounding_keeps_reach(low, target, high, scale, d)
        if d_low is not None and d_high is not None:
            ok &= (round(d_low * scale, d) <= 0 <= round(d_high * scale, d)) \
                == (d_low <= 0 <= d_high)
        for v in (d_mid, d_low, d_high):
            if v is not None and v != 0:
                ok &= round(v * scale, d) != 0
        if ok:
            return d
    return base + 2


def _scorecard_texts(row: dict) -> dict:
    """A scorecard row's printed figures: value and interval, distance to target with its
    interval and unit, the change with its unit, and the status word; handle time (never
    a goal) gets no target."""
    spec = kpi_spec(row["kpi"])
    scale = 100.0 if spec.is_share else 1.0
    pct = "%" if spec.is_share else ""
    unit = _change_unit(row["kpi"])
    if not row.get("headline"):
        row["target"] = None
    d = _shown_digits(row)

    def plain(v):
        return None if v is None else f"{v * scale:,.{d}f}{pct}"

    shown = bool(row.get("enough_data")) and row.get("value") is not None
    row["value_text"] = plain(row.get("value")) if shown else None
    row["range_text"] = (f"{plain(row['ci_low'])} to {plain(row['ci_high'])}"
                         if shown and row.get("ci_low") is not None
                         and row.get("ci_high") is not None else None)
    row["target_text"] = None if row.get("target") is None else \
        f"{row['target'] * scale:,.{0 if spec.fmt == 'int' else spec.digits}f}{pct}"
    dist = row.get("distance")
    row["distance_text"] = None if dist is None else f"{_signed_text(dist * scale, d)} {unit}"
    row["distance_range_text"] = None if dist is None or row.get("distance_ci_low") is None \
        else (f"{_signed_text(row['distance_ci_low'] * scale, d)} to "
              f"{_signed_text(row['distance_ci_high'] * scale, d)}")
    change = row.get("change")
    row["change_text"] = None if change is None or row.get("trend") not in ("up", "down") \
        else f"{_signed_text(change * scale, 0 if spec.fmt == 'int' else spec.digits)} {unit}"
    row["status_word"] = _SCORECARD_STATUS.get(row.get("status"),
                                           str(row.get("status") or "").replace("_", " "))
    return row


#: A vendor QA team scoring a behaviour this many percentage points (or more) above the
#: brand's evaluators, with an interval clear of zero, is an action.
_LENIENCY_ACTION_PP = 5.0


def _scorecard_actions(outcomes: list[dict], qa: dict | None, transfer: list[dict],
                       reference: str) -> list[str]:
    """Up to three things to act on, each worded from a figure already on the card: the
    outcome furthest below target whose whole interval misses it, the behaviour the
    vendor QA team scores most leniently (by ``_LENIENCY_ACTION_PP`` or more, interval
    clear of zero), and a reference driver that is weaker or reverses here. None when
    nothing qualifies."""
    actions = []
    red = [r for r in outcomes if r.get("headline") and r.get("status") == "red"
           and r.get("distance_ci_high") is not None and r.get("ci_high") is not None]
    if red:
        # Furthest below target, in units of its own interval (outcomes differ in units).
        worst = min(red, key=lambda r: r["distance"] / max(r["ci_high"] - r["ci_low"], 1e-12))
        actions.append(
            f"{worst['label']} is below target: {worst['value_text']} "
            f"(95% interval {worst['range_text']}) against a target of {worst['target_text']}, "
            f"{worst['distance_text'].lstrip('-')} short; the whole interval misses it.")
    if qa and qa.get("measured"):
        lenient = [r for r in qa["rows"] if r["differs"] and r["ci_low_pp"] is not None
                   and r["leniency_pp"] >= _LENIENCY_ACTION_PP]
        if lenient:
            r = max(lenient, key=lambda r: r["leniency_pp"])
            actions.append(
                f"Recalibrate your QA team on \u201c{r['label']}\u201d: it scores it "
                f"{r['leniency_pp']:.0f} percentage points more often than the brand's "
                f"evaluators (95% interval {r['ci_low_pp']:.0f} to {r['ci_high_pp']:.0f}).")
    for group in transfer:
        rows = [t for t in group["rows"] if t.get("status") in ("weaker", "reverses")
                and t.get("estimate") is not None]
        if rows:
            t, d = rows[0], group["digits"]
            word = "is weaker here" if t["status"] == "weaker" else "goes with a worse outcome here"
            actions.append(
                f"\u201c{t['label']}\u201d drives {group['kpi_label']} {reference} "
                f"({_signed_text(t['reference_estimate'], d)} {group['unit']}) but {word} "
                f"({_signed_text(t['estimate'], d)}, 95% interval "
                f"{_signed_text(t['ci_low'], d)} to {_signed_text(t['ci_high'], d)}): "
                "find out how it is done here before coaching more of it.")
            break
    return actions[:3]


def _qa_alignment(analysis: Analysis, vendor: str) -> dict:
    """The vendor QA team's leniency per behaviour against the brand's evaluators, the
    adoption it implies, agreement on re-scored interactions and flagged evaluators."""
    adjusted = analysis.adoption_adjusted()
    adjusted = adjusted[adjusted["vendor"] == vendor].set_index("behavior_id")
    alignment = analysis.vendor_alignment()
    alignment = alignment[alignment["vendor"] == vendor].set_index("behavior_id")
    agreement = analysis.qa_agreement(group_by="vendor")
    agreement = agreement[agreement["group"] == vendor].set_index("behavior_id")
    rows = []
    for b, r in adjusted.iterrows():
        lenient = alignment.loc[b] if b in alignment.index else None
        agree = agreement.loc[b] if b in agreement.index else None
        low = _clean(lenient["ci_low"]) if lenient is not None else None
        high = _clean(lenient["ci_high"]) if lenient is not None else None
        rows.append({
            "label": r["label"], "kind": _KIND_WORDS.get(r["kind"], r["kind"]),
            "adoption": _clean(r["adoption"]),
            "adoption_adjusted": _clean(r["adoption_adjusted"]),
            "leniency_pp": None if lenient is None or _clean(lenient["leniency"]) is None
            else 100 * lenient["leniency"],
            "ci_low_pp": None if low is None else 100 * low,
            "ci_high_pp": None if high is None else 100 * high,
            "n": int(lenient["n_interactions"]) if lenient is not None else 0,
            "differs": low is not None and high is not None and (low > 0 or high < 0),
            "alpha": _clean(agree["alpha"]) if agree is not None else None,
            "ac1": _clean(agree["ac1"]) if agree is not None else None,
        })
    evaluators = analysis.evaluator_leniency()
    own = evaluators[evaluators["employer"] == vendor]
    return {
        "rows": rows,
        "window": window_name(analysis.driver_window or []),
        "measured": bool(len(alignment) and alignment["leniency"].notna().any()),
        "lenient": [r["label"] for r in rows if r["differs"] and r["leniency_pp"] > 0],
        "harsh": [r["label"] for r in rows if r["differs"] and r["leniency_pp"] < 0],
        "evaluators": int(len(own)),
        "evaluators_flagged": [{"evaluator_id": e.evaluator_id, "flag": e.flag,
                                "leniency_pp": 100 * e.leniency}
                               for e in own.itertuples() if e.flag != "ok"],
    }


def _effect_unit(kpi: str) -> tuple[float, str]:
    """How a driver effect on ``kpi`` is printed: its scale factor and unit."""
    spec = kpi_spec(kpi)
    return (100.0, "percentage points") if spec.is_share else (1.0, spec.unit)


def _by_kpi(rows: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    """Driver rows grouped per KPI (catalogue order), effects scaled to the unit named."""
    out = []
    for kpi in kpi_names():
        part = rows[rows["kpi"] == kpi]
        if part.empty:
            continue
        scale, unit = _effect_unit(kpi)
        items = []
        for r in _records(part.sort_values("estimate", ascending=False)):
            for c in columns:
                r[c] = None if r.get(c) is None else scale * r[c]
            items.append(r)
        out.append({"kpi": kpi, "kpi_label": _label(kpi), "unit": unit,
                    "digits": 1 if scale != 1 else 2, "rows": items})
    return out


def _interval_text(kpi: str, row) -> str:
    return (f"{fmt_kpi(row['value'], kpi)} ({fmt_kpi(row['ci_low'], kpi)} to "
            f"{fmt_kpi(row['ci_high'], kpi)})")


def _compare_sentence(summary: pd.DataFrame, key: str, what: str) -> list[str]:
    """Words for whether groups differ, from their 95% intervals: per KPI, the best
    group, those whose interval lies wholly on the worse side of the best's, and those
    the data cannot tell from it (intervals overlap)."""
    parts = []
    for kpi in _SCORECARD_KPIS:
        spec = kpi_spec(kpi)
        rows = summary[(summary["kpi"] == kpi) & summary["enough_data"].astype(bool)
                       & summary["value"].notna()]
        rows = rows.sort_values("value", ascending=spec.better == "lower")
        if len(rows) < 2:
            parts.append(f"{spec.short_label}: not enough data to compare {what}.")
            continue
        best = rows.iloc[0]
        others = rows.iloc[1:]
        apart = others[(others["ci_high"] < best["ci_low"]) | (others["ci_low"] > best["ci_high"])]
        close = others.drop(apart.index)
        text = f"{spec.short_label}: {best[key]} best at {_interval_text(kpi, best)}"
        if len(apart):
            text += "; clearly worse: " + ", ".join(
                f"{r[key]} {_interval_text(kpi, r)}" for _, r in apart.iterrows())
        if len(close):
            text += "; intervals overlapping it (no clear difference): " + ", ".join(
                f"{r[key]} {_interval_text(kpi, r)}" for _, r in close.iterrows())
        parts.append(text + ".")
    return parts


def _grid(summary: pd.DataFrame, key: str, order: list[str]) -> list[dict]:
    """One row per group: each scorecard KPI's value and interval (``None`` when too few)."""
    rows = []
    for group in order:
        part = summary[summary[key] == group].set_index("kpi")
        cells = []
        for kpi in _SCORECARD_KPIS:
            r = part.loc[kpi] if kpi in part.index else None
            shown = r is not None and bool(r["enough_data"]) and _clean(r["value"]) is not None
            cells.append({"kpi": kpi, "value": _clean(r["value"]) if shown else None,
                          "ci_low": _clean(r["ci_low"]) if shown else None,
                          "ci_high": _clean(r["ci_high"]) if shown else None,
                          "enough_data": shown})
        rows.append({"group": group, "cells": cells})
    return rows


def _site_labels(analysis: Analysis) -> dict[str, str]:
    """Site code -> the name readers know ("Lisbon, Portugal"), from the sites table."""
    if not analysis.data.has_table("sites"):
        return {}
    sites = analysis.data.table("sites")
    labels = {}
    for r in sites.itertuples(index=False):
        name = getattr(r, "site_name", None)
        name = name if isinstance(name, str) and name.strip() else r.site
        country = getattr(r, "country", None)
        labels[r.site] = f"{name}, {country}" if isinstance(country, str) and country.strip() \
            else str(name)
    return labels


def _site_rows(analysis: Analysis, sites: list[str], vendor: str, targets: pd.DataFrame,
               labels: dict[str, str]) -> list[dict]:
    summary = analysis.kpi_summary(group_by="site")
    out = []
    for site in sites:
        part = summary[(summary["site"] == site) & summary["kpi"].isin(_SCORECARD_KPIS)]
        part = compare_to_targets(part.drop(columns="site"), targets, site=site, vendor=vendor)
        part["label"] = part["kpi"].map(_label)
        part["headline"] = _is_headline(part["kpi"])
        out.append({"site": site, "label": labels.get(site, site),
                    "kpis": [_scorecard_texts(r) for r in _records(_catalogue_order(part))]})
    return out


def _scorecard_chart(analysis: Analysis, vendor: str, reference: str, months: list[str],
                     targets: dict, colors: dict) -> str | None:
    monthly = pd.concat([analysis.kpi_summary(group_by="vendor", months=[m]).assign(period=m)
                         for m in months])
    groups = [vendor] + [reference] * (vendor != reference
                                       and reference in set(monthly["vendor"]))
    monthly = monthly[monthly["vendor"].isin(groups) & monthly["kpi"].isin(_SCORECARD_KPIS)]
    if monthly.empty:
        return None
    figure = plot_kpi_panels(monthly.rename(columns={"vendor": "who"}), kpis=_SCORECARD_KPIS,
                             months=months, targets=targets, colors=colors, groups=groups)
    return figure_svg(figure)


def build_vendor_scorecard(analysis: Analysis, vendor: str, *,
                           reference: str = "in-house") -> VendorScorecard:
    """The scorecard for one vendor: distance to each target with its interval (one chart
    per outcome), adoption, whether the reference's drivers hold, sites, shores, coaching.

    The reference's own card shows its figures and drivers without comparing them
    with themselves.
    """
    team = analysis.team[analysis.team["vendor"] == vendor]
    if team.empty:
        raise ValueError(f"vendor {vendor!r} has no agents in {analysis.report_period}")
    is_reference = vendor == reference
    month = str(analysis.report_period)
    baseline = analysis.windows.baseline.labels
    driver_window = analysis.driver_window or []
    targets = analysis.data.table("targets")
    all_vendors = sorted(analysis.team["vendor"].dropna().unique())
    colors = vendor_colors(all_vendors, reference=reference)

    by_vendor = analysis.kpi_summary(group_by="vendor")
    before = analysis.kpi_summary(group_by="vendor", months=baseline)
    outcomes = compare_kpi_to_baseline(by_vendor, before, on=["vendor"])
    outcomes = outcomes[outcomes["vendor"] == vendor].drop(columns="vendor")
    outcomes = compare_to_targets(outcomes, targets, vendor=vendor)
    outcomes["label"] = outcomes["kpi"].map(_label)
    outcomes["headline"] = _is_headline(outcomes["kpi"])
    # Handle time is reported, never a goal: no distance to a target is set beside it.
    outcomes.loc[~outcomes["headline"].astype(bool),
                 ["distance", "distance_ci_low", "distance_ci_high"]] = np.nan
    outcome_rows = [_scorecard_texts(r) for r in _records(_catalogue_order(outcomes))]
    chosen = {r["kpi"]: r["target"] for r in outcome_rows if r["target"] is not None}
    chart_months = [*baseline, month]
    chart = _scorecard_chart(analysis, vendor, reference, chart_months, chosen, colors)

    adoption = analysis.adoption(group_by="vendor")
    mine = adoption[adoption["vendor"] == vendor].set_index("behavior_id")
    ref = adoption[adoption["vendor"] == reference].set_index("behavior_id")
    qa = _qa_alignment(analysis, vendor)
    adjusted = analysis.adoption_adjusted()
    adjusted = adjusted[adjusted["vendor"] == vendor].set_index("behavior_id")[
        "adoption_adjusted"]
    adoption_rows = [{"label": r.label, "kind": _KIND_WORDS.get(r.kind, r.kind),
                      "adoption": r.adoption, "n": r.n,
                      "reference": None if is_reference or not len(ref)
                      else _clean(ref["adoption"].get(b)),
                      "adjusted": _clean(adjusted.get(b)) if qa["measured"] else None}
                     for b, r in mine.iterrows()]
    # The table leads with adoption adjusted for the vendor QA team's leniency where it
    # is measured (as scored otherwise): the chart plots the same values, in its order.
    for r in adoption_rows:
        r["shown"] = r["adjusted"] if r["adjusted"] is not None else _clean(r["adoption"])
    any_adjusted = any(r["adjusted"] is not None for r in adoption_rows)
    mine_name = f"{vendor}, adjusted for QA leniency" if any_adjusted else vendor
    ref_name = f"{reference} (reference)"
    adoption_window = window_name(driver_window)
    adoption_plot = pd.DataFrame(
        [{"label": r["label"], "who": mine_name, "value": r["shown"]} for r in adoption_rows]
        + [{"label": r["label"], "who": ref_name, "value": r["reference"]}
           for r in adoption_rows if not is_reference and r["reference"] is not None])
    adoption_svg = None
    if len(adoption_plot):
        # A shorter chart than the default, so it shares the table's page.
        from .charts import PRINT_WIDTH_IN, chart_theme
        with chart_theme():
            ax = Figure(figsize=(PRINT_WIDTH_IN, 0.22 * len(adoption_rows) + 1.2),
                        layout="constrained").add_subplot()
        ax = plot_behaviour_adoption(
            adoption_plot, value="value", hue="who", ax=ax,
            order=[r["label"] for r in adoption_rows],
            colors={mine_name: colors[vendor], ref_name: colors[reference]})
        ax.set_title(f"Behaviour adoption, {adoption_window}", loc="left")
        adoption_svg = figure_svg(legend_below(ax))

    vendor_drivers = analysis.layered_drivers
    vendor_drivers = vendor_drivers[vendor_drivers["group_by"] == "vendor"]
    labels = analysis.qa_form.set_index("behavior_id")[["label"]]
    transfer, reference_drivers = [], []
    if is_reference:
        own = vendor_drivers[(vendor_drivers["group"] == vendor)
                             & (vendor_drivers["verdict"] == "driver")]
        own = own.drop(columns=["label"], errors="ignore").join(labels, on="behavior_id")
        reference_drivers = _by_kpi(own, ("estimate", "ci_low", "ci_high"))
    else:
        compared = compare_to_reference(vendor_drivers, reference=reference)
        compared = compared[compared["group"] == vendor].join(labels, on="behavior_id")
        transfer = _by_kpi(compared, ("reference_estimate", "estimate", "ci_low", "ci_high"))

    site_labels = _site_labels(analysis)
    sites = sorted(team["site"].unique())
    site_rows = _site_rows(analysis, sites, vendor, targets, site_labels)

    # Shores: all vendors together. When each shore has one vendor (and each vendor one
    # shore), a shore table would repeat the vendor table: say so instead.
    month_team = analysis.team.dropna(subset=["vendor"])
    vendors_per_shore = month_team.groupby("shore")["vendor"].nunique()
    shores_per_vendor = month_team.groupby("vendor")["shore"].nunique()
    shore_of = month_team.drop_duplicates("vendor").set_index("vendor")["shore"]
    by_shore = analysis.kpi_summary(group_by="shore")
    shore_order = sorted(by_shore["shore"].dropna().unique())
    if len(vendors_per_shore) and (vendors_per_shore == 1).all() \
            and (shores_per_vendor == 1).all():
        pairs = "; ".join(f"{s}: {', '.join(sorted(month_team.loc[month_team['shore'] == s, 'vendor'].unique()))}"  # noqa: E501
                          for s in shore_order)
        shore_sentence = [f"Each shore has a single vendor in {month_name(month)} ({pairs}), "
                          "so shore and vendor cannot be told apart: the vendor comparison "
                          "above is also the shore comparison."]
        shore_rows = []
    elif month_team["shore"].isna().all():
        shore_sentence = ["The roster gives no shore, so there is no shore comparison."]
    elif len(shore_order) < 2:
        shore_sentence = ["All agents sit on one shore: there is no shore comparison."]
        shore_rows = []
    else:
        shore_sentence = _compare_sentence(by_shore, "shore", "shores")
        shore_rows = _grid(by_shore, "shore", shore_order)

    vendor_sentence = _compare_sentence(by_vendor, "vendor", "vendors")
    cross_rows = _grid(by_vendor, "vendor", all_vendors)
    for row in cross_rows:
        row["is_self"] = row["group"] == vendor
        row["shore"] = _clean(shore_of.get(row["group"]))
        row["is_reference"] = row["group"] == reference

    coverage = analysis.coaching_coverage
    coverage = coverage[coverage["supervisor_id"].isin(set(team["supervisor_id"]))]
    pooled = analysis.coaching_effectiveness(group_by="vendor")
    pooled = pooled[pooled["group"] == vendor]
    measured = analysis.session_effects
    measured = measured[(measured["vendor"] == vendor) & (measured["sessions"] > 0)]
    coaching = {
        "supervisors": int(len(coverage)),
        "sessions": int(coverage["sessions"].sum()) if len(coverage) else 0,
        "coverage": _clean(coverage["agents_coached"].sum() / coverage["team_size"].sum())
        if len(coverage) and coverage["team_size"].sum() else None,
        "time_share": _clean(coverage["coaching_minutes"].sum()
                             / coverage["total_minutes"].sum())
        if len(coverage) and coverage["total_minutes"].sum() > 0 else None,
        "meeting_goal": int(coverage["meets_goal"].fillna(False).sum()) if len(coverage) else 0,
        "lift": _in_points(_records(pooled)[0]) if len(pooled) else None,
        "lift_window": window_name(sorted(measured["period"].unique())) if len(measured)
        else "",
    }

    notes = [f"Dates and {MONTHS_NOTE}.",
             "Vendor-, site- and shore-level figures only, no agents; \"not enough data\" "
             "where a group had too few responses."]
    if is_reference:
        notes.append(f"{vendor} is the reference other vendors' scorecards are compared with, "
                     "so this card shows its own figures without comparing them.")
    if not analysis.data.has_table("targets"):
        notes.append("No targets table was supplied: outcomes have no red/amber/green status.")
    return VendorScorecard(
        vendor=str(vendor), period=month, month=month_name(month),
        baseline=window_name(baseline), model_window=window_name(driver_window)
        if driver_window else "all data",
        generated_on=f"{generated_on().day} {generated_on():%B %Y}",
        reference=reference, is_reference=is_reference,
        reference_present=reference in all_vendors,
        shores=sorted(team["shore"].dropna().unique()),
        sites=[site_labels.get(s, s) for s in sites],
        n_agents=int(team["agent_id"].nunique()),
        n_supervisors=int(team["supervisor_id"].nunique()),
        outcomes=outcome_rows, kpi_chart_svg=chart,
        kpi_chart_kpis=[_label(k) for k in _SCORECARD_KPIS],
        kpi_headers=[kpi_spec(k).short_label for k in _SCORECARD_KPIS],
        chart_window=window_name(chart_months),
        adoption=adoption_rows, adoption_window=adoption_window,
        adoption_chart_svg=adoption_svg,
        show_adjusted=bool(qa["measured"]),
        transfer=transfer, reference_drivers=reference_drivers,
        site_outcomes=site_rows,
        single_site=site_rows[0]["label"] if len(site_rows) == 1 else None,
        shore_sentence=shore_sentence, shore_comparison=shore_rows,
        vendor_sentence=vendor_sentence, cross_vendor=cross_rows,
        coaching=coaching, notes=notes, qa_alignment=qa,
        actions=_scorecard_actions(outcome_rows, None if is_reference else qa, transfer,
                                   reference),
    )
