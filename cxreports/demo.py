"""The demo: the sample contact centre through the whole monthly run."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from .monthly_run import run_monthly
from .params import RunParams, load_params
from .sample import write_sample_data

__all__ = ["DEMO_PERIOD", "run_demo"]

DEMO_PERIOD = "2026-10"
DEMO_PARAMS = Path(__file__).resolve().parents[1] / "params" / "demo.yaml"


def run_demo(out: str | os.PathLike, *, console: Console | None = None) -> int:
    """Write the sample to ``out/data`` (once) and run ``params/demo.yaml`` on it into ``out``.

    Returns the run's exit code.
    """
    console = console or Console(stderr=True)
    out = Path(out)
    source = out / "data"
    if not (source / "interactions.csv").exists():
        console.print(f"writing the sample contact centre to {source}", highlight=False)
        write_sample_data(source, last_period=DEMO_PERIOD)
    overrides = {"source": str(source), "out": str(out)}
    if DEMO_PARAMS.exists():
        params = load_params(DEMO_PARAMS, **overrides)
    else:  # installed without the project's params/: the same defaults
        params = RunParams(period=DEMO_PERIOD, **overrides)
    outcome = run_monthly(params, params_file=DEMO_PARAMS if DEMO_PARAMS.exists() else None,
                          console=console)
    return outcome.exit_code
