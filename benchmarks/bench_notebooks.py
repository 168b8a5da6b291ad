"""Time per executed notebook and for the whole set, sequential vs parallel (issue 4).

Runs every notebook for each vendor of the built-in-size sample, once with one
worker and once with two.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from cxreports.analyses.analysis import Analysis
from cxreports.data.sample import write_sample_data
from cxreports.run.notebooks import list_notebooks, plan_notebook_jobs, run_notebooks


def run(work: Path, scale: float = 1.0) -> dict:
    source = write_sample_data(work / "nb-sample", agents=max(20, int(120 * scale)))
    analysis = Analysis.from_source(source, period="2026-10")
    groups = {"vendor": sorted(analysis.team["vendor"].unique())}
    out = {}
    for workers in (1, 2):
        jobs = plan_notebook_jobs(notebooks=list_notebooks(), groups=groups, source=str(source),
                                  period="2026-10", kpis=["csat", "nps", "fcr", "ces"],
                                  out_dir=work / f"nb-{workers}")
        t = time.perf_counter()
        results = run_notebooks(jobs, workers=workers)
        wall = time.perf_counter() - t
        assert all(r.status == "ok" for r in results), [r.error for r in results]
        per = {}
        for r in results:
            per.setdefault(r.notebook, []).append(r.seconds)
        out[f"workers_{workers}"] = {
            "notebooks": len(results), "wall_seconds": round(wall, 1),
            "median_seconds_per_notebook": {k: round(statistics.median(v), 1)
                                            for k, v in per.items()}}
    out["speedup"] = round(out["workers_1"]["wall_seconds"] / out["workers_2"]["wall_seconds"], 2)
    return out
