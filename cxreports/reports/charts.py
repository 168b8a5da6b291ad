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
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.transforms import Bbox

from ..core.kpis import kpi as kpi_spec

__all__ = [
    "KIT_PALETTE",
    "REFERENCE_COLOR",
    "MIN_FONT_PT",
    "PRINT_WIDTH_IN",
    "VERDICT_COLORS",
    "VERDICT_LABELS",
    "chart_theme",
    "figure_png",
    "figure_svg",
    "legend_below",
    "plot_agent_ranks",
    "plot_behaviour_adoption",
    "plot_coaching_effects",
    "plot_drivers",
    "plot_drivers_and_adoption",
    "plot_kpi_by_group",
    "plot_kpi_panels",
    "plot_relative_weights",
    "plot_trend_lines",
    "set_adoption",
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


#: Verdict colours, colour-blind safe (Okabe-Ito blue against vermillion, never red
#: against green): what helps is blue, what hurts vermillion, the rest grey.
VERDICT_COLORS = {"driver": "#0072B2", "no_evidence": "#8c8c8c",
                  "insufficient_data": "#cfcfcf", "worked": "#0072B2",
                  "backfired": "#D55E00", "harmful": "#D55E00", "association": "#56B4E9"}
#: How a chart's legend words a verdict (no internal codes on a page).
VERDICT_LABELS = {"driver": "proven driver", "no_evidence": "no clear effect",
                  "insufficient_data": "not enough data", "worked": "worked",
                  "backfired": "backfired", "harmful": "works against",
                  "association": "association only", "no_clear_effect": "no clear effect"}
#: Smallest text a chart draws (points at the figure's own size). Report figures are
#: drawn at the width they print at (:data:`PRINT_WIDTH_IN`), so this is print size.
MIN_FONT_PT = 8.5
#: The text width of an A4 report page (210 mm less 15 mm margins), in inches.
PRINT_WIDTH_IN = 7.0
_THEME = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("notebook", font_scale=0.9),
    "font.family": "DejaVu Sans",
    "svg.fonttype": "none",  # text stays text in SVG: selectable, searchable in the PDF
    "axes.titleweight": "bold",
    # Titles at the top of their axes: none of the kit's charts has anything above an
    # axes (ticks, labels, offsets) to move one up, and matplotlib's check for it
    # measured every tick label again on each draw (a quarter of a team chart's time).
    "axes.titley": 1.0,
    # No offset above an axis either ("+4.2"): a tick label is the value. (Scientific
    # notation would still put "1e6" there; no figure the kit draws comes near it.)
    "axes.formatter.useoffset": False,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": 9,
    "axes.prop_cycle": mpl.cycler(color=list(KIT_PALETTE)),
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


def _rows(order, names) -> list[str]:
    """Row names top to bottom: ``order`` first (those present), then the rest."""
    names = list(dict.fromkeys(names))
    if order is None:
        return names
    first = [n for n in order if n in names]
    return first + [n for n in names if n not in first]


def _place_rows(ax: Axes, rows: list[str]) -> None:
    # Top to bottom, and idempotent (unlike invert_yaxis), for panels sharing an axis.
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)


def _row_names(frame: pd.DataFrame, label: str) -> pd.Series:
    """The name each row of a behaviour frame is drawn under: its ``label``, or its
    ``behavior_id`` when the frame has no such column; as text."""
    return (frame[label] if label in frame else frame["behavior_id"]).astype(str)


