"""Which QA behaviours drive a KPI, per site or vendor, and how strongly.

Method
------
For each group (a site, a vendor, or everyone), the KPI of each evaluated
contact is regressed on the behaviour scores QA gave that contact:

- csat, nps, ces, aht_seconds: ordinary least squares; the coefficient is
  the change in the KPI, on its own scale, when a behaviour goes from 0
  (not shown) to 1 (fully shown), the others held fixed.
- fcr: logistic regression; the estimate is the average marginal effect of
  the behaviour going from 0 to 1, in probability (Williams, R. (2012).
  Using the margins command to estimate and interpret adjusted predictions
  and marginal effects. Stata Journal 12(2), 308-331).

Standard errors are clustered by agent, because an agent's contacts are not
independent (Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide
to cluster-robust inference. J. Human Resources 50(2), 317-372), with t
intervals on G-1 degrees of freedom for G agents. P-values are adjusted for
the number of behaviours tested within each group and KPI by
Benjamini-Hochberg (see :func:`cxreports.analyses.stats.bh_qvalues`).

Not-applicable scores are not zeros: a behaviour's N/A contacts get score 0
plus an N/A indicator, so the behaviour's coefficient is estimated from the
contacts where it applied (the missing-indicator method; unbiased here
because N/A is a property of the contact, e.g. no hold, not of the agent's
skill: Groenwold, R. H. H. et al. (2012). Missing covariate data in clinical
research: when and when not to use the missing-indicator method for
analysis. CMAJ 184(11), 1265-1269).

Where a group has too few evaluated contacts with the KPI, the model falls
back to agent-months (mean behaviour scores against the mean KPI, weighted by
responses), and the ``level`` column says so. That is a between-agent
association, not a behaviour's effect on a contact: agents who show a
behaviour more differ in other ways, and monthly means measured with error
attenuate it. Its significant estimates get the verdict ``association``,
never ``driver``, and :func:`drivers_for` prefers a contact-level model of a
wider group to it.

Relative importance is the Shapley decomposition of the linear model's R^2
(:func:`cxreports.analyses.stats.shapley_r2`) on the fitted model's own design
(a behaviour and its N/A indicator as one player; the fallback's weights),
reported as each behaviour's share of the explained variance; ``r_squared``
is that model's R^2. For FCR it decomposes the linear probability model on
the same design.

Verdicts
--------
``insufficient_data``
    fewer than ``min_obs`` rows or ``min_agents`` agents in the group; or the
    behaviour applied on fewer than ``min_applicable`` rows, or was shown (or
    not shown) on fewer than ``min_each_side``; or it is collinear with the
    others; or the model could not be fitted.
``driver``
    q-value at most ``alpha`` (default 0.05) and the estimate in the KPI's
    better direction (positive for CSAT, NPS, FCR and effort, where 7 is the
    least effort; negative for handle time): doing more of it helps.
``harmful``
    q-value at most ``alpha`` with the estimate in the wrong direction:
    customers do worse when the behaviour is scored as shown. Never a
    behaviour to coach or to list as moving a KPI; usually a sign to check
    how the behaviour is defined or scored (asked by rote, scored on the
    wrong contacts).
``association``
    at the agent-month fallback level, a q-value at most ``alpha`` in either
    direction (see above).
``no_evidence``
    otherwise: the data were enough, the effect was not distinguishable from
    zero.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as st
from statsmodels.discrete.discrete_model import Logit
from statsmodels.regression.linear_model import OLS, WLS

from ..core.kpis import kpi as kpi_spec
from ..core.kpis import modelled_kpis
from .stats import bh_qvalues, bh_qvalues_by, shapley_r2

__all__ = [
    "DRIVER_COLUMNS",
    "DriverRules",
    "compare_to_reference",
    "compute_drivers",
    "compute_heterogeneity",
    "drivers_for",
    "fcr_adjusted_intervals",
]


DRIVER_COLUMNS = [
    "group_by", "group", "kpi", "behavior_id", "estimate", "std_error", "ci_low", "ci_high",
    "p_value", "q_value", "relative_weight", "n_obs", "n_agents", "n_applicable", "verdict",
    "level", "r_squared", "better",
]


@dataclass(frozen=True)
class DriverRules:
    """Thresholds for showing a driver estimate (see the module docstring)."""

    alpha: float = 0.05
    min_obs: int = 100
    min_agents: int = 10
    min_applicable: int = 30
    min_each_side: int = 10
    #: Agent-months needed for the fallback level.
    min_agent_months: int = 30


@dataclass
class _Fit:
    rows: dict[str, dict]
    level: str
    n_obs: int
    n_agents: int
    r_squared: float


def compute_drivers(
    contacts: pd.DataFrame,
    *,
    kpi: str,
    behaviors: list[str],
    group_by: str | None = None,
    agent_months: pd.DataFrame | None = None,
    rules: DriverRules | None = None,
    agent: str = "agent_id",
) -> pd.DataFrame:
    """Estimate each behaviour's effect on ``kpi`` in each group.

    Parameters
    ----------
    contacts
        Evaluated contacts (:func:`cxreports.analyses.evaluations.evaluated_contacts`):
        one row per contact, a column per behaviour and the KPI columns.
    kpi
        ``csat``, ``nps``, ``fcr``, ``ces`` or ``aht_seconds``.
    behaviors
        Behaviour columns to model.
    group_by
        ``site``, ``vendor`` (or any team column); ``None`` for everyone.
    agent_months
        :func:`cxreports.analyses.evaluations.agent_months`, for groups with too few
        evaluated contacts; without it such groups are ``insufficient_data``.
    rules
        Thresholds; :class:`DriverRules` by default.

    Returns
    -------
    pd.DataFrame
        One row per (group, behaviour): ``group_by``, ``group``, ``kpi``,
        ``behavior_id``, ``estimate`` (KPI change for the behaviour 0 -> 1;
        FCR in probability), ``std_error``, ``ci_low``, ``ci_high`` (95%),
        ``p_value``, ``q_value`` (BH within group and KPI),
        ``relative_weight`` (share of explained variance), ``n_obs``,
        ``n_agents``, ``n_applicable``, ``verdict`` (``driver``, ``harmful``,
        ``association``, ``no_evidence`` or ``insufficient_data``; see the
        module docstring), ``level``
        (``interaction`` or ``agent_month``), ``r_squared`` and ``better``
        (which direction of the KPI is good).

    Examples
    --------
    >>> from cxreports import make_sample_data  # doctest: +SKIP
    >>> drivers = compute_drivers(contacts, kpi="csat", behaviors=behaviors,
    ...                           group_by="vendor")  # doctest: +SKIP
    """
    spec = kpi_spec(kpi)
    if spec.model is None:
        raise ValueError(f"kpi {kpi!r} is not modelled; use one of {', '.join(modelled_kpis())}")
    rules = rules or DriverRules()
    label = group_by or "all"
    if group_by is None:
        groups = [("all", contacts, agent_months)]
    else:
        names = sorted(pd.concat([contacts[group_by], agent_months[group_by]
                                  if agent_months is not None else pd.Series(dtype=object)])
                       .dropna().unique())
        groups = [
            (g, contacts[contacts[group_by] == g],
             agent_months[agent_months[group_by] == g] if agent_months is not None else None)
            for g in names
        ]
    frames = []
    for name, rows, months in groups:
        fit = _fit_group(rows, months, kpi=kpi, behaviors=behaviors, rules=rules, agent=agent)
        frame = pd.DataFrame([{"behavior_id": b, **fit.rows[b]} for b in behaviors])
        frame.insert(0, "group_by", label)
        frame.insert(1, "group", name)
        frame.insert(2, "kpi", kpi)
        frame["q_value"] = bh_qvalues(frame["p_value"])
        frame["n_obs"] = fit.n_obs
        frame["n_agents"] = fit.n_agents
        frame["level"] = fit.level
        frame["r_squared"] = fit.r_squared
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=DRIVER_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    ok = out["verdict"].isna()
    helps = out["estimate"] * (1.0 if spec.better == "higher" else -1.0) > 0
    significant = out["q_value"] <= rules.alpha
    out.loc[ok, "verdict"] = np.select(
        [significant & (out["level"] == "agent_month"), significant & helps, significant],
        ["association", "driver", "harmful"], default="no_evidence")[ok.to_numpy()]
    out["better"] = spec.better
    out["n_applicable"] = out["n_applicable"].fillna(0).astype(np.int64)
    return out[DRIVER_COLUMNS]


def _empty_rows(behaviors: list[str], n_applicable: dict | None = None) -> dict[str, dict]:
    return {
        b: {"estimate": np.nan, "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan,
            "p_value": np.nan, "relative_weight": np.nan,
            "n_applicable": (n_applicable or {}).get(b, 0), "verdict": "insufficient_data"}
        for b in behaviors
    }


def _fit_group(
    contacts: pd.DataFrame,
    months: pd.DataFrame | None,
    *,
    kpi: str,
    behaviors: list[str],
    rules: DriverRules,
    agent: str,
) -> _Fit:
    rows = contacts[contacts[kpi].notna()]
    n_obs, n_agents = len(rows), int(rows[agent].nunique())
    if n_obs >= rules.min_obs and n_agents >= rules.min_agents:
        return _fit(rows, kpi=kpi, behaviors=behaviors, rules=rules, agent=agent,
                    logistic=kpi_spec(kpi).model == "logit", weights=None, level="interaction")
    if months is not None:
        m = months[(months[f"n_{kpi}"] > 0) & (months["n_evaluations"] > 0)]
        m_agents = int(m[agent].nunique())
        if len(m) >= rules.min_agent_months and m_agents >= rules.min_agents:
            return _fit(m, kpi=kpi, behaviors=behaviors, rules=rules, agent=agent,
                        logistic=False, weights=m[f"n_{kpi}"].to_numpy(float),
                        level="agent_month")
    return _Fit(_empty_rows(behaviors), "interaction", n_obs, n_agents, np.nan)


def _design(frame: pd.DataFrame, behaviors: list[str], rules: DriverRules):
    """Design matrix with N/A indicators; behaviours that cannot be estimated are listed."""
    columns: dict[str, np.ndarray] = {"const": np.ones(len(frame))}
    excluded, n_applicable = set(), {}
    for b in behaviors:
        x = frame[b].to_numpy(dtype=float)
        applicable = np.isfinite(x)
        n_app = int(applicable.sum())
        n_applicable[b] = n_app
        shown = int((x[applicable] >= 0.5).sum())
        if (n_app < rules.min_applicable or min(shown, n_app - shown) < rules.min_each_side
                or np.ptp(x[applicable]) == 0):
            excluded.add(b)
            continue
        columns[b] = np.where(applicable, x, 0.0)
        if not applicable.all():
            columns[f"__na__{b}"] = (~applicable).astype(float)
    names = list(columns)
    matrix = np.column_stack([columns[c] for c in names])
    # Keep a column only if it adds rank: collinear behaviours cannot be told apart.
    gram = matrix.T @ matrix
    scale = np.sqrt(np.clip(np.diag(gram), 1e-12, None))
    gram = gram / np.outer(scale, scale)
    keep: list[int] = []
    for j in range(len(names)):
        trial = [*keep, j]
        if np.linalg.matrix_rank(gram[np.ix_(trial, trial)], tol=1e-8) == len(trial):
            keep.append(j)
        elif not names[j].startswith("__na__"):
            excluded.add(names[j])
    kept_names = [names[j] for j in keep]
    return pd.DataFrame(matrix[:, keep], columns=kept_names, index=frame.index), excluded, \
        n_applicable


def _fit(
    frame: pd.DataFrame,
    *,
    kpi: str,
    behaviors: list[str],
    rules: DriverRules,
    agent: str,
    logistic: bool,
    weights: np.ndarray | None,
    level: str,
) -> _Fit:
    n_obs, n_agents = len(frame), int(frame[agent].nunique())
    x, excluded, n_applicable = _design(frame, behaviors, rules)
    rows = _empty_rows(behaviors, n_applicable)
    modelled = [b for b in behaviors if b in x.columns]
    if not modelled:
        return _Fit(rows, level, n_obs, n_agents, np.nan)
    y = frame[kpi].astype(float).to_numpy()
    clusters = pd.factorize(frame[agent])[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if logistic:
                result = Logit(y, x).fit(disp=0, maxiter=200, cov_type="cluster",
                                            cov_kwds={"groups": clusters})
                if not result.mle_retvals.get("converged", True):
                    raise RuntimeError("logit did not converge")
                est, se, pvals, low, high = _average_discrete_effects(
                    result, x, modelled, df=int(len(set(clusters))) - 1)
            else:
                model = WLS(y, x, weights=weights) if weights is not None else OLS(y, x)
                result = model.fit(cov_type="cluster", cov_kwds={"groups": clusters},
                                   use_t=True)
                est, se, pvals = result.params, result.bse, result.pvalues
                ci = result.conf_int()
                low, high = ci[0], ci[1]
    except Exception:  # singular fits, separation: the group is not estimable
        return _Fit(rows, level, n_obs, n_agents, np.nan)

    # Relative importance on the fitted model's own design: its N/A indicators
    # (a behaviour and its indicator are one player) and its weights.
    design = [c for c in x.columns if c != "const"]
    players = [[design.index(b)] + ([design.index(f"__na__{b}")]
                                    if f"__na__{b}" in design else [])
               for b in modelled]
    if len(modelled) <= 14:
        shares = shapley_r2(x[design].to_numpy(float), y, players=players, weights=weights)
    else:
        shares = _johnson_weights(frame[modelled], y)
    r2 = float(np.sum(shares))
    for j, b in enumerate(modelled):
        if not np.isfinite(se[b]) or se[b] <= 0:
            continue
        rows[b].update(
            estimate=float(est[b]), std_error=float(se[b]), ci_low=float(low[b]),
            ci_high=float(high[b]), p_value=float(pvals[b]),
            relative_weight=float(shares[j] / r2) if r2 > 0 else np.nan,
            verdict=None,
        )
    return _Fit(rows, level, n_obs, n_agents, r2)


def _average_discrete_effects(result, x: pd.DataFrame, names: list[str], *,
                              df: int | None = None):
    """Average effect on P(y=1) of each behaviour going 0 -> 1, with delta-method SEs.

    ``AME_j = mean_i [F(eta_i | x_ij=1) - F(eta_i | x_ij=0)]``; its gradient
    in the coefficients is ``mean_i [f(eta_i1) x_i1 - f(eta_i0) x_i0]``, so
    the variance ``g' V g`` uses the model's (cluster-robust) covariance
    ``V``. Closed form: the same numbers statsmodels' ``get_margeff(at=
    "overall", dummy=True)`` gives for 0/1 columns, without its numerical
    Jacobian over every row (the tests compare the two). Intervals and
    p-values use t on ``df`` degrees of freedom (G - 1 for G agent
    clusters, as the linear models do); the normal without ``df``.
    """
    matrix = x.to_numpy(float)
    beta = result.params.to_numpy(float)
    cov = result.cov_params().to_numpy(float)
    eta = matrix @ beta
    n = len(matrix)
    z = st.t.ppf(0.975, df) if df and df > 0 else st.norm.ppf(0.975)
    tail = (lambda q: st.t.sf(q, df)) if df and df > 0 else st.norm.sf
    out = {k: {} for k in ("est", "se", "p", "low", "high")}
    for name in names:
        j = x.columns.get_loc(name)
        eta1 = eta + beta[j] * (1 - matrix[:, j])
        eta0 = eta - beta[j] * matrix[:, j]
        p1, p0 = 1 / (1 + np.exp(-eta1)), 1 / (1 + np.exp(-eta0))
        d1, d0 = p1 * (1 - p1), p0 * (1 - p0)
        grad = matrix.T @ (d1 - d0) / n
        grad[j] = d1.sum() / n
        effect = float(np.mean(p1 - p0))
        se = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
        out["est"][name], out["se"][name] = effect, se
        out["p"][name] = float(2 * tail(abs(effect / se))) if se > 0 else np.nan
        out["low"][name], out["high"][name] = effect - z * se, effect + z * se
    return (pd.Series(out["est"]), pd.Series(out["se"]), pd.Series(out["p"]),
            pd.Series(out["low"]), pd.Series(out["high"]))


def _johnson_weights(x: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """Johnson's relative weights, for more predictors than exact Shapley allows.

    Reference: Johnson, J. W. (2000). A heuristic method for estimating the
    relative weight of predictor variables in multiple regression.
    Multivariate Behavioral Research 35(1), 1-19.
    """
    z = x.fillna(x.mean()).to_numpy(float)
    z = (z - z.mean(0)) / np.where(z.std(0) > 0, z.std(0), 1)
    zy = (y - y.mean()) / (y.std() or 1)
    rxx = z.T @ z / len(z)
    rxy = z.T @ zy / len(z)
    evals, evecs = np.linalg.eigh(rxx)
    lam = evecs @ np.diag(np.sqrt(np.clip(evals, 0, None))) @ evecs.T
    beta = np.linalg.lstsq(lam, rxy, rcond=None)[0]
    return (lam**2) @ (beta**2)


def compute_heterogeneity(drivers: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Does a behaviour's effect differ between groups? Cochran's Q per behaviour.

    Uses each group's estimate and standard error from
    :func:`compute_drivers` (groups with ``insufficient_data`` are left
    out). Groups partition the contacts, so their estimates are independent.

    References: Cochran, W. G. (1954). The combination of estimates from
    different experiments. Biometrics 10, 101-129. Higgins, J. P. T. &
    Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    Statistics in Medicine 21, 1539-1558 (I^2).

    Returns
    -------
    pd.DataFrame
        One row per (group_by, kpi, behaviour): ``n_groups``,
        ``pooled_estimate`` (inverse-variance), ``q_stat``, ``df``,
        ``p_value``, ``q_value`` (BH within group_by and KPI),
        ``i_squared``, ``lowest_group``, ``lowest_estimate``,
        ``highest_group``, ``highest_estimate`` and ``verdict``
        (``differs``, ``consistent`` or ``insufficient_data``).
    """
    rows = []
    for (group_by, kpi, behavior), part in drivers.groupby(
            ["group_by", "kpi", "behavior_id"], sort=False):
        ok = part[(part["verdict"] != "insufficient_data") & (part["std_error"] > 0)]
        if "level" in ok:  # agent-month associations estimate something else
            ok = ok[ok["level"] != "agent_month"]
        row = {"group_by": group_by, "kpi": kpi, "behavior_id": behavior,
               "n_groups": len(ok), "pooled_estimate": np.nan, "q_stat": np.nan, "df": 0,
               "p_value": np.nan, "i_squared": np.nan, "lowest_group": None,
               "lowest_estimate": np.nan, "highest_group": None, "highest_estimate": np.nan}
        if len(ok) >= 2:
            w = 1 / ok["std_error"].to_numpy() ** 2
            b = ok["estimate"].to_numpy()
            pooled = float(np.sum(w * b) / np.sum(w))
            q = float(np.sum(w * (b - pooled) ** 2))
            df = len(ok) - 1
            lo, hi = ok["estimate"].idxmin(), ok["estimate"].idxmax()
            row.update(pooled_estimate=pooled, q_stat=q, df=df,
                       p_value=float(st.chi2.sf(q, df)),
                       i_squared=max(0.0, (q - df) / q) if q > 0 else 0.0,
                       lowest_group=ok.at[lo, "group"], lowest_estimate=ok.at[lo, "estimate"],
                       highest_group=ok.at[hi, "group"], highest_estimate=ok.at[hi, "estimate"])
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    family = out.groupby(["group_by", "kpi"]).ngroup()
    out["q_value"] = bh_qvalues_by(out["p_value"], family.where(family >= 0))
    out["verdict"] = np.where(out["n_groups"] < 2, "insufficient_data",
                              np.where(out["q_value"] <= alpha, "differs", "consistent"))
    return out


