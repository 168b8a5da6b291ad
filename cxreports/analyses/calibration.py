"""QA you can trust: evaluator agreement, leniency, vendor QA alignment, reliability.

Calibration data are interactions scored by two or more evaluators (the same
``interaction_id`` under different ``evaluation_id`` / ``evaluator_id``).
Every other analysis counts an interaction once (its earliest, routine,
evaluation: :func:`~cxreports.analyses.evaluations.evaluation_matrix`); the
functions here read all of them. Their input, ``evaluations``, is one row per
evaluation with ``interaction_id``, ``evaluation_id``, ``evaluator_id``,
``employer`` (from the optional ``evaluators`` table; empty when unknown),
``vendor`` (the roster vendor of the interaction's agent), ``agent_id`` and a
0-1 score column per behaviour (NaN = not applicable), as
:meth:`Analysis.all_evaluations <cxreports.analyses.analysis.Analysis.all_evaluations>`
builds it.

- :func:`compute_agreement`: chance-corrected agreement per behaviour, overall
  and per group: Krippendorff's alpha and Gwet's AC1, with bootstrap
  intervals over interactions.
- :func:`compute_evaluator_leniency`: each evaluator's deviation from the
  consensus of the others on shared interactions (or, without calibration
  data, from a model of routine evaluations with agent and behaviour held
  fixed), shrunk toward zero, flagged outside a tolerance.
- :func:`compute_vendor_alignment`: per vendor and behaviour, how much higher
  the vendor's own QA team scores than the brand's evaluators on the same
  interactions; :func:`adjust_adoption` takes that off a vendor's adoption.
- :func:`compute_agent_reliability`, :func:`reliability_curve`,
  :func:`compute_sampling_plan`: how reliable an agent's score is for its
  number of evaluations (intraclass correlation of agents, Spearman-Brown),
  and how many evaluations each agent needs next month.

Leniency is in score units (0-1); positive means scoring higher than the
reference.
"""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
from scipy import stats as st

from ..data.contract import BRAND

__all__ = [
    "DEFAULT_RELIABILITY",
    "LENIENCY_TOLERANCE",
    "adjust_adoption",
    "calibration_units",
    "compute_agent_reliability",
    "compute_agreement",
    "compute_evaluator_leniency",
    "compute_sampling_plan",
    "compute_vendor_alignment",
    "evaluations_needed",
    "gwet_ac1",
    "krippendorff_alpha",
    "mark_reliability",
    "reliability_curve",
    "spearman_brown",
]

#: An evaluator whose shrunk leniency is further than this from zero (score
#: units, 0-1: five points of adoption), with an interval that excludes zero,
#: is flagged ``lenient`` or ``harsh``.
LENIENCY_TOLERANCE = 0.05
#: The reliability an agent's score should reach before it is read as settled.
DEFAULT_RELIABILITY = 0.8


# --------------------------------------------------------------------------- agreement


