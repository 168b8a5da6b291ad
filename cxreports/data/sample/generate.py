"""A synthetic contact centre written to the data contract, with planted truth.

The generator is the test bed for every statistic in the kit: it plants
behaviours that move CSAT, NPS, customer effort and first contact resolution,
behaviours that move nothing, an effect that vanishes at one vendor, a lift
in a behaviour after it is coached, and agents who change team. What was
planted is written beside the data as ``truth.json`` so a test can ask a
method to find it.

How a contact is made: each agent has a propensity to show each behaviour
(site culture + agent skill + agent-by-behaviour noise, on the logit scale);
on every contact each behaviour is shown or not by that propensity, raised by
``coaching_lift`` for every earlier coaching session on it. Coaching is
generated month by month, because its focus is chosen from what QA observed
in the two months before (see ``selection``); a few agents really change one
behaviour in the last month (``truth["behaviour_changes"]``). Outcomes are
linear in the behaviours shown on that contact (logistic for FCR), plus an
agent effect and noise, then rounded stochastically (so the expected value
stays linear) and clipped to the scale. QA evaluates a sample of contacts,
favouring surveyed ones as many centres do, days after the contact, and sees
the behaviours exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.periods import Period, parse_period
from .planted import (
    BEHAVIOURS,
    BRAND_EVALUATORS,
    CALIBRATION_SHARE,
    CHANNELS,
    COACHING_LIFT,
    EFFECTS,
    EVALUATOR_ERRORS,
    EVALUATORS_PER_SITE,
    FIRST_NAMES,
    LAST_NAMES,
    LENIENT_VENDOR,
    SITES,
    SUPERVISOR_LAST_NAMES,
    VENDOR_OVERRIDES,
)

__all__ = ["SampleData", "make_sample_data"]


@dataclass
class SampleData:
    """The generated tables (contract columns, good rows only) and the truth."""

    tables: dict[str, pd.DataFrame]
    truth: dict


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _stochastic_round(rng: np.random.Generator, x: np.ndarray, low: int, high: int) -> np.ndarray:
    """Round so that E[result] = x inside the scale, then clip to it."""
    floor = np.floor(x)
    out = floor + (rng.random(x.shape) < (x - floor))
    return np.clip(out, low, high)


def _as_exported(local: pd.DatetimeIndex, zones: np.ndarray, *, seed: tuple) -> np.ndarray:
    """Local times written as exports write them: a third naive (local), a third in UTC
    (``Z``), a third with the site's own offset (``-05:00``), all the same instants.

    Times that daylight saving makes ambiguous or non-existent stay naive. A
    separate random stream, so the sample's other numbers do not change.
    """
    style = np.random.default_rng(seed).integers(0, 3, size=len(local))
    out = np.asarray(local.strftime("%Y-%m-%dT%H:%M:%S"), dtype=object)
    for zone in np.unique(zones):
        mine = np.flatnonzero(zones == zone)
        aware = pd.DatetimeIndex(local[mine]).tz_localize(zone, ambiguous="NaT",
                                                          nonexistent="NaT")
        ok = ~aware.isna()
        utc = np.flatnonzero(ok & (style[mine] == 1))
        own = np.flatnonzero(ok & (style[mine] == 2))
        out[mine[utc]] = aware[utc].tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        offset = aware[own].strftime("%z")
        out[mine[own]] = (aware[own].strftime("%Y-%m-%dT%H:%M:%S")
                          + offset.str[:3] + ":" + offset.str[3:])
    return out


@dataclass
class _PlantedQA:
    """What :func:`_plant_qa` returns: who scored what, the scores, the truth."""

    evaluators: pd.DataFrame
    evaluator_ids: np.ndarray
    rater: np.ndarray  # per evaluation (routine, then calibration): evaluator index
    calibrated: np.ndarray  # positions (in ``evaluated``) of the re-scored evaluations
    calibration_at: pd.DatetimeIndex
    scores: np.ndarray  # evaluations x behaviours, 0/1 (N/A decided by the caller)
    truth: dict


@dataclass
class _QATeam:
    """Evaluators, their error rates, who scores each contact's routine evaluation and
    the random draws of their errors: fixed before coaching, which reads the scores."""

    people: list[tuple]
    ids: np.ndarray
    noise: np.ndarray  # per evaluator and behaviour
    false_yes: np.ndarray
    false_no: np.ndarray
    site_team: dict[int, list[int]]
    brand_team: list[int]
    rater: np.ndarray  # per contact: routine evaluator (-1: not evaluated)
    flip: np.ndarray  # per evaluated contact x behaviour: uniform draws for noise
    slip: np.ndarray  # per evaluated contact x behaviour: draws for leniency/harshness
    position: np.ndarray  # per contact: its row in ``flip``/``slip`` (-1: not evaluated)

    def score(self, shown: np.ndarray, rater: np.ndarray, flip: np.ndarray,
              slip: np.ndarray) -> np.ndarray:
        """What the evaluators record (0/1) for behaviours ``shown`` (rows x behaviours)."""
        seen = np.where(flip < self.noise[rater], 1 - shown, shown)
        return np.where(seen == 1, slip >= self.false_no[rater],
                        slip < self.false_yes[rater]).astype(float)

    def expected(self, shown: np.ndarray, rater: np.ndarray) -> np.ndarray:
        """The probability each rating is 1 given what the agent did: the planted truth."""
        p_seen = shown * (1 - self.noise[rater]) + (1 - shown) * self.noise[rater]
        return p_seen * (1 - self.false_no[rater]) + (1 - p_seen) * self.false_yes[rater]


def _qa_team(rng: np.random.Generator, *, is_evaluated: np.ndarray, c_site: np.ndarray
             ) -> _QATeam:
    """Each site's QA team and the brand's calibration team (see :func:`_plant_qa`)."""
    n_beh = len(BEHAVIOURS)
    kinds = np.array([b[2] for b in BEHAVIOURS])
    people = [("brand", None, "brand", "calibration lead", k + 1)
              for k in range(BRAND_EVALUATORS)]
    people += [(f"{site[0]}-{k + 1}", s, "brand" if site[1] == "in-house" else site[1],
                "QA analyst", k + 1)
               for s, site in enumerate(SITES) for k in range(EVALUATORS_PER_SITE)]
    ids = np.array([f"E{k + 1:02d}" for k in range(len(people))])
    noise = np.zeros((len(people), n_beh))
    false_yes = np.zeros((len(people), n_beh))
    false_no = np.zeros((len(people), n_beh))
    for e, (key, site, employer, _role, _k) in enumerate(people):
        base = dict(EVALUATOR_ERRORS["brand" if site is None else "default"])
        base.update(EVALUATOR_ERRORS.get(key, {}))
        # Tasks are checks (was the brand named?): a third of the noise of intent items.
        noise[e] = rng.uniform(*base["noise"]) * np.where(kinds == "task", 1 / 3, 1.0)
        which = kinds == base["kind"] if base.get("kind") else np.ones(n_beh, dtype=bool)
        false_yes[e, which] = base["false_yes"]
        false_no[e, which] = base["false_no"]
        if employer == LENIENT_VENDOR["vendor"]:
            false_yes[e, kinds == LENIENT_VENDOR["kind"]] = LENIENT_VENDOR["false_yes"]
    site_team = {s: [e for e, p in enumerate(people) if p[1] == s] for s in range(len(SITES))}
    brand_team = [e for e, p in enumerate(people) if p[1] is None]
    member = rng.integers(0, EVALUATORS_PER_SITE, size=len(c_site))
    teams = np.array([site_team[s] for s in range(len(SITES))])
    rater = np.where(is_evaluated, teams[c_site, member], -1)
    # A draw for every contact (the stream stays the same at any size), kept
    # only for the evaluated ones: at 18M contacts the full matrices are 3 GB.
    flip = _draws_kept(rng, is_evaluated, n_beh)
    slip = _draws_kept(rng, is_evaluated, n_beh)
    position = np.where(is_evaluated, np.cumsum(is_evaluated) - 1, -1)
    return _QATeam(people=people, ids=ids, noise=noise, false_yes=false_yes,
                   false_no=false_no, site_team=site_team, brand_team=brand_team,
                   rater=rater, flip=flip, slip=slip, position=position)


def _score_text(values: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """Whole-number scores as text, "" where unanswered: a two-character array, not
    ``astype(str)``'s 21 characters a value (it mattered at 18M contacts)."""
    return np.where(answered, values.astype(int).astype("U2"), "")