def drivers_for(
    drivers: pd.DataFrame, *, site: str | None = None, vendor: str | None = None
) -> tuple[pd.DataFrame, str]:
    """The most specific driver model with enough data for a team: site, vendor, everyone.

    A contact-level model of a wider group is preferred to an agent-month
    association of a narrower one (see the module docstring).

    ``drivers`` holds :func:`compute_drivers` rows at several levels (as
    :attr:`cxreports.analyses.analysis.Analysis.layered_drivers` does). A level is
    used for a KPI when its model had enough data for at least one
    behaviour. Returns the chosen rows (all KPIs) and a label per KPI-level
    choice such as ``"site Leeds"``.

    Returns
    -------
    tuple
        (rows, ``{kpi: "site Leeds"}``-style description of where each KPI's
        rows came from, as one string ``"csat: site Leeds; fcr: vendor X"``).
    """
    chosen, notes = [], []
    for kpi, part in drivers.groupby("kpi", sort=False):
        # Contact-level models first, at any level; an agent-month association last.
        for contact_level in (True, False):
            found = False
            for level, name in (("site", site), ("vendor", vendor), ("all", "all")):
                if name is None:
                    continue
                rows = part[(part["group_by"] == level) & (part["group"] == name)]
                if contact_level and "level" in rows:
                    rows = rows[rows["level"] != "agent_month"]
                if len(rows) and (rows["verdict"] != "insufficient_data").any():
                    chosen.append(rows)
                    notes.append(f"{kpi}: {level} {name}" if level != "all"
                                 else f"{kpi}: everyone")
                    found = True
                    break
            if found:
                break
    frame = pd.concat(chosen, ignore_index=True) if chosen else drivers.iloc[0:0]
    return frame, "; ".join(notes)


