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
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..analyses.analysis import Analysis
from ..analyses.coaching import MIN_EXPECTED_GAIN
from ..analyses.drivers import compare_to_reference, drivers_for
from ..analyses.kpi_summary import (
    compare_kpi_to_baseline,
    compare_to_targets,
)
from ..analyses.qa_form_audit import compute_behaviour_adoption
from ..core.kpis import DEFAULT_KPIS, PRIMARY_KPI, kpi_names
from ..core.kpis import kpi as kpi_spec
from ..core.periods import MONTHS_NOTE, generated_on
from .charts import figure_svg, plot_behaviour_adoption, plot_drivers, plot_trend_lines

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
    """Everything one supervisor's pack shows (their own team only)."""

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

    @property
    def agent_names(self) -> list[str]:
        return [a["name"] for a in self.agents]


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
    return _records(_catalogue_order(table))


def build_coaching_pack(analysis: Analysis, supervisor_id: str) -> CoachingPack:
    """The pack for one supervisor: team summary, drivers, one section per agent, activity.

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

    drivers, source = drivers_for(analysis.layered_drivers, site=site, vendor=vendor)
    proven = drivers[drivers["verdict"] == "driver"].sort_values("estimate", ascending=False)
    # The headline: CSAT in sentences (at most four); other outcomes in one line each.
    driver_rows, other_drivers = [], []
    for kpi in DEFAULT_KPIS:
        labels = proven.loc[proven["kpi"] == kpi, "label"].tolist()
        if labels and kpi != PRIMARY_KPI:
            other_drivers.append({"kpi_label": _label(kpi), "behaviours": labels})
    for row in proven[proven["kpi"] == PRIMARY_KPI].head(4).itertuples():
        driver_rows.append({"kpi": row.kpi, "kpi_label": _label(row.kpi), "label": row.label,
                            "estimate": row.estimate, "ci_low": row.ci_low,
                            "ci_high": row.ci_high, "level": f"{row.group_by} {row.group}",
                            "sentence": driver_sentence(row.label, row.kpi, row.estimate,
                                                        row.ci_low, row.ci_high)})
    csat = drivers[drivers["kpi"] == PRIMARY_KPI]
    chart = None
    if len(csat) and (csat["verdict"] != "insufficient_data").any():
        chart = _drivers_chart(f"What drives CSAT here ({source.split(';')[0]})",
                               tuple(csat[list(_CHART_COLUMNS)].itertuples(index=False)))

    # Team vs site adoption of each behaviour over the recent window.
    recent = analysis.scored_evaluations[
        analysis.scored_evaluations["period"].isin(analysis.recent_window)]
    adoption = pd.concat([
        _adoption(analysis, recent[recent["site"] == site], "site average"),
        _adoption(analysis, recent[recent["agent_id"].isin(members)], "this team"),
    ])
    adoption_svg = figure_svg(plot_behaviour_adoption(adoption, hue="who")) \
        if len(adoption) else None

    agents = _agent_sections(analysis, team, members, names)
    activity = analysis.coaching_coverage
    activity = activity[activity["supervisor_id"] == supervisor_id]
    effectiveness = analysis.coaching_effectiveness(group_by="supervisor_id")
    effectiveness = effectiveness[effectiveness["group"] == supervisor_id]
    notes = [f"Dates and {MONTHS_NOTE}."]
    if not analysis.data.has_table("coaching"):
        notes.append("No coaching table was supplied: coaching history is not shown.")
    if not analysis.data.has_table("supervisor_time"):
        notes.append("No supervisor time data: the 50% coaching-time goal is not checked.")
    if not driver_rows and not other_drivers:
        notes.append("Not enough evaluated, surveyed contacts to name proven drivers yet.")
    window = analysis.driver_window or []
    return CoachingPack(
        supervisor_id=str(supervisor_id),
        supervisor_name=str(first.get("supervisor_name") or supervisor_id),
        site=str(site), vendor=str(vendor), shore=_clean(first.get("shore")),
        period=str(analysis.report_period),
        baseline=f"{analysis.baseline[0]} to {analysis.baseline[-1]}" if analysis.baseline
        else "", model_window=f"{window[0]} to {window[-1]}" if window else "all data",
        generated_on=generated_on().isoformat(), team_size=len(members),
        recent_window=str(analysis.windows.recent),
        min_gain=float(MIN_EXPECTED_GAIN.get(PRIMARY_KPI, 0.0)),
        team_kpis=_team_kpis(analysis, members, site, vendor),
        drivers=driver_rows, drivers_source=source, other_drivers=other_drivers,
        drivers_chart_svg=chart,
        adoption_chart_svg=adoption_svg, agents=agents,
        activity=_records(activity)[0] if len(activity) else None,
        effectiveness=_in_points(_records(effectiveness)[0]) if len(effectiveness) else None,
        notes=notes,
    )


_CHART_COLUMNS = ("kpi", "behavior_id", "label", "estimate", "ci_low", "ci_high", "verdict")


@functools.lru_cache(maxsize=64)
def _drivers_chart(title: str, rows: tuple) -> str:
    # Every team at a site shares one driver model, so the same chart
    # would otherwise be drawn once per supervisor; keyed by content.
    return figure_svg(plot_drivers(pd.DataFrame(list(rows), columns=list(_CHART_COLUMNS)),
                                   title=title))


def _adoption(analysis: Analysis, evaluations: pd.DataFrame, who: str) -> pd.DataFrame:
    out = compute_behaviour_adoption(evaluations, behaviors=analysis.behaviors)
    return out.join(analysis.qa_form.set_index("behavior_id")[["label"]], on="behavior_id") \
        .assign(who=who)


def _reliability(reliable: pd.DataFrame, agent_id: str, behavior_id: str) -> dict:
    """Whether an agent's figure on a behaviour reaches the reliability target
    (:meth:`Analysis.agent_behaviour_reliability`); below it the pack marks the
    figure provisional instead of presenting it as settled."""
    key = (agent_id, behavior_id)
    if key not in reliable.index:
        return {"reliable": False, "reliability": None, "evaluations": 0}
    row = reliable.loc[key]
    return {"reliable": bool(row["reliable"]), "reliability": _clean(row["reliability"]),
            "evaluations": int(row["n"])}


def _agent_sections(analysis: Analysis, team: pd.DataFrame, members: list[str],
                    names: pd.Series) -> list[dict]:
    """One section per agent. Celebrate, coach-on and the behaviour table read one
    frame (:attr:`Analysis.agent_behaviour_scores`, the recent window, with the
    report month alone beside it) and the trends of the same evaluations, so
    they cannot disagree; each figure names its window in the template."""
    labels = analysis.qa_form.set_index("behavior_id")["label"]
    unit = kpi_spec(PRIMARY_KPI).unit
    priorities = analysis.coaching_priorities(kpi=PRIMARY_KPI)
    priorities = priorities[priorities["agent_id"].isin(members)]
    scores = analysis.agent_behaviour_scores
    scores = scores[scores["agent_id"].isin(members)].set_index(["agent_id", "behavior_id"])
    reliable = analysis.agent_behaviour_reliability()
    reliable = reliable[reliable["agent_id"].isin(members)].set_index(
        ["agent_id", "behavior_id"])[["n", "reliability", "reliable"]]
    trends = analysis.trends[analysis.trends["agent_id"].isin(members)]
    kpis = analysis.kpi_summary(group_by="agent_id", agents=members, min_responses=10)
    coaching = analysis.data.table("coaching")
    window = analysis.windows.recent
    start = pd.Timestamp(window.start)
    end = pd.Timestamp(window.end)
    coaching = coaching[coaching["agent_id"].isin(members)
                        & (pd.to_datetime(coaching["held_on"]) >= start)
                        & (pd.to_datetime(coaching["held_on"]) <= end)]
    sections = []
    for agent_id in members:
        mine = priorities[priorities["agent_id"] == agent_id]
        opp = mine[mine["kind"] == "opportunity"].sort_values("rank")
        strong = mine[mine["kind"] == "strength"].sort_values("rank")
        below = mine[mine["kind"] == "below_minimum"]
        opportunities = [{
            "label": labels.get(r.behavior_id, r.behavior_id), "score": r.score,
            "benchmark": r.benchmark, "gap": r.gap, "expected_gain": r.expected_gain,
            "why": f"shown on {r.score:.0%} of evaluated contacts over {window} against "
                   f"{r.benchmark:.0%} for strong agents here; closing the gap is worth "
                   f"about {r.expected_gain:.2f} {unit}",
            "mentor": str(names.get(r.mentor_agent_id, r.mentor_agent_id))
            if isinstance(r.mentor_agent_id, str) else None,
            **_reliability(reliable, agent_id, r.behavior_id),
        } for r in opp.itertuples()]
        strengths = [{"label": labels.get(r.behavior_id, r.behavior_id), "score": r.score,
                      "benchmark": r.benchmark,
                      **_reliability(reliable, agent_id, r.behavior_id)}
                     for r in strong.itertuples()]
        t = trends[(trends["agent_id"] == agent_id)]
        focus = set(opp["behavior_id"]) | set(strong["behavior_id"])
        trend_rows = []
        for r in t.itertuples():
            if not (r.behavior_id in focus or r.trend in ("improved", "declined")):
                continue
            recent = scores["shrunk"].get((agent_id, r.behavior_id), np.nan)
            trend_rows.append({
                "label": labels.get(r.behavior_id, r.behavior_id),
                "recent": _clean(recent), "period_mean": r.period_mean,
                "baseline_mean": r.baseline_mean, "change": r.change, "trend": r.trend,
                "period_n": r.period_n,
                "ci_low": _clean(r.ci_low), "ci_high": _clean(r.ci_high),
                "role": "coach on" if r.behavior_id in set(opp["behavior_id"])
                else "strength" if r.behavior_id in set(strong["behavior_id"]) else "",
                **_reliability(reliable, agent_id, r.behavior_id)})
        sessions = [{"held_on": pd.Timestamp(r.held_on).date().isoformat(),
                     "focus": labels.get(r.behavior_id, r.topic or "general")
                     if isinstance(r.behavior_id, str) and r.behavior_id
                     else (r.topic or "general"),
                     "minutes": _clean(r.minutes)}
                    for r in coaching[coaching["agent_id"] == agent_id]
                    .sort_values("held_on").itertuples()]
        k = kpis[kpis["agent_id"] == agent_id].set_index("kpi")
        kpi_cells = [{"label": _label(name), "kpi": name,
                      **{c: _clean(k.at[name, c]) for c in ("value", "ci_low", "ci_high", "n",
                                                            "enough_data")}}
                     for name in _AGENT_CARD_KPIS if name in k.index]
        sections.append({
            "agent_id": agent_id, "name": str(names.get(agent_id, agent_id)),
            "enough_data": not (mine["kind"] == "insufficient_data").any() and len(mine) > 0,
            "kpis": kpi_cells, "strengths": strengths, "opportunities": opportunities,
            "below_minimum": bool(len(below)) and not opportunities,
            "trends": trend_rows, "sessions": sessions,
        })
    return sections


# --------------------------------------------------------------------------- vendor scorecard


@dataclass
class VendorScorecard:
    """Everything one vendor's scorecard shows: vendor-level figures only, no agents."""

    vendor: str
    period: str
    baseline: str
    model_window: str
    generated_on: str
    shores: list[str]
    sites: list[str]
    n_agents: int
    n_supervisors: int
    outcomes: list[dict]
    adoption: list[dict]
    transfer: list[dict]
    reference: str
    shore_comparison: list[dict]
    site_outcomes: list[dict]
    coaching: dict
    cross_vendor: list[dict]
    trend_chart_svg: str | None
    adoption_chart_svg: str | None
    notes: list[str] = field(default_factory=list)
    #: "Does your QA score like ours?": the vendor QA team against the brand's.
    qa_alignment: dict | None = None


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
            "label": r["label"], "kind": r["kind"], "adoption": _clean(r["adoption"]),
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
        "measured": bool(len(alignment) and alignment["leniency"].notna().any()),
        "lenient": [r["label"] for r in rows if r["differs"] and r["leniency_pp"] > 0],
        "harsh": [r["label"] for r in rows if r["differs"] and r["leniency_pp"] < 0],
        "evaluators": int(len(own)),
        "evaluators_flagged": [{"evaluator_id": e.evaluator_id, "flag": e.flag,
                                "leniency_pp": 100 * e.leniency}
                               for e in own.itertuples() if e.flag != "ok"],
    }


