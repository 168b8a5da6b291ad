"""Coaching, trend and audit verdicts on samples generated as real centres behave.

Not part of the suite (it takes a minute or two): the figures issue #11 asks
for. For each seed it writes a default-size sample with observed-score
selection of the coaching focus, repeated sessions, QA lag and planted
behaviour changes, with coaching doing nothing and with a planted lift per
session, and reports

- the share of supervisor / behaviour / overall rows called "worked" when the
  true effect is zero (and "backfired" when it is);
- the overall lift recovered under the planted effect, and its coverage;
- the share of planted last-month behaviour changes flagged (trend power) and
  the share of other pairs flagged (false flags);
- the QA form audit's calls on planted drivers and null behaviours.

Usage: ``.venv/bin/python benchmarks/coaching_selection.py [--seeds 1 2 3] [--lift 0.12]
[--agents 120 --months 6 --contacts 120]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cxreports.analyses.analysis import Analysis
from cxreports.data.sample import write_sample_data


def one(seed: int, lift: float, **sample) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        src = write_sample_data(folder, seed=seed, coaching_lift=lift, **sample)
        truth = json.loads((Path(folder) / "truth.json").read_text())
        a = Analysis.from_source(src, period="2026-10")
        eff = pd.concat([a.coaching_effectiveness(group_by=by)
                         for by in ("supervisor_id", "behavior_id", None)])
        trends = a.trends
        planted = {(c["agent_id"], c["behavior_id"]): c["direction"]
                   for c in truth["behaviour_changes"]}
        key = list(zip(trends["agent_id"], trends["behavior_id"], strict=True))
        is_planted = np.array([k in planted for k in key])
        hit = np.array([planted.get(k) == t for k, t in zip(key, trends["trend"], strict=True)])
        flagged = trends["trend"].isin(["improved", "declined"]).to_numpy()
        audit = a.qa_form_audit().set_index("behavior_id")
        return {
            "seed": seed, "lift": lift,
            "realised": truth["coaching"]["lift_per_session_next_month"],
            "rows": eff, "trend_power": hit[is_planted].mean() if is_planted.any() else np.nan,
            "trend_false": flagged[~is_planted].mean(),
            "audit": audit[["predicts_nothing", "verdict"]] if "verdict" in audit
            else audit[["predicts_nothing"]],
            "truth": truth,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--lift", type=float, default=0.12)
    parser.add_argument("--agents", type=int, default=120)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--contacts", type=int, default=120, help="contacts per agent-month")
    args = parser.parse_args()
    size = {"agents": args.agents, "months": args.months, "contacts_per_month": args.contacts}
    print(f"sample: {size}, seeds {args.seeds}")
    for lift in (0.0, args.lift):
        runs = [one(s, lift, **size) for s in args.seeds]
        rows = pd.concat([r["rows"].assign(seed=r["seed"]) for r in runs])
        decided = rows[rows["verdict"] != "insufficient_data"]
        print(f"\n=== true lift per session {lift} ({len(runs)} seeds) ===")
        for by, part in decided.groupby("group_by"):
            worked = (part["verdict"] == "worked").mean()
            print(f"  {by:14s} rows={len(part):4d} worked={worked:.3f}"
                  f" backfired={(part['verdict'] == 'backfired').mean():.3f}"
                  f" median lift={part['lift'].median():+.3f}")
        overall = rows[rows["group_by"] == "all"].reset_index(drop=True)
        realised = np.array([r["realised"] for r in runs])
        cover = (overall["ci_low"] <= realised) & (realised <= overall["ci_high"])
        nominal = (overall["ci_low"] <= lift) & (lift <= overall["ci_high"])
        print(f"  overall lift per seed: {np.round(overall['lift'].to_numpy(), 3).tolist()}"
              f" (planted realised {np.round(realised, 3).tolist()}); interval covers the"
              f" realised lift {cover.mean():.2f}, the nominal {nominal.mean():.2f};"
              f" mean half-width {((overall['ci_high'] - overall['ci_low']) / 2).mean():.3f}")
        print(f"  trend power on planted changes: "
              f"{np.nanmean([r['trend_power'] for r in runs]):.2f}; "
              f"false flag rate elsewhere: {np.mean([r['trend_false'] for r in runs]):.4f}")
        truth = runs[0]["truth"]
        drivers = sorted({b for k in ("csat", "nps", "ces", "fcr") for b in truth["effects"][k]})
        nulls = [b for b in truth["zero_effect"]["csat"] if b not in drivers]
        calls = pd.concat([r["audit"].assign(seed=r["seed"]) for r in runs])
        for name, group in (("planted drivers", drivers), ("nulls", nulls)):
            part = calls[calls.index.isin(group)]
            if name == "nulls" and "verdict" in part:
                print("  audit verdicts per null behaviour:",
                      part.groupby(level=0)["verdict"].value_counts().unstack(fill_value=0)
                      .to_dict("index"))
            print(f"  audit on {name}: predicts_nothing="
                  f"{part['predicts_nothing'].mean():.2f} of {len(part)}"
                  + (f"; verdicts {part['verdict'].value_counts().to_dict()}"
                     if "verdict" in part else ""))


if __name__ == "__main__":
    main()
