"""Helpers notebooks use to show tables, figures and notes.

:func:`show_table` displays a frame for a reader and also attaches it, as
JSON records, under the MIME type ``application/vnd.cxreports.table+json``:
the executed notebook then carries the exact numbers it showed, which the
tests (and auditors) read back and compare with the library. Only what is
*shown* is made readable (:func:`readable_table`: human column labels,
shares as percentages, counts and minutes as integers, p-values as
``<0.001``, ``insufficient_data`` as "not enough data", behaviour ids as
their labels); the attached records keep the raw columns and numbers.

Examples
--------
>>> frame = pd.DataFrame({"behavior_id": ["empathy"], "coverage": [0.6], "n_obs": [323.0],
...                       "q_value": [0.0004], "verdict": ["insufficient_data"]})
>>> readable_table(frame, labels={"empathy": "Shows empathy"}).iloc[0].to_dict()
... # doctest: +NORMALIZE_WHITESPACE
{'Behaviour': 'Shows empathy', 'Coverage': '60%', 'Contacts': '323',
 'q (FDR-adjusted)': '<0.001', 'Verdict': 'not enough data'}
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping

import pandas as pd
from matplotlib.axes import Axes

from ..core.kpis import kpi as kpi_spec
from ..core.kpis import kpi_names
from .charts import VERDICT_LABELS, figure_png

__all__ = [
    "COLUMN_LABELS",
    "TABLE_MIME",
    "VALUE_LABELS",
    "column_label",
    "format_value",
    "insufficient_note",
    "readable_table",
    "show_figure",
    "show_note",
    "show_table",
    "top_n_note",
]

TABLE_MIME = "application/vnd.cxreports.table+json"

#: Column name -> the label a reader sees. A column not listed is shown with its
#: underscores as spaces ("team_size" -> "Team size").
COLUMN_LABELS: dict[str, str] = {
    "agent_id": "Agent", "supervisor_id": "Supervisor", "evaluator_id": "Evaluator",
    "behavior_id": "Behaviour", "label": "Behaviour", "kind": "Kind", "kpi": "KPI",
    "group_by": "Grouped by", "group": "Group", "period": "Month",
    "q_value": "q (FDR-adjusted)", "p_value": "p", "n_obs": "Contacts", "n": "Evaluations",
    "n_agents": "Agents", "n_sessions": "Sessions", "n_evaluations": "Evaluations",
    "n_interactions": "Interactions", "n_ratings": "Ratings", "n_groups": "Groups",
    "estimate": "Effect", "ci_low": "95% CI low", "ci_high": "95% CI high",
    "relative_weight": "Share of explained variance", "r_squared": "R²",
    "verdict": "Verdict", "level": "Level",
    "period_mean": "This month", "period_n": "Evaluations this month",
    "baseline_mean": "Baseline", "baseline_n": "Evaluations in baseline",
    "change": "Change", "trend": "Trend", "count": "Agent × behaviour pairs",
    "adoption": "Adoption", "adoption_adjusted": "Adoption adjusted for QA leniency",
    "qa_leniency": "QA leniency", "leniency": "Leniency", "raw_leniency": "Leniency (raw)",
    "std_error": "Standard error", "alpha": "Krippendorff's α",
    "alpha_ci_low": "α 95% CI low", "alpha_ci_high": "α 95% CI high", "ac1": "Gwet's AC1",
    "ac1_ci_low": "AC1 95% CI low", "ac1_ci_high": "AC1 95% CI high",
    "icc": "ICC (agents)", "evaluations_for_target": "Evaluations for the target",
    "target": "Target reliability", "evaluations_last_3_months": "Evaluations (last 3 months)",
    "reliability_now": "Reliability now", "evaluations_needed": "Evaluations still needed",
    "team_size": "Team size", "agents_coached": "Agents coached", "coverage": "Coverage",
    "sessions_per_agent": "Sessions per agent", "minutes": "Coaching minutes (sessions)",
    "coaching_minutes": "Coaching minutes (time sheet)", "total_minutes": "Minutes worked",
    "time_share": "Share of time coaching", "meets_goal": "Meets the 50% goal",
    "lift": "Lift per session", "unit": "Unit",
    "value": "Value", "enough_data": "Enough data", "design_effect": "Design effect",
    "pooled_estimate": "Pooled effect", "q_stat": "Cochran's Q", "df": "Degrees of freedom",
    "i_squared": "I²", "lowest_group": "Lowest group", "lowest_estimate": "Lowest effect",
    "highest_group": "Highest group", "highest_estimate": "Highest effect",
    "top_n": "Top N", "overlap": "In both tops", "expected_overlap": "Expected by chance",
    "jaccard": "Jaccard", "spearman": "Spearman ρ", "spearman_ci_low": "ρ 95% CI low",
    "spearman_ci_high": "ρ 95% CI high", "reference_estimate": "In-house effect",
    "status": "Status", "weight": "Weight", "applicable_share": "Applicable",
    "is_ceiling": "Ceiling item", "groups_tested": "Groups tested",
    "groups_driver": "Groups where it drives", "kpis_driven": "KPIs it drives",
    "kpis_harmful": "KPIs it harms", "kpis_unproven": "KPIs unproven",
    "predicts_nothing": "Predicts nothing", "recommendation": "Recommendation",
    "behaviours": "Behaviours", "predicting": "Predicting a KPI", "employer": "Employer",
    "basis": "Basis", "flag": "Flag", "shore": "Shore", "site": "Site", "vendor": "Vendor",
}

#: Category values -> what a reader sees (verdicts worded as the charts and PDFs word
#: them; other snake_case values lose their underscores).
VALUE_LABELS: dict[str, str] = {
    **VERDICT_LABELS, "insufficient_data": "not enough data", "not_aligned": "not aligned",
    "not_shown": "not shown", "behavior_id": "behaviour", "supervisor_id": "supervisor",
    "agent_id": "agent", "qa_score": "QA score (all behaviours)",
}

# How each known column is printed; a column not listed is printed by its dtype.
_SHARES = {"coverage", "time_share", "adoption", "adoption_adjusted", "applicable_share",
           "relative_weight", "period_mean", "baseline_mean", "i_squared", "share"}
_POINTS = {"change", "lift", "qa_leniency", "leniency", "raw_leniency"}
_POINTS_ABS = {"std_error"}
_COUNTS = {"n", "n_obs", "n_agents", "n_sessions", "n_evaluations", "n_interactions",
           "n_ratings", "n_groups", "period_n", "baseline_n", "count", "team_size",
           "agents_coached", "sessions", "minutes", "coaching_minutes", "total_minutes",
           "top_n", "overlap", "df", "groups_tested", "groups_driver", "behaviours",
           "predicting", "evaluations_for_target", "evaluations_last_3_months",
           "evaluations_needed"}
_P_VALUES = {"p_value", "q_value"}
_COEFFICIENTS = {"alpha", "alpha_ci_low", "alpha_ci_high", "ac1", "ac1_ci_low",
                 "ac1_ci_high", "icc", "target", "reliability", "reliability_now", "jaccard",
                 "spearman", "spearman_ci_low", "spearman_ci_high", "r_squared",
                 "design_effect", "q_stat"}
_KPI_EFFECTS = {"estimate", "reference_estimate", "pooled_estimate", "lowest_estimate",
                "highest_estimate"}
#: Columns a one-value table states once above it instead of on every row.
_CAPTION_COLUMNS = ("group_by", "kpi", "unit", "level")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_WORD = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_FORMATS = ("share", "points", "points_abs", "int", "p", "coefficient", "kpi_value", "kpi_effect",
            "number", "text")


def column_label(name, labels: Mapping[str, str] | None = None) -> str:
    """The label a reader sees for column ``name`` (a behaviour id: its label; a KPI:
    its short label)."""
    name = str(name)
    if labels and name in labels:
        return str(labels[name])
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    if name in kpi_names():
        return kpi_spec(name).short_label
    if _WORD.match(name):
        text = name.replace("_", " ")
        return text[0].upper() + text[1:]
    return name


def _value_label(value, labels: Mapping[str, str] | None) -> str:
    text = str(value)
    if labels and text in labels:
        return str(labels[text])
    if text in VALUE_LABELS:
        return VALUE_LABELS[text]
    if text in kpi_names():
        return kpi_spec(text).short_label
    if ", " in text and all(part in kpi_names() for part in text.split(", ")):
        return ", ".join(kpi_spec(part).short_label for part in text.split(", "))
    return text.replace("_", " ") if _SNAKE.match(text) else text


def _month(value) -> str:
    """``2026-07`` as ``Jul 2026``; anything else as it is."""
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return pd.Period(text, freq="M").strftime("%b %Y")
    return text


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _number(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{x:,.0f}"
    size = abs(x)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{x:,.{digits}f}"


def format_value(value, kind: str, *, kpi: str | None = None) -> str:
    """``value`` printed as ``kind``: ``share`` (60%), ``points`` (+4.2 pts, a change
    in a share), ``int``, ``p`` (<0.001), ``coefficient`` (0.82), ``kpi_value`` /
    ``kpi_effect`` (as the catalogue prints ``kpi``; an effect on a share in points),
    ``number`` or ``text``. Missing values print as an en dash."""
    if kind not in _FORMATS:
        raise ValueError(f"format {kind!r} is not one of {', '.join(_FORMATS)}")
    if _missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "text" or not isinstance(value, (int, float)):
        return str(value)
    x = float(value)
    if kind in ("kpi_value", "kpi_effect") and kpi in kpi_names():
        spec = kpi_spec(kpi)
        if spec.is_share:
            kind = "share" if kind == "kpi_value" else "points"
        elif kind == "kpi_value":
            return f"{x:,.{spec.digits if spec.fmt == 'num' else 0}f}"
        else:
            digits = 0 if spec.fmt == "int" else max(spec.digits, 1)
            return f"{x:+,.{digits}f}"
    if kind == "share":
        return f"{x * 100:.0f}%" if abs(x) >= 0.01 or x == 0 else f"{x * 100:.1f}%"
    if kind == "points":
        return f"{x * 100:+.1f} pts"
    if kind == "points_abs":
        return f"{x * 100:.1f} pts"
    if kind == "int":
        return f"{x:,.0f}"
    if kind == "p":
        return "<0.001" if x < 0.001 else f"{x:.3f}"
    if kind == "coefficient":
        return f"{x:.2f}"
    if kind in ("kpi_value", "kpi_effect"):
        return f"{x:+,.2f}" if kind == "kpi_effect" else _number(x)
    return _number(x)


def _column_format(name: str, frame: pd.DataFrame) -> str:
    if name in ("ci_low", "ci_high"):  # on the scale of the table's estimate
        for column, kind in (("value", "kpi_value"), ("estimate", "kpi_effect"),
                             ("change", "points"), ("lift", "points"),
                             ("leniency", "points")):
            if column in frame:
                return kind
    if name == "value":
        return "kpi_value"
    for names, kind in ((_SHARES, "share"), (_POINTS, "points"), (_POINTS_ABS, "points_abs"),
                        (_COUNTS, "int"),
                        (_P_VALUES, "p"), (_COEFFICIENTS, "coefficient"),
                        (_KPI_EFFECTS, "kpi_effect")):
        if name in names:
            return kind
    return "number" if pd.api.types.is_numeric_dtype(frame[name]) else "text"


def readable_table(
    frame: pd.DataFrame,
    *,
    labels: Mapping[str, str] | pd.Series | None = None,
    kpi: str | None = None,
    formats: Mapping[str, str] | None = None,
    default_format: str | None = None,
) -> pd.DataFrame:
    """``frame`` as a reader should see it: every value a string, human column labels.

    ``labels`` maps ids (behaviour ids, as values or as pivoted columns) to
    labels; ``kpi`` is the KPI of a table without a ``kpi`` column (its
    effects and values print as the catalogue says); ``formats`` sets a
    column's format (see :func:`format_value`) and ``default_format`` that of
    numeric columns the kit does not know (e.g. pivoted behaviours). A
    ``behavior_id`` column beside a ``label`` column is dropped.
    """
    labels = dict(labels.items()) if labels is not None else {}
    formats = dict(formats or {})
    frame = frame.copy()
    if "behavior_id" in frame and "label" in frame:
        frame = frame.drop(columns="behavior_id")
    kpis = frame["kpi"].astype(str) if "kpi" in frame else pd.Series(kpi, index=frame.index)
    shown = {}
    for name in frame.columns:
        column = frame[name]
        if name in formats:
            kind = formats[name]
        elif (default_format and name not in COLUMN_LABELS
              and pd.api.types.is_numeric_dtype(column)
              and not pd.api.types.is_bool_dtype(column)):
            kind = default_format
        else:
            kind = _column_format(str(name), frame)
        if name == "period" and kind == "text":  # months as a reader writes them
            values = [_month(v) for v in column]
        elif kind in ("text", "number") and not pd.api.types.is_numeric_dtype(column):
            values = ["–" if _missing(v) else format_value(v, "text") if isinstance(v, bool)
                      else _value_label(v, labels) for v in column]
        else:
            values = [format_value(v.item() if hasattr(v, "item") else v, kind, kpi=k)
                      for v, k in zip(column, kpis, strict=True)]
        title = ("Responses" if name == "n" and "value" in frame
                 else column_label(name, labels))
        if title in shown:  # two columns one label: tell them apart
            title = f"{title} ({str(name).replace('_', ' ')})"
        shown[title] = values
    return pd.DataFrame(shown, index=frame.index, dtype=object)


def _caption(frame: pd.DataFrame, labels: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """Columns with one value in a table of several rows, stated once above it."""
    said = []
    if len(frame) > 1:
        for name in _CAPTION_COLUMNS:
            if name in frame and frame[name].nunique(dropna=False) == 1 and frame.shape[1] > 2:
                said.append(f"{column_label(name)}: {_value_label(frame[name].iloc[0], labels)}")
                frame = frame.drop(columns=name)
    return frame, "; ".join(said)


def show_table(
    frame: pd.DataFrame,
    name: str,
    *,
    max_rows: int = 60,
    labels: Mapping[str, str] | pd.Series | None = None,
    kpi: str | None = None,
    formats: Mapping[str, str] | None = None,
    default_format: str | None = None,
    empty: str = "no rows for this group",
) -> None:
    """Display ``frame`` readably (:func:`readable_table`) and attach its raw records
    under :data:`TABLE_MIME`. An empty frame shows ``empty``, the reason; a longer
    one says how many rows are not shown."""
    from IPython.display import display

    records = json.loads(frame.to_json(orient="records", date_format="iso", double_precision=15))
    payload = {"name": name, "columns": [str(c) for c in frame.columns], "records": records}
    if frame.empty:
        text = f"Nothing to show: {empty}."
        display({"text/html": f"<p><em>{html.escape(text)}</em></p>", "text/plain": text,
                 TABLE_MIME: payload}, raw=True)
        return
    label_map = dict(labels.items()) if labels is not None else {}
    kpi_here = kpi
    if kpi_here is None and "kpi" in frame and frame["kpi"].nunique() == 1:
        kpi_here = str(frame["kpi"].iloc[0])
    trimmed, caption = _caption(frame.head(max_rows), label_map)
    shown = readable_table(trimmed, labels=label_map, kpi=kpi_here, formats=formats,
                           default_format=default_format)
    notes = [caption] if caption else []
    if len(frame) > max_rows:
        notes.append(f"first {max_rows} of {len(frame)} rows shown")
    head = f"<p><em>{html.escape('; '.join(notes))}</em></p>\n" if notes else ""
    table = shown.to_html(index=False, escape=True, na_rep="–", border=0,
                          classes="cx-table")
    plain = ("; ".join(notes) + "\n" if notes else "") + shown.to_string(index=False)
    display({"text/html": head + table, "text/plain": plain, TABLE_MIME: payload}, raw=True)


def show_figure(ax: Axes, *, alt: str) -> None:
    """Display a chart as PNG (works under any matplotlib backend) with ``alt`` as its
    alternative text (the HTML copies write it as the image's ``alt``)."""
    from IPython.display import Image, display

    if not alt.strip():
        raise ValueError("show_figure needs alt text saying what the chart shows")
    display(Image(data=figure_png(ax, dpi=110), metadata={"alt": alt}))


def show_note(text: str) -> None:
    """Display a one-line note (why a table or chart is empty or shorter than asked);
    nothing for an empty ``text``."""
    from IPython.display import display

    if not text:
        return
    display({"text/html": f"<p><em>{html.escape(text)}</em></p>", "text/plain": text},
            raw=True)


def top_n_note(asked: int, shown: int, available: int, *, what: str = "agents",
               rule: str = "", minimum: int = 0, enough: bool = True,
               unranked: str = "cannot be ranked") -> str:
    """The top-N a reader asked for against the one shown, with the reason.

    ``enough`` False with at least ``minimum`` available: those could not be
    ranked, for the reason ``unranked`` says.

    >>> top_n_note(20, 14, 42, rule="a third of them")
    'Top 20 asked; 42 agents have enough data, so the top is 14 (a third of them).'
    >>> top_n_note(20, 20, 90)
    'Top 20, of 90 agents with enough data.'
    >>> top_n_note(20, 2, 6, minimum=10)
    'Top 20 asked; only 6 agents have enough data (10 needed), so no top is compared.'
    >>> top_n_note(20, 20, 60, minimum=10, enough=False, unranked="all tie on QA")
    'Top 20 asked; the 60 agents with enough data all tie on QA, so no top is compared.'
    """
    shown, available = int(shown), int(available)
    if available < minimum or (not enough and not available):
        needed = f" ({minimum} needed)" if minimum else ""
        return (f"Top {asked} asked; only {available} {what} have enough data{needed}, "
                "so no top is compared.")
    if not enough:
        return (f"Top {asked} asked; the {available} {what} with enough data {unranked}, "
                "so no top is compared.")
    if shown >= asked:
        return f"Top {asked}, of {available} {what} with enough data."
    reason = f" ({rule})" if rule else ""
    return f"Top {asked} asked; {available} {what} have enough data, so the top is {shown}{reason}."


def insufficient_note(frame: pd.DataFrame, *, name: str = "label", what: str = "rows",
                      verdict: str = "verdict", why: str = "not enough data",
                      labels: Mapping[str, str] | pd.Series | None = None) -> str:
    """A sentence naming the rows of ``frame`` marked ``insufficient_data`` (drawn
    without a point), or ``""`` when there are none.

    >>> frame = pd.DataFrame({"label": ["Empathy", "Ownership"],
    ...                       "verdict": ["insufficient_data", "driver"]})
    >>> insufficient_note(frame, what="behaviours", why="fewer than 5 sessions")
    'Fewer than 5 sessions for 1 of 2 behaviours, so no estimate: Empathy.'
    """
    if frame.empty or verdict not in frame:
        return ""
    short = frame[frame[verdict] == "insufficient_data"]
    if short.empty:
        return ""
    label_map = dict(labels.items()) if labels is not None else {}
    names = [_value_label(v, label_map) for v in short[name]]
    return (f"{why[0].upper()}{why[1:]} for {len(names)} of {len(frame)} {what}, "
            f"so no estimate: {', '.join(names)}.")