def plot_drivers(data: pd.DataFrame, *, label: str = "label", ax: Axes | None = None,
                 title: str | None = None, order: list[str] | None = None,
                 adjusted: bool = True) -> Axes:
    """Coefficient plot: each behaviour's estimate with its interval, coloured by verdict.

    ``data`` is :func:`cxreports.analyses.drivers.compute_drivers` output for one
    group and KPI; behaviours with insufficient data are listed without a
    point. With ``adjusted`` and the ``adj_low``/``adj_high`` columns of
    :func:`cxreports.analyses.drivers.fcr_adjusted_intervals`, the lines are the
    intervals adjusted for testing every behaviour at once, which exclude zero
    exactly when the verdict names an effect (the chart says so); otherwise the
    unadjusted 95% intervals. Rows run top to bottom in ``order`` (behaviour
    names), by default largest estimate first. A share KPI is drawn in
    percentage points.
    """
    with chart_theme():
        frame = data.assign(_name=_row_names(data, label))
        use_adjusted = adjusted and {"adj_low", "adj_high"} <= set(frame.columns) \
            and frame["adj_low"].notna().any()
        low, high = ("adj_low", "adj_high") if use_adjusted else ("ci_low", "ci_high")
        kpi = frame["kpi"].iloc[0] if "kpi" in frame and len(frame) else None
        spec = kpi_spec(kpi) if kpi else None
        scale = 100.0 if spec is not None and spec.is_share else 1.0
        default = frame.sort_values("estimate", ascending=False, na_position="last")["_name"]
        rows = _rows(order, default)
        position = {name: i for i, name in enumerate(rows)}
        ax = _axes(ax, (PRINT_WIDTH_IN, 0.26 * len(rows) + 1.6))
        finite = frame["estimate"].notna()
        for _, row in frame.iterrows():
            i = position[row["_name"]]
            color = VERDICT_COLORS.get(row["verdict"], "#8c8c8c")
            if np.isfinite(row["estimate"]):
                ax.plot([row[low] * scale, row[high] * scale], [i, i], color=color, lw=2.2,
                        solid_capstyle="butt")
                ax.plot(row["estimate"] * scale, i, "o", color=color, ms=6)
            else:
                ax.text(0, i, "not enough data", va="center", ha="center",
                        fontsize=MIN_FONT_PT, color="#555555")
        ax.axvline(0, color="#444444", lw=0.8)
        _place_rows(ax, rows)
        if finite.any():
            lo = min(0.0, float(frame.loc[finite, low].min()) * scale)
            hi = max(0.0, float(frame.loc[finite, high].max()) * scale)
            pad = 0.08 * (hi - lo or 1.0)
            ax.set_xlim(lo - pad, hi + pad)
        if spec is not None:
            unit = "percentage points" if spec.is_share else spec.unit
            xlabel = f"{unit} when shown"
            if use_adjusted:
                level = frame["adj_level"].dropna()
                xlabel += (f"\nlines: {level.min():.0%} ranges, widened for "
                           f"{int(finite.sum())} behaviours tested")
            else:
                xlabel += "\nlines: 95% ranges, each behaviour alone"
            ax.set_xlabel(xlabel)
            ax.set_title(title or f"Effect on {spec.short_label}", loc="left")
        elif title:
            ax.set_title(title, loc="left")
        seen = set(frame["verdict"])
        handles = [mpl.lines.Line2D([], [], color=c, marker="o", lw=2,
                                    label=VERDICT_LABELS.get(v, v.replace("_", " ")))
                   for v, c in VERDICT_COLORS.items() if v in seen]
        if handles:
            ax.legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9,
                      handlelength=1.2, borderpad=0.3, labelspacing=0.2)
    return ax


def plot_relative_weights(data: pd.DataFrame, *, label: str = "label",
                          ax: Axes | None = None) -> Axes:
    """Bar chart of each behaviour's share of the explained variance, in %.

    Behaviours the model proves a driver are blue, the others grey;
    behaviours without enough data keep their row and say so.
    """
    with chart_theme():
        frame = data.assign(_name=_row_names(data, label))
        frame = frame.sort_values("relative_weight", ascending=False, na_position="last")
        rows = list(frame["_name"])
        ax = _axes(ax, (6.5, 0.3 * max(len(rows), 1) + 1.4))
        shares = frame["relative_weight"].to_numpy(float) * 100
        drives = (frame["verdict"] == "driver").to_numpy()
        ax.barh(np.arange(len(rows)), np.nan_to_num(shares),
                color=[KIT_PALETTE[0] if d else "#bdbdbd" for d in drives])
        for i, share in enumerate(shares):
            if not np.isfinite(share):
                ax.text(0.5, i, "not enough data", va="center", fontsize=8, color="#555555")
        _place_rows(ax, rows)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(decimals=0))
        ax.set_xlabel("share of the explained variance")
        r2 = frame["r_squared"].dropna().iloc[0] if frame["r_squared"].notna().any() else np.nan
        ax.set_title("Relative importance" + (f" (R² = {r2:.2f})" if np.isfinite(r2) else ""),
                     loc="left")
        handles = [mpl.patches.Patch(color=KIT_PALETTE[0], label="proven driver"),
                   mpl.patches.Patch(color="#bdbdbd", label="not a proven driver")]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                  frameon=False)
        if not rows:
            ax.text(0.5, 0.5, "No behaviour has enough data", transform=ax.transAxes,
                    ha="center", va="center", color="#555555")
    return ax


