"""Helpers notebooks use to show tables and figures.

:func:`show_table` displays a frame as usual and also attaches it, as JSON
records, under the MIME type ``application/vnd.cxreports.table+json``: the
executed notebook then carries the exact numbers it showed, which the tests
(and auditors) read back and compare with the library.
"""

from __future__ import annotations

import json

import pandas as pd
from matplotlib.axes import Axes

from .charts import figure_png

__all__ = ["TABLE_MIME", "show_figure", "show_table"]

TABLE_MIME = "application/vnd.cxreports.table+json"


def show_table(frame: pd.DataFrame, name: str, *, max_rows: int = 60) -> None:
    """Display ``frame`` and attach its records under :data:`TABLE_MIME`."""
    from IPython.display import display

    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    shown = frame.head(max_rows)
    display({
        "text/html": shown.to_html(index=False, float_format=lambda x: f"{x:,.3f}"),
        "text/plain": shown.to_string(index=False),
        TABLE_MIME: {"name": name, "columns": list(frame.columns), "records": records},
    }, raw=True)


def show_figure(ax: Axes, *, alt: str = "") -> None:
    """Display a chart as PNG (works under any matplotlib backend)."""
    from IPython.display import Image, display

    display(Image(data=figure_png(ax, dpi=110), metadata={"alt": alt}))
