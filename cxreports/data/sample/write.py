"""Writing a sample to disk (CSV, Parquet or DuckDB) and the cached built-in sample."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...core.files import atomic_path, atomic_write_text
from .broken import add_broken_rows
from .generate import make_sample_data

__all__ = ["BUILTIN_VERSION", "builtin_source", "write_sample_data"]


def write_sample_data(
    out: str | os.PathLike,
    *,
    agents: int = 120,
    months: int = 6,
    seed: int = 7,
    last_period: str = "2026-10",
    contacts_per_month: int = 120,
    broken: bool = False,
    fmt: str = "csv",
    **planted,
) -> Path:
    """Generate a sample and write it to ``out`` with ``truth.json`` beside it.

    ``fmt`` is ``csv``, ``parquet`` or ``duckdb`` (one ``cxreports.duckdb``
    file in ``out``). With ``broken=True`` rows breaking each contract rule
    are appended and ``broken.json`` records them and their expected count.
    Other keywords (``selection``, ``coaching_lift``, ``repeat_share``,
    ``qa_lag_days``, ``change_share``, ``calibration_share``) go to
    :func:`make_sample_data`.
    Returns the source path to pass to the other commands.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sample = make_sample_data(agents=agents, months=months, seed=seed,
                              last_period=last_period, contacts_per_month=contacts_per_month,
                              **planted)
    tables = {k: v.astype(str).replace({"nan": "", "NaT": "", "None": ""})
              for k, v in sample.tables.items()}
    if broken:
        tables, record = add_broken_rows(sample)
        atomic_write_text(out / "broken.json", json.dumps(record, indent=2))
    atomic_write_text(out / "truth.json", json.dumps(sample.truth, indent=2, default=str))
    if fmt == "csv":
        for name, frame in tables.items():
            with atomic_path(out / f"{name}.csv") as tmp:
                frame.to_csv(tmp, index=False)
        return out
    if fmt == "parquet":
        for name, frame in tables.items():
            with atomic_path(out / f"{name}.parquet") as tmp:
                frame.replace({"": None}).to_parquet(tmp, index=False)
        return out
    if fmt == "duckdb":
        import duckdb

        target = out / "cxreports.duckdb"
        with atomic_path(target) as tmp:
            con = duckdb.connect(str(tmp))
            for name, frame in tables.items():
                con.register("frame", frame.replace({"": None}))
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                con.unregister("frame")
            con.close()
        return target
    raise ValueError(f"unknown format {fmt!r}: use csv, parquet or duckdb")


#: Bump when the generator changes, so cached samples are rebuilt.
BUILTIN_VERSION = "4"


def builtin_source() -> Path:
    """The built-in sample's folder, generated on first use and cached.

    Lives in ``$CXREPORTS_CACHE`` (default ``~/.cache/cxreports``). Written
    to a temporary folder and renamed, so parallel notebooks never see half
    a sample.
    """
    import shutil
    import tempfile

    root = Path(os.environ.get("CXREPORTS_CACHE", Path.home() / ".cache" / "cxreports"))
    target = root / f"sample-v{BUILTIN_VERSION}"
    if (target / "interactions.csv").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".sample-", dir=root))
    write_sample_data(scratch)
    try:
        os.rename(scratch, target)
    except OSError:  # another process finished first
        shutil.rmtree(scratch, ignore_errors=True)
    return target
