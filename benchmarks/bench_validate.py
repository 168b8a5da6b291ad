"""Validation throughput: 10M interactions + 5M QA rows, Parquet and CSV.

Target (issue 2): Parquet in <= 30 s and <= 4 GB peak RSS on 2 cores; CSV at
least half that speed. The data are generated here with DuckDB, so nothing is
downloaded. Each measurement runs in a fresh subprocess so its peak RSS is
its own; its CPU seconds (all threads) are reported too, as wall time on a
shared machine says more about the neighbours than about the code.

Also measured, outside the target:

- ``parquet_vs_bare``: ``cxreports validate`` side by side with a bare DuckDB
  scan doing the contract's core checks on the same (typed) Parquet files
  (:func:`bare_scan_sql`, :func:`side_by_side`). Issue 12's target (at most
  5x the bare scan, 3 GB) is on the 18M-contact sample, whose columns are
  text, in ``bench_volume``;
- (issue 15) the same CSV with one broken line per 100,000 rows in
  interactions.csv (``csv_broken_lines``), which takes the reader's slow
  path: find the lines, read a copy again around them.

``python benchmarks/bench_validate.py [--scale 0.1] [--work DIR]`` runs it
alone; ``make bench`` runs it with the others. ``--bare FOLDER`` only runs
the side-by-side comparison on a folder of Parquet files, ``--steps SOURCE``
only times each DuckDB statement of a validation (for profiling).
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

from cxreports.data.contract import table_spec

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


# ------------------------------------------------------------------- bare scan
#
# The reference ``validate`` is held against (issue 12): the contract's core
# checks on the two large tables written as directly as DuckDB allows, in one
# query over the same files: every value cast to its type (trimmed text
# parsed once per row), required fields present, enumerations and ranges,
# keys unique (``count(DISTINCT)``), the agent on the roster on the row's
# date and the behaviour on the QA form (semi-joins). It computes only counts:
# no reasons, no typed table kept, no rejects, and no move of offset
# timestamps to the site's local time (its roster check uses the UTC date).


def _bare_table(folder: Path, name: str, types: dict[str, str], ext: str) -> str:
    """The contract's checks of one table: ``ok`` and, for agent tables, ``day``."""
    spec = table_spec(name)
    texts, parsed, bad = [], [], []
    for col in spec.columns:
        c, kind, typ = f'"{col.name}"', col.kind, types.get(col.name)
        if typ is None:
            bad += [f"TRUE /* {col.name} missing */"] if col.required else []
            continue
        text = f't_{col.name}'
        if typ == "VARCHAR":
            texts.append(f"NULLIF(trim({c}), '') AS {text}")
        else:
            texts.append(f"{c} AS {text}")
        if col.required:
            bad.append(f"{text} IS NULL")
        value = f"v_{col.name}"
        if kind in ("number", "integer", "score"):
            if typ == "VARCHAR":
                parsed.append(f"TRY_CAST({text} AS DOUBLE) AS {value}")
                words = "" if kind != "score" else \
                    f" AND lower({text}) NOT IN ('yes', 'pass', 'no', 'fail', 'n/a', 'na')"
                bad.append(f"({text} IS NOT NULL AND {value} IS NULL{words})")
            else:
                parsed.append(f"CAST({text} AS DOUBLE) AS {value}")
            bad.append(f"NOT isfinite({value})")
            if col.low is not None:
                bad.append(f"{value} < {col.low}")
            if col.high is not None:
                bad.append(f"{value} > {col.high}")
            if kind == "integer":
                bad.append(f"{value} <> round({value})")
        elif kind == "enum":
            bad.append(f"lower({text}) NOT IN ({', '.join(repr(v) for v in col.values)})")
        elif kind == "bool" and typ == "VARCHAR":
            bad.append(f"lower({text}) NOT IN ('true', 'yes', 't', '1', 'false', 'no', 'f', '0')")
        elif kind in ("timestamp", "date") and typ == "VARCHAR":
            parsed.append(f"TRY_CAST({text} AS TIMESTAMPTZ) AS {value}")
            bad.append(f"({text} IS NOT NULL AND {value} IS NULL)")
        elif kind in ("timestamp", "date"):
            parsed.append(f"CAST({text} AS TIMESTAMP) AS {value}")
    day = (f", CAST(v_{spec.agent_on} AS DATE) AS day" if spec.agent_on else "")
    source = f"read_parquet('{folder}/{name}.parquet')" if ext == "parquet" else \
        f"read_csv('{folder}/{name}.csv', header = true, all_varchar = true)"
    return (f"(SELECT *, NOT coalesce({' OR '.join(bad)}, FALSE) AS ok{day} FROM "
            f"(SELECT *, {', '.join(parsed) or 'NULL AS none'} FROM "
            f"(SELECT {', '.join(texts)} FROM {source})))")