def build_vendor_scorecard(analysis: Analysis, vendor: str, *,
                           reference: str = "in-house") -> VendorScorecard:
    """The scorecard for one vendor: outcomes vs targets, adoption, transfer, shores, coaching."""
    team = analysis.team[analysis.team["vendor"] == vendor]
    if team.empty:
        raise ValueError(f"vendor {vendor!r} has no agents in {analysis.report_period}")
    targets = analysis.data.table("targets")
    by_vendor = analysis.kpi_summary(group_by="vendor")
    before = analysis.kpi_summary(group_by="vendor", months=analysis.baseline)
    outcomes = compare_kpi_to_baseline(by_vendor, before, on=["vendor"])
    outcomes = outcomes[outcomes["vendor"] == vendor].drop(columns="vendor")
    outcomes = compare_to_targets(outcomes, targets, vendor=vendor)
    outcomes["label"] = outcomes["kpi"].map(_label)
    outcomes["headline"] = _is_headline(outcomes["kpi"])

    adoption = analysis.adoption(group_by="vendor")
    mine = adoption[adoption["vendor"] == vendor].set_index("behavior_id")
    ref = adoption[adoption["vendor"] == reference].set_index("behavior_id")
    adjusted = analysis.adoption_adjusted()
    adjusted = adjusted[adjusted["vendor"] == vendor].set_index("behavior_id")[
        "adoption_adjusted"]
    adoption_rows = [{"label": r.label, "kind": r.kind, "adoption": r.adoption, "n": r.n,
                      "reference": _clean(ref["adoption"].get(b)) if len(ref) else None,
                      "adjusted": _clean(adjusted.get(b))}
                     for b, r in mine.iterrows()]

    vendor_drivers = analysis.layered_drivers
    vendor_drivers = vendor_drivers[vendor_drivers["group_by"] == "vendor"]
    transfer = compare_to_reference(vendor_drivers, reference=reference)
    transfer = transfer[transfer["group"] == vendor].join(
        analysis.qa_form.set_index("behavior_id")[["label"]], on="behavior_id")
    transfer["kpi_label"] = transfer["kpi"].map(_label)

    shores = analysis.kpi_summary(group_by="shore")
    shores = shores[shores["kpi"].isin(DEFAULT_KPIS)]
    sites = analysis.kpi_summary(group_by="site")
    sites = sites[sites["site"].isin(set(team["site"])) & sites["kpi"].isin(_SITE_KPIS)]

    coverage = analysis.coaching_coverage
    coverage = coverage[coverage["supervisor_id"].isin(set(team["supervisor_id"]))]
    pooled = analysis.coaching_effectiveness(group_by="vendor")
    pooled = pooled[pooled["group"] == vendor]
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
    }
    cross = by_vendor[by_vendor["kpi"].isin(DEFAULT_KPIS)]
    cross = cross.pivot(index="vendor", columns="kpi", values="value").reset_index()
    enough = by_vendor.pivot(index="vendor", columns="kpi", values="enough_data")
    cross_rows = []
    for row in cross.itertuples(index=False):
        item = {"vendor": row.vendor, "is_self": row.vendor == vendor}
        for k in DEFAULT_KPIS:
            item[k] = _clean(getattr(row, k, None)) if enough.at[row.vendor, k] else None
        cross_rows.append(item)

    months = [*analysis.baseline, str(analysis.report_period)]
    monthly = pd.concat([analysis.kpi_summary(group_by="vendor", months=[m]).assign(period=m)
                         for m in months])
    monthly = monthly[(monthly["vendor"] == vendor) & monthly["kpi"].isin(_TREND_KPIS)
                      & monthly["enough_data"]]
    trend_svg = figure_svg(plot_trend_lines(monthly, y="value", hue="kpi",
                                            title="CSAT and effort by month")) \
        if len(monthly) else None
    adoption_plot = pd.concat([
        mine.reset_index().assign(who=vendor),
        ref.reset_index().assign(who=reference) if vendor != reference else mine.iloc[0:0]])
    adoption_svg = figure_svg(plot_behaviour_adoption(adoption_plot, hue="who")) \
        if len(adoption_plot) else None
    notes = [f"Dates and {MONTHS_NOTE}."]
    if vendor == reference:
        notes.append("This is the reference group: other vendors are compared with it.")
    if not analysis.data.has_table("targets"):
        notes.append("No targets table was supplied: outcomes have no red/amber/green status.")
    window = analysis.driver_window or []
    return VendorScorecard(
        vendor=str(vendor), period=str(analysis.report_period),
        baseline=f"{analysis.baseline[0]} to {analysis.baseline[-1]}" if analysis.baseline
        else "", model_window=f"{window[0]} to {window[-1]}" if window else "all data",
        generated_on=generated_on().isoformat(),
        shores=sorted(team["shore"].dropna().unique()), sites=sorted(team["site"].unique()),
        n_agents=int(team["agent_id"].nunique()),
        n_supervisors=int(team["supervisor_id"].nunique()),
        outcomes=_records(_catalogue_order(outcomes)),
        adoption=adoption_rows, transfer=_records(transfer), reference=reference,
        shore_comparison=_records(shores), site_outcomes=_records(sites), coaching=coaching,
        cross_vendor=cross_rows, trend_chart_svg=trend_svg, adoption_chart_svg=adoption_svg,
        notes=notes, qa_alignment=_qa_alignment(analysis, vendor),
    )
