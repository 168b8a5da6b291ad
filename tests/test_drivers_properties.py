"""Degenerate input never crashes the drivers model or yields a NaN verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cxreports.analyses.drivers import compute_drivers, compute_heterogeneity

BEHAVIORS = ["b1", "b2", "b3"]
VERDICTS = {"driver", "no_evidence", "insufficient_data", "harmful", "association"}


@st.composite
def frames(draw):
    n = draw(st.integers(0, 260))
    agents = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "agent_id": [f"a{i}" for i in rng.integers(0, agents, n)],
        "site": rng.choice(["x", "y"], n),
    })
    for b in BEHAVIORS:
        mode = draw(st.sampled_from(["binary", "constant", "all_na", "some_na", "fraction"]))
        values = rng.integers(0, 2, n).astype(float)
        if mode == "constant":
            values[:] = 1.0
        elif mode == "all_na":
            values[:] = np.nan
        elif mode == "some_na":
            values[rng.random(n) < 0.5] = np.nan
        elif mode == "fraction":
            values = rng.choice([0.0, 0.5, 1.0], n)
        frame[b] = values
    kpi_mode = draw(st.sampled_from(["normal", "none", "constant"]))
    csat = rng.integers(1, 6, n).astype(float)
    fcr = rng.random(n) < 0.7
    if kpi_mode == "none":
        csat[:] = np.nan
    elif kpi_mode == "constant":
        csat[:] = 5.0
        fcr[:] = True
    frame["csat"] = csat
    frame["fcr"] = pd.array(fcr, dtype="boolean")
    if kpi_mode == "none":
        frame["fcr"] = pd.array([pd.NA] * n, dtype="boolean")
    return frame


@settings(max_examples=60, deadline=None)
@given(frame=frames(), kpi=st.sampled_from(["csat", "fcr"]), by=st.sampled_from([None, "site"]))
def test_degenerate_input_gives_verdicts_not_errors(frame, kpi, by):
    out = compute_drivers(frame, kpi=kpi, behaviors=BEHAVIORS, group_by=by)
    assert set(out["verdict"]) <= VERDICTS
    assert out["verdict"].notna().all()
    shown = out[out["verdict"] != "insufficient_data"]
    assert shown[["estimate", "ci_low", "ci_high", "p_value"]].notna().all().all()
    het = compute_heterogeneity(out)
    assert het.empty or het["verdict"].notna().all()