def plot_kpi_by_group(data: pd.DataFrame, *, kpi: str, group: str,
                      highlight: str | None = None, ax: Axes | None = None) -> Axes:
    """A KPI per group with its 95% interval, best at the top (groups without enough
    data are marked). Vendors take their :func:`vendor_colors` colour (in-house
    grey); other groups are grey with ``highlight`` blue. ``highlight`` is in bold."""
    spec = kpi_spec(kpi)
    with chart_theme():
        frame = data[data["kpi"] == kpi].sort_values(
            "value", ascending=spec.better == "lower", na_position="last")
        rows = list(frame[group].astype(str))
        ax = _axes(ax, (6.5, 0.4 * max(len(frame), 1) + 1.3))
        scale = 100.0 if spec.is_share else 1.0
        colors = (vendor_colors(rows) if group == "vendor" else
                  {r: KIT_PALETTE[0] if r == highlight else REFERENCE_COLOR for r in rows})
        middle = np.nanmean(frame["value"]) * scale if frame["value"].notna().any() else 0
        for i, row in enumerate(frame.itertuples()):
            name = str(getattr(row, group))
            size = 9 if name == highlight else 6
            if row.enough_data and np.isfinite(row.value):
                ax.plot([row.ci_low * scale, row.ci_high * scale], [i, i], color=colors[name],
                        lw=2.4 if name == highlight else 1.8)
                ax.plot(row.value * scale, i, "o", color=colors[name], ms=size)
            else:
                ax.text(middle, i, "not enough data", va="center", ha="center", fontsize=8,
                        color="#555555")
        _place_rows(ax, rows)
        for tick in ax.get_yticklabels():
            if tick.get_text() == highlight:
                tick.set_fontweight("bold")
        if spec.is_share:
            ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(decimals=0))
        ax.set_xlabel(f"{spec.label}, with 95% interval")
        ax.set_title(f"{spec.short_label} by {group}", loc="left")
        if frame.empty:
            ax.text(0.5, 0.5, f"No {group} has {spec.short_label} data this month",
                    transform=ax.transAxes, ha="center", va="center", color="#555555")
    return ax


def _bar_values(frame: pd.DataFrame, names: list[str], *, value: str, hue: str | None,
                group) -> np.ndarray:
    """One ``hue`` group's mean ``value`` per row name (NaN where it has none)."""
    part = frame if group is None else frame[frame[hue] == group]
    return part.groupby("_name")[value].mean().reindex(names).to_numpy(float)


