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
``coaching_lift`` for every earlier coaching session on it. Outcomes are
linear in the behaviours shown on that contact (logistic for FCR), plus an
agent effect and noise, then rounded stochastically (so the expected value
stays linear) and clipped to the scale. QA evaluates a sample of contacts,
favouring surveyed ones as many centres do, and sees the behaviours exactly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.files import atomic_path, atomic_write_text
from ..core.periods import Period, parse_period

__all__ = ["BEHAVIOURS", "SampleData", "make_sample_data", "write_sample_data"]

# (behavior_id, label, kind, base adoption, description)
BEHAVIOURS: list[tuple[str, str, str, float, str]] = [
    ("greet_brand", "Greets with brand and own name", "task", 0.85,
     "Opens with the brand name and the agent's own name."),
    ("verify_identity", "Verifies identity", "task", 0.88,
     "Completes the security check before discussing the account."),
    ("empathy", "Acknowledges how the customer feels", "intent", 0.60,
     "Names the customer's feeling or situation before solving."),
    ("ownership", "Takes ownership", "intent", 0.55,
     "Says what they will do personally and does not pass the customer on."),
    ("explain_clearly", "Explains clearly, without jargon", "intent", 0.65,
     "Explains the answer in the customer's terms and checks understanding."),
    ("confirm_resolution", "Confirms the issue is resolved", "intent", 0.60,
     "Asks whether the issue is fully resolved before closing."),
    ("set_expectations", "Sets clear expectations", "intent", 0.50,
     "Says what happens next and when."),
    ("hold_etiquette", "Follows hold etiquette", "task", 0.80,
     "Asks before holding and thanks the customer afterwards."),
    ("offer_more_help", "Offers further help", "task", 0.70,
     "Asks if there is anything else before closing."),
    ("use_name", "Uses the customer's name", "task", 0.97,
     "Uses the customer's name at least once."),
]

#: Planted effects of a behaviour shown (0 -> 1) on each KPI, on its own scale.
#: FCR is on the log-odds scale here; ``truth.json`` also gives it in probability.
EFFECTS: dict[str, dict[str, float]] = {
    "csat": {"empathy": 0.45, "confirm_resolution": 0.40, "ownership": 0.30,
             "explain_clearly": 0.25},
    "nps": {"empathy": 1.0, "confirm_resolution": 0.9, "ownership": 0.8,
            "explain_clearly": 0.5},
    "ces": {"explain_clearly": 0.5, "set_expectations": 0.4, "ownership": 0.4,
            "confirm_resolution": 0.3},
    "fcr": {"confirm_resolution": 0.9, "ownership": 0.6, "set_expectations": 0.4},
    "aht_seconds": {"empathy": 15.0, "explain_clearly": 25.0, "verify_identity": 20.0},
}
#: The effect that differs by vendor: confirming resolution does nothing at
#: the offshore vendor (its agents ask by rote, and customers hear it so).
VENDOR_OVERRIDES: dict[str, dict[str, dict[str, float]]] = {
    "Harbor BPO": {"csat": {"confirm_resolution": 0.0}, "nps": {"confirm_resolution": 0.0}},
}
COACHING_LIFT = 0.15  # rise in the probability of showing a behaviour per session

SITES = [  # site, vendor, shore, share of agents, CSAT culture offset
    ("Leeds", "in-house", "onshore", 0.25, 0.10),
    ("Glasgow", "in-house", "onshore", 0.20, 0.00),
    ("Lisbon", "Atlas CX", "nearshore", 0.20, -0.05),
    ("Manila", "Harbor BPO", "offshore", 0.20, -0.10),
    ("Cebu", "Harbor BPO", "offshore", 0.15, -0.15),
]
CHANNELS = [("voice", 0.55, 420.0), ("chat", 0.30, 540.0), ("email", 0.15, 300.0)]

_FIRST = ["Aisha", "Ben", "Carmen", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon",
          "Kemi", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
          "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zara", "Ana", "Bilal", "Chloe", "Diego"]
_LAST = ["Okafor", "Silva", "Murphy", "Santos", "Reyes", "Khan", "Novak", "Walsh", "Costa",
         "Bautista", "Fraser", "Mendoza", "Patel", "Lopez", "Campbell", "Garcia", "Cruz",
         "Ferreira", "Hughes", "Ramos", "Nguyen", "Stewart", "Aquino", "Morais", "Evans"]

