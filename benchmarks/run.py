"""Run the benchmarks and print their figures as JSON (``make bench``).

``python benchmarks/run.py [--scale 0.1] [--only validate]``: ``--scale``
shrinks every workload for a quick look; targets scale with it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_drivers  # noqa: E402
import bench_notebooks  # noqa: E402
import bench_packs  # noqa: E402
import bench_run  # noqa: E402
import bench_validate  # noqa: E402
import bench_volume  # noqa: E402

BENCHMARKS = {
    "validate": bench_validate.run,
    "drivers": bench_drivers.run,
    "notebooks": bench_notebooks.run,
    "packs": bench_packs.run,
    "run": bench_run.run,
    "volume": bench_volume.run,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cxreports-bench-"))
    results = {}
    try:
        for name in args.only or BENCHMARKS:
            print(f"running {name} (scale {args.scale}) ...", file=sys.stderr, flush=True)
            results[name] = BENCHMARKS[name](work, args.scale)
            print(json.dumps({name: results[name]}, indent=2), flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    verdicts = [v for r in results.values() for k, v in r.items() if k.endswith("met")]
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