def plot_behaviour_adoption(data: pd.DataFrame, *, value: str = "adoption",
                            hue: str | None = None, label: str = "label",
                            ax: Axes | None = None, order: list[str] | None = None,
                            colors: dict[str, str] | None = None,
                            highlight=(), labels: bool = True,
                            title: str = "How often shown",
                            xlabel: str = "% of evaluated contacts showing it") -> Axes:
    """Adoption (share of applicable evaluations where shown) per behaviour, in %.

    Rows run top to bottom in ``order`` (behaviour names; by default the most
    adopted first, averaged over ``hue`` groups). ``colors`` maps a ``hue`` group
    to its colour (default: :data:`KIT_PALETTE` in turn); behaviours in
    ``highlight`` are shaded and their names set in bold. Without ``labels`` (a
    panel beside another that names the rows), every name in ``order`` keeps its
    row, whether it has an adoption or not.
    """
    # Plain matplotlib bars: seaborn's hue legend, once moved, kept every
    # figure alive (about 1 MB a pack over a month of packs).
    with chart_theme():
        frame = data.assign(_name=_row_names(data, label))
        default = frame.groupby("_name", sort=False)[value].mean() \
            .sort_values(ascending=False, kind="stable").index
        # A panel beside another that names the rows keeps every one of its rows, even
        # those with no adoption: its bars must stay level with the other panel's rows.
        names = list(dict.fromkeys([*order, *default])) if not labels and order is not None \
            else _rows(order, default)
        ax = _axes(ax, (PRINT_WIDTH_IN, 0.3 * len(names) + 1.5))
        groups = list(dict.fromkeys(frame[hue])) if hue else [None]
        height = 0.8 / len(groups)
        colors = colors or {}
        for k, group in enumerate(groups):
            values = _bar_values(frame, names, value=value, hue=hue, group=group)
            y = np.arange(len(names)) - 0.4 + height * (k + 0.5)
            ax.barh(y, values, height=height,
                    label=None if group is None else str(group),
                    color=colors.get(group, KIT_PALETTE[k % len(KIT_PALETTE)]))
        marked = set(highlight)
        for i, name in enumerate(names):
            if name in marked:
                ax.axhspan(i - 0.5, i + 0.5, color="#0072B2", alpha=0.08, lw=0, zorder=0)
        if labels:
            _place_rows(ax, names)
            for tick, name in zip(ax.get_yticklabels(), names, strict=True):
                tick.set_fontweight("bold" if name in marked else "normal")
        else:  # a panel beside another that names the rows (a shared y axis)
            ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        if hue:
            ax.legend(loc="lower right", frameon=True, framealpha=0.9, handlelength=1.2,
                      borderpad=0.3, labelspacing=0.2)
    return ax


def drivers_and_adoption_rows(drivers: pd.DataFrame, adoption: pd.DataFrame, *,
                              label: str = "label") -> list[str]:
    """The rows of :func:`plot_drivers_and_adoption`, top to bottom: every behaviour with
    an effect row, largest effect first (with an adoption or not), then behaviours with
    an adoption but no effect row."""
    order = list(drivers.assign(_n=_row_names(drivers, label))
                 .sort_values("estimate", ascending=False, na_position="last")["_n"])
    shown = _row_names(adoption, label)
    return list(dict.fromkeys([*order, *shown]))


def panel_positions(figure: Figure) -> tuple[Bbox, ...]:
    """Where a drawn figure's axes sit (fractions of the figure), for ``panels_at``."""
    return tuple(ax.get_position(original=True).frozen() for ax in figure.axes)


def set_adoption(figure: Figure, adoption: pd.DataFrame, *, hue: str,
                 label: str = "label", value: str = "adoption") -> Figure:
    """Give a drawn :func:`plot_drivers_and_adoption` figure the adoption bars of
    ``adoption`` instead, and return it.

    For another team of the same site: the same effects, rows, groups (``hue``)
    and titles, whose figures differ only in the bar lengths inside the adoption
    panel. Changing those is far cheaper than building the figure again, and the
    SVG is the same. Quickest on a figure placed with ``panels_at`` (it has no
    layout engine, so saving it is one draw); a laid-out figure is drawn once more
    and its layout then kept. ``adoption`` must have the figure's groups, in its
    order, and only behaviours among its rows (a figure for ``adoption`` would
    have a row for any other): otherwise ``ValueError``.
    """
    if isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine):
        # Laid out as figure_svg lays it out (at the SVG's 72 dpi, in the theme), then
        # kept: only the bars change.
        figure_svg(figure)
        figure.set_layout_engine("none")
    left, right = figure.axes[:2]
    rows = [tick.get_text() for tick in left.get_yticklabels()]
    frame = adoption.assign(_name=_row_names(adoption, label))
    groups = list(dict.fromkeys(frame[hue]))
    drawn = [bars.get_label() for bars in right.containers]
    if [str(g) for g in groups] != drawn:
        raise ValueError(f"the figure's adoption groups are {drawn}, not {groups}")
    if extra := sorted(set(frame["_name"]) - set(rows)):
        raise ValueError(f"the figure has no row for {extra}")
    for bars, group in zip(right.containers, groups, strict=True):
        for bar, width in zip(bars, _bar_values(frame, rows, value=value, hue=hue,
                                                group=group), strict=True):
            bar.set_width(width)
    return figure