#: Rows per block when a per-contact matrix is built piecewise (bounds memory).
_BLOCK = 1 << 20


def _draws_kept(rng: np.random.Generator, keep: np.ndarray, width: int) -> np.ndarray:
    """``rng.random((len(keep), width))[keep]``, drawn block by block: the same
    numbers (uniform doubles come off the stream one by one) without the whole matrix."""
    return np.concatenate([rng.random((min(_BLOCK, len(keep) - lo), width))[keep[lo:lo + _BLOCK]]
                           for lo in range(0, len(keep), _BLOCK)] or [np.zeros((0, width))])


def _plant_qa(rng: np.random.Generator, team: _QATeam, *, evaluated: np.ndarray,
              eval_at: pd.DatetimeIndex, latest: pd.DatetimeIndex, c_site: np.ndarray,
              shown: np.ndarray, applicable: np.ndarray,
              calibration_share: float) -> _PlantedQA:
    """Evaluators, their errors, and calibration re-scores (own random stream).

    Each site has :data:`EVALUATORS_PER_SITE` evaluators (employer: the site's
    vendor, ``brand`` at in-house sites) who score its routine evaluations;
    the brand's :data:`BRAND_EVALUATORS` re-score ``calibration_share`` of
    every vendor's evaluated interactions, and a site's other evaluator
    re-scores the same share of each site's, days later. An evaluator sees a
    behaviour wrongly with probability ``noise``, then scores an unseen one
    as shown with ``false_yes`` (leniency) or a shown one as not with
    ``false_no`` (:data:`EVALUATOR_ERRORS`, :data:`LENIENT_VENDOR`).

    The truth records, per evaluator, the expected deviation of their scores
    from what the agent did (``leniency``, score units, over the applicable
    behaviours they scored) and relative to the brand's calibration team on
    the same interactions; per vendor team, that deviation per behaviour on
    the interactions the brand re-scored (what vendor QA alignment
    estimates); and the agreement (Krippendorff's alpha and Gwet's AC1) the
    planted error rates imply on the calibration pairs, per behaviour,
    overall and per vendor.
    """
    n_beh = len(BEHAVIOURS)
    kinds = np.array([b[2] for b in BEHAVIOURS])
    beh_ids = [b[0] for b in BEHAVIOURS]
    people, ids, site_team, brand_team = team.people, team.ids, team.site_team, team.brand_team
    sites = c_site[evaluated]
    routine = team.rater[evaluated]

    # Calibration: the brand re-scores a share of every vendor's, then a
    # site's other evaluator a share of each site's (not the same ones).
    vendors = np.array([SITES[s][1] for s in sites])
    chosen, raters = [], []
    for vendor in dict.fromkeys(v[1] for v in SITES):
        pool = np.flatnonzero(vendors == vendor)
        k = min(len(pool), int(round(calibration_share * len(pool))))
        picked = rng.choice(pool, size=k, replace=False)
        chosen.append(picked)
        raters.append(rng.choice(brand_team, size=k))
    taken = np.zeros(len(evaluated), dtype=bool)
    taken[np.concatenate(chosen)] = True
    for s in range(len(SITES)):
        pool = np.flatnonzero((sites == s) & ~taken)
        k = min(len(pool), int(round(calibration_share * np.sum(sites == s))))
        picked = rng.choice(pool, size=k, replace=False)
        colleagues = site_team[s]
        chosen.append(picked)
        raters.append(np.array([colleagues[(colleagues.index(routine[i]) + 1)
                                           % len(colleagues)] for i in picked], dtype=int))
    calibrated = np.concatenate(chosen).astype(int)
    cal_rater = np.concatenate(raters).astype(int)
    order = np.argsort(calibrated, kind="stable")
    calibrated, cal_rater = calibrated[order], cal_rater[order]
    later = pd.to_timedelta(rng.integers(1, 6, size=len(calibrated)), unit="D")
    cal_at = eval_at[calibrated] + later
    cal_at = cal_at.where(cal_at <= latest[calibrated], latest[calibrated])

    units = np.concatenate([evaluated, evaluated[calibrated]])
    rater = np.concatenate([routine, cal_rater])
    truth_shown = shown[units].astype(float)
    # Routine scores use the draws coaching already read; re-scores draw their own.
    flip = np.concatenate([team.flip, rng.random((len(calibrated), n_beh))])
    slip = np.concatenate([team.slip, rng.random((len(calibrated), n_beh))])
    scores = team.score(truth_shown, rater, flip, slip)
    q = team.expected(truth_shown, rater)
    noise, false_yes, false_no = team.noise, team.false_yes, team.false_no
    ok = applicable[units]
    deviation = np.where(ok, q - truth_shown, np.nan)

    n_routine = len(evaluated)
    cal_rows = n_routine + np.arange(len(calibrated))
    first_rows = calibrated  # the routine evaluation of each re-scored interaction
    brand_rescore = np.isin(cal_rater, brand_team)

    evaluator_truth = []
    for e, (_key, site, employer, role, _k) in enumerate(people):
        mine = rater == e
        vs_brand = []  # on interactions shared with the brand team: q_e - q_brand
        for c, r in zip(cal_rows[brand_rescore], first_rows[brand_rescore], strict=True):
            if rater[r] == e:
                vs_brand.append(np.where(ok[r], q[r] - q[c], np.nan))
        evaluator_truth.append({
            "evaluator_id": str(ids[e]), "employer": employer, "role": role,
            "site": SITES[site][0] if site is not None else None,
            "noise": {k: float(noise[e, kinds == k].mean()) for k in ("intent", "task")},
            "false_yes": {k: float(false_yes[e, kinds == k].mean()) for k in ("intent", "task")},
            "false_no": {k: float(false_no[e, kinds == k].mean()) for k in ("intent", "task")},
            "leniency": float(np.nanmean(deviation[mine])) if mine.any() else None,
            "leniency_vs_brand": float(np.nanmean(np.array(vs_brand)))
            if len(vs_brand) else None,
            "planted": "lenient" if false_yes[e].max() > 0 else
                       "harsh" if false_no[e].max() > 0 else "ok",
            "evaluations": int(mine.sum()),
        })

    # Vendor team - brand on the interactions the brand re-scored (vendor QA alignment).
    alignment = {}
    for vendor in dict.fromkeys(v[1] for v in SITES):
        pick = brand_rescore & (vendors[first_rows] == vendor)
        routine_brand = np.array([people[rater[r]][2] == "brand" for r in first_rows],
                                 dtype=bool)  # bool even when no contact was re-scored
        pick &= ~routine_brand
        if not pick.any():
            continue
        r, c = first_rows[pick], cal_rows[pick]
        diff = np.where(ok[r], q[r] - q[c], np.nan)
        alignment[vendor] = {b: float(np.nanmean(diff[:, j])) if np.isfinite(diff[:, j]).any()
                             else None for j, b in enumerate(beh_ids)}

    def agreement(pick: np.ndarray) -> dict:
        r, c = first_rows[pick], cal_rows[pick]
        out = {}
        for j, b in enumerate(beh_ids):
            both = ok[r, j]
            if both.sum() < 2:
                continue
            q1, q2 = q[r[both], j], q[c[both], j]
            disagree = float(np.mean(q1 * (1 - q2) + q2 * (1 - q1)))
            p = float(np.mean(np.concatenate([q1, q2])))
            expected = 2 * p * (1 - p)
            out[b] = {"alpha": 1 - disagree / expected if expected > 0 else None,
                      "ac1": (1 - disagree - expected) / (1 - expected),
                      "n_interactions": int(both.sum())}
        return out

    scoring = [e["leniency"] for e in evaluator_truth if e["leniency"] is not None]
    for e in evaluator_truth:
        e["leniency_vs_average"] = (e["leniency"] - float(np.mean(scoring))
                                    if e["leniency"] is not None else None)
    evaluators_frame = pd.DataFrame({
        "evaluator_id": ids,
        "evaluator_name": [f"{(p[1] is None and 'Brand') or SITES[p[1]][0]} QA {p[4]}"
                           for p in people],
        "employer": [p[2] for p in people],
        "role": [p[3] for p in people],
    })
    truth = {
        "evaluators": evaluator_truth,
        "leniency_units": "expected score minus what the agent did, 0-1 score units, over "
                          "the applicable behaviours the evaluator scored; leniency_vs_average "
                          "is that minus the mean over evaluators (what the kit estimates)",
        "lenient_vendor": {**LENIENT_VENDOR, "behaviours": [
            b for b, k in zip(beh_ids, kinds, strict=True) if k == LENIENT_VENDOR["kind"]]},
        "vendor_alignment": alignment,
        "calibration_share": calibration_share,
        "calibration_evaluations": {"brand": int(brand_rescore.sum()),
                                    "peer": int((~brand_rescore).sum())},
        "agreement": {
            "all": agreement(np.ones(len(calibrated), dtype=bool)),
            "vendor": {v: agreement(vendors[first_rows] == v)
                       for v in dict.fromkeys(x[1] for x in SITES)},
        },
    }
    return _PlantedQA(evaluators=evaluators_frame, evaluator_ids=ids, rater=rater,
                      calibrated=calibrated, calibration_at=cal_at, scores=scores, truth=truth)


