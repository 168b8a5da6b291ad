"""Coaching packs at scale (issue 5).

~250 supervisors x ~12 agents (3,000 agents, 4 months). Reports:

- packs per second with 2 worker processes, and where the parent's time goes;
- the ratio of a pack's wall time (total / packs) to a bare WeasyPrint
  render of its HTML on one core: the aim is <= 1, i.e. model building and
  HTML are hidden behind rendering when both cores are busy;
- peak RSS of the parent and of any worker, sampled every 0.25 s, per
  quarter of a 1,000-pack run: flat means the last quarter's peak is within
  10% of the first's (workers are recycled every 50 packs).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from cxreports.analyses.analysis import Analysis
from cxreports.data.sample import write_sample_data
from cxreports.reports.batch import render_packs
from cxreports.reports.models import build_coaching_pack
from cxreports.reports.rendering import render_html, render_pdf, template_dir
from cxreports.run.executors import open_executor


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [g for c in found for g in _children(c)]


class RssSampler(threading.Thread):
    """Samples RSS of a process (default: this one) and of its descendants."""

    def __init__(self, pid: int | None = None) -> None:
        super().__init__(daemon=True)
        self.pid = pid or os.getpid()
        # time, parent, largest descendant, all together
        self.samples: list[tuple[float, float, float, float]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            workers = [_rss_mb(c) for c in _children(self.pid)]
            parent = _rss_mb(self.pid)
            self.samples.append((time.perf_counter(), parent, max(workers, default=0.0),
                                 parent + sum(workers)))
            time.sleep(0.25)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run(work: Path, scale: float = 1.0) -> dict:
    agents = max(60, int(3000 * scale))
    source = write_sample_data(work / "packs-sample", agents=agents, months=4,
                               contacts_per_month=30)
    t = time.perf_counter()
    analysis = Analysis.from_source(source, period="2026-10")
    supervisors = sorted(analysis.team["supervisor_id"].unique())
    build_coaching_pack(analysis, supervisors[0])  # fills the shared caches
    prepare = time.perf_counter() - t

    # Bare render on one core, for a sample of packs.
    sample = supervisors[:: max(1, len(supervisors) // 10)][:10]
    t_model, bare = 0.0, []
    for sid in sample:
        t = time.perf_counter()
        pack = build_coaching_pack(analysis, sid)
        html = render_html("coaching_pack.html", lang="en", generated_on="x", pack=pack)
        t_model += time.perf_counter() - t
        t = time.perf_counter()
        render_pdf(html, base_dir=template_dir(), roots=[template_dir()])
        bare.append(time.perf_counter() - t)
    bare_mean = sum(bare) / len(bare)

    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    rounds = max(1, round(1000 / len(supervisors))) if scale >= 1 else 1
    results = []
    with open_executor("local", 2) as executor:
        for r in range(rounds):
            results += render_packs(analysis, work / f"packs-out-{r % 2}",
                                    supervisors=supervisors, executor=executor)
    wall = time.perf_counter() - t0
    sampler.stop()
    assert all(x.status == "ok" for x in results), [x.error for x in results if x.error][:3]
    quarters = []
    span = (sampler.samples[-1][0] - sampler.samples[0][0]) or 1
    for q in range(4):
        part = [s for s in sampler.samples
                if q / 4 <= (s[0] - sampler.samples[0][0]) / span <= (q + 1) / 4]
        quarters.append({"parent_mb": round(max(s[1] for s in part)),
                         "worker_mb": round(max(s[2] for s in part))})
    n = len(results)
    return {
        "agents": agents, "supervisors": len(supervisors), "packs": n,
        "prepare_seconds": round(prepare, 1),
        "wall_seconds": round(wall, 1),
        "packs_per_second": round(n / wall, 2),
        "model_and_html_seconds_per_pack": round(t_model / len(sample), 3),
        "bare_render_seconds_per_pack": round(bare_mean, 3),
        "wall_over_bare_render": round((wall / n) / bare_mean, 2),
        "rss_by_quarter": quarters,
        "memory_flat": quarters[-1]["worker_mb"] <= 1.1 * quarters[0]["worker_mb"] + 20
        and quarters[-1]["parent_mb"] <= 1.1 * quarters[0]["parent_mb"] + 20,
        "met": (wall / n) / bare_mean <= 1.0,
    }