def plot_drivers_and_adoption(drivers: pd.DataFrame, adoption: pd.DataFrame, *,
                              hue: str, colors: dict[str, str] | None = None,
                              label: str = "label", titles: tuple[str, str] | None = None,
                              adoption_label: str = "% of evaluated contacts",
                              panels_at: tuple[Bbox, Bbox] | None = None) -> Figure:
    """One figure, one row per behaviour: its effect (:func:`plot_drivers`) on the left
    and its adoption (:func:`plot_behaviour_adoption`) on the right, in the same
    order (largest effect first), drivers highlighted in both. Drawn at the
    report's print width, so its text prints at :data:`MIN_FONT_PT` or more.

    The panels are placed by matplotlib's constrained layout, unless ``panels_at``
    gives their places (:func:`panel_positions` of a drawn figure with the same
    effects, rows, groups and titles, whose layout only the adoption bars inside
    the right panel would change): the layout, a dry draw of the whole figure,
    is then skipped (about half the time of a team chart), the bytes are the same.
    For the next teams of a site, :func:`set_adoption` changes only the bars.
    """
    with chart_theme():
        rows = drivers_and_adoption_rows(drivers, adoption, label=label)
        names = _row_names(drivers, label)
        figure = Figure(figsize=(PRINT_WIDTH_IN, 0.24 * len(rows) + 1.25),
                        layout="none" if panels_at else "constrained")
        left, right = figure.subplots(1, 2, sharey=True, width_ratios=(1.25, 1))
        plot_drivers(drivers, label=label, ax=left, order=rows,
                     title=titles[0] if titles else None)
        driving = set(names[drivers["verdict"].eq("driver").to_numpy()])
        plot_behaviour_adoption(adoption, hue=hue, label=label, ax=right, order=rows,
                                colors=colors, highlight=driving, labels=False,
                                title=titles[1] if titles else "How often shown",
                                xlabel=adoption_label)
        # One legend for both panels, under them (not over any point or bar).
        handles, texts = [], []
        for ax in (left, right):
            legend = ax.get_legend()
            if legend is not None:
                handles += legend.legend_handles
                texts += [t.get_text() for t in legend.get_texts()]
                legend.remove()
        if handles:
            figure.legend(handles=handles, labels=texts, loc="outside lower center",
                          ncol=len(handles), frameon=False, handlelength=1.5,
                          columnspacing=1.5)
        if panels_at:
            for ax, place in zip((left, right), panels_at, strict=True):
                ax.set_position(place)
        else:
            figure.get_layout_engine().set(wspace=0.06)
        for tick, name in zip(left.get_yticklabels(), rows, strict=True):
            tick.set_fontweight("bold" if name in driving else "normal")
        for i, name in enumerate(rows):
            if name in driving:
                left.axhspan(i - 0.5, i + 0.5, color="#0072B2", alpha=0.08, lw=0, zorder=0)
        right.tick_params(axis="y", length=0)
    return figure


def plot_coaching_effects(data: pd.DataFrame, *, ax: Axes | None = None,
                          label: str = "group") -> Axes:
    """Coaching lift per session, per group, with 95% intervals, in percentage points
    (:func:`cxreports.analyses.coaching.compute_coaching_effectiveness`); largest
    lift at the top, coloured by verdict."""
    with chart_theme():
        frame = data.sort_values("lift", ascending=False, na_position="last")
        rows = list(frame[label].astype(str))
        ax = _axes(ax, (PRINT_WIDTH_IN, 0.3 * max(len(frame), 1) + 1.4))
        for i, row in enumerate(frame.itertuples()):
            color = VERDICT_COLORS.get(row.verdict, "#8c8c8c")
            if np.isfinite(row.lift):
                ax.plot([100 * row.ci_low, 100 * row.ci_high], [i, i], color=color, lw=2.2)
                ax.plot(100 * row.lift, i, "o", color=color)
            else:
                ax.text(0, i, "not enough data", va="center", ha="center",
                        fontsize=MIN_FONT_PT, color="#555555")
        ax.axvline(0, color="#444444", lw=0.8)
        _place_rows(ax, rows)
        ax.set_xlabel("change per session in % of evaluated contacts showing the "
                      "behaviour (percentage points)")
        ax.set_title("Did coaching work?", loc="left")
        seen = set(frame["verdict"])
        handles = [mpl.lines.Line2D([], [], color=c, marker="o", lw=2,
                                    label=VERDICT_LABELS.get(v, v.replace("_", " ")))
                   for v, c in VERDICT_COLORS.items() if v in seen]
        if handles:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                      ncol=len(handles), frameon=False)
    return ax