def bare_scan_sql(folder: Path, fmt: str = "parquet") -> str:
    """One DuckDB query: the core checks of ``roster``, ``qa_form``, ``interactions``
    and ``qa_scores`` in ``folder``; one row of counts (see above)."""
    con = duckdb.connect()
    reader = ("read_parquet('{}')" if fmt == "parquet"
              else "read_csv('{}', header = true, all_varchar = true)")
    types = {name: dict(con.execute(
        f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
        f"{reader.format(folder / f'{name}.{fmt}')})").fetchall())
        for name in ("roster", "qa_form", "interactions", "qa_scores")}
    con.close()
    t = {name: _bare_table(folder, name, types[name], fmt) for name in types}
    roster = (f"(SELECT t_agent_id AS agent_id, CAST(v_valid_from AS DATE) AS d_from, "
              f"coalesce(CAST(v_valid_to AS DATE), DATE '9999-12-31') AS d_to "
              f"FROM {t['roster']} WHERE ok)")
    form = f"(SELECT t_behavior_id FROM {t['qa_form']} WHERE ok)"

    def facts(name: str, key: str, behaviour: bool = False) -> str:
        more = (f", count(*) FILTER (WHERE t_behavior_id NOT IN {form})" if behaviour else "")
        return (f"(SELECT [count(*), count(*) FILTER (WHERE NOT ok), "
                f"count(*) - count(DISTINCT {key}), count(*) FILTER (WHERE NOT EXISTS "
                f"(SELECT 1 FROM {roster} r WHERE r.agent_id = x.t_agent_id "
                f"AND x.day BETWEEN r.d_from AND r.d_to)){more}] FROM {t[name]} x)")

    return (f"SELECT {facts('interactions', 't_interaction_id')} AS interactions, "
            f"{facts('qa_scores', '(t_evaluation_id, t_behavior_id)', True)} AS qa_scores")


_BARE_CHILD = """
import os, sys, duckdb
con = duckdb.connect(config={"preserve_insertion_order": True})
for setting in ("TimeZone = 'UTC'", "enable_progress_bar = false",
                "memory_limit = '" + os.environ.get("CXREPORTS_DUCKDB_MEMORY", "2.5GB") + "'"):
    con.execute("SET " + setting)
print(con.execute(sys.argv[1]).fetchall())
"""


