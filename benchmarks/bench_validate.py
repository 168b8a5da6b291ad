"""Validation throughput: 10M interactions + 5M QA rows, Parquet and CSV.

Target (issue 2): Parquet in <= 30 s and <= 4 GB peak RSS on 2 cores; CSV at
least half that speed. The data are generated here with DuckDB, so nothing is
downloaded. Each measurement runs in a fresh subprocess so its peak RSS is
its own; its CPU seconds (all threads) are reported too, as wall time on a
shared machine says more about the neighbours than about the code.

Also measured, outside the target (issue 15): the same CSV with one broken
line per 100,000 rows in interactions.csv (``csv_broken_lines``), which
takes the reader's slow path: find the lines, read a copy again around them.

``python benchmarks/bench_validate.py [--scale 0.1] [--work DIR]`` runs it
alone; ``make bench`` runs it with the others.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

AGENTS = 7_500


def generate(folder: Path, interactions: int, qa_rows: int, fmt: str) -> Path:
    """Write contract tables of the given size to ``folder`` in ``fmt``."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    copy = "(FORMAT parquet)" if fmt == "parquet" else "(HEADER, DELIMITER ',')"
    ext = "parquet" if fmt == "parquet" else "csv"
    con.execute(f"""
        COPY (SELECT 'A' || lpad(CAST(i AS VARCHAR), 5, '0') AS agent_id,
                     'Agent ' || i AS agent_name,
                     'S' || lpad(CAST(i // 15 AS VARCHAR), 4, '0') AS supervisor_id,
                     'Supervisor ' || (i // 15) AS supervisor_name,
                     NULL AS supervisor_email,
                     'Site ' || (i % 10) AS site,
                     CASE WHEN i % 3 = 0 THEN 'in-house' ELSE 'Vendor ' || (i % 3) END AS vendor,
                     CASE WHEN i % 3 = 2 THEN 'offshore' ELSE 'onshore' END AS shore,
                     DATE '2024-01-01' AS valid_from, CAST(NULL AS DATE) AS valid_to
              FROM range({AGENTS}) t(i))
        TO '{folder}/roster.{ext}' {copy}""")
    con.execute(f"""
        COPY (SELECT 'b' || i AS behavior_id, 'Behaviour ' || i AS label, NULL AS description,
                     CASE WHEN i % 2 = 0 THEN 'intent' ELSE 'task' END AS kind, 1.0 AS weight
              FROM range(10) t(i))
        TO '{folder}/qa_form.{ext}' {copy}""")
    con.execute(f"""
        COPY (SELECT 'I' || i AS interaction_id,
                     'A' || lpad(CAST(i % {AGENTS} AS VARCHAR), 5, '0') AS agent_id,
                     TIMESTAMP '2026-07-01' + INTERVAL (i % 10_000_000) SECOND AS started_at,
                     ['voice', 'chat', 'email'][1 + i % 3] AS channel,
                     CAST(60 + i % 900 AS DOUBLE) AS aht_seconds,
                     CASE WHEN i % 5 = 0 THEN NULL ELSE i % 4 <> 0 END AS fcr,
                     CASE WHEN i % 4 = 0 THEN CAST(1 + i % 5 AS DOUBLE) END AS csat,
                     CASE WHEN i % 4 = 0 THEN CAST(i % 11 AS DOUBLE) END AS nps,
                     CASE WHEN i % 8 = 0 THEN CAST(1 + i % 7 AS DOUBLE) END AS ces
              FROM range({interactions}) t(i))
        TO '{folder}/interactions.{ext}' {copy}""")
    con.execute(f"""
        COPY (SELECT 'Q' || (i // 10) AS evaluation_id, 'I' || (i // 10 * 7) AS interaction_id,
                     'A' || lpad(CAST((i // 10 * 7) % {AGENTS} AS VARCHAR), 5, '0') AS agent_id,
                     'E1' AS evaluator_id,
                     TIMESTAMP '2026-07-02' + INTERVAL (i // 10) SECOND AS evaluated_at,
                     'b' || (i % 10) AS behavior_id,
                     CASE WHEN i % 13 = 0 THEN NULL ELSE CAST(i % 2 AS DOUBLE) END AS score
              FROM range({qa_rows}) t(i))
        TO '{folder}/qa_scores.{ext}' {copy}""")
    con.close()
    return folder


_CHILD = """
import json, resource, sys, time
from cxreports import validate_source
t, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
data = validate_source(sys.argv[1])
wall = time.perf_counter() - t
used = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": wall,
                  "cpu_seconds": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": {n: r.rows_read for n, r in data.reports.items()},
                  "set_aside": data.rows_set_aside}))
"""


def measure(folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_broken_lines(folder: Path, target: Path, every: int = 100_000) -> int:
    """``folder`` with a broken line after every ``every`` interactions, into ``target``.

    The kinds rotate: a field too many, a field missing, a garbage line, a
    stray byte, a quote never closed. Returns how many were planted.
    """
    target.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.name != "interactions.csv":
            shutil.copy(path, target / path.name)
    planted = 0
    with (folder / "interactions.csv").open("rb") as src, \
            (target / "interactions.csv").open("wb") as dst:
        dst.write(src.readline())
        for k, line in enumerate(src, start=1):
            dst.write(line)
            if k % every == 0:
                row = line.rstrip(b"\n")
                dst.write([row + b",extra", row.rsplit(b",", 1)[0], b"garbage line",
                           row.replace(b",", b",\xff", 1), row.replace(b",", b',"', 1),
                           ][planted % 5] + b"\n")
                planted += 1
    return planted


def run(work: Path, scale: float = 1.0) -> dict:
    interactions, qa = int(10_000_000 * scale), int(5_000_000 * scale)
    results = {"interactions": interactions, "qa_rows": qa}
    for fmt in ("parquet", "csv"):
        t = time.perf_counter()
        folder = generate(work / f"validate-{fmt}", interactions, qa, fmt)
        results[f"{fmt}_generate_seconds"] = round(time.perf_counter() - t, 1)
        m = measure(folder)
        assert m["set_aside"] == 0, m
        results[fmt] = {"seconds": round(m["seconds"], 2),
                        "cpu_seconds": round(m["cpu_seconds"], 1),
                        "peak_rss_mb": round(m["peak_rss_mb"]),
                        "rows_per_second": round((interactions + qa) / m["seconds"])}
        if fmt == "csv":
            planted = add_broken_lines(folder, work / "validate-csv-broken")
            m = measure(work / "validate-csv-broken")
            assert m["set_aside"] == planted, (m, planted)
            results["csv_broken_lines"] = {"broken_lines": planted,
                                           "seconds": round(m["seconds"], 2),
                                           "cpu_seconds": round(m["cpu_seconds"], 1),
                                           "peak_rss_mb": round(m["peak_rss_mb"])}
    results["targets"] = {"parquet_seconds": 30 * scale, "peak_rss_mb": 4096,
                          "csv_seconds": 60 * scale}
    results["met"] = (results["parquet"]["seconds"] <= 30 * scale
                      and results["parquet"]["peak_rss_mb"] <= 4096
                      and results["csv"]["seconds"] <= 60 * scale
                      and results["csv"]["peak_rss_mb"] <= 4096)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of 10M interactions + 5M QA rows (targets scale too)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cxreports-bench-"))
    try:
        results = run(work, args.scale)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"validate": results}, indent=2))
    return 0 if results["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