_SUPERVISOR_LAST = ["Okonkwo", "Lindqvist", "Marchetti", "Delacroix", "Abernathy", "Kowalczyk",
                    "Villanueva", "Oyelaran", "Haddad", "Fitzgerald", "Nakamura", "Brennan",
                    "Castellano", "Ekwueme", "Sorensen", "Achterberg", "Quintero", "Zielinski"]


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


def make_sample_data(
    *,
    agents: int = 120,
    months: int = 6,
    seed: int = 7,
    last_period: str | Period = "2026-10",
    contacts_per_month: int = 120,
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

    Returns
    -------
    SampleData
        ``tables`` keyed by contract table name and ``truth``, the planted
        effects and facts (see the module docstring).

    Examples
    --------
    >>> sample = make_sample_data(agents=30, months=2, contacts_per_month=20)
    >>> sorted(sample.tables)[:3]
    ['coaching', 'interactions', 'qa_form']
    """
    if agents < 5 or months < 1:
        raise ValueError("a sample needs at least 5 agents and 1 month")
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
    names = [f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST) + 7 * i) % len(_LAST)]}"
             for i in range(agents)]

    supervisors = []  # (supervisor_id, name, site index)
    agent_sup = np.empty(agents, dtype=int)
    for s_idx in range(len(SITES)):
        members = np.flatnonzero(agent_site == s_idx)
        n_sup = max(1, int(np.ceil(len(members) / 12)))
        for k, chunk in enumerate(np.array_split(members, n_sup)):
            sup_index = len(supervisors)
            # Supervisors' surnames come from their own list, so no agent shares a name.
            sup_name = f"{_FIRST[(sup_index * 7 + 3) % len(_FIRST)]} " \
                       f"{_SUPERVISOR_LAST[sup_index % len(_SUPERVISOR_LAST)]}"
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

    # Supervisor and site of each contact, by the roster on its date.
    c_sup = agent_sup[c_agent].copy()
    for a, old, new, on in movers:
        c_sup[(c_agent == a) & (started >= on)] = new
        del old
    c_site = np.array([supervisors[s][2] for s in c_sup])
    c_vendor = np.array([SITES[s][1] for s in c_site])

    # --- coaching ---------------------------------------------------------
    sessions = []
    session_rows = rng.poisson(1.0, size=(agents, months))
    for a in range(agents):
        for m in range(months):
            for _ in range(int(session_rows[a, m])):
                held = pd.Timestamp(periods[m].start) + pd.Timedelta(
                    days=int(rng.integers(0, month_days[m])))
                sup = int(agent_sup[a])
                for mover in movers:
                    if mover[0] == a and held >= mover[3]:
                        sup = mover[2]
                focused = rng.random() < 0.8
                weak = 1 - p0[a]
                weak[ceiling] = 0
                b = int(rng.choice(n_beh, p=weak / weak.sum())) if focused else -1
                sessions.append((a, sup, held, b))

    # --- behaviours shown on every contact --------------------------------
    p = p0[c_agent].copy()
    lifts = []
    # Contacts are grouped by agent and sorted by time: each agent is a slice.
    bounds = np.searchsorted(c_agent, np.arange(agents + 1))
    stamps = started.values
    for a, _sup, held, b in sessions:
        if b < 0:
            continue
        lo, hi = bounds[a], bounds[a + 1]
        first = lo + np.searchsorted(stamps[lo:hi], np.datetime64(held), side="right")
        if first >= hi:
            continue
        before = p[first:hi, b].copy()
        p[first:hi, b] = np.minimum(before + COACHING_LIFT, 0.97)
        lifts.append(float((p[first:hi, b] - before).mean()))
    shown = (rng.random((n, n_beh)) < p).astype(float)
    applicable = np.ones((n, n_beh), dtype=bool)
    hold = beh_ids.index("hold_etiquette")
    applicable[:, hold] = rng.random(n) < 0.4  # most contacts have no hold
    channel_idx = rng.choice(len(CHANNELS), size=n, p=[c[1] for c in CHANNELS])
    applicable[channel_idx == 2, hold] = False  # no holds on email
    shown_eff = np.where(applicable, shown, 0.0)

    def effect_matrix(kpi: str) -> np.ndarray:
        beta = np.zeros((n, n_beh))
        for b, value in EFFECTS.get(kpi, {}).items():
            beta[:, beh_ids.index(b)] = value
        for vendor, per_kpi in VENDOR_OVERRIDES.items():
            for b, value in per_kpi.get(kpi, {}).items():
                beta[c_vendor == vendor, beh_ids.index(b)] = value
        return beta

    agent_csat = rng.normal(0, 0.15, size=agents)
    site_csat = np.array([s[4] for s in SITES])
    lin = {k: (effect_matrix(k) * shown_eff).sum(axis=1) for k in EFFECTS}
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
    beta_fcr = effect_matrix("fcr")
    for b, _ in EFFECTS["fcr"].items():
        j = beh_ids.index(b)
        eta0 = fcr_eta - beta_fcr[:, j] * shown_eff[:, j]
        fcr_ame[b] = float(np.mean(_sigmoid(eta0 + beta_fcr[:, j]) - _sigmoid(eta0)))

    surveyed = rng.random(n) < 0.25
    nps_answered = surveyed & (rng.random(n) < 0.8)
    ces_answered = surveyed & (rng.random(n) < 0.6)
    fcr_known = rng.random(n) < 0.9
    interaction_ids = np.array([f"I{i + 1:07d}" for i in range(n)])

    interactions = pd.DataFrame({
        "interaction_id": interaction_ids,
        "agent_id": np.array(agent_ids)[c_agent],
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%S"),
        "channel": np.array([c[0] for c in CHANNELS])[channel_idx],
        "aht_seconds": aht.astype(int),
        "fcr": np.where(fcr_known, np.where(fcr, "true", "false"), ""),
        "csat": np.where(surveyed, csat.astype(int).astype(str), ""),
        "nps": np.where(nps_answered, nps.astype(int).astype(str), ""),
        "ces": np.where(ces_answered, ces.astype(int).astype(str), ""),
    })

    # --- QA ---------------------------------------------------------------
    evaluated = np.flatnonzero(np.where(surveyed, rng.random(n) < 0.35, rng.random(n) < 0.04))
    lag = rng.integers(0, 4, size=len(evaluated))
    eval_at = started[evaluated] + pd.to_timedelta(lag, unit="D") + pd.Timedelta(hours=1)
    eval_at = eval_at.where(eval_at <= window_end + pd.Timedelta(hours=23), started[evaluated])
    evaluators = np.array([f"E{k:02d}" for k in range(1, 9)])
    rows = len(evaluated) * n_beh
    score_values = shown[evaluated].ravel()
    score_text = np.where(score_values == 1, "1", "0").astype(object)
    score_text[~applicable[evaluated].ravel()] = "N/A"
    qa_scores = pd.DataFrame({
        "evaluation_id": np.repeat([f"Q{k + 1:06d}" for k in range(len(evaluated))], n_beh),
        "interaction_id": np.repeat(interaction_ids[evaluated], n_beh),
        "agent_id": np.repeat(np.array(agent_ids)[c_agent[evaluated]], n_beh),
        "evaluator_id": np.repeat(rng.choice(evaluators, size=len(evaluated)), n_beh),
        "evaluated_at": np.repeat(eval_at.strftime("%Y-%m-%dT%H:%M:%S"), n_beh),
        "behavior_id": np.tile(beh_ids, len(evaluated)),
        "score": score_text,
    })
    assert len(qa_scores) == rows

    qa_form = pd.DataFrame({
        "behavior_id": beh_ids,
        "label": [b[1] for b in BEHAVIOURS],
        "description": [b[4] for b in BEHAVIOURS],
        "kind": [b[2] for b in BEHAVIOURS],
        "weight": [1.0] * n_beh,
    })

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
        "coaching_lift": COACHING_LIFT,
        "coaching_lift_realised": float(np.mean(lifts)) if lifts else None,
        "coaching_sessions_with_focus": int(sum(1 for s in sessions if s[3] >= 0)),
        "movers": [
            {"agent_id": agent_ids[a], "from_supervisor": supervisors[o][0],
             "to_supervisor": supervisors[t][0], "on": on.date().isoformat()}
            for a, o, t, on in movers
        ],
        "sites": [{"site": s[0], "vendor": s[1], "shore": s[2]} for s in SITES],
    }
    tables = {
        "roster": roster, "interactions": interactions, "qa_scores": qa_scores,
        "qa_form": qa_form, "coaching": coaching, "targets": targets,
        "supervisor_time": supervisor_time,
    }
    return SampleData(tables=dict(sorted(tables.items())), truth=truth)


# --------------------------------------------------------------------------- broken rows


def add_broken_rows(sample: SampleData) -> tuple[dict[str, pd.DataFrame], dict]:
    """Append rows breaking every rule the contract names; also valid oddities.

    Returns the tables as text and a record of each broken row: its table,
    1-based row number in the written file, and the rule it breaks. Valid
    but unusual spellings (``TRUE``/``FALSE``, ``Pass``, ``N/A``, ``Voice``,
    padded ids) are mixed into good rows and must *not* be set aside.
    """
    t = {k: v.astype(str).replace({"nan": "", "NaT": "", "None": ""})
         for k, v in sample.tables.items()}
    cases: list[dict] = []

    def add(table: str, rule: str, **values: str) -> None:
        frame = t[table]
        base = {c: "" for c in frame.columns}
        base.update(values)
        t[table] = pd.concat([frame, pd.DataFrame([base])], ignore_index=True)
        cases.append({"table": table, "row": len(t[table]), "rule": rule})

    inter = t["interactions"]
    good = inter.iloc[0].to_dict()

    def contact(rule: str, **changes: str) -> None:
        row = dict(good, interaction_id=f"BROKEN-{len(cases):03d}", **{
            k: v for k, v in changes.items() if k != "interaction_id"})
        if "interaction_id" in changes:
            row["interaction_id"] = changes["interaction_id"]
        add("interactions", rule, **row)

    # Valid oddities first, on existing good rows.
    inter.loc[1, "fcr"] = "TRUE"
    inter.loc[2, "fcr"] = "FALSE"
    inter.loc[3, "fcr"] = "Yes"
    inter.loc[4, "channel"] = "Voice"
    inter.loc[5, "agent_id"] = f" {inter.loc[5, 'agent_id']} "
    t["interactions"] = inter
    qa = t["qa_scores"]
    qa.loc[0, "score"] = "Pass" if qa.loc[0, "score"] == "1" else "fail"
    qa.loc[1, "score"] = "yes" if qa.loc[1, "score"] == "1" else "NO"
    t["qa_scores"] = qa

    contact("outside 1 to 5", csat="6")
    contact("outside 1 to 5", csat="0")
    contact("outside 0 to 10", nps="11")
    contact("outside 1 to 7", ces="9")
    contact("negative", aht_seconds="-5")
    contact("not an ISO 8601 date", started_at="31/10/2026 10:00")
    contact("not one of", channel="fax")
    contact("interaction_id is empty", interaction_id="")
    contact("agent_id is empty", agent_id="")
    contact("not true/false", fcr="maybe")
    contact("not a whole number", csat="4.5")
    contact("is not a number", csat="abc")
    contact("is not on the roster", agent_id="A9999")
    contact("is not on the roster on", started_at="2001-01-01T10:00:00")
    add("interactions", "repeated interaction_id", **dict(good, csat="1"))

    q = t["qa_scores"].iloc[0].to_dict()
    for k, (rule, changes) in enumerate([
        ("outside 0 to 1", {"score": "1.5"}),
        ("outside 0 to 1", {"score": "-0.1"}),
        ("is not a number, yes/no", {"score": "maybe"}),
        ("is not on the QA form", {"behavior_id": "mind_reading"}),
        ("not an ISO 8601 date", {"evaluated_at": "yesterday"}),
        ("evaluation_id is empty", {"evaluation_id": ""}),
        ("is not on the roster", {"agent_id": "A9999"}),
    ]):
        changes.setdefault("evaluation_id", f"QBROKEN{k}")
        add("qa_scores", rule, **dict(q, **changes))
    add("qa_scores", "repeated evaluation_id", **q)

    r = t["roster"].iloc[0].to_dict()
    add("roster", "not one of", **dict(r, agent_id="A9001", shore="moon"))
    add("roster", "not an ISO 8601 date", **dict(r, agent_id="A9002", valid_from="not a date"))
    add("roster", "agent_id is empty", **dict(r, agent_id=""))
    add("roster", "vendor is empty", **dict(r, agent_id="A9003", vendor=""))

    f = t["qa_form"].iloc[0].to_dict()
    add("qa_form", "not one of", **dict(f, behavior_id="bogus_behaviour", kind="vibe"))
    add("qa_form", "repeated behavior_id", **dict(f, label="A second greeting row"))

    c = t["coaching"].iloc[0].to_dict()
    add("coaching", "negative", **dict(c, session_id="CB1", minutes="-10"))
    add("coaching", "not an ISO 8601 date", **dict(c, session_id="CB2", held_on="2026-02-30"))
    add("coaching", "is not on the QA form", **dict(c, session_id="CB3",
                                                    behavior_id="mind_reading"))
    add("coaching", "repeated session_id", **c)

    g = t["targets"].iloc[0].to_dict()
    add("targets", "not one of", **dict(g, direction="sideways"))
    add("targets", "not one of", **dict(g, kpi="happiness"))

    s = t["supervisor_time"].iloc[0].to_dict()
    add("supervisor_time", "negative", **dict(s, coaching_minutes="-1"))
    add("supervisor_time", "not an ISO 8601 date", **dict(s, week="week 40"))

    expected = {name: sum(1 for k in cases if k["table"] == name) for name in t}
    return t, {"expected_set_aside": expected, "cases": cases}


# --------------------------------------------------------------------------- writing


def write_sample_data(
    out: str | os.PathLike,
    *,
    agents: int = 120,
    months: int = 6,
    seed: int = 7,
    last_period: str = "2026-10",
    contacts_per_month: int = 120,
    broken: bool = False,
    fmt: str = "csv",
) -> Path:
    """Generate a sample and write it to ``out`` with ``truth.json`` beside it.

    ``fmt`` is ``csv``, ``parquet`` or ``duckdb`` (one ``cxreports.duckdb``
    file in ``out``). With ``broken=True`` rows breaking each contract rule
    are appended and ``broken.json`` records them and their expected count.
    Returns the source path to pass to the other commands.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sample = make_sample_data(agents=agents, months=months, seed=seed,
                              last_period=last_period, contacts_per_month=contacts_per_month)
    tables = {k: v.astype(str).replace({"nan": "", "NaT": "", "None": ""})
              for k, v in sample.tables.items()}
    if broken:
        tables, record = add_broken_rows(sample)
        atomic_write_text(out / "broken.json", json.dumps(record, indent=2))
    atomic_write_text(out / "truth.json", json.dumps(sample.truth, indent=2, default=str))
    if fmt == "csv":
        for name, frame in tables.items():
            with atomic_path(out / f"{name}.csv") as tmp:
                frame.to_csv(tmp, index=False)
        return out
    if fmt == "parquet":
        for name, frame in tables.items():
            with atomic_path(out / f"{name}.parquet") as tmp:
                frame.replace({"": None}).to_parquet(tmp, index=False)
        return out
    if fmt == "duckdb":
        import duckdb

        target = out / "cxreports.duckdb"
        with atomic_path(target) as tmp:
            con = duckdb.connect(str(tmp))
            for name, frame in tables.items():
                con.register("frame", frame.replace({"": None}))
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                con.unregister("frame")
            con.close()
        return target
    raise ValueError(f"unknown format {fmt!r}: use csv, parquet or duckdb")


#: Bump when the generator changes, so cached samples are rebuilt.
BUILTIN_VERSION = "2"


def builtin_source() -> Path:
    """The built-in sample's folder, generated on first use and cached.

    Lives in ``$CXREPORTS_CACHE`` (default ``~/.cache/cxreports``). Written
    to a temporary folder and renamed, so parallel notebooks never see half
    a sample.
    """
    import shutil
    import tempfile

    root = Path(os.environ.get("CXREPORTS_CACHE", Path.home() / ".cache" / "cxreports"))
    target = root / f"sample-v{BUILTIN_VERSION}"
    if (target / "interactions.csv").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".sample-", dir=root))
    write_sample_data(scratch)
    try:
        os.rename(scratch, target)
    except OSError:  # another process finished first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def resolve_source(source: str | os.PathLike | None) -> str:
    """``source`` itself, or the built-in sample where it is empty."""
    if source is None or str(source).strip() == "":
        return str(builtin_source())
    return os.fspath(source)
