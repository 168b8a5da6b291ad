"""The monthly run at scale (issues 6 and 12).

A run for 626 supervisors (7,500 agents, 4 months of contacts) with every
notebook for every site and vendor, packs, scorecards and tables, as
``cxreports run`` in a subprocess: total wall time (target: 8 minutes, scaled
with ``--scale``), CPU seconds of the whole process tree (less noisy than the
wall time on a shared machine), time per step (from the manifest), and peak
RSS of the whole process tree. Then about the least time the packs could
take here (``packs_floor``): an even sample of the month's packs rendered by
WeasyPrint alone on as many processes, scaled to all of them. Nothing the kit
does around the render beats it; a pack that is cheaper to render (its HTML,
CSS and charts) or more cores would. Then the scaling of the
PDF steps from 1 to 2 Dask workers (a LocalCluster), on a smaller slice
(``DASK_AGENTS``) so the comparison finishes in minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from bench_packs import (
    PERIOD,
    RssSampler,
    bare_render,
    busy_cpu_seconds,
    pack_pages,
    start_fork_server,
)

from cxreports.analyses.analysis import Analysis
from cxreports.data.sample import write_sample_data
from cxreports.reports.batch import REPORT_KINDS

DASK_AGENTS = 1500
TARGET_SECONDS = 480  # 8 minutes at 7,500 agents
#: Packs rendered by WeasyPrint alone for ``packs_floor``.
FLOOR_SAMPLE = 20


def _run(params: dict, path: Path) -> tuple[float, dict, float]:
    path.write_text(yaml.safe_dump(params))
    started, cpu = time.perf_counter(), busy_cpu_seconds()
    proc = subprocess.Popen([sys.executable, "-m", "cxreports", "run", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = RssSampler(proc.pid)
    sampler.start()
    code = proc.wait()
    sampler.stop()
    wall = time.perf_counter() - started
    _run.cpu = busy_cpu_seconds() - cpu  # the machine's: the run's forked workers too
    assert code in (0, 1), f"run failed with exit code {code}"
    manifest = json.loads((Path(params["out"]) / "manifest.json").read_text())
    peak = max((s[3] for s in sampler.samples), default=0.0)
    return wall, manifest, peak


def _packs_floor(source: Path, work: Path, packs: int, workers: int) -> dict:
    """WeasyPrint alone on :data:`FLOOR_SAMPLE` of the month's packs, evenly spread (the
    HTML built beforehand, untimed), on ``workers`` processes: its CPU seconds a pack,
    and the wall time ``packs`` of them would need with every worker busy all along.

    An estimate, not a bound: the machine's busy CPU is counted (run it idle), and
    the sample's pool start and each worker's first render weigh on 20 packs where
    a month's pool spreads them over 100.
    """
    analysis = Analysis.from_source(source, period=PERIOD)
    supervisors = REPORT_KINDS["packs"].keys(analysis)
    k = min(FLOOR_SAMPLE, len(supervisors))
    if k == 0 or packs == 0:
        return {"sample": 0, "bare_cpu_seconds_per_pack": None, "floor_seconds": 0.0}
    pages = pack_pages(analysis, [supervisors[i * len(supervisors) // k] for i in range(k)])
    del analysis
    start_fork_server()
    clock = bare_render(pages, work / "floor-out", workers=workers)
    per_pack = clock.cpu / len(pages)
    return {"sample": len(pages), "bare_cpu_seconds_per_pack": round(per_pack, 3),
            "floor_seconds": round(per_pack * packs / workers, 1)}


def run(work: Path, scale: float = 1.0) -> dict:
    agents = max(60, int(7500 * scale))
    t = time.perf_counter()
    source = write_sample_data(work / "run-sample", agents=agents, months=4,
                               contacts_per_month=30)
    generate = time.perf_counter() - t
    params = {"source": str(source), "period": PERIOD, "out": str(work / "run-out"),
              "workers": 2}
    wall, manifest, peak = _run(params, work / "run.yaml")
    result = {
        "agents": agents,
        "supervisors": manifest["steps"]["packs"]["done"],
        "notebooks": manifest["steps"]["notebooks"]["done"],
        "generate_seconds": round(generate, 1),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(_run.cpu, 1),
        "steps_seconds": {k: v["seconds"] for k, v in manifest["steps"].items()},
        "peak_rss_mb_process_tree": round(peak),
        "packs_floor": _packs_floor(source, work, manifest["steps"]["packs"]["done"],
                                    params["workers"]),
        "target_seconds": round(TARGET_SECONDS * max(scale, 0.05), 1),
        "met": wall <= TARGET_SECONDS * max(scale, 0.05),
    }
    result["packs_floor"]["under_target"] = \
        result["packs_floor"]["floor_seconds"] <= result["target_seconds"]

    from distributed import LocalCluster

    small = write_sample_data(work / "dask-sample", agents=max(60, int(DASK_AGENTS * scale)),
                              months=4, contacts_per_month=30)
    scaling = {}
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            address = cluster.scheduler_address.removeprefix("tcp://")
            p = {"source": str(small), "period": PERIOD, "out": str(work / f"dask-{n}"),
                 "notebooks": [], "executor": f"dask://{address}"}
            wall_n, m, _ = _run(p, work / f"dask-{n}.yaml")
            scaling[f"workers_{n}"] = {"wall_seconds": round(wall_n, 1),
                                       "packs_seconds": m["steps"]["packs"]["seconds"]}
    scaling["packs_speedup"] = round(scaling["workers_1"]["packs_seconds"]
                                     / scaling["workers_2"]["packs_seconds"], 2)
    result["dask_scaling"] = scaling
    return result
