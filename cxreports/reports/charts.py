"""Charts from precomputed tidy frames, for notebooks and PDFs alike.

A chart function never fits a model: it draws a frame an analysis returned,
so a chart and its table always agree. Signature as seaborn's:
``plot_x(data, *, ..., ax=None) -> Axes``. Without ``ax`` a new
:class:`matplotlib.figure.Figure` is made directly (not through pyplot), so
no GUI backend is involved and no figure lingers in pyplot's registry: it is
freed when the caller drops it. Styling comes from :func:`chart_theme`, a
context that restores matplotlib's settings on exit.

For PDFs, :func:`figure_svg` (lines, bars, points) and :func:`figure_png`
(dense scatters) turn a figure into bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.kpis import kpi as kpi_spec

__all__ = [
    "KIT_PALETTE",
    "REFERENCE_COLOR",
    "VERDICT_COLORS",
    "chart_theme",
    "figure_png",
    "figure_svg",
    "plot_agent_ranks",
    "plot_behaviour_adoption",
    "plot_coaching_effects",
    "plot_drivers",
    "plot_kpi_by_group",
    "plot_relative_weights",
    "plot_trend_lines",
    "vendor_colors",
]

#: The kit's one categorical palette (Okabe & Ito 2008, "Color Universal Design":
#: distinguishable with every common colour-vision deficiency). Packs, scorecards
#: and notebooks take series colours from here, in this order.
KIT_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
               "#F0E442", "#000000")
#: The reference group (in-house, a site average): a neutral grey beside the palette.
REFERENCE_COLOR = "#7f7f7f"


def vendor_colors(vendors, *, reference: str = "in-house") -> dict[str, str]:
    """One colour per vendor, the same in every report: vendors sorted by name take
    :data:`KIT_PALETTE` in turn (pass *all* the month's vendors, not one report's
    subset, so a vendor keeps its colour); ``reference`` is grey."""
    others = sorted({str(v) for v in vendors} - {reference})
    colors = {v: KIT_PALETTE[i % len(KIT_PALETTE)] for i, v in enumerate(others)}
    colors[reference] = REFERENCE_COLOR
    return colors


VERDICT_COLORS = {"driver": "#1b7837", "no_evidence": "#8c8c8c",
                  "insufficient_data": "#d9d9d9", "worked": "#1b7837",
                  "backfired": "#b2182b", "harmful": "#b2182b"}
_THEME = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("notebook", font_scale=0.9),
    "font.family": "DejaVu Sans",
    "svg.fonttype": "none",  # text stays text in SVG: selectable, searchable in the PDF
    "axes.titleweight": "bold",
    "axes.titlesize": 11,
    "figure.dpi": 100,
}


@contextmanager
def chart_theme() -> Iterator[None]:
    """Apply the kit's chart style; matplotlib's settings are restored on exit."""
    with mpl.rc_context(_THEME):
        yield


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    figure = Figure(figsize=size, layout="constrained")
    return figure.add_subplot()


#: Salt for the ids in SVG output (clip paths, markers): fixed, so an id is a
#: hash of what it names and the same chart gives the same bytes in any process.
_SVG_HASHSALT = "cxreports"


def figure_svg(ax_or_figure: Axes | Figure) -> str:
    """The figure as an SVG document (text kept as text), the same bytes on every run.

    No date in the metadata, and ids salted with a fixed value instead of a
    random one (:rc:`svg.hashsalt`); both settings end with the theme context.
    """
    figure = ax_or_figure.figure if isinstance(ax_or_figure, Axes) else ax_or_figure
    buffer = io.StringIO()
    with chart_theme(), mpl.rc_context({"svg.hashsalt": _SVG_HASHSALT}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def figure_png(ax_or_figure: Axes | Figure, *, dpi: int = 150) -> bytes:
    """The figure as PNG bytes, for dense scatters (no time or version stamped in)."""
    figure = ax_or_figure.figure if isinstance(ax_or_figure, Axes) else ax_or_figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def plot_drivers(data: pd.DataFrame, *, label: str = "label", ax: Axes | None = None,
                 title: str | None = None) -> Axes:
    """Coefficient plot: each behaviour's estimate with its 95% interval, coloured by verdict.

    ``data`` is :func:`cxreports.analyses.drivers.compute_drivers` output for one
    group and KPI; behaviours with insufficient data are listed without a
    point.
    """
    with chart_theme():
        frame = data.copy()
        names = frame[label] if label in frame else frame["behavior_id"]
        frame = frame.assign(_name=names.astype(str)).sort_values("estimate", na_position="first")
        ax = _axes(ax, (6.5, 0.35 * len(frame) + 1.2))
        y = np.arange(len(frame))
        for i, row in enumerate(frame.itertuples()):
            color = VERDICT_COLORS.get(row.verdict, "#8c8c8c")
            if np.isfinite(row.estimate):
                ax.plot([row.ci_low, row.ci_high], [i, i], color=color, lw=2)
                ax.plot(row.estimate, i, "o", color=color, ms=6)
            else:
                ax.text(0, i, "not enough data", va="center", ha="center", fontsize=8,
                        color="#666666")
        ax.axvline(0, color="#444444", lw=0.8)
        ax.set_yticks(y, frame["_name"])
        kpi = frame["kpi"].iloc[0] if "kpi" in frame and len(frame) else ""
        unit = "probability" if kpi_spec(kpi).model == "logit" else "points"
        ax.set_xlabel(f"change in {kpi.upper()} when shown ({unit})")
        ax.set_title(title or f"What drives {kpi.upper()}")
        handles = [mpl.lines.Line2D([], [], color=c, marker="o", lw=2, label=v.replace("_", " "))
                   for v, c in VERDICT_COLORS.items() if v in set(frame["verdict"])]
        if handles:
            ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=True)
    return ax


def plot_relative_weights(data: pd.DataFrame, *, label: str = "label",
                          ax: Axes | None = None) -> Axes:
    """Bar chart of each behaviour's share of the explained variance."""
    with chart_theme():
        frame = data.dropna(subset=["relative_weight"]).sort_values("relative_weight")
        names = frame[label] if label in frame else frame["behavior_id"]
        ax = _axes(ax, (6.5, 0.35 * max(len(frame), 1) + 1.2))
        colors = [VERDICT_COLORS.get(v, "#8c8c8c") for v in frame["verdict"]]
        ax.barh(names.astype(str), frame["relative_weight"] * 100, color=colors)
        ax.set_xlabel("share of explained variance (%)")
        r2 = frame["r_squared"].iloc[0] if len(frame) else np.nan
        ax.set_title(f"Relative importance (R² = {r2:.2f})" if np.isfinite(r2)
                     else "Relative importance")
    return ax


