"""Drivers for 4 KPIs x every site and vendor on 1M joined QA-survey contacts.

Target (issue 3): <= 20 s on 2 cores. The joined frame (what
``evaluated_contacts`` returns) is generated here with planted effects, so
the figure is the statistics alone: 4 KPIs x (10 sites + 3 vendors) models,
each with clustered errors, q-values and a Shapley R^2 decomposition.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from cxreports.analyses.drivers import compute_drivers

BEHAVIORS = [f"b{i}" for i in range(10)]


def joined_frame(n: int, agents: int = 7_500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    agent = rng.integers(0, agents, n)
    x = (rng.random((n, len(BEHAVIORS))) < 0.6).astype(float)
    x[rng.random(n) < 0.6, 7] = np.nan  # an often-N/A behaviour
    shown = np.nan_to_num(x)
    effect = np.array([0.4, 0.3, 0.25, 0, 0, 0, 0.2, 0, 0, 0])
    lin = shown @ effect
    frame = pd.DataFrame(x, columns=BEHAVIORS)
    frame["agent_id"] = agent
    frame["site"] = "site" + (agent % 10).astype(str)
    frame["vendor"] = "vendor" + (agent % 3).astype(str)
    frame["csat"] = np.clip(np.round(3 + lin + rng.normal(0, 0.7, n)), 1, 5)
    frame["nps"] = np.clip(np.round(6 + 2 * lin + rng.normal(0, 1.5, n)), 0, 10)
    frame["ces"] = np.clip(np.round(4 + lin + rng.normal(0, 0.9, n)), 1, 7)
    frame["fcr"] = rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 2 * lin)))
    return frame


def run(work: Path, scale: float = 1.0) -> dict:
    n = int(1_000_000 * scale)
    frame = joined_frame(n)
    timings = {}
    t0 = time.perf_counter()
    for kpi in ("csat", "nps", "ces", "fcr"):
        t = time.perf_counter()
        for by in ("site", "vendor"):
            out = compute_drivers(frame, kpi=kpi, behaviors=BEHAVIORS, group_by=by)
            assert set(out.loc[out["behavior_id"] == "b0", "verdict"]) == {"driver"}
        timings[kpi] = round(time.perf_counter() - t, 2)
    total = time.perf_counter() - t0
    return {"joined_rows": n, "models": 4 * 13, "seconds_per_kpi": timings,
            "seconds": round(total, 2), "target_seconds": 20 * scale,
            "met": total <= 20 * scale}