def make_sample_data(
    *,
    agents: int = 120,
    months: int = 6,
    seed: int = 7,
    last_period: str | Period = "2026-10",
    contacts_per_month: int = 120,
    selection: str = "observed",
    coaching_lift: float = COACHING_LIFT,
    repeat_share: float = 0.3,
    qa_lag_days: int = 10,
    change_share: float = 0.08,
    calibration_share: float = CALIBRATION_SHARE,
) -> SampleData:
    """Generate a contact centre's tables with known drivers.

    Parameters
    ----------
    agents
        Number of agents, spread over five sites at three vendors.
    months
        Months of history, ending with ``last_period``.
    seed
        Seed for the random generator; the same seed gives the same data.
    last_period
        The last month generated (``YYYY-MM``).
    contacts_per_month
        Average contacts per agent per month.
    selection
        How a session's behaviour focus is chosen: ``observed`` (default, as
        supervisors do: the lowest observed score in the agent's evaluations
        of the two months before, so chance lows are picked and regress to
        the mean on their own) or ``propensity`` (the agent's true weakness,
        noise-free).
    coaching_lift
        Rise in the probability of showing a behaviour per session on it
        (0 for a centre where coaching does nothing).
    repeat_share
        Chance that a focused session returns to the agent's last focus.
    qa_lag_days
        Evaluations happen 1 to ``qa_lag_days`` days after the contact.
    change_share
        Share of agents whose propensity on one behaviour really changes in
        the last month (two in three decline by 0.5, one in three improve
        by 0.45); needs at least 4 months.
    calibration_share
        Share of each vendor's evaluated interactions the brand's evaluators
        re-score, and share of each site's that the site's other evaluator
        re-scores (calibration; see :func:`_plant_qa`).

    Returns
    -------
    SampleData
        ``tables`` keyed by contract table name and ``truth``, the planted
        effects and facts (see the module docstring).

    Examples
    --------
    >>> sample = make_sample_data(agents=30, months=2, contacts_per_month=20)
    >>> sorted(sample.tables)[:3]
    ['coaching', 'evaluators', 'interactions']
    """
    if agents < 5 or months < 1:
        raise ValueError("a sample needs at least 5 agents and 1 month")
    if selection not in ("observed", "propensity"):
        raise ValueError(f"selection must be observed or propensity, not {selection!r}")
    rng = np.random.default_rng(seed)
    last = parse_period(last_period)
    periods = [last.shift(-k) for k in range(months - 1, -1, -1)]
    window_start = pd.Timestamp(periods[0].start)
    window_end = pd.Timestamp(periods[-1].end)
    n_beh = len(BEHAVIOURS)
    beh_ids = [b[0] for b in BEHAVIOURS]

    # --- people -----------------------------------------------------------
    shares = np.array([s[3] for s in SITES])
    counts = np.maximum(1, np.round(shares / shares.sum() * agents).astype(int))
    counts[0] += agents - counts.sum()
    agent_site = np.repeat(np.arange(len(SITES)), counts)
    agent_ids = [f"A{i + 1:04d}" for i in range(agents)]
    # Unique for up to 30 x 25 agents: same first name implies a different last name.
    given, family = FIRST_NAMES, LAST_NAMES
    names = [f"{given[i % len(given)]} {family[(i // len(given) + 7 * i) % len(family)]}"
             for i in range(agents)]

    supervisors = []  # (supervisor_id, name, site index)
    agent_sup = np.empty(agents, dtype=int)
    for s_idx in range(len(SITES)):
        members = np.flatnonzero(agent_site == s_idx)
        n_sup = max(1, int(np.ceil(len(members) / 12)))
        for k, chunk in enumerate(np.array_split(members, n_sup)):
            sup_index = len(supervisors)
            # Supervisors' surnames come from their own list, so no agent shares a name.
            sup_name = f"{FIRST_NAMES[(sup_index * 7 + 3) % len(FIRST_NAMES)]} " \
                       f"{SUPERVISOR_LAST_NAMES[sup_index % len(SUPERVISOR_LAST_NAMES)]}"
            supervisors.append((f"S{sup_index + 1:02d}", sup_name, s_idx))
            agent_sup[chunk] = sup_index
            del k

    # Team moves: ~6% of agents at a month start, and one mid-month in the last month.
    movers = []
    if months >= 2 and len(supervisors) >= 2:
        n_move = max(1, int(round(0.06 * agents)))
        candidates = rng.choice(agents, size=min(n_move + 1, agents), replace=False)
        for j, a in enumerate(candidates):
            if j == 0:
                on = pd.Timestamp(last.start) + pd.Timedelta(days=14)
            else:
                on = pd.Timestamp(periods[int(rng.integers(1, months))].start)
            same_site = [i for i, s in enumerate(supervisors)
                         if s[2] == agent_site[a] and i != agent_sup[a]]
            pool = same_site or [i for i in range(len(supervisors)) if i != agent_sup[a]]
            movers.append((int(a), int(agent_sup[a]), int(rng.choice(pool)), on))

    # Where each agent sits at each date: (agent, from, to, supervisor index).
    assignments = []
    moved = {m[0]: m for m in movers}
    for a in range(agents):
        hired = window_start - pd.Timedelta(days=int(rng.integers(30, 900)))
        if a in moved:
            _, old, new, on = moved[a]
            assignments.append((a, hired, on - pd.Timedelta(days=1), old))
            assignments.append((a, on, pd.NaT, new))
        else:
            assignments.append((a, hired, pd.NaT, int(agent_sup[a])))

    roster = pd.DataFrame([
        {
            "agent_id": agent_ids[a],
            "agent_name": names[a],
            "supervisor_id": supervisors[s][0],
            "supervisor_name": supervisors[s][1],
            "supervisor_email": supervisors[s][1].lower().replace(" ", ".") + "@example.com",
            "site": SITES[supervisors[s][2]][0],
            "vendor": SITES[supervisors[s][2]][1],
            "shore": SITES[supervisors[s][2]][2],
            "valid_from": frm.date().isoformat(),
            "valid_to": "" if pd.isna(to) else to.date().isoformat(),
        }
        for a, frm, to, s in assignments
    ])

    # --- propensities -----------------------------------------------------
    base_logit = np.array([_logit(b[3]) for b in BEHAVIOURS])
    site_culture = rng.normal(0, 0.3, size=(len(SITES), n_beh))
    skill = rng.normal(0, 0.4, size=agents)
    noise = rng.normal(0, 0.8, size=(agents, n_beh))
    ceiling = beh_ids.index("use_name")
    noise[:, ceiling] *= 0.2
    site_culture[:, ceiling] = 0
    p0 = _sigmoid(base_logit + site_culture[agent_site] + skill[:, None] + noise)

    # --- contacts ---------------------------------------------------------
    per_agent_month = rng.poisson(contacts_per_month, size=(agents, months))
    n = int(per_agent_month.sum())
    c_agent = np.repeat(np.repeat(np.arange(agents), months), per_agent_month.ravel())
    c_month = np.repeat(np.tile(np.arange(months), agents), per_agent_month.ravel())
    month_start = np.array([pd.Timestamp(p.start).value for p in periods])
    month_days = np.array([(pd.Timestamp(p.end) - pd.Timestamp(p.start)).days + 1
                           for p in periods])
    day = (rng.random(n) * month_days[c_month]).astype(int)
    seconds = rng.integers(8 * 3600, 20 * 3600, size=n)
    started = pd.to_datetime(month_start[c_month] + (day * 86400 + seconds) * 10**9)
    order = np.lexsort((started.values, c_agent))
    c_agent, c_month, started = c_agent[order], c_month[order], started[order]
    zones = np.array([s[5] for s in SITES])  # times are local: on the site's clock

    # Supervisor and site of each contact, by the roster on its date.
    c_sup = agent_sup[c_agent].copy()
    for a, old, new, on in movers:
        c_sup[(c_agent == a) & (started >= on)] = new
        del old
    c_site = np.array([supervisors[s][2] for s in c_sup])
    c_vendor = np.array([SITES[s][1] for s in c_site])

    # --- contacts that QA will evaluate, and N/A ---------------------------
    # Decided before behaviours: neither depends on what the agent does.
    channel_idx = rng.choice(len(CHANNELS), size=n, p=[c[1] for c in CHANNELS])
    applicable = np.ones((n, n_beh), dtype=bool)
    hold = beh_ids.index("hold_etiquette")
    applicable[:, hold] = rng.random(n) < 0.4  # most contacts have no hold
    applicable[channel_idx == 2, hold] = False  # no holds on email
    surveyed = rng.random(n) < 0.25
    # A QA team evaluates about a dozen contacts per agent-month whatever the
    # volume (favouring surveyed ones), so busier centres evaluate a smaller share.
    qa_share = min(1.0, 120 / contacts_per_month)
    is_evaluated = np.where(surveyed, rng.random(n) < 0.35 * qa_share,
                            rng.random(n) < 0.04 * qa_share)
    # Who scores each evaluated contact and how they err (their own random
    # stream): fixed now, because coaching picks its focus from the scores.
    qa_team = _qa_team(np.random.default_rng((seed, 3)), is_evaluated=is_evaluated,
                       c_site=c_site)

    # --- behaviour that really changes in the last month -------------------
    p_base = p0[c_agent].copy()
    changes = []
    if months >= 4:
        n_change = max(1, int(round(change_share * agents)))
        changers = rng.choice(agents, size=min(n_change, agents), replace=False)
        in_last = c_month == months - 1
        for k, a in enumerate(changers):
            movable = [j for j in range(n_beh) if j not in (ceiling, hold)
                       and 0.35 <= p0[a, j] <= 0.92]
            if not movable:
                continue
            j = int(rng.choice(movable))
            before = float(p0[a, j])
            after = max(before - 0.5, 0.05) if k % 3 != 2 else min(before + 0.45, 0.97)
            p_base[in_last & (c_agent == a), j] = after
            changes.append({"agent_id": agent_ids[a], "behavior_id": beh_ids[j],
                            "period": str(periods[-1]), "from": before, "to": after,
                            "direction": "declined" if after < before else "improved"})

    # --- coaching, month by month, and the behaviours shown ----------------
    # A supervisor coaches an agent about once a month; 80% of sessions focus
    # on a behaviour. With ``selection="observed"`` (what supervisors and this
    # kit's own packs do) the focus is the behaviour with the lowest observed
    # score in the agent's evaluations of the previous two months, or, with
    # probability ``repeat_share``, the behaviour the last session was on;
    # with ``selection="propensity"`` it is drawn by the agent's true weakness
    # (noise-free selection). Each session raises the probability of showing
    # its behaviour by ``coaching_lift`` on every later contact (capped at 0.97).
    sessions = []  # (agent, supervisor index, held, behaviour or -1)
    session_rows = rng.poisson(1.0, size=(agents, months))
    uniform = rng.random((n, n_beh))
    # Behaviours shown are 0/1 and session counts small: compact types, exact values.
    shown = np.zeros((n, n_beh), dtype=bool)
    dose = np.zeros((n, n_beh), dtype=np.int16)
    bounds = np.searchsorted(c_agent, np.arange(agents + 1))
    stamps = started.values
    last_focus: dict[int, int] = {}
    coachable = np.array([j != ceiling for j in range(n_beh)])
    for m in range(months):
        window = is_evaluated & (c_month >= m - 2) & (c_month < m)
        for a in range(agents):
            lo, hi = bounds[a], bounds[a + 1]
            mine = window[lo:hi]
            seen = applicable[lo:hi][mine]
            counts = seen.sum(axis=0)
            kept = qa_team.position[lo:hi][mine]
            recorded = qa_team.score(shown[lo:hi][mine].astype(float),
                                     qa_team.rater[lo:hi][mine],
                                     qa_team.flip[kept], qa_team.slip[kept])
            observed = np.where(counts >= 2, (recorded * seen).sum(axis=0)
                                / np.maximum(counts, 1), np.inf)
            days = np.sort(rng.integers(0, month_days[m], size=int(session_rows[a, m])))
            for d in days:
                held = pd.Timestamp(periods[m].start) + pd.Timedelta(days=int(d))
                sup = int(agent_sup[a])
                for mover in movers:
                    if mover[0] == a and held >= mover[3]:
                        sup = mover[2]
                focused = rng.random() < 0.8
                repeat = rng.random() < repeat_share
                if not focused:
                    b = -1
                elif selection == "propensity":
                    weak = np.where(coachable, 1 - p0[a], 0.0)
                    b = int(rng.choice(n_beh, p=weak / weak.sum()))
                elif repeat and a in last_focus:
                    b = last_focus[a]
                elif np.isfinite(observed[coachable]).any():
                    b = int(np.argmin(np.where(coachable, observed, np.inf)))
                else:
                    b = int(rng.choice(np.flatnonzero(coachable)))
                if b >= 0:
                    last_focus[a] = b
                    first = lo + np.searchsorted(stamps[lo:hi], np.datetime64(held),
                                                 side="right")
                    dose[first:hi, b] += 1
                sessions.append((a, sup, held, b))
        now = np.flatnonzero(c_month == m)
        lifted = np.minimum(p_base[now] + coaching_lift * dose[now].astype(float), 0.97)
        p_now = np.where(dose[now] > 0, np.maximum(lifted, p_base[now]), p_base[now])
        shown[now] = uniform[now] < p_now

    # What one more session adds to the probability, on average over the
    # contacts after it (the cap makes it less than ``coaching_lift``).
    def _p(d: np.ndarray, base: np.ndarray) -> np.ndarray:
        d = d.astype(float)
        return np.where(d > 0, np.maximum(np.minimum(base + coaching_lift * d, 0.97), base),
                        base)
    lifts, next_month_lifts = [], []
    month_of = {str(per): k for k, per in enumerate(periods)}
    for a, _sup, held, b in sessions:
        if b < 0:
            continue
        lo, hi = bounds[a], bounds[a + 1]
        first = lo + np.searchsorted(stamps[lo:hi], np.datetime64(held), side="right")
        if first < hi:
            d = dose[first:hi, b]
            gain = _p(d, p_base[first:hi, b]) - _p(d - 1, p_base[first:hi, b])
            lifts.append(float(np.mean(gain)))
            # The month after the session's month: what an analysis comparing
            # that month with the months before measures.
            nxt = c_month[first:hi] == month_of[str(Period.of(held.date()))] + 1
            if nxt.any():
                next_month_lifts.append(float(np.mean(gain[nxt])))
    shown_eff = np.where(applicable, shown, 0.0)

    def effect_matrix(kpi: str, rows: slice = slice(None)) -> np.ndarray:
        vendors = c_vendor[rows]
        beta = np.zeros((len(vendors), n_beh))
        for b, value in EFFECTS.get(kpi, {}).items():
            beta[:, beh_ids.index(b)] = value
        for vendor, per_kpi in VENDOR_OVERRIDES.items():
            for b, value in per_kpi.get(kpi, {}).items():
                beta[vendors == vendor, beh_ids.index(b)] = value
        return beta

    def linear(kpi: str) -> np.ndarray:
        # Row blocks: each contact's sum is the same, without an n x behaviours temporary.
        return np.concatenate([
            (effect_matrix(kpi, slice(lo, lo + _BLOCK)) * shown_eff[lo:lo + _BLOCK]).sum(axis=1)
            for lo in range(0, n, _BLOCK)] or [np.zeros(0)])

    agent_csat = rng.normal(0, 0.15, size=agents)
    site_csat = np.array([s[4] for s in SITES])
    lin = {k: linear(k) for k in EFFECTS}
    csat = _stochastic_round(
        rng, 2.7 + site_csat[c_site] + agent_csat[c_agent] + lin["csat"]
        + rng.normal(0, 0.6, n), 1, 5)
    nps = _stochastic_round(
        rng, 5.0 + 2 * site_csat[c_site] + 2 * agent_csat[c_agent] + lin["nps"]
        + rng.normal(0, 1.2, n), 0, 10)
    ces = _stochastic_round(rng, 3.6 + lin["ces"] + rng.normal(0, 0.8, n), 1, 7)
    fcr_eta = -0.4 + rng.normal(0, 0.3, size=agents)[c_agent] + lin["fcr"]
    fcr = rng.random(n) < _sigmoid(fcr_eta)
    aht = np.round(np.array([c[2] for c in CHANNELS])[channel_idx] * rng.lognormal(0, 0.35, n)
                   + lin["aht_seconds"])

    # FCR effects in probability: the average marginal effect over all contacts.
    fcr_ame = {}
    for b, value in EFFECTS["fcr"].items():
        j = beh_ids.index(b)
        beta = np.full(n, value)  # column j of effect_matrix("fcr")
        for vendor, per_kpi in VENDOR_OVERRIDES.items():
            if b in per_kpi.get("fcr", {}):
                beta[c_vendor == vendor] = per_kpi["fcr"][b]
        eta0 = fcr_eta - beta * shown_eff[:, j]
        fcr_ame[b] = float(np.mean(_sigmoid(eta0 + beta) - _sigmoid(eta0)))

    nps_answered = surveyed & (rng.random(n) < 0.8)
    ces_answered = surveyed & (rng.random(n) < 0.6)
    fcr_known = rng.random(n) < 0.9
    interaction_ids = np.array([f"I{i + 1:07d}" for i in range(n)])

    interactions = pd.DataFrame({
        "interaction_id": interaction_ids,
        "agent_id": np.array(agent_ids)[c_agent],
        "started_at": _as_exported(started, zones[c_site], seed=(seed, 1)),
        "channel": np.array([c[0] for c in CHANNELS])[channel_idx],
        "aht_seconds": aht.astype(int),
        "fcr": np.where(fcr_known, np.where(fcr, "true", "false"), ""),
        "csat": _score_text(csat, surveyed),
        "nps": _score_text(nps, nps_answered),
        "ces": _score_text(ces, ces_answered),
    })

    # --- QA ---------------------------------------------------------------
    # Evaluations come days after the contact (``qa_lag_days`` at most), so a
    # late-September contact is often evaluated in October; an evaluation
    # that would fall after the data ends is dated its last evening.
    evaluated = np.flatnonzero(is_evaluated)
    lag = rng.integers(1, qa_lag_days + 1, size=len(evaluated)) if qa_lag_days > 0 \
        else np.zeros(len(evaluated), dtype=int)
    eval_at = started[evaluated] + pd.to_timedelta(lag, unit="D") + pd.Timedelta(hours=1)
    last_evening = window_end + pd.Timedelta(hours=23)
    eval_at = eval_at.where(eval_at <= last_evening, last_evening)
    # This draw once chose the evaluator; it stays so every later number of the
    # stream is unchanged (``qa_team`` now says who scores what).
    rng.choice(np.array([f"E{k:02d}" for k in range(1, 9)]), size=len(evaluated))
    latest = started[evaluated] + pd.Timedelta(days=max(qa_lag_days, 0), hours=1)
    latest = latest.where(latest <= last_evening, last_evening)
    qa = _plant_qa(np.random.default_rng((seed, 4)), qa_team, evaluated=evaluated,
                   eval_at=eval_at, latest=latest, c_site=c_site, shown=shown,
                   applicable=applicable, calibration_share=calibration_share)
    routine_n = len(evaluated)
    units = np.concatenate([evaluated, evaluated[qa.calibrated]])
    rows = len(units) * n_beh
    score_values = qa.scores.ravel()
    score_text = np.where(score_values == 1, "1", "0").astype(object)
    score_text[~applicable[units].ravel()] = "N/A"
    stamps_out = np.concatenate([
        _as_exported(eval_at, zones[c_site[evaluated]], seed=(seed, 2)),
        _as_exported(qa.calibration_at, zones[c_site[evaluated[qa.calibrated]]],
                     seed=(seed, 4))])
    qa_scores = pd.DataFrame({
        "evaluation_id": np.repeat([f"Q{k + 1:06d}" for k in range(len(units))], n_beh),
        "interaction_id": np.repeat(interaction_ids[units], n_beh),
        "agent_id": np.repeat(np.array(agent_ids)[c_agent[units]], n_beh),
        "evaluator_id": np.repeat(qa.evaluator_ids[qa.rater], n_beh),
        "evaluated_at": np.repeat(stamps_out, n_beh),
        "behavior_id": np.tile(beh_ids, len(units)),
        "score": score_text,
    })
    assert routine_n + len(qa.calibrated) == len(units)
    assert len(qa_scores) == rows

    qa_form = pd.DataFrame({
        "behavior_id": beh_ids,
        "label": [b[1] for b in BEHAVIOURS],
        "description": [b[4] for b in BEHAVIOURS],
        "kind": [b[2] for b in BEHAVIOURS],
        "weight": [1.0] * n_beh,
    })

    coached_pairs: set[tuple[int, int]] = set()
    repeated = 0
    for a, _sup, _held, b in sorted(sessions, key=lambda x: x[2]):
        if b >= 0:
            repeated += (a, b) in coached_pairs
            coached_pairs.add((a, b))
    topics = {-1: "wellbeing check-in"}
    kinds = ["one-to-one", "call review", "side-by-side"]
    coaching = pd.DataFrame([
        {
            "session_id": f"C{k + 1:05d}",
            "supervisor_id": supervisors[sup][0],
            "agent_id": agent_ids[a],
            "held_on": held.date().isoformat(),
            "minutes": int(rng.integers(15, 46)),
            "behavior_id": beh_ids[b] if b >= 0 else "",
            "topic": BEHAVIOURS[b][1] if b >= 0 else topics[-1],
            "kind": kinds[int(rng.integers(0, len(kinds)))],
        }
        for k, (a, sup, held, b) in enumerate(sessions)
    ], columns=["session_id", "supervisor_id", "agent_id", "held_on", "minutes",
                "behavior_id", "topic", "kind"])

    targets = pd.DataFrame([
        ("csat", 4.0, "all", "", "higher", 1.0),
        ("nps", 20.0, "all", "", "higher", 1.0),
        ("fcr", 0.72, "all", "", "higher", 1.0),
        ("ces", 5.0, "all", "", "higher", 0.5),
        ("aht_seconds", 480.0, "all", "", "lower", 0.5),
        ("csat", 3.8, "vendor", "Harbor BPO", "higher", 1.0),
    ], columns=["kpi", "target", "scope", "scope_value", "direction", "weight"])

    weeks = pd.date_range(window_start - pd.Timedelta(days=window_start.weekday()),
                          window_end, freq="7D")
    share = {s[0]: float(rng.uniform(0.3, 0.6)) for s in supervisors}
    supervisor_time = pd.DataFrame([
        {
            "supervisor_id": sid,
            "week": w.date().isoformat(),
            "coaching_minutes": int(np.clip(rng.normal(share[sid], 0.05), 0, 1) * 2400),
            "total_minutes": 2400,
        }
        for sid, _, _ in supervisors for w in weeks
    ])

    zero = {k: [b for b in beh_ids if b not in EFFECTS.get(k, {})]
            for k in ("csat", "nps", "ces", "fcr")}
    truth = {
        "seed": seed,
        "agents": agents,
        "months": [str(p) for p in periods],
        "effects": EFFECTS,
        "effects_scale": {"csat": "points on 1-5", "nps": "points on 0-10",
                          "ces": "points on 1-7", "fcr": "log-odds",
                          "aht_seconds": "seconds"},
        "fcr_probability_effects": fcr_ame,
        "vendor_overrides": VENDOR_OVERRIDES,
        "zero_effect": zero,
        "ceiling_behaviours": ["use_name"],
        "coaching_lift": coaching_lift,
        "coaching_lift_realised": float(np.mean(lifts)) if lifts else None,
        "coaching_sessions_with_focus": int(sum(1 for s in sessions if s[3] >= 0)),
        "coaching": {
            "selection": selection,
            "selection_window_months": 2,
            "lift_per_session": coaching_lift,
            "lift_per_session_realised": float(np.mean(lifts)) if lifts else None,
            "lift_per_session_next_month": float(np.mean(next_month_lifts))
            if next_month_lifts else None,
            "sessions": len(sessions),
            "sessions_with_focus": int(sum(1 for s in sessions if s[3] >= 0)),
            "repeat_share": repeat_share,
            "repeated_sessions": repeated,
        },
        "qa_lag_days": [1, qa_lag_days] if qa_lag_days > 0 else [0, 0],
        "qa_evaluators": qa.truth,
        "behaviour_changes": changes,
        "movers": [
            {"agent_id": agent_ids[a], "from_supervisor": supervisors[o][0],
             "to_supervisor": supervisors[t][0], "on": on.date().isoformat()}
            for a, o, t, on in movers
        ],
        "sites": [{"site": s[0], "vendor": s[1], "shore": s[2], "time_zone": s[5]}
                  for s in SITES],
        "local_month_contacts": {
            SITES[s][0]: {str(m): int(n) for m, n in
                          pd.Series(started[c_site == s].to_period("M")).value_counts()
                          .sort_index().items()}
            for s in range(len(SITES))},
    }
    tables = {
        "roster": roster, "interactions": interactions, "qa_scores": qa_scores,
        "qa_form": qa_form, "coaching": coaching, "targets": targets,
        "supervisor_time": supervisor_time,
        "evaluators": qa.evaluators,
        "sites": pd.DataFrame({"site": [s[0] for s in SITES], "time_zone": [s[5] for s in SITES],
                               "site_name": [s[0] for s in SITES],
                               "country": [s[6] for s in SITES]}),
    }
    return SampleData(tables=dict(sorted(tables.items())), truth=truth)
