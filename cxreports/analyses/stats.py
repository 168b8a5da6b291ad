"""Small statistical building blocks shared by the analyses.

Each function names its reference. They take and return numpy arrays or
pandas objects and never print or draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "bh_qvalues",
    "bh_qvalues_by",
    "holm_adjusted",
    "mean_interval",
    "mean_interval_from",
    "nps_interval",
    "nps_interval_from",
    "pool_random_effects",
    "shapley_r2",
    "wls_cluster",
    "shrink_means",
    "wilson_interval",
]


def bh_qvalues(p_values: np.ndarray | pd.Series) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN.

    Reference: Benjamini, Y. & Hochberg, Y. (1995). Controlling the false
    discovery rate. JRSS B 57(1), 289-300.

    Examples
    --------
    >>> bh_qvalues([0.01, 0.04, np.nan, 0.03]).round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    return _adjusted(p_values, "fdr_bh")


def bh_qvalues_by(p_values: np.ndarray | pd.Series, groups: np.ndarray | pd.Series
                  ) -> np.ndarray:
    """:func:`bh_qvalues` within each group of ``groups`` (NaN group: NaN).

    One sort of all p-values by group instead of a call per group (7,500
    agents' families at once); the arithmetic is statsmodels' step for step
    (``p / (rank / n)``, reversed running minimum, capped at 1), so the
    q-values are the same to the last bit.

    Examples
    --------
    >>> bh_qvalues_by([0.01, 0.04, 0.02, 0.03], ["a", "a", "b", "b"]).round(3).tolist()
    [0.02, 0.04, 0.03, 0.03]
    """
    p = np.asarray(p_values, dtype=float)
    codes = pd.factorize(np.asarray(groups, dtype=object))[0]
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(np.isfinite(p) & (codes >= 0))
    if not len(idx):
        return out
    order = idx[np.lexsort((p[idx], codes[idx]))]
    group = codes[order]
    start = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    size = np.diff(np.r_[start, len(order)])
    rank = np.arange(len(order)) - np.repeat(start, size) + 1
    raw = p[order] / (rank / np.repeat(size, size).astype(float))
    running_min = pd.Series(raw[::-1]).groupby(group[::-1]).cummin().to_numpy()[::-1]
    out[order] = np.minimum(running_min, 1.0)
    return out


def holm_adjusted(p_values: np.ndarray | pd.Series) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control); NaN stays NaN.

    Reference: Holm, S. (1979). A simple sequentially rejective multiple test
    procedure. Scandinavian Journal of Statistics 6(2), 65-70.

    Examples
    --------
    >>> holm_adjusted([0.01, 0.04, np.nan, 0.03]).round(3).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    return _adjusted(p_values, "holm")


def _adjusted(p_values: np.ndarray | pd.Series, method: str) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def wilson_interval(successes, n, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (NaN where ``n`` is 0).

    Reference: Wilson, E. B. (1927). Probable inference, the law of
    succession, and statistical inference. JASA 22, 209-212.
    """
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    low = np.full(np.broadcast(successes, n).shape, np.nan)
    high = low.copy()
    ok = n > 0
    if np.any(ok):
        lo, hi = proportion_confint(successes[ok], n[ok], alpha=1 - level, method="wilson")
        low[ok], high[ok] = lo, hi
    return low, high


def mean_interval(values: pd.Series, *, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean with a t interval: ``(mean, low, high, n)``; NaN bounds below n=2."""
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    n = len(x)
    return mean_interval_from(n, float(x.mean()) if n else np.nan,
                              float(x.var(ddof=1)) if n > 1 else np.nan, level=level)


def mean_interval_from(n: int, mean: float, variance: float, *,
                       level: float = 0.95) -> tuple[float, float, float, int]:
    """:func:`mean_interval` from a count, mean and sample variance (``ddof=1``).

    What a database aggregate gives, so a mean over millions of rows never
    needs the rows in memory.

    >>> mean_interval_from(4, 2.5, 5 / 3) == mean_interval(pd.Series([1, 2, 3, 4]))
    True
    """
    n = int(n)
    if n == 0:
        return (np.nan, np.nan, np.nan, 0)
    if n < 2:
        return (float(mean), np.nan, np.nan, n)
    half = st.t.ppf(0.5 + level / 2, n - 1) * np.sqrt(variance) / np.sqrt(n)
    return (float(mean), float(mean - half), float(mean + half), n)


def nps_interval(scores: pd.Series, *, level: float = 0.95) -> tuple[float, float, float, int]:
    """Net Promoter Score (promoters 9-10 minus detractors 0-6, in points) with a Wald interval.

    The variance of the difference of two multinomial shares is
    ``(p + d - (p - d)^2) / n``.

    Reference: Rocks, B. (2016). Interval estimation for the "net promoter
    score". The American Statistician 70(4), 365-372 (the Wald form; the
    paper's adjusted interval differs little at n >= 30, our minimum).
    """
    x = pd.to_numeric(scores, errors="coerce").dropna().to_numpy(dtype=float)
    return nps_interval_from(int((x >= 9).sum()), int((x <= 6).sum()), len(x), level=level)


def nps_interval_from(promoters: int, detractors: int, n: int, *,
                      level: float = 0.95) -> tuple[float, float, float, int]:
    """:func:`nps_interval` from counts of promoters (9-10), detractors (0-6) and answers."""
    n = int(n)
    if n == 0:
        return (np.nan, np.nan, np.nan, 0)
    p = promoters / n
    d = detractors / n
    value = p - d
    se = np.sqrt(max(p + d - value**2, 0.0) / n)
    z = st.norm.ppf(0.5 + level / 2)
    return (100 * value, 100 * max(value - z * se, -1), 100 * min(value + z * se, 1), n)


def shrink_means(means: pd.Series, counts: pd.Series, variances: pd.Series | float) -> pd.Series:
    """Empirical-Bayes shrinkage of group means toward their precision-weighted grand mean.

    Each mean moves toward the grand mean by ``B = s2/n / (s2/n + tau2)``,
    where ``tau2`` (the true between-group variance) is estimated by the
    method of moments and floored at zero. Groups with few observations
    move most, so a lucky small sample cannot top a ranking.

    Reference: Efron, B. & Morris, C. (1975). Data analysis using Stein's
    estimator and its generalizations. JASA 70(350), 311-319.
    """
    m = pd.to_numeric(means, errors="coerce").astype(float)
    n = pd.to_numeric(counts, errors="coerce").astype(float)
    s2 = (variances if np.isscalar(variances) else pd.to_numeric(variances).astype(float))
    ok = m.notna() & (n > 0)
    out = pd.Series(np.nan, index=m.index)
    if ok.sum() == 0:
        return out
    sampling = (s2 / n)[ok] if not np.isscalar(s2) else s2 / n[ok]
    sampling = sampling.fillna(sampling.median() if sampling.notna().any() else 0.0)
    w = 1 / sampling.clip(lower=1e-12)
    grand = float(np.average(m[ok], weights=w))
    tau2 = max(float(m[ok].var(ddof=1)) - float(sampling.mean()), 0.0) if ok.sum() > 1 else 0.0
    b = sampling / (sampling + tau2) if tau2 > 0 else pd.Series(1.0, index=sampling.index)
    out[ok] = grand + (1 - b) * (m[ok] - grand)
    return out


def _subset_r2(corr: np.ndarray, r: np.ndarray, cols: list[list[int]]) -> np.ndarray:
    """R^2 of every subset of players, indexed by bitmask (bit ``k``: player ``k`` in).

    ``R^2(S) = r_S' C_SS^+ r_S``, the pseudo-inverse making a singular subset
    (collinear columns) the minimum-norm least-squares fit, as ``lstsq`` does.
    Subsets with the same number of columns are solved as one stack.
    """
    n = 1 << len(cols)
    r2 = np.zeros(n)
    by_width: dict[int, tuple[list[int], list[list[int]]]] = {}
    for mask in range(1, n):
        idx = [j for k, c in enumerate(cols) if mask >> k & 1 for j in c]
        if idx:
            masks, rows = by_width.setdefault(len(idx), ([], []))
            masks.append(mask)
            rows.append(idx)
    for width, (masks, rows) in by_width.items():
        index = np.array(rows)
        blocks = corr[index[:, :, None], index[:, None, :]]
        # lstsq's cutoff: singular values below eps * size * the largest are zero.
        inverse = np.linalg.pinv(blocks, rcond=np.finfo(float).eps * width, hermitian=True)
        rs = r[index]
        r2[masks] = np.einsum("si,sij,sj->s", rs, inverse, rs)
    return r2


def shapley_r2(x: np.ndarray, y: np.ndarray, *, players: list[list[int]] | None = None,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Shapley decomposition of a linear model's R^2 among its predictors (or players).

    Exact over all subsets of players (``2^p`` fits, each from the
    correlation matrix), so it is used up to 14 players; the shares sum to
    the full R^2. This equals dominance analysis' general dominance weights.
    ``players`` groups columns that enter and leave together (a behaviour
    and its not-applicable indicator are one player); ``weights`` makes
    every R^2 the weighted one, as a WLS fit has. Returns one share per
    player (per column without ``players``).

    References: Lipovetsky, S. & Conklin, M. (2001). Analysis of regression
    in game theory approach. ASMBI 17, 319-330. Budescu, D. V. (1993).
    Dominance analysis. Psychological Bulletin 114(3), 542-551.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    players = [[j] for j in range(x.shape[1])] if players is None else players
    p = len(players)
    if p > 14:
        raise ValueError("exact Shapley decomposition is limited to 14 predictors")
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    mean = w @ x
    sd = np.sqrt(w @ (x - mean) ** 2)
    keep_col = sd > 0
    values = np.zeros(p)
    y_mean = float(w @ y)
    y_sd = float(np.sqrt(w @ (y - y_mean) ** 2))
    if keep_col.sum() == 0 or y_sd == 0:
        return values
    z = np.where(keep_col, (x - mean) / np.where(keep_col, sd, 1.0), 0.0)
    zy = (y - y_mean) / y_sd
    corr = (z * w[:, None]).T @ z
    r = (z * w[:, None]).T @ zy
    live = [k for k in range(p) if any(keep_col[j] for j in players[k])]
    k_live = len(live)
    r2 = _subset_r2(corr, r, [[j for j in players[k] if keep_col[j]] for k in live])
    from math import factorial

    masks = np.arange(1 << k_live)
    size = np.zeros(len(masks), dtype=int)
    for k in range(k_live):
        size += masks >> k & 1
    share_w = np.array([factorial(s) * factorial(k_live - s - 1) / factorial(k_live)
                        for s in range(k_live)])
    shares = np.zeros(k_live)
    for j in range(k_live):
        without = masks[(masks >> j & 1) == 0]
        shares[j] = share_w[size[without]] @ (r2[without | 1 << j] - r2[without])
    values[live] = shares
    return values


def pool_random_effects(estimates, std_errors) -> tuple[float, float, float, int]:
    """DerSimonian-Laird random-effects pooling: ``(pooled, std_error, tau2, k)``.

    Estimates from groups that partition the data (sites) are combined by
    inverse-variance weights ``1 / (se^2 + tau2)``, ``tau2`` the
    between-group variance by the method of moments (floored at 0). An
    effect that differs between groups widens the pooled interval, so
    "the same everywhere" is never assumed. NaNs are dropped; with no
    estimate the result is NaN.

    Reference: DerSimonian, R. & Laird, N. (1986). Meta-analysis in clinical
    trials. Controlled Clinical Trials 7(3), 177-188.

    >>> [round(v, 4) for v in pool_random_effects([0.1, 0.3], [0.1, 0.1])[:3]]
    [0.2, 0.1, 0.01]
    """
    b = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    ok = np.isfinite(b) & np.isfinite(se) & (se > 0)
    b, se = b[ok], se[ok]
    k = len(b)
    if k == 0:
        return (np.nan, np.nan, np.nan, 0)
    w = 1 / se**2
    fixed = float(np.sum(w * b) / np.sum(w))
    q = float(np.sum(w * (b - fixed) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max((q - (k - 1)) / c, 0.0) if k > 1 and c > 0 else 0.0
    w_star = 1 / (se**2 + tau2)
    pooled = float(np.sum(w_star * b) / np.sum(w_star))
    return (pooled, float(np.sqrt(1 / np.sum(w_star))), tau2, k)


def wls_cluster(x: sparse.spmatrix | np.ndarray, y: np.ndarray, weights: np.ndarray,
                groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares with cluster-robust standard errors, for a sparse design.

    The same estimates and errors as statsmodels'
    ``WLS(y, x, weights).fit(cov_type="cluster", cov_kwds={"groups": groups})``
    (the CR1 sandwich: bread ``(X'WX)^+``, meat summed per cluster, scaled by
    ``G/(G-1) * (n-1)/(n-k)``), without statsmodels' dense copies of the design:
    a model with a dose column per supervisor (600 at 7,500 agents) had a
    design of 1 GB held four times over. Columns are scaled to unit norm
    before the normal equations, which keeps them as well conditioned as the
    design allows. Returns ``(params, bse)``.

    Reference: Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide
    to cluster-robust inference. J. Human Resources 50(2), 317-372, eq. (11)
    and the CR1 small-sample factor.
    """
    x = sparse.csr_matrix(x, dtype=float)
    n, k = x.shape
    root = np.sqrt(np.asarray(weights, dtype=float))
    wx = sparse.diags(root) @ x
    wy = root * np.asarray(y, dtype=float)
    norms = np.sqrt(np.asarray(wx.multiply(wx).sum(axis=0)).ravel())
    scale = np.where(norms > 0, 1 / np.where(norms > 0, norms, 1), 1.0)
    wxs = wx @ sparse.diags(scale)
    bread = np.linalg.pinv((wxs.T @ wxs).toarray(), hermitian=True)
    params_s = bread @ (wxs.T @ wy)
    resid = wy - wxs @ params_s
    codes, labels = pd.factorize(pd.Series(groups))
    member = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(len(labels), n))
    sums = np.asarray((member @ (sparse.diags(resid) @ wxs)).todense())
    g = len(labels)
    cov_s = bread @ (sums.T @ sums) @ bread * (g / (g - 1) * (n - 1) / (n - k))
    return params_s * scale, np.sqrt(np.clip(np.diag(cov_s), 0, None)) * scale
