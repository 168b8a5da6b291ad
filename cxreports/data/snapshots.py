"""A run's validated tables and shared analyses, saved once for every notebook kernel.

A scheduled run executes each notebook in a fresh kernel, once per site and
vendor. Without help, each kernel would read and validate the whole source
and rebuild the same joined frames and driver models (tens of seconds each
on a large centre). The run instead validates once, builds the shared frames
once, and saves them here as Parquet; a notebook given the folder
(``Analysis.from_source(..., snapshot=...)``) reads only the frames it uses.
The numbers are the same either way: the frames are the output of the same
library functions, stored and read back with their types.

Layout of a snapshot folder::

    meta.json            format version, source, period, driver rules, what is stored
    tables/<name>.parquet    validated tables (good rows only)
    frames/<name>.parquet    built frames (``Analysis`` properties and memoised calls)

Parquet rather than pickle: reading a snapshot never runs code from the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from .sources import SourceRef, connect, redact_source
from .sql import sql_literal

__all__ = ["SNAPSHOT_FOLDER", "SNAPSHOT_FORMAT", "Snapshot", "SnapshotData", "snapshot_key",
           "write_snapshot"]

SNAPSHOT_FORMAT = 1
#: Where a run keeps its snapshot while notebooks execute (removed afterwards).
SNAPSHOT_FOLDER = ".snapshot"
log = logging.getLogger("cxreports")


def snapshot_key(source: str | os.PathLike, period: str | None, rules) -> dict:
    """What a snapshot must match to stand in for validating ``source``.

    The source is kept as a digest, so a database URL's password never
    lands in the snapshot.
    """
    return {"source": SourceRef.of(source).key,
            "period": None if period is None else str(period), "rules": asdict(rules)}


def _frame_file(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20] + ".parquet"


def _to_parquet(frame: pd.DataFrame, path: Path) -> dict | None:
    """Write ``frame``; returns how to read it back (``None`` if Parquet cannot hold it)."""
    try:
        frame.to_parquet(path)
    except (TypeError, ValueError, ImportError) as exc:  # e.g. mixed types in one column
        log.debug("snapshot: %s not stored (%s); notebooks will rebuild it", path.name, exc)
        path.unlink(missing_ok=True)
        return None
    # Parquet reads text back as pandas' string dtype; keep object columns object.
    objects = [str(c) for c in frame.columns if frame[c].dtype == object]
    return {"file": f"{path.parent.name}/{path.name}", "object_columns": objects}


def _read_parquet(folder: Path, entry: dict) -> pd.DataFrame:
    frame = pd.read_parquet(folder / entry["file"])
    for column in entry["object_columns"]:
        frame[column] = frame[column].astype(object)
    return frame


def write_snapshot(folder: str | os.PathLike, *, key: dict, data, rows_set_aside: int,
                   frames: dict[str, pd.DataFrame]) -> Path:
    """Save validated ``data`` and built ``frames`` to ``folder``, replacing it whole.

    ``frames`` maps a name (an ``Analysis`` property, or the ``repr`` of a
    memo key) to its DataFrame. A frame Parquet cannot store is left out and
    rebuilt by whoever needs it. The folder appears complete or not at all.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        (staging / "tables").mkdir()
        (staging / "frames").mkdir()
        tables, present = {}, {}
        for name in data.reports:
            present[name] = data.has_table(name)
            # Straight from DuckDB: a table of millions of contacts never enters pandas.
            target = staging / "tables" / f"{name}.parquet"
            data.write_parquet(name, target)
            # Read back as pandas reads DuckDB's text: no column is forced to object.
            tables[name] = {"file": f"tables/{target.name}", "object_columns": []}
        stored = {}
        for name, frame in frames.items():
            entry = _to_parquet(frame, staging / "frames" / _frame_file(name))
            if entry:
                stored[name] = entry
        meta = {"format": SNAPSHOT_FORMAT, **key, "data_source": redact_source(data.source),
                "rows_set_aside": rows_set_aside, "present": present, "tables": tables,
                "frames": stored}
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, default=str),
                                           encoding="utf-8")
        old = folder.with_name(f".{folder.name}-old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


class SnapshotData:
    """The part of :class:`~cxreports.data.validation.ValidatedData` analyses use, from a snapshot.

    Tables are read on first use, so a notebook that needs only the roster
    never reads the interactions.
    """

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder, self.meta = folder, meta
        self.source = meta["data_source"]
        self.rows_set_aside = int(meta["rows_set_aside"])
        self._cache: dict[str, pd.DataFrame] = {}

    def has_table(self, name: str) -> bool:
        return bool(self.meta["present"][name])

    def table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = _read_parquet(self.folder, self.meta["tables"][name])
        return self._cache[name].copy()

    @cached_property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for work over the snapshot's Parquet tables."""
        return connect()

    def relation(self, name: str) -> str:
        """SQL (in :attr:`con`) reading table ``name`` from its Parquet file."""
        return f"read_parquet({sql_literal(self.folder / self.meta['tables'][name]['file'])})"


class Snapshot:
    """An opened snapshot folder: its data and its stored frames."""

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder, self.meta = folder, meta
        self.data = SnapshotData(folder, meta)

    @classmethod
    def open(cls, folder: str | os.PathLike, *, key: dict) -> Snapshot | None:
        """The snapshot in ``folder`` if it was made for ``key``; ``None`` (and why, logged)."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("snapshot %s not usable (%s); validating the source instead",
                        folder, exc)
            return None
        mismatch = [k for k in ("source", "period", "rules") if meta.get(k) != key[k]]
        if meta.get("format") != SNAPSHOT_FORMAT or mismatch:
            log.warning("snapshot %s was made for another %s; validating the source instead",
                        folder, ", ".join(mismatch) or "format")
            return None
        return cls(folder, meta)

    def frame(self, name: str) -> pd.DataFrame | None:
        """The stored frame ``name`` (a property name or a memo key's ``repr``), if any."""
        entry = self.meta["frames"].get(name)
        return None if entry is None else _read_parquet(self.folder, entry)

