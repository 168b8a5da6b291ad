"""Validation throughput: 10M interactions + 5M QA rows, Parquet and CSV.

Target (issue 2): Parquet in <= 30 s and <= 4 GB peak RSS on 2 cores; CSV at
least half that speed. The data are generated here with DuckDB, so nothing is
downloaded. Each measurement runs in a fresh subprocess so its peak RSS is
its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
t = time.perf_counter()
data = validate_source(sys.argv[1])
wall = time.perf_counter() - t
print(json.dumps({"seconds": wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": {n: r.rows_read for n, r in data.reports.items()},
                  "set_aside": data.rows_set_aside}))
"""


def measure(folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
                        "peak_rss_mb": round(m["peak_rss_mb"]),
                        "rows_per_second": round((interactions + qa) / m["seconds"])}
    results["targets"] = {"parquet_seconds": 30 * scale, "peak_rss_mb": 4096,
                          "csv_seconds": 60 * scale}
    results["met"] = (results["parquet"]["seconds"] <= 30 * scale
                      and results["parquet"]["peak_rss_mb"] <= 4096
                      and results["csv"]["seconds"] <= 60 * scale
                      and results["csv"]["peak_rss_mb"] <= 4096)
    return results