def _month_tick(value) -> str:
    """``2026-07`` as ``Jul 2026``; anything else as it is."""
    text = str(value)
    try:
        return pd.Period(text, freq="M").strftime("%b %Y") if len(text) == 7 else text
    except ValueError:
        return text


def _readable(name) -> str:
    text = str(name)
    return text.replace("_", " ").capitalize() if "_" in text and " " not in text else text


def plot_trend_lines(data: pd.DataFrame, *, x: str = "period", y: str = "value",
                     hue: str = "behavior_id", ax: Axes | None = None,
                     title: str = "Trend", highlight=None, max_highlight: int = 3,
                     percent: bool = False, ylabel: str | None = None,
                     xlabel: str = "", names: dict | None = None,
                     target: float | None = None) -> Axes:
    """Lines of ``y`` over ``x`` (months or counts), one per ``hue``.

    Up to ``max_highlight`` lines are drawn in the kit's palette; with more,
    only ``highlight`` (default: the lines that changed most from the first
    ``x`` to the last) are coloured and labelled, the rest thin grey, so ten
    lines stay readable. ``names`` maps ``hue`` values to what a reader sees
    (snake_case ids otherwise lose their underscores); ``percent`` prints a
    0-1 ``y`` as %; ``target`` draws a dashed line at that ``y``.
    """
    with chart_theme():
        ax = _axes(ax, (6.5, 3.4))
        frame = data.dropna(subset=[y]).sort_values(x)
        xs = list(dict.fromkeys(frame[x]))
        numeric = pd.api.types.is_numeric_dtype(frame[x])
        position = {v: (float(v) if numeric else i) for i, v in enumerate(xs)}
        series = {key: part.assign(_x=part[x].map(position)).sort_values("_x")
                  for key, part in frame.groupby(hue, sort=False)}
        names = names or {}
        if len(series) <= max_highlight:
            chosen = list(series)
        elif highlight is not None:
            chosen = [h for h in highlight if h in series]
        else:
            change = {k: abs(s[y].iloc[-1] - s[y].iloc[0]) for k, s in series.items()}
            chosen = sorted(change, key=change.get, reverse=True)[:max_highlight]
        for key, part in series.items():
            if key not in chosen:
                ax.plot(part["_x"], part[y], color="#c4c4c4", lw=1, zorder=1)
        for k, key in enumerate(chosen):
            part = series[key]
            ax.plot(part["_x"], part[y], color=KIT_PALETTE[k % len(KIT_PALETTE)], lw=2.2,
                    marker="o" if len(part) <= 12 else None, ms=5, zorder=3,
                    label=names.get(key, _readable(key)))
        others = len(series) - len(chosen)
        if others:
            ax.plot([], [], color="#c4c4c4", lw=1, label=f"{others} others (grey)")
        if target is not None:
            ax.axhline(target, color=REFERENCE_COLOR, lw=1, ls="--", zorder=2,
                       label=f"target ({target:.0%})" if percent else f"target ({target:g})")
        if not numeric:
            ax.set_xticks(range(len(xs)), [_month_tick(v) for v in xs])
        if percent:
            ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel if ylabel is not None else _readable(y))
        ax.set_title(title, loc="left")
        if series and (len(series) > 1 or others or target is not None):
            ax.legend(loc="upper left", bbox_to_anchor=(1, 1), frameon=False,
                      title="Largest changes" if others and highlight is None else None)
        if not series:
            ax.text(0.5, 0.5, "Not enough data to draw a trend", transform=ax.transAxes,
                    ha="center", va="center", color="#555555")
    return ax


