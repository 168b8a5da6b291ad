"""The demo: the sample contact centre through everything the kit can do."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from .analysis import Analysis
from .sample import write_sample_data
from .tables import write_tables
from .validation import validate_source

__all__ = ["run_demo"]

DEMO_PERIOD = "2026-10"


def run_demo(out: str | os.PathLike, *, console: Console | None = None) -> int:
    """Write the sample to ``out/data``, validate it, and write what exists so far.

    Returns the exit code (0 all clean, 1 rows set aside).
    """
    console = console or Console()
    out = Path(out)
    source = out / "data"
    if not (source / "interactions.csv").exists():
        console.print(f"writing the sample contact centre to {source}")
        write_sample_data(source, last_period=DEMO_PERIOD)
    data = validate_source(source)
    from .cli import print_validation

    print_validation(data)
    data.write_rejects(out / "rejects")
    tables = write_tables(Analysis(data, period=DEMO_PERIOD), out / "tables")
    console.print(f"{len(tables)} tables written to {out / 'tables'}", highlight=False)
    console.print(f"demo outputs in {out.resolve()}", highlight=False)
    return 1 if data.rows_set_aside else 0
