"""Real contact volumes in bounded memory (issue 18).

A centre with 7,500 agents handles 20-30 contacts per agent per day: at 600
contacts per agent-month, 4 months are 18M interactions (Parquet) with
180,000 evaluations. Each command runs as a subprocess; wall time and the
peak RSS of its whole process tree are sampled every 0.25 s:

- ``cxreports validate``, side by side with a bare DuckDB scan doing the
  contract's core checks on the same files (``bench_validate.side_by_side``;
  target, issue 12: at most 5x the bare scan's wall time, 3 GB);
- ``cxreports drivers --kpi csat --kpi fcr --by vendor --period 2026-10``
  (target: 60 s, 3 GB);
- ``cxreports run`` with tables only (target: 90 s, 4 GB);
- at 600 contacts only, the full monthly run: tables, the notebooks once per
  vendor, a pack per supervisor (about 600) and the scorecards, with two
  workers (target: 6 GB for the whole process tree; its time is reported).

The same at about 4M contacts (``LOW_CONTACTS`` per agent-month) shows how
memory grows with contacts: well below proportionally, since only sums per
agent and month and the evaluated contacts leave DuckDB.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from bench_packs import RssSampler
from bench_validate import side_by_side

from cxreports.data.sample import write_sample_data

AGENTS = 7500
HIGH_CONTACTS = 600
LOW_CONTACTS = 133
TARGETS = {"drivers": (60.0, 3072.0), "run_tables": (90.0, 4096.0)}
#: The full monthly run at 600 contacts: peak MB of the process tree.
FULL_RUN_TARGET_MB = 6144.0
#: validate: at most this many times the bare scan's wall time, and this peak (MB).
VALIDATE_TARGET = (5.0, 3072.0)


def _measure(args: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cxreports", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    sampler.start()
    _, err = proc.communicate()
    sampler.stop()
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"cxreports {args[0]} failed ({proc.returncode}): {err[-2000:]}")
    peak = max((s[3] for s in sampler.samples), default=0.0)
    return {"wall_seconds": round(wall, 1), "peak_rss_mb_process_tree": round(peak)}


def _full_run(work: Path, agents: int, contacts: int) -> dict:
    folder = work / f"volume-{agents}-{contacts}"
    params = work / f"full-{agents}-{contacts}.yaml"
    params.write_text(yaml.safe_dump({
        "source": str(folder), "period": "2026-10", "out": str(work / f"full-{contacts}"),
        "group_by": ["vendor"], "notebooks": "all", "packs": True, "scorecards": True,
        "workers": 2}))
    return _measure(["run", str(params)])


def _one_volume(work: Path, agents: int, contacts: int) -> dict:
    folder = work / f"volume-{agents}-{contacts}"
    t = time.perf_counter()
    if not (folder / "interactions.parquet").exists():
        write_sample_data(folder, agents=agents, months=4, contacts_per_month=contacts,
                          fmt="parquet")
    generate = time.perf_counter() - t
    rows = pq.ParquetFile(folder / "interactions.parquet").metadata.num_rows
    params = work / f"tables-{agents}-{contacts}.yaml"
    params.write_text(yaml.safe_dump({
        "source": str(folder), "period": "2026-10", "out": str(work / f"out-{contacts}"),
        "notebooks": [], "packs": False, "scorecards": False}))
    return {
        "interactions": rows,
        "generate_seconds": round(generate, 1),
        "validate": side_by_side(folder),
        "drivers": _measure(["drivers", str(folder), "--kpi", "csat", "--kpi", "fcr", "--by",
                             "vendor", "--period", "2026-10", "--out",
                             str(work / f"drivers-{contacts}.csv")]),
        "run_tables": _measure(["run", str(params)]),
    }


def run(work: Path, scale: float = 1.0) -> dict:
    agents = max(100, int(AGENTS * scale))
    low = _one_volume(work, agents, LOW_CONTACTS)
    high = _one_volume(work, agents, HIGH_CONTACTS)
    high["run_full"] = _full_run(work, agents, HIGH_CONTACTS)
    # Issue 18's targets (time and memory at volume) and issue 12's validate ratio,
    # each with its own verdict: one unmet target must not hide the others.
    met = all(high[name]["wall_seconds"] <= seconds * max(scale, 0.05)
              and high[name]["peak_rss_mb_process_tree"] <= mb
              for name, (seconds, mb) in TARGETS.items()) \
        and high["run_full"]["peak_rss_mb_process_tree"] <= FULL_RUN_TARGET_MB
    validate_met = high["validate"]["validate_over_bare"] <= VALIDATE_TARGET[0] \
        and high["validate"]["peak_rss_mb_process_tree"] <= VALIDATE_TARGET[1]
    growth = {name: round(high[name]["peak_rss_mb_process_tree"]
                          / max(low[name]["peak_rss_mb_process_tree"], 1), 2)
              for name in ("validate", "drivers", "run_tables")}
    return {"agents": agents, "low": low, "high": high,
            "contacts_ratio": round(high["interactions"] / max(low["interactions"], 1), 2),
            "memory_ratio": growth, "targets": {**TARGETS, "validate_over_bare": VALIDATE_TARGET,
                        "run_full_mb": FULL_RUN_TARGET_MB},
            "met": met, "validate_met": validate_met}