def plot_agent_ranks(data: pd.DataFrame, *, ax: Axes | None = None,
                     title: str = "QA score vs customer outcome, per agent",
                     kpi: str | None = None) -> Axes:
    """Scatter of shrunk QA score against shrunk KPI per eligible agent (rasterised);
    QA (and a share ``kpi``) in %. Says so when no agent has enough data."""
    spec = kpi_spec(kpi) if kpi else None
    with chart_theme():
        frame = data[data["eligible"].astype(bool)]
        ax = _axes(ax, (5.5, 4.2))
        ax.scatter(frame["qa_shrunk"], frame["kpi_shrunk"], s=16, alpha=0.75,
                   color=KIT_PALETTE[0], rasterized=True)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(xmax=1, decimals=0))
        if spec is not None and spec.is_share:
            ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel("QA score (shrunk toward the group mean)")
        ax.set_ylabel(f"{spec.label if spec else 'KPI'} (shrunk)")
        ax.set_title(title, loc="left")
        if frame.empty:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "No agent has enough evaluations and survey answers",
                    transform=ax.transAxes, ha="center", va="center", color="#555555")
        else:
            ax.text(0.99, 0.02, f"{len(frame)} agents with enough data", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=8, color="#555555")
    return ax


# --------------------------------------------------------------------------- scorecard

#: Axis label of a KPI panel, from how the catalogue says its value is formed.
_PANEL_AXIS = {"mean": "mean answer", "share": "% of contacts", "top_box": "% of answers",
               "nps": "% promoters − % detractors"}


def _panel_axis(spec) -> str:
    """The y label: how the value is formed, with the scale the label names ("1-5")."""
    axis = _PANEL_AXIS.get(spec.summary, "")
    scale = spec.label[spec.label.find("(") + 1:spec.label.rfind(")")] \
        if "(" in spec.label and spec.summary == "mean" else ""
    return f"{axis} ({scale})" if scale else axis


def _panel_value(kpi: str, value: float) -> str:
    spec = kpi_spec(kpi)
    if spec.is_share:
        return f"{value * 100:.{spec.digits}f}%"
    return f"{value:,.{spec.digits}f}"


