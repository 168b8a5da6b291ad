"""What the sample generator plants: the QA form, effects, sites, names.

Everything a test may ask a method to find is defined here and recorded in
``truth.json`` by :func:`cxreports.data.sample.make_sample_data`.
"""

from __future__ import annotations

__all__ = ["BEHAVIOURS", "BRAND_EVALUATORS", "CALIBRATION_SHARE", "CHANNELS", "COACHING_LIFT",
           "EFFECTS", "EVALUATOR_ERRORS", "EVALUATORS_PER_SITE", "FIRST_NAMES", "LAST_NAMES",
           "LENIENT_VENDOR", "SITES", "SUPERVISOR_LAST_NAMES", "VENDOR_OVERRIDES"]

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

SITES = [  # site, vendor, shore, share of agents, CSAT culture offset, time zone, country
    ("Leeds", "in-house", "onshore", 0.25, 0.10, "Europe/London", "United Kingdom"),
    ("Tulsa", "in-house", "onshore", 0.20, 0.00, "America/Chicago", "United States"),
    ("Lisbon", "Atlas CX", "nearshore", 0.20, -0.05, "Europe/Lisbon", "Portugal"),
    ("Manila", "Harbor BPO", "offshore", 0.20, -0.10, "Asia/Manila", "Philippines"),
    ("Cebu", "Harbor BPO", "offshore", 0.15, -0.15, "Asia/Manila", "Philippines"),
]
CHANNELS = [("voice", 0.55, 420.0), ("chat", 0.30, 540.0), ("email", 0.15, 300.0)]

FIRST_NAMES = ["Aisha", "Ben", "Carmen", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon",
          "Kemi", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
          "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zara", "Ana", "Bilal", "Chloe", "Diego"]
LAST_NAMES = ["Okafor", "Silva", "Murphy", "Santos", "Reyes", "Khan", "Novak", "Walsh", "Costa",
         "Bautista", "Fraser", "Mendoza", "Patel", "Lopez", "Campbell", "Garcia", "Cruz",
         "Ferreira", "Hughes", "Ramos", "Nguyen", "Stewart", "Aquino", "Morais", "Evans"]

SUPERVISOR_LAST_NAMES = ["Okonkwo", "Lindqvist", "Marchetti", "Delacroix", "Abernathy", "Kowalczyk",
                    "Villanueva", "Oyelaran", "Haddad", "Fitzgerald", "Nakamura", "Brennan",
                    "Castellano", "Ekwueme", "Sorensen", "Achterberg", "Quintero", "Zielinski"]

# --- QA evaluators: who scores, how well, and calibration ---------------------
#: Each site's own QA team (employer: the site's vendor, ``brand`` for in-house sites).
EVALUATORS_PER_SITE = 2
#: The brand's central calibration team; they score no routine evaluations.
BRAND_EVALUATORS = 2
#: Share of every vendor's evaluated interactions the brand team re-scores, and
#: the share a site evaluator re-scores of their colleague's.
CALIBRATION_SHARE = 0.05
#: How evaluators err on a yes/no behaviour: ``noise`` flips the behaviour seen
#: either way (on task items, which are checks, a third of it); then
#: ``false_yes`` scores an unseen behaviour as shown (leniency) and ``false_no``
#: a shown one as not (harshness), on every behaviour or only those of ``kind``.
#: Keys: ``<site>-<n>`` (the site's n-th evaluator); everyone else gets the default.
EVALUATOR_ERRORS: dict[str, dict] = {
    "default": {"noise": (0.005, 0.015), "false_yes": 0.0, "false_no": 0.0},
    "brand": {"noise": (0.002, 0.006), "false_yes": 0.0, "false_no": 0.0},
    # One lenient analyst at the brand's own sites, and one harsh on intent behaviours.
    "Leeds-2": {"false_yes": 0.25},
    "Tulsa-1": {"false_no": 0.25, "kind": "intent"},
}
#: The vendor whose own QA team is lenient on intent behaviours (how the
#: customer perceives the agent), and how lenient: ``false_yes`` on those.
LENIENT_VENDOR = {"vendor": "Atlas CX", "kind": "intent", "false_yes": 0.2}
