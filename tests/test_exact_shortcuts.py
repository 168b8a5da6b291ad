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


def _weighted_r2(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """R^2 of the weighted least-squares fit of ``y`` on ``x`` with an intercept."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x]) * np.sqrt(w)[:, None]
    beta = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)[0]
    resid = y - np.column_stack([np.ones(len(y)), x]) @ beta
    mean = np.average(y, weights=w)
    return 1 - float(w @ resid**2) / float(w @ (y - mean) ** 2)


@settings(max_examples=60, deadline=None)
@given(n_players=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       collinear=st.booleans(), constant=st.booleans(), grouped=st.booleans(),
       weighted=st.booleans())
def test_shapley_shares_are_the_definition_over_every_subset_fit(
        n_players, seed, collinear, constant, grouped, weighted):
    from itertools import combinations
    from math import factorial

    from cxreports.analyses.stats import shapley_r2

    rng = np.random.default_rng(seed)
    n = 80
    x = rng.normal(size=(n, n_players + 1))
    if constant:  # not the column copied below (unless there are only two)
        x[:, 1 if x.shape[1] > 2 else 0] = 3.0
    if collinear:  # an exact copy: a singular subset, fitted by minimum norm
        x[:, -1] = x[:, 0]
    y = x @ rng.normal(size=x.shape[1]) + rng.normal(size=n)
    w = rng.uniform(0.2, 2, n) if weighted else np.ones(n)
    players = [[j] for j in range(n_players - 1)] + [[n_players - 1, n_players]] if grouped \
        else [[j] for j in range(n_players + 1)]
    k = len(players)
    r2 = {s: _weighted_r2(x[:, [j for m in s for j in players[m]]], y, w)
          for size in range(k + 1) for s in combinations(range(k), size)}
    expected = [sum(factorial(len(s)) * factorial(k - len(s) - 1) / factorial(k)
                    * (r2[tuple(sorted((*s, j)))] - r2[s]) for s in r2 if j not in s)
                for j in range(k)]
    got = shapley_r2(x, y, players=players, weights=w if weighted else None)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
