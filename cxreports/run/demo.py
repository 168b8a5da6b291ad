"""The demo: the sample contact centre through the whole monthly run."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from ..core.resources import params_dir
from ..data.sample import write_sample_data
from .monthly import run_monthly
from .params import load_params

__all__ = ["DEMO_PERIOD", "run_demo"]

DEMO_PERIOD = "2026-10"
DEMO_PARAMS = params_dir() / "demo.yaml"


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
    params = load_params(DEMO_PARAMS, source=str(source), out=str(out))
    return run_monthly(params, params_file=DEMO_PARAMS, console=console).exit_code