def compare_to_reference(drivers: pd.DataFrame, *, reference: str) -> pd.DataFrame:
    """Do the behaviours that drive a KPI in ``reference`` (say, in-house) drive it elsewhere?

    For each KPI and each behaviour that is a ``driver`` in the reference
    group, every other group's estimate is set beside the reference's.

    Returns
    -------
    pd.DataFrame
        ``kpi``, ``behavior_id``, ``group``, ``reference_estimate``,
        ``estimate``, ``ci_low``, ``ci_high``, ``verdict`` and ``status``:
        ``reverses`` (the group's whole interval lies on the other side of
        zero: the behaviour goes with a worse outcome there), ``weaker`` (the
        reference effect lies beyond the group's whole interval, on the same
        side), ``holds`` (a driver there too, not weaker), ``not_shown`` (no
        evidence either way) or ``insufficient_data``; checked in that order,
        so a status never contradicts the interval printed beside it.
    """
    ref = drivers[(drivers["group"] == reference) & (drivers["verdict"] == "driver")]
    others = drivers[drivers["group"] != reference]
    merged = others.merge(ref[["kpi", "behavior_id", "estimate"]].rename(
        columns={"estimate": "reference_estimate"}), on=["kpi", "behavior_id"])
    if merged.empty:
        return pd.DataFrame(columns=["kpi", "behavior_id", "group", "reference_estimate",
                                     "estimate", "ci_low", "ci_high", "verdict", "status"])
    sign = np.sign(merged["reference_estimate"])
    near = np.where(sign > 0, merged["ci_high"], merged["ci_low"])  # bound nearest the reference
    reverses = sign * near < 0
    weaker = sign * merged["reference_estimate"] > sign * near
    merged["status"] = np.select(
        [merged["verdict"] == "insufficient_data", reverses, weaker,
         (merged["verdict"] == "driver") & (np.sign(merged["estimate"]) == sign)],
        ["insufficient_data", "reverses", "weaker", "holds"], default="not_shown")
    return merged[["kpi", "behavior_id", "group", "reference_estimate", "estimate", "ci_low",
                   "ci_high", "verdict", "status"]].reset_index(drop=True)