#: Runs its arguments and writes [exit code, CPU seconds, peak RSS KB] of that
#: process tree to the file named first: a small parent, so the kernel's
#: high-water mark of the child does not start at the benchmark's own RSS.
_WRAPPER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as handle:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss], handle)
"""


def run_measured(argv: list[str], ok: tuple[int, ...] = (0,)) -> dict:
    """Run ``argv``: wall seconds, CPU seconds (user + sys of it and its descendants)
    and the peak RSS of its process tree (sampled every 0.25 s, and the kernel's
    high-water mark of the process)."""
    from bench_packs import RssSampler

    with tempfile.TemporaryDirectory() as scratch:
        usage_file = Path(scratch) / "usage.json"
        with (Path(scratch) / "out").open("w+") as out, (Path(scratch) / "err").open("w+") as err:
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, str(usage_file), *argv],
                                    stdout=out, stderr=err)
            sampler = RssSampler(proc.pid)
            sampler.start()
            proc.wait()
            wall = time.perf_counter() - started
            sampler.stop()
            code, cpu, high_kb = json.loads(usage_file.read_text())
            out.seek(0)
            err.seek(0)
            if code not in ok:
                raise RuntimeError(f"{argv[:4]} failed ({code}): {err.read()[-2000:]}")
            output = out.read()
    peak = max([s[3] for s in sampler.samples] + [high_kb / 1024])
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb_process_tree": round(peak), "stdout": output}


def side_by_side(folder: Path, fmt: str = "parquet") -> dict:
    """``cxreports validate FOLDER`` against :func:`bare_scan_sql` on the same files.

    Both run as fresh processes, one after the other, with the same DuckDB
    settings (memory limit, time zone, insertion order). ``validate_over_bare``
    is the ratio of wall times (the target, at most 5), ``..._cpu`` that of
    CPU seconds, which the neighbours on a shared machine disturb less.
    """
    bare = run_measured([sys.executable, "-c", _BARE_CHILD, bare_scan_sql(folder, fmt)])
    counts = bare.pop("stdout").strip()
    validate = run_measured([sys.executable, "-m", "cxreports", "validate", str(folder)],
                            ok=(0, 1))
    validate.pop("stdout")
    return {**validate, "bare": {**bare, "counts": counts},
            "validate_over_bare": round(validate["wall_seconds"] / bare["wall_seconds"], 2),
            "validate_over_bare_cpu": round(validate["cpu_seconds"]
                                            / max(bare["cpu_seconds"], 0.1), 2)}


_STEPS_CHILD = """
import json, re, resource, sys, time
import cxreports.data.validation as validation

def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime

class Timed:  # the connection, each statement timed
    def __init__(self, con):
        self._con, self.steps = con, []
    def execute(self, sql, *args, **kwargs):
        t, c = time.perf_counter(), cpu()
        out = self._con.execute(sql, *args, **kwargs)
        self.steps.append((" ".join(sql.split())[:90], time.perf_counter() - t, cpu() - c))
        return out
    def __getattr__(self, name):
        return getattr(self._con, name)

connect, timed = validation.connect, []
validation.connect = lambda *a, **k: timed.append(Timed(connect(*a, **k))) or timed[-1]
t, c = time.perf_counter(), cpu()
validation.validate_source(sys.argv[1])
steps = sorted(timed[0].steps, key=lambda s: -s[2])[:int(sys.argv[2])]
print(json.dumps({"wall_seconds": round(time.perf_counter() - t, 2),
                  "cpu_seconds": round(cpu() - c, 1),
                  "steps": [[sql, round(w, 2), round(c, 2)] for sql, w, c in steps]}))
"""


def step_timings(source: Path, top: int = 12) -> dict:
    """``validate_source(source)`` with every DuckDB statement timed: the ``top``
    statements by CPU seconds, as ``[sql (cut), wall, cpu]``, for profiling."""
    out = subprocess.run([sys.executable, "-c", _STEPS_CHILD, str(source), str(top)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
        if fmt == "parquet":  # typed columns: the bare scan casts nothing
            results["parquet_vs_bare"] = side_by_side(folder)
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
    parser.add_argument("--steps", type=Path, default=None, metavar="SOURCE",
                        help="only profile: validate SOURCE with each DuckDB statement timed")
    parser.add_argument("--bare", type=Path, default=None, metavar="FOLDER",
                        help="only compare: cxreports validate FOLDER (Parquet) side by side "
                             "with the bare scan")
    args = parser.parse_args()
    if args.steps or args.bare:
        found = {"steps": step_timings(args.steps)} if args.steps else {}
        if args.bare:
            found["side_by_side"] = side_by_side(args.bare)
        print(json.dumps(found, indent=2))
        return 0
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