def plot_kpi_by_group(data: pd.DataFrame, *, kpi: str, group: str,
                      highlight: str | None = None, ax: Axes | None = None) -> Axes:
    """A KPI per group with its 95% interval (groups without enough data are marked)."""
    with chart_theme():
        frame = data[data["kpi"] == kpi].sort_values("value")
        ax = _axes(ax, (6.5, 0.4 * max(len(frame), 1) + 1.2))
        for i, row in enumerate(frame.itertuples()):
            name = getattr(row, group)
            color = "#2166ac" if name == highlight else "#4d4d4d"
            if row.enough_data and np.isfinite(row.value):
                ax.plot([row.ci_low, row.ci_high], [i, i], color=color, lw=2)
                ax.plot(row.value, i, "o", color=color)
            else:
                ax.text(np.nanmean(frame["value"]) if frame["value"].notna().any() else 0, i,
                        "not enough data", va="center", fontsize=8, color="#666666")
        ax.set_yticks(np.arange(len(frame)), frame[group].astype(str))
        ax.set_xlabel(kpi)
        ax.set_title(f"{kpi} by {group}")
    return ax


def plot_behaviour_adoption(data: pd.DataFrame, *, value: str = "adoption",
                            hue: str | None = None, label: str = "label",
                            ax: Axes | None = None) -> Axes:
    """Adoption (share of applicable evaluations where shown) per behaviour."""
    # Plain matplotlib bars: seaborn's hue legend, once moved, kept every
    # figure alive (about 1 MB a pack over a month of packs).
    with chart_theme():
        frame = data.copy()
        frame["_name"] = (frame[label] if label in frame else frame["behavior_id"]).astype(str)
        names = list(dict.fromkeys(frame["_name"]))
        ax = _axes(ax, (6.5, 0.35 * len(names) + 1.4))
        groups = list(dict.fromkeys(frame[hue])) if hue else [None]
        height = 0.8 / len(groups)
        palette = sns.color_palette(n_colors=max(len(groups), 1))
        for k, group in enumerate(groups):
            part = frame if group is None else frame[frame[hue] == group]
            values = part.set_index("_name")[value].reindex(names)
            y = np.arange(len(names)) - 0.4 + height * (k + 0.5)
            ax.barh(y, values.to_numpy(float), height=height, label=group,
                    color=palette[k] if hue else "#4393c3")
        ax.set_yticks(np.arange(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of evaluations where shown")
        ax.set_title("Behaviour adoption")
        if hue:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    return ax


def plot_coaching_effects(data: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Coaching lift per session, per group, with 95% intervals
    (:func:`cxreports.analyses.coaching.compute_coaching_effectiveness`)."""
    with chart_theme():
        frame = data.sort_values("lift", na_position="first")
        ax = _axes(ax, (6.5, 0.35 * max(len(frame), 1) + 1.2))
        for i, row in enumerate(frame.itertuples()):
            color = VERDICT_COLORS.get(row.verdict, "#8c8c8c")
            if np.isfinite(row.lift):
                ax.plot([row.ci_low, row.ci_high], [i, i], color=color, lw=2)
                ax.plot(row.lift, i, "o", color=color)
        ax.axvline(0, color="#444444", lw=0.8)
        ax.set_yticks(np.arange(len(frame)), frame["group"].astype(str))
        ax.set_xlabel("lift per session in the share of contacts showing the behaviour")
        ax.set_title("Did coaching work?")
    return ax


def plot_trend_lines(data: pd.DataFrame, *, x: str = "period", y: str = "value",
                     hue: str = "behavior_id", ax: Axes | None = None,
                     title: str = "Trend") -> Axes:
    """Lines of ``y`` over ``x`` (months), one per ``hue``."""
    with chart_theme():
        ax = _axes(ax, (6.5, 3.2))
        sns.lineplot(data=data, x=x, y=y, hue=hue, marker="o", ax=ax)
        ax.set_title(title)
        ax.set_xlabel("")
        if ax.get_legend() is not None:
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), fontsize=7, title=None)
    return ax


def plot_agent_ranks(data: pd.DataFrame, *, ax: Axes | None = None,
                     title: str = "QA score vs customer outcome, per agent") -> Axes:
    """Scatter of shrunk QA score against shrunk KPI per eligible agent (rasterised)."""
    with chart_theme():
        frame = data[data["eligible"]]
        ax = _axes(ax, (5.5, 4.2))
        ax.scatter(frame["qa_shrunk"], frame["kpi_shrunk"], s=14, alpha=0.7, color="#2166ac",
                   rasterized=True)
        ax.set_xlabel("QA score (shrunk)")
        ax.set_ylabel("KPI (shrunk)")
        ax.set_title(title)
    return ax