def fcr_adjusted_intervals(drivers: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Intervals drawn the way the verdicts are decided: FCR-adjusted for the BH selection.

    A verdict rests on the Benjamini-Hochberg q-value across the behaviours of one
    group and KPI, not on the unadjusted 95% interval; the two disagree for an
    estimate whose interval just excludes zero. Benjamini & Yekutieli's
    false-coverage-rate intervals at level ``1 - R * alpha / m`` (``R`` of the
    ``m`` tested behaviours named, at least one) exclude zero exactly when the
    q-value is at most ``alpha``, so a chart can draw them beside the verdicts.
    They use the fit's own t quantile (``n_agents - 1`` degrees of freedom, one
    cluster per agent, as :func:`compute_drivers`).

    Reference: Benjamini, Y. & Yekutieli, D. (2005). False discovery rate-adjusted
    multiple confidence intervals for selected parameters. JASA 100(469), 71-81.

    Returns
    -------
    DataFrame
        ``drivers`` with ``adj_low``, ``adj_high`` and ``adj_level`` (the
        coverage of each group and KPI's adjusted intervals) added.
    """
    out = drivers.copy()
    out["adj_low"], out["adj_high"], out["adj_level"] = np.nan, np.nan, np.nan
    if out.empty:
        return out
    keys = [c for c in ("group_by", "group", "kpi") if c in out]
    for _, part in out.groupby(keys, sort=False) if keys else [(None, out)]:
        tested = part["p_value"].notna()
        m = int(tested.sum())
        if not m:
            continue
        named = int((part.loc[tested, "q_value"] <= alpha).sum())
        level = 1 - max(named, 1) * alpha / m
        df = (part["n_agents"] - 1).clip(lower=1)
        half = st.t.ppf(1 - (1 - level) / 2, df) * part["std_error"]
        out.loc[part.index, "adj_low"] = part["estimate"] - half
        out.loc[part.index, "adj_high"] = part["estimate"] + half
        out.loc[part.index, "adj_level"] = level
    return out
