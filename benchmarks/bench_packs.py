"""Coaching packs at the speed of the renderer (issues 5 and 12).

~250 supervisors x ~12 agents (3,000 agents, 4 months; ``--scale`` shrinks it).
Measured side by side in one run, with the same number of processes (2):

- **packs**: ``render_packs`` on a local pool, as ``cxreports packs`` does it
  (the parent builds the first pack and shares the analysis, each worker
  then builds and renders whole packs), after the month's shared analyses
  are built (``prepare_seconds``, untimed: the run builds them once for the
  notebooks and every report);
- **bare**: WeasyPrint alone rendering the very same HTML (built beforehand,
  untimed) to PDF on the same kind of pool.

The two take turns, 100 packs at a time (bare then packs, packs then bare, ...),
because this machine's speed drifts by more than the difference measured; each
chunk of packs is a run of its own (``chunks`` in the output), which makes its
first pack in the parent and saves the analysis for its workers, as a month's
run does once: about a second a chunk that the month would not spend.

The figure to watch is ``packs_over_bare`` = packs wall / bare wall: the aim
is <= 1.3, i.e. model building costs less than a third of rendering. Both
wall and CPU seconds (the machine's busy seconds: run it on an idle machine)
are reported: on a shared machine the wall times are noisy, the CPU seconds
less so. Also: peak RSS of the parent and of any worker (the fork server
counts as one), sampled every 0.25 s during the packs, per quarter (each turn
is a pool's life, so the last quarter's peak should be within 10% of the first's:
the parent does not grow from turn to turn, nor a worker within one).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

from cxreports.analyses.analysis import Analysis
from cxreports.core.files import safe_filename
from cxreports.data.sample import write_sample_data
from cxreports.reports.batch import REPORT_KINDS, SHARE_FROM, render_packs
from cxreports.reports.models import build_coaching_pack
from cxreports.reports.rendering import render_html, template_dir, write_pdf
from cxreports.run.executors import RECYCLE_AFTER, open_executor

WORKERS = 2
TARGET = 1.3
PERIOD = "2026-10"
#: Packs per turn (see ``run``): what a local pool makes before it is recycled.
CHUNK = RECYCLE_AFTER * WORKERS


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


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (user, nice, system, interrupts).

    Not this process's rusage: local pool workers are forked by a fork server,
    which reaps them and is itself reaped by init once the pool's owner has
    ended, so their CPU never reaches ``RUSAGE_CHILDREN`` here. Run the
    benchmarks on an otherwise idle machine. Off Linux, this process and the
    children it has waited for.
    """
    try:
        with open("/proc/stat") as handle:
            user, nice, system, _idle, _iowait, irq, softirq = map(
                int, handle.readline().split()[1:8])
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    except OSError:
        me, kids = (resource.getrusage(resource.RUSAGE_SELF),
                    resource.getrusage(resource.RUSAGE_CHILDREN))
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Clock:
    """Wall seconds, and the machine's busy CPU seconds meanwhile (:func:`busy_cpu_seconds`);
    clocks add up."""

    wall = cpu = 0.0

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), busy_cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = busy_cpu_seconds() - self.cpu0

    def __add__(self, other: Clock) -> Clock:
        total = Clock()
        total.wall, total.cpu = self.wall + other.wall, self.cpu + other.cpu
        return total