def plot_kpi_panels(data: pd.DataFrame, *, kpis, months, targets: dict | None = None,
                    colors: dict | None = None, groups=None,
                    width: float = PRINT_WIDTH_IN) -> Figure:
    """Small multiples for a scorecard: one panel per KPI, each on its own scale.

    ``data`` holds :func:`cxreports.analyses.kpi_summary.compute_kpi_summary`
    rows for several months (``kpi``, ``period``, ``value``, ``ci_low``,
    ``ci_high``, ``enough_data``) and a ``who`` column naming the group. The
    first of ``groups`` is drawn with its 95% intervals; any other (the
    reference) as a thin line without them, named "(reference)" in the
    legend. ``targets`` maps a KPI to its target, drawn as a dashed line; a
    month with too few responses is marked "too few" rather than drawn.
    Shares are plotted in percent. The last of ``months`` (the report month)
    is shaded. Sized to print at ``width`` inches (the text width), so the
    text is :data:`MIN_FONT_PT` or more on the page.
    """
    kpis = list(kpis)
    months = [str(m) for m in months]
    targets = targets or {}
    groups = list(groups) if groups is not None else list(dict.fromkeys(data["who"]))
    colors = colors or {}
    ncols = 2 if len(kpis) > 1 else 1
    nrows = -(-len(kpis) // ncols)
    with chart_theme(), mpl.rc_context({"font.size": MIN_FONT_PT,
                                                          "axes.labelsize": MIN_FONT_PT}):
        figure = Figure(figsize=(width, 1.5 * nrows + 0.45), layout="constrained")
        axes = np.atleast_1d(figure.subplots(nrows, ncols, squeeze=False).ravel())
        x = np.arange(len(months))
        ticks = [pd.Period(m, "M").strftime("%b") for m in months]
        ticks[-1] = pd.Period(months[-1], "M").strftime("%b %Y")
        for ax, kpi in zip(axes, kpis, strict=False):
            spec = kpi_spec(kpi)
            scale = 100.0 if spec.is_share else 1.0
            ax.axvspan(len(months) - 1.45, len(months) - 0.55, color="#f0f0f0", zorder=0)
            seen = []
            for k, who in enumerate(groups):
                part = data[(data["kpi"] == kpi) & (data["who"] == who)].set_index("period")
                part = part.reindex(months)
                ok = part["enough_data"].fillna(False).astype(bool).to_numpy() \
                    & part["value"].notna().to_numpy()
                color = colors.get(who, KIT_PALETTE[k % len(KIT_PALETTE)])
                value = part["value"].to_numpy(float) * scale
                if k == 0:
                    low = part["ci_low"].to_numpy(float) * scale
                    high = part["ci_high"].to_numpy(float) * scale
                    ax.errorbar(x[ok], value[ok], yerr=[value[ok] - low[ok], high[ok] - value[ok]],
                                color=color, marker="o", ms=5, lw=1.6, capsize=3, zorder=3)
                    seen += list(low[ok]) + list(high[ok])
                    for i in np.flatnonzero(~ok):
                        ax.text(x[i], 0.04, "too few", transform=ax.get_xaxis_transform(),
                                ha="center", fontsize=MIN_FONT_PT, color="#555555")
                else:
                    ax.plot(x[ok], value[ok], color=color, marker="s", ms=3.5, lw=1.0,
                            zorder=2)
                    seen += list(value[ok])
            target = targets.get(kpi)
            if target is not None and np.isfinite(target):
                ax.axhline(target * scale, color="#333333", ls="--", lw=1.0, zorder=1)
                ax.annotate(f"target {_panel_value(kpi, target)}", (1.0, target * scale),
                            xycoords=("axes fraction", "data"), xytext=(-2, 3),
                            textcoords="offset points", ha="right", va="bottom",
                            fontsize=MIN_FONT_PT, color="#333333")
                seen.append(target * scale)
            if seen:
                lo, hi = float(np.nanmin(seen)), float(np.nanmax(seen))
                pad = max((hi - lo) * 0.18, 0.02 * max(abs(hi), 1.0))
                ax.set_ylim(lo - pad, hi + pad)
            if spec.is_share:
                ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(xmax=100, decimals=0))
            ax.set_xticks(x, ticks)
            ax.set_xlim(-0.5, len(months) - 0.5)
            # A long axis label on two lines, so it stays beside its own (short) panel.
            axis = _panel_axis(spec)
            if len(axis) > 16:
                axis = axis.replace(" (", "\n(", 1) if " (" in axis \
                    else axis.replace(" − ", "\n− ", 1)
            ax.set_ylabel(axis)
            ax.set_title(f"{spec.short_label} by month")
        for ax in axes[len(kpis):]:
            ax.set_visible(False)
        handles = [mpl.lines.Line2D([], [], color=colors.get(groups[0], KIT_PALETTE[0]),
                                    marker="o", lw=1.6, label=f"{groups[0]}, with 95% interval")]
        handles += [mpl.lines.Line2D([], [], color=colors.get(g, KIT_PALETTE[i + 1]),
                                     marker="s", ms=3.5, lw=1.0, label=f"{g} (reference)")
                    for i, g in enumerate(groups[1:])]
        handles.append(mpl.lines.Line2D([], [], color="#333333", ls="--", lw=1.0,
                                        label="target"))
        figure.legend(handles=handles, loc="outside lower center", ncol=len(handles),
                      frameon=False)
    return figure


def legend_below(ax: Axes) -> Axes:
    """Move an axes' legend under the figure, in one row, so it covers no bar or point."""
    legend = ax.get_legend()
    if legend is not None:
        handles = list(legend.legend_handles)
        texts = [t.get_text() for t in legend.get_texts()]
        legend.remove()
        with chart_theme():  # the kit's font and sizes, as the rest of the chart
            ax.figure.legend(handles=handles, labels=texts, loc="outside lower center",
                             ncol=len(texts), frameon=False)
    return ax