def _unit_counts(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, how many ratings fell in each observed value: ``(counts U x K, values K)``."""
    flat = np.concatenate(values) if values else np.array([])
    domain = np.unique(flat)
    counts = np.zeros((len(values), len(domain)))
    for u, v in enumerate(values):
        counts[u] = np.bincount(np.searchsorted(domain, v), minlength=len(domain))
    return counts, domain


def _alpha_from_counts(counts: np.ndarray, domain: np.ndarray, weights: np.ndarray,
                       metric: str = "interval") -> np.ndarray:
    """Krippendorff's alpha for each row of ``weights`` (bootstrap copies of the units)."""
    if metric == "interval":
        delta = (domain[:, None] - domain[None, :]) ** 2
    else:
        delta = (domain[:, None] != domain[None, :]).astype(float)
    m = counts.sum(axis=1)
    within = ((counts @ delta) * counts).sum(axis=1) / (m - 1)  # per unit
    n_k = weights @ counts  # B x K
    n = n_k.sum(axis=1)
    observed = weights @ within
    expected = np.einsum("bk,kl,bl->b", n_k, delta, n_k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1 - (n - 1) * observed / expected, np.nan)


def _ac1_from_counts(counts: np.ndarray, weights: np.ndarray, categories: int) -> np.ndarray:
    """Gwet's AC1 for each row of ``weights`` (units all have two or more ratings)."""
    m = counts.sum(axis=1)
    agree = (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    total = weights.sum(axis=1)
    pa = (weights @ agree) / total
    pi = (weights @ (counts / m[:, None])) / total[:, None]
    pe = (pi * (1 - pi)).sum(axis=1) / (categories - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pe < 1, (pa - pe) / (1 - pe), np.nan)


def _behaviour_counts(frame: pd.DataFrame, behavior: str) -> tuple[np.ndarray, np.ndarray]:
    """Units (interactions, in sorted order) with two or more scores of ``behavior``:
    ``(counts U x K, values K)`` as :func:`_unit_counts` gives them."""
    scored = frame[["interaction_id", behavior]].dropna()
    unit, _ = pd.factorize(scored["interaction_id"], sort=True)
    size = np.bincount(unit)
    many = size[unit] >= 2
    unit = np.cumsum(size >= 2)[unit[many]] - 1
    values = scored[behavior].to_numpy(float)[many]
    domain = np.unique(values)
    if not len(domain):
        return np.zeros((0, 0)), domain
    flat = unit * len(domain) + np.searchsorted(domain, values)
    counts = np.bincount(flat, minlength=int((size >= 2).sum()) * len(domain))
    return counts.reshape(-1, len(domain)).astype(float), domain


def _alpha_value(counts: np.ndarray, domain: np.ndarray) -> float:
    """Krippendorff's alpha (interval) from unit counts; NaN with one observed value."""
    if len(domain) < 2:
        return float("nan")
    return float(krippendorff.alpha(value_counts=counts, value_domain=domain,
                                    level_of_measurement="interval"))


#: Bootstrap weights are drawn this many cells at a time (8 bytes each), so an
#: interval over 40,000 interactions does not hold a 1,000 x 40,000 matrix.
_BOOTSTRAP_CELLS = 4_000_000


def _bootstrap(counts: np.ndarray, domain: np.ndarray, q: int, n_boot: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and AC1 of ``n_boot`` resamples of the units (multinomial weights).

    Drawn in blocks of rows: the generator's stream, and so every resample, is
    the same as one ``size=n_boot`` draw (BLAS may round a block's sums
    differently in the last bit).
    """
    n = len(counts)
    p = np.full(n, 1 / n)
    alphas, ac1s = np.full(n_boot, np.nan), np.empty(n_boot)
    step = max(1, _BOOTSTRAP_CELLS // n)
    for start in range(0, n_boot, step):
        w = rng.multinomial(n, p, size=min(step, n_boot - start)).astype(float)
        block = slice(start, start + len(w))
        if len(domain) > 1:
            alphas[block] = _alpha_from_counts(counts, domain, w)
        ac1s[block] = _ac1_from_counts(counts, w, q)
    return alphas, ac1s


def krippendorff_alpha(values: list[np.ndarray], *, metric: str = "interval") -> float:
    """Krippendorff's alpha of units each rated two or more times.

    ``values``: per unit, the ratings it got (any number of raters, missing
    ones left out). ``metric`` is ``interval`` (squared difference; for yes/no
    scores it equals ``nominal``) or ``nominal``. Computed by the
    :mod:`krippendorff` package from the units' value counts.

    Reference: Krippendorff, K. (2011). Computing Krippendorff's alpha-
    reliability. Annenberg School for Communication, University of
    Pennsylvania; Krippendorff, K. (2019). Content Analysis, 4th ed., ch. 12.

    Examples
    --------
    >>> round(krippendorff_alpha([np.array([1., 1.]), np.array([0., 0.]),
    ...                           np.array([1., 0.])]), 3)
    0.444
    """
    units = [np.asarray(v, float) for v in values if len(v) >= 2]
    counts, domain = _unit_counts(units)
    if len(domain) < 2:
        return float("nan")
    return float(krippendorff.alpha(value_counts=counts, value_domain=domain,
                                    level_of_measurement=metric))


def gwet_ac1(values: list[np.ndarray], *, categories: int | None = None) -> float:
    """Gwet's AC1 (first-order agreement coefficient) of units rated two or more times.

    Each distinct value is a category; ``categories`` (default: the number
    observed, at least 2) is ``q`` in the chance term. Unlike kappa or
    alpha, AC1 does not collapse when a behaviour is nearly always shown
    (the "paradox" of high agreement and low kappa).

    Reference: Gwet, K. L. (2008). Computing inter-rater reliability and its
    variance in the presence of high agreement. British Journal of
    Mathematical and Statistical Psychology 61(1), 29-48 (the multi-rater
    form of eq. 18: ``pa`` averaged over units, ``pe = sum_k pi_k (1 - pi_k)
    / (q - 1)``).

    Examples
    --------
    >>> round(gwet_ac1([np.array([1., 1.]), np.array([0., 0.]), np.array([1., 0.])]), 3)
    0.333
    """
    units = [np.asarray(v, float) for v in values if len(v) >= 2]
    counts, domain = _unit_counts(units)
    if not len(units):
        return float("nan")
    q = categories or max(2, len(domain))
    return float(_ac1_from_counts(counts, np.ones((1, len(units))), q)[0])


def calibration_units(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The evaluations of interactions scored by two or more different evaluations."""
    ev = evaluations.dropna(subset=["interaction_id"])
    many = ev.groupby("interaction_id")["evaluation_id"].transform("nunique") >= 2
    return ev[many].reset_index(drop=True)


def compute_agreement(
    evaluations: pd.DataFrame,
    *,
    behaviors: list[str],
    group_by: str | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    min_interactions: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Chance-corrected agreement per behaviour on calibration interactions.

    For each behaviour (and group of ``group_by``, e.g. ``vendor``), the
    units are the interactions with two or more applicable scores.
    Krippendorff's alpha (interval metric, equal to nominal for yes/no
    scores; see :func:`krippendorff_alpha`) and Gwet's AC1
    (:func:`gwet_ac1`, which behaves better when a behaviour is nearly
    always shown) with percentile bootstrap intervals from ``n_boot``
    resamples of interactions. Fewer than ``min_interactions`` units give
    NaN estimates (the row stays, with its count). Where no disagreement
    was observed the bootstrap interval collapses at 1: read it with
    ``n_interactions``.

    References: Krippendorff (2011); Gwet (2008); for the bootstrap over
    units, Hayes, A. F. & Krippendorff, K. (2007). Answering the call for a
    standard reliability measure for coding data. Communication Methods and
    Measures 1(1), 77-89.

    Returns
    -------
    pd.DataFrame
        ``group_by`` (``all`` without one), ``group``, ``behavior_id``,
        ``alpha``, ``alpha_ci_low``, ``alpha_ci_high``, ``ac1``,
        ``ac1_ci_low``, ``ac1_ci_high``, ``n_interactions``, ``n_ratings``.
    """
    units = calibration_units(evaluations)
    groups = [("all", "all", units)] if group_by is None else [
        (group_by, g, frame) for g, frame in units.groupby(group_by, sort=True)]
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2
    rows = []
    for label, group, frame in groups:
        for b in behaviors:
            counts, domain = _behaviour_counts(frame, b)
            row = {"group_by": label, "group": group, "behavior_id": b,
                   "alpha": np.nan, "alpha_ci_low": np.nan, "alpha_ci_high": np.nan,
                   "ac1": np.nan, "ac1_ci_low": np.nan, "ac1_ci_high": np.nan,
                   "n_interactions": len(counts), "n_ratings": int(counts.sum())}
            if len(counts) >= min_interactions:
                q = max(2, len(domain))
                row["alpha"] = _alpha_value(counts, domain)
                row["ac1"] = float(_ac1_from_counts(counts, np.ones((1, len(counts))), q)[0])
                if n_boot:
                    alphas, ac1s = _bootstrap(counts, domain, q, n_boot, rng)
                    if np.isfinite(alphas).sum() >= n_boot // 2:
                        row["alpha_ci_low"], row["alpha_ci_high"] = np.nanquantile(
                            alphas, [tail, 1 - tail])
                    row["ac1_ci_low"], row["ac1_ci_high"] = np.nanquantile(ac1s,
                                                                           [tail, 1 - tail])
            rows.append(row)
    return pd.DataFrame(rows, columns=["group_by", "group", "behavior_id", "alpha",
                                       "alpha_ci_low", "alpha_ci_high", "ac1", "ac1_ci_low",
                                       "ac1_ci_high", "n_interactions", "n_ratings"])


# --------------------------------------------------------------------------- leniency


def _long_scores(evaluations: pd.DataFrame, behaviors: list[str]) -> pd.DataFrame:
    keep = [c for c in ("interaction_id", "evaluation_id", "evaluator_id", "employer", "vendor",
                        "agent_id") if c in evaluations]
    return (evaluations.melt(id_vars=keep, value_vars=behaviors, var_name="behavior_id",
                             value_name="score").dropna(subset=["score"]))


def _shrink_to_zero(raw: pd.Series, se: pd.Series, level: float
                    ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Normal-normal empirical Bayes toward zero: posterior means and intervals.

    ``tau2`` (the spread of true leniencies) by the method of moments
    (floored at a tenth of the mean sampling variance, so an interval never
    collapses to a point). Reference: Efron & Morris (1975), JASA 70, 311-319.
    """
    ok = raw.notna() & se.notna() & (se > 0)
    s2 = se[ok] ** 2
    tau2 = float(np.mean(raw[ok] ** 2) - np.mean(s2)) if ok.any() else 0.0
    tau2 = max(tau2, 0.1 * float(np.mean(s2))) if ok.any() else 0.0
    shrink = tau2 / (tau2 + se ** 2)
    post = raw * shrink
    sd = np.sqrt(tau2 * se ** 2 / (tau2 + se ** 2))
    z = st.norm.ppf(0.5 + level / 2)
    return post, post - z * sd, post + z * sd


def _rater_effects(long: pd.DataFrame) -> pd.DataFrame:
    """Additive rater effects on shared interactions, relative to the average evaluator.

    Each evaluator's scores on an interaction are averaged over the
    behaviours they scored (``y``); the model ``y = mu_interaction +
    lambda_evaluator + e`` is fitted by least squares after removing each
    interaction's mean (so every interaction is its own reference and an
    evaluator is compared with whoever else scored it), with the effects
    summing to zero within each connected group of evaluators (the
    minimum-norm solution). Standard errors are cluster-robust by
    interaction (sandwich).

    Returns a frame indexed by ``evaluator_id``: ``effect``, ``std_error``,
    ``count`` (shared interactions).
    """
    y = long.groupby(["interaction_id", "evaluator_id"])["score"].mean().reset_index()
    m = y.groupby("interaction_id")["score"].transform("count")
    y = y[m >= 2].reset_index(drop=True)
    if y.empty:  # typed, so leniencies fall back to routine evaluations as numbers
        return pd.DataFrame({"effect": pd.Series(dtype=float),
                             "std_error": pd.Series(dtype=float),
                             "count": pd.Series(dtype=int)})
    raters = np.sort(y["evaluator_id"].unique())
    r = np.searchsorted(raters, y["evaluator_id"].to_numpy())
    units, u = np.unique(y["interaction_id"].to_numpy(), return_inverse=True)
    size = np.bincount(u).astype(float)
    own = np.zeros((len(y), len(raters)))
    own[np.arange(len(y)), r] = 1.0
    per_unit = np.zeros((len(units), len(raters)))
    np.add.at(per_unit, u, own)
    x = own - per_unit[u] / size[u][:, None]
    target = y["score"].to_numpy(float)
    target = target - np.bincount(u, weights=target)[u] / size[u]
    xtx_inv = np.linalg.pinv(x.T @ x)
    effect = xtx_inv @ x.T @ target
    resid = target - x @ effect
    scores = np.zeros((len(units), len(raters)))
    np.add.at(scores, u, x * resid[:, None])
    n, k = len(units), np.linalg.matrix_rank(x)
    correction = n / max(n - 1, 1) * (len(y) - 1) / max(len(y) - k, 1)
    cov = xtx_inv @ (scores.T @ scores) @ xtx_inv * correction
    return pd.DataFrame({"effect": effect, "std_error": np.sqrt(np.clip(np.diag(cov), 0, None)),
                         "count": np.bincount(r, minlength=len(raters))},
                        index=pd.Index(raters, name="evaluator_id"))


def compute_evaluator_leniency(
    evaluations: pd.DataFrame,
    *,
    behaviors: list[str],
    tolerance: float = LENIENCY_TOLERANCE,
    level: float = 0.95,
    min_interactions: int = 5,
) -> pd.DataFrame:
    """Each evaluator's leniency: how much higher they score than the others.

    On calibration interactions, an additive model of scores with an effect
    per interaction and per evaluator (:func:`_rater_effects`: each
    evaluator against the others who scored the same interactions, the
    effects relative to the average evaluator, cluster-robust standard
    errors by interaction), so a colleague's own leniency is not taken for
    the evaluator's. An evaluator with fewer than ``min_interactions`` shared
    interactions is judged instead from a model of routine evaluations with
    agent and behaviour held fixed: the mean of their scores minus the
    agent's mean on that behaviour over all the agent's routine evaluations
    (relative to colleagues who score the same agents; ``basis`` says which).
    Estimates are shrunk toward zero by empirical Bayes (normal prior, spread
    estimated across evaluators) with a ``level`` interval. ``flag`` is
    ``lenient`` (or ``harsh``) when the shrunk leniency is above
    ``tolerance`` (below ``-tolerance``) and the interval excludes zero.

    References: leniency/severity as a rater effect, Myford, C. M. & Wolfe,
    E. W. (2003). Detecting and measuring rater effects using many-facet
    Rasch measurement: Part I. Journal of Applied Measurement 4(4), 386-422;
    shrinkage, Efron & Morris (1975).

    Returns
    -------
    pd.DataFrame
        ``evaluator_id``, ``employer``, ``leniency``, ``ci_low``, ``ci_high``,
        ``n_evaluations`` (all their evaluations), ``n_interactions``
        (calibration interactions shared with others), ``raw_leniency``,
        ``std_error``, ``basis`` (``calibration`` or ``routine``), ``flag``.
    """
    columns = ["evaluator_id", "employer", "leniency", "ci_low", "ci_high", "n_evaluations",
               "n_interactions", "raw_leniency", "std_error", "basis", "flag"]
    ev = evaluations.dropna(subset=["evaluator_id"])
    if ev.empty:
        return pd.DataFrame(columns=columns)
    employer = ev.groupby("evaluator_id")["employer"].first() if "employer" in ev else None
    n_evals = ev.groupby("evaluator_id")["evaluation_id"].nunique()

    cal = _rater_effects(_long_scores(calibration_units(ev), behaviors))

    routine = _long_scores(ev[ev["routine"].astype(bool)] if "routine" in ev
                           else ev.drop_duplicates("interaction_id"), behaviors)
    agent_mean = routine.groupby(["agent_id", "behavior_id"])["score"].transform("mean")
    routine = routine.assign(res=routine["score"] - agent_mean)
    per_eval = routine.groupby(["evaluator_id", "evaluation_id"])["res"].mean()
    rout = per_eval.groupby("evaluator_id").agg(["mean", "std", "count"])

    out = pd.DataFrame(index=n_evals.index)
    out["n_evaluations"] = n_evals
    out["n_interactions"] = cal["count"].reindex(out.index).fillna(0).astype(int)
    use_cal = out["n_interactions"] >= min_interactions
    out["raw_leniency"] = np.where(use_cal, cal["effect"].reindex(out.index),
                                   rout["mean"].reindex(out.index))
    se_cal = cal["std_error"]
    se_rout = rout["std"] / np.sqrt(rout["count"])
    out["std_error"] = np.where(use_cal, se_cal.reindex(out.index), se_rout.reindex(out.index))
    out["basis"] = np.where(use_cal, "calibration", "routine")
    post, low, high = _shrink_to_zero(out["raw_leniency"], out["std_error"], level)
    out["leniency"], out["ci_low"], out["ci_high"] = post, low, high
    out["flag"] = np.select(
        [(out["leniency"] > tolerance) & (out["ci_low"] > 0),
         (out["leniency"] < -tolerance) & (out["ci_high"] < 0)], ["lenient", "harsh"], "ok")
    out["employer"] = employer.reindex(out.index) if employer is not None else np.nan
    return out.reset_index().rename(columns={"index": "evaluator_id"})[columns]


def compute_vendor_alignment(
    evaluations: pd.DataFrame,
    *,
    behaviors: list[str],
    level: float = 0.95,
    min_interactions: int = 5,
) -> pd.DataFrame:
    """Per vendor and behaviour: the vendor QA team's leniency against the brand's.

    On interactions of a vendor's agents scored both by an evaluator the
    vendor employs and by the brand's (``employer`` = ``brand``), the
    vendor's score minus the brand's (the mean of the brand's where several),
    averaged over interactions with a t interval (interactions independent).
    Needs the ``evaluators`` table (employers); vendors whose QA is the
    brand's own have no row. Fewer than ``min_interactions`` give NaN.

    Where the two teams never disagree, the interval is the rule of three
    (``+/- 3/n`` at 95%; Hanley, J. A. & Lippman-Hand, A. (1983). If nothing
    goes wrong, is everything all right? JAMA 249(13), 1743-1745) rather than
    a point.

    Reference: the paired difference of two raters as a measure of their
    bias, Bland, J. M. & Altman, D. G. (1986). Statistical methods for
    assessing agreement between two methods of clinical measurement. Lancet
    327(8476), 307-310.

    Returns
    -------
    pd.DataFrame
        ``vendor``, ``behavior_id``, ``leniency``, ``ci_low``, ``ci_high``,
        ``n_interactions``.
    """
    columns = ["vendor", "behavior_id", "leniency", "ci_low", "ci_high", "n_interactions"]
    if "employer" not in evaluations or evaluations["employer"].isna().all():
        return pd.DataFrame(columns=columns)
    long = _long_scores(calibration_units(evaluations), behaviors)
    own = long[long["employer"] == long["vendor"]]
    brand = long[long["employer"] == BRAND]
    key = ["vendor", "interaction_id", "behavior_id"]
    paired = (own.groupby(key)["score"].mean().rename("own").to_frame()
              .join(brand.groupby(key)["score"].mean().rename("brand"), how="inner"))
    paired["diff"] = paired["own"] - paired["brand"]
    rows = []
    for (vendor, b), d in paired.groupby(["vendor", "behavior_id"])["diff"]:
        n = int(d.count())
        mean = float(d.mean()) if n >= min_interactions else np.nan
        low = high = np.nan
        if n >= min_interactions:
            se = float(d.std(ddof=1)) / math.sqrt(n)
            t = st.t.ppf(0.5 + level / 2, n - 1)
            # No disagreement at all: the t interval would collapse to a point, so
            # the rule of three bounds the disagreement rate instead (95%: 3/n).
            half = t * se if se > 0 else -math.log(1 - level) / n
            low, high = mean - half, mean + half
        rows.append({"vendor": vendor, "behavior_id": b, "leniency": mean, "ci_low": low,
                     "ci_high": high, "n_interactions": n})
    out = pd.DataFrame(rows, columns=columns)
    order = {b: k for k, b in enumerate(behaviors)}
    return out.sort_values(["vendor", "behavior_id"], key=lambda s: s.map(order)
                           if s.name == "behavior_id" else s, kind="stable"
                           ).reset_index(drop=True)


def adjust_adoption(adoption: pd.DataFrame, alignment: pd.DataFrame) -> pd.DataFrame:
    """Vendor adoption as scored and adjusted for that vendor's QA leniency.

    ``adoption`` has ``vendor``, ``behavior_id`` and ``adoption``
    (:func:`~cxreports.analyses.qa_form_audit.compute_behaviour_adoption` by
    vendor); ``alignment`` is :func:`compute_vendor_alignment`. Adds
    ``qa_leniency`` (NaN where not measured) and ``adoption_adjusted``
    (adoption minus the leniency, kept within 0-1; as scored where the
    leniency was not measured or its interval includes zero).
    """
    lenient = alignment.set_index(["vendor", "behavior_id"])
    out = adoption.copy()
    keys = pd.MultiIndex.from_frame(out[["vendor", "behavior_id"]])
    out["qa_leniency"] = lenient["leniency"].reindex(keys).to_numpy() if len(lenient) \
        else np.nan
    low = lenient["ci_low"].reindex(keys).to_numpy() if len(lenient) else np.nan
    high = lenient["ci_high"].reindex(keys).to_numpy() if len(lenient) else np.nan
    clear = (low > 0) | (high < 0)
    shift = np.where(np.isfinite(out["qa_leniency"]) & clear, out["qa_leniency"], 0.0)
    out["adoption_adjusted"] = np.clip(out["adoption"] - shift, 0, 1)
    return out


# --------------------------------------------------------------------------- reliability


def spearman_brown(icc: float | np.ndarray, n: float | np.ndarray) -> np.ndarray:
    """Reliability of a mean of ``n`` evaluations when one has reliability ``icc``.

    ``n * icc / (1 + (n - 1) * icc)``; 0 evaluations give 0. Reference:
    Spearman, C. (1910) and Brown, W. (1910), British Journal of Psychology
    3, 271-295 and 296-322.

    >>> float(spearman_brown(0.2, 16))
    0.8
    """
    icc, n = np.asarray(icc, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, n * icc / (1 + (n - 1) * icc), 0.0)


def evaluations_needed(icc: float, target: float = DEFAULT_RELIABILITY) -> float:
    """Evaluations whose mean reaches ``target`` reliability (Spearman-Brown solved for n).

    ``target (1 - icc) / (icc (1 - target))``, rounded up; infinite when
    agents do not differ (icc <= 0).

    >>> evaluations_needed(0.2, 0.8)
    16
    """
    if not np.isfinite(icc) or icc <= 0:
        return math.inf
    return math.ceil(round(target * (1 - icc) / (icc * (1 - target)), 9))


def _icc1(values: pd.Series, groups: pd.Series) -> tuple[float, int, int]:
    """One-way random-effects ICC(1) with unequal group sizes: ``(icc, agents, evaluations)``."""
    frame = pd.DataFrame({"y": values.to_numpy(float), "g": groups.to_numpy()}).dropna()
    sizes = frame.groupby("g")["y"].count()
    k, n = len(sizes), int(sizes.sum())
    if k < 3 or n - k < 2:
        return float("nan"), k, n
    means = frame.groupby("g")["y"].transform("mean")
    grand = frame["y"].mean()
    msb = float(((frame.groupby("g")["y"].mean() - grand) ** 2 * sizes).sum() / (k - 1))
    msw = float(((frame["y"] - means) ** 2).sum() / (n - k))
    n0 = (n - float((sizes ** 2).sum()) / n) / (k - 1)
    denominator = msb + (n0 - 1) * msw
    icc = (msb - msw) / denominator if denominator > 0 else float("nan")
    return max(float(icc), 0.0), k, n


def compute_agent_reliability(
    evaluations: pd.DataFrame,
    *,
    behaviors: list[str],
    target: float = DEFAULT_RELIABILITY,
    score: str | None = "qa_score",
) -> pd.DataFrame:
    """How reliably evaluations tell agents apart, per behaviour and overall.

    The intraclass correlation of agents, ICC(1) from a one-way random-effects
    ANOVA (agents as groups, unequal numbers of evaluations, ``n0`` as in
    Shrout & Fleiss), is the reliability of a single evaluation; a mean of
    ``n`` has the Spearman-Brown reliability :func:`spearman_brown`, and
    ``evaluations_for_target`` is :func:`evaluations_needed`. ``score`` (the
    overall ``qa_score`` column, if present) adds a row ``behavior_id`` =
    ``score``. Pass routine evaluations only (one per interaction).

    Reference: Shrout, P. E. & Fleiss, J. L. (1979). Intraclass
    correlations: uses in assessing rater reliability. Psychological
    Bulletin 86(2), 420-428.

    Returns
    -------
    pd.DataFrame
        ``behavior_id``, ``icc``, ``n_agents``, ``n_evaluations``,
        ``evaluations_for_target``, ``target``.
    """
    rows = []
    for b in [*behaviors, *([score] if score and score in evaluations else [])]:
        icc, k, n = _icc1(evaluations[b], evaluations["agent_id"])
        rows.append({"behavior_id": b, "icc": icc, "n_agents": k, "n_evaluations": n,
                     "evaluations_for_target": evaluations_needed(icc, target)
                     if np.isfinite(icc) else np.nan, "target": target})
    return pd.DataFrame(rows)


def reliability_curve(reliability: pd.DataFrame, *, max_evaluations: int = 30) -> pd.DataFrame:
    """Spearman-Brown reliability for 1 to ``max_evaluations`` evaluations per behaviour.

    Returns
    -------
    pd.DataFrame
        ``behavior_id``, ``icc``, ``n_evaluations``, ``reliability``.
    """
    n = np.arange(1, max_evaluations + 1)
    frames = [pd.DataFrame({"behavior_id": r.behavior_id, "icc": r.icc, "n_evaluations": n,
                            "reliability": spearman_brown(r.icc, n)})
              for r in reliability.itertuples(index=False)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["behavior_id", "icc", "n_evaluations", "reliability"])


def compute_sampling_plan(
    evaluations: pd.DataFrame,
    team: pd.DataFrame,
    *,
    months: list[str],
    icc: float,
    target: float = DEFAULT_RELIABILITY,
) -> pd.DataFrame:
    """The QA sampling plan: per agent, evaluations now, reliability, evaluations needed.

    ``evaluations`` are routine evaluations with ``agent_id`` and ``period``
    (``YYYY-MM``); ``months`` the three months ending with the report month;
    ``team`` one roster row per agent (``agent_id``, ``supervisor_id``);
    ``icc`` the agents' ICC of the overall score
    (:func:`compute_agent_reliability`). ``reliability_now`` is the
    Spearman-Brown reliability of the agent's mean over the
    ``evaluations_last_3_months``. Next month the window drops its first
    month, so ``evaluations_needed`` is what next month must add to the
    evaluations of the last two months to reach ``target``
    (:func:`evaluations_needed`), at least 0; empty (NaN) when agents'
    scores do not differ at all (no number of evaluations would do).

    Reference: Spearman (1910), Brown (1910); Shrout & Fleiss (1979).

    Returns
    -------
    pd.DataFrame
        ``agent_id``, ``supervisor_id``, ``evaluations_last_3_months``,
        ``reliability_now``, ``evaluations_needed``.
    """
    window = evaluations[evaluations["period"].isin(months)]
    kept = window[window["period"].isin(months[1:])]
    now = window.groupby("agent_id").size()
    staying = kept.groupby("agent_id").size()
    needed_total = evaluations_needed(icc, target)
    out = team[["agent_id", "supervisor_id"]].drop_duplicates("agent_id").copy()
    out["evaluations_last_3_months"] = out["agent_id"].map(now).fillna(0).astype(int)
    out["reliability_now"] = spearman_brown(icc, out["evaluations_last_3_months"]) \
        if np.isfinite(icc) else np.nan
    if math.isfinite(needed_total):
        have = out["agent_id"].map(staying).fillna(0).astype(int)
        out["evaluations_needed"] = (needed_total - have).clip(lower=0).astype(int)
    else:
        out["evaluations_needed"] = np.nan
    return out.sort_values(["supervisor_id", "agent_id"], kind="stable").reset_index(drop=True)


def mark_reliability(scores: pd.DataFrame, reliability: pd.DataFrame, *,
                     target: float = DEFAULT_RELIABILITY) -> pd.DataFrame:
    """Agent behaviour scores with the reliability their number of evaluations gives.

    ``scores`` has ``behavior_id`` and ``n`` (the agent's applicable
    evaluations, e.g.
    :func:`~cxreports.analyses.coaching.compute_agent_behaviour_scores`);
    ``reliability`` is :func:`compute_agent_reliability`. Adds
    ``reliability`` (Spearman-Brown of the behaviour's ICC for ``n``),
    ``evaluations_for_target`` and ``reliable`` (``reliability >= target``;
    False where agents do not differ on the behaviour or it is unknown), so
    a figure below the target is shown as provisional, not settled.

    Reference: Spearman (1910), Brown (1910); Shrout & Fleiss (1979).
    """
    icc = reliability.set_index("behavior_id")["icc"]
    need = reliability.set_index("behavior_id")["evaluations_for_target"]
    out = scores.copy()
    out["reliability"] = spearman_brown(out["behavior_id"].map(icc).to_numpy(float),
                                        out["n"].to_numpy(float))
    out["evaluations_for_target"] = out["behavior_id"].map(need)
    out["reliable"] = np.nan_to_num(out["reliability"].to_numpy(float), nan=0.0) >= target
    return out
