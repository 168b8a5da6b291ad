"""Faster paths compute what the code or library they replace computes.

Each shortcut exists for speed at 7,500 agents (see benchmarks/bench_volume.py);
the references are the library calls they replaced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from cxreports.analyses import calibration
from cxreports.analyses.rankings import _resample_ranks
from cxreports.analyses.stats import bh_qvalues_by

p_values = st.lists(st.one_of(st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0, np.nan]),
                              st.floats(0, 1)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(p=p_values, seed=st.integers(0, 2**32 - 1))
def test_grouped_q_values_are_statsmodels_bh_within_each_group(p, seed):
    p = np.array(p, dtype=float)
    groups = np.random.default_rng(seed).choice(np.array(["a", "b", "c", None], object),
                                                len(p))
    expected = np.full(len(p), np.nan)
    for g in {x for x in groups if x is not None}:
        mine = np.flatnonzero((groups == g) & np.isfinite(p))
        if len(mine):
            expected[mine] = multipletests(p[mine], method="fdr_bh")[1]
    np.testing.assert_array_equal(bh_qvalues_by(p, groups), expected)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 60), distinct=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_resample_ranks_are_scipy_average_ranks(n, distinct, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, distinct, n) / 2  # ties, and half steps as ranks have
    draws = rng.integers(0, n, (30, n))
    np.testing.assert_array_equal(_resample_ranks(values, draws),
                                  scipy.stats.rankdata(values[draws], axis=1))


def _calibration_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    units = np.repeat(rng.permutation(60).astype(str), rng.integers(1, 4, 60))
    frame = pd.DataFrame({"interaction_id": units, "evaluation_id": np.arange(len(units)),
                          "vendor": np.where(rng.random(len(units)) < 0.5, "v1", "v2")})
    frame["b1"] = rng.integers(0, 2, len(units)).astype(float)
    frame["b2"] = np.where(rng.random(len(units)) < 0.3, np.nan, rng.choice([0, 0.5, 1],
                                                                            len(units)))
    frame["b3"] = 1.0
    return frame


def test_agreement_in_blocks_is_the_one_draw_agreement(monkeypatch):
    frame = _calibration_frame(1)
    whole = calibration.compute_agreement(frame, behaviors=["b1", "b2", "b3"],
                                          group_by="vendor", n_boot=200, min_interactions=5)
    monkeypatch.setattr(calibration, "_BOOTSTRAP_CELLS", 7)  # a few resamples per block
    blocks = calibration.compute_agreement(frame, behaviors=["b1", "b2", "b3"],
                                           group_by="vendor", n_boot=200, min_interactions=5)
    # The same resamples; BLAS may round a block's sums differently in the last bit.
    pd.testing.assert_frame_equal(blocks, whole, check_exact=False, rtol=1e-12, atol=1e-12)
    assert whole["alpha_ci_low"].notna().any()


def test_agreement_estimates_are_those_of_the_per_unit_functions():
    frame = _calibration_frame(2)
    found = calibration.compute_agreement(frame, behaviors=["b1", "b2"], n_boot=0,
                                          min_interactions=5).set_index("behavior_id")
    for b in ("b1", "b2"):
        units = [v.to_numpy(float) for _, v in frame[["interaction_id", b]].dropna()
                 .groupby("interaction_id")[b]]
        units = [u for u in units if len(u) >= 2]
        assert found.at[b, "n_interactions"] == len(units)
        assert found.at[b, "n_ratings"] == sum(map(len, units))
        assert found.at[b, "alpha"] == calibration.krippendorff_alpha(units)
        assert found.at[b, "ac1"] == calibration.gwet_ac1(units)