def _quarters(samples: list[tuple[float, float, float, float]]) -> list[dict]:
    """Peak RSS of the parent and of the largest worker in each quarter of ``samples``
    (taken at a steady rate while sampling, so quarters of the time sampled)."""
    samples = samples or [(0.0, 0.0, 0.0, 0.0)]
    quarters = []
    for q in range(4):
        part = samples[q * len(samples) // 4:(q + 1) * len(samples) // 4] or samples
        quarters.append({"parent_mb": round(max(s[1] for s in part)),
                         "worker_mb": round(max(s[2] for s in part))})
    return quarters


def pack_pages(analysis: Analysis, supervisors: list[str]) -> list[tuple[str, str]]:
    """(file name, HTML) of each supervisor's pack, as a packs run makes it."""
    pages = []
    for sid in supervisors:
        pack = build_coaching_pack(analysis, sid)
        pages.append((safe_filename(sid), render_html(
            "coaching_pack.html", lang="en", generated_on=pack.generated_on, pack=pack)))
    return pages


def start_fork_server() -> None:
    """Start this process's fork server (it imports the kit, WeasyPrint and papermill:
    seconds of work) with a first pool, so no timed pool pays for it."""
    with open_executor("local", WORKERS) as executor:
        executor.submit(os.getpid).result()


def bare_render(pages: list[tuple[str, str]], out: Path, *, workers: int = WORKERS) -> Clock:
    """WeasyPrint alone: ``pages`` (file name, HTML) to PDF on a pool of ``workers``."""
    out.mkdir(parents=True, exist_ok=True)
    base, roots = str(template_dir().resolve()), [str(template_dir().resolve()), str(out)]
    with Clock() as clock, open_executor("local", workers) as executor:
        pending = set()
        for name, html in pages:
            pending.add(executor.submit(write_pdf, html, str(out / f"{name}.pdf"), base, roots))
            if len(pending) >= 2 * workers:  # as render_reports queues them
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
        for future in pending:
            future.result()
    return clock


def run(work: Path, scale: float = 1.0) -> dict:
    agents = max(60, int(3000 * scale))
    source = write_sample_data(work / "packs-sample", agents=agents, months=4,
                               contacts_per_month=30)
    t = time.perf_counter()
    analysis = Analysis.from_source(source, period=PERIOD)
    supervisors = REPORT_KINDS["packs"].keys(analysis)
    # The month's shared analyses (driver models, priorities ...), built once
    # for every report and notebook of the run, before either step.
    build_coaching_pack(analysis, supervisors[0])
    prepare = time.perf_counter() - t

    # The same HTML as the packs run makes (built here, untimed), for WeasyPrint alone,
    # from an analysis of its own: frames built for every team in the packs run's
    # analysis would go into the snapshot its workers read, and spare them that work.
    pages = pack_pages(Analysis.from_source(source, period=PERIOD), supervisors)

    # Packs and bare WeasyPrint taken in turns, a chunk of CHUNK packs at a time, in
    # the order bare-packs, packs-bare, bare-packs ...: this machine's speed drifts (a
    # fixed loop took 2.5 to 5.9 s within one session, and one packs run between two
    # bare renders 5 minutes apart came out 13% slower than either), so each chunk of
    # packs is compared with WeasyPrint alone on the same chunk, minutes apart at most.
    # Each packs chunk is a run of its own, as ``cxreports packs`` makes it (the parent
    # builds its first pack and saves the analysis; a new pool of workers opens it):
    # a whole month's run does that once and recycles its pool every CHUNK packs.
    # This process's fork server (it imports the kit, WeasyPrint and papermill, seconds
    # of work) starts with its first pool: started here, it is charged to neither side.
    start_fork_server()
    # The last turn takes the rest if fewer than SHARE_FROM would be left: so few
    # packs would be built in the parent, which a month's run does not do.
    starts = list(range(0, len(supervisors), CHUNK))
    if len(starts) > 1 and len(supervisors) - starts[-1] < SHARE_FROM:
        starts.pop()
    bounds = list(zip(starts, [*starts[1:], len(supervisors)], strict=True))
    packs, bare, chunks, results, samples = Clock(), Clock(), [], [], []
    for k, (start, end) in enumerate(bounds):
        part = slice(start, end)
        turns = ("bare", "packs") if k % 2 == 0 else ("packs", "bare")
        walls = {}
        for turn in turns:
            if turn == "bare":
                clock = bare_render(pages[part], work / "bare-out")
                bare += clock
            else:
                sampler = RssSampler()  # memory of the packs turns only
                sampler.start()
                with Clock() as clock, open_executor("local", WORKERS) as executor:
                    results += render_packs(analysis, work / "packs-out",
                                            supervisors=supervisors[part], executor=executor,
                                            max_pending=2 * WORKERS)
                sampler.stop()
                samples += sampler.samples
                packs += clock
            walls[turn] = round(clock.wall, 1)
        chunks.append({"packs": end - start, "packs_wall_seconds": walls["packs"],
                       "bare_render_wall_seconds": walls["bare"]})
    assert all(x.status == "ok" for x in results), [x.error for x in results if x.error][:3]
    n = len(results)

    quarters = _quarters(samples)
    ratio = packs.wall / bare.wall
    return {
        "agents": agents, "supervisors": len(supervisors), "packs": n, "workers": WORKERS,
        "prepare_seconds": round(prepare, 1),
        "packs_wall_seconds": round(packs.wall, 1),
        "packs_cpu_seconds": round(packs.cpu, 1),
        "bare_render_wall_seconds": round(bare.wall, 1),
        "bare_render_cpu_seconds": round(bare.cpu, 1),
        "chunks": chunks,
        "packs_over_bare": round(ratio, 2),
        "packs_over_bare_cpu": round(packs.cpu / bare.cpu, 2),
        "target": TARGET,
        "packs_per_second": round(n / packs.wall, 2),
        "model_seconds_per_pack": round(sum(r.model_seconds for r in results) / n, 3),
        "render_seconds_per_pack": round(sum(r.render_seconds for r in results) / n, 3),
        # WeasyPrint alone, for comparison with the renders inside the packs turns.
        "bare_cpu_seconds_per_pack": round(bare.cpu / n, 3),
        "rss_by_quarter": quarters,
        "memory_flat": quarters[-1]["worker_mb"] <= 1.1 * quarters[0]["worker_mb"] + 20
        and quarters[-1]["parent_mb"] <= 1.1 * quarters[0]["parent_mb"] + 20,
        "met": ratio <= TARGET,
    }


if __name__ == "__main__":  # python benchmarks/bench_packs.py [SCALE]: this benchmark alone
    import json
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-packs-") as folder:
        print(json.dumps(run(Path(folder), float(sys.argv[1]) if len(sys.argv) > 1 else 1.0),
                         indent=2))
