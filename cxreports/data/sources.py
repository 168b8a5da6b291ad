"""Open a data source and land its tables, untouched, in DuckDB.

A source is a folder of CSV or Parquet files named after the tables, a
``.duckdb`` file, or a SQLAlchemy URL. Each table lands as a DuckDB relation
``raw_<table>`` holding the columns exactly as they came plus ``__cx_row``,
the 1-based row number in the source, so every later message can point at
the row a person would open.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..core.errors import UnusableInputError
from ..core.files import sha256_of
from .contract import TABLES
from .sample import builtin_source
from .sql import sql_identifier, sql_literal

__all__ = ["ROW_COLUMN", "RawTable", "SourceRef", "connect", "load_source", "redact_source",
           "resolve_source"]

ROW_COLUMN = "__cx_row"
_TABLE_NAMES = {t.name for t in TABLES}
_SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class RawTable:
    """A table as it came from the source."""

    name: str
    #: Where it came from: a file path, or ``<database>#<table>``.
    origin: str
    #: DuckDB relation holding the raw rows plus ``__cx_row``.
    relation: str
    #: Column names in source order (without ``__cx_row``).
    columns: list[str]
    rows: int
    #: SHA-256 of the file, or of the rows for a database table.
    sha256: str | None = None


def connect(memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for validation.

    ``memory_limit`` (or ``CXREPORTS_DUCKDB_MEMORY``) caps DuckDB's buffer
    pool; beyond it DuckDB spills to a temporary folder rather than growing.
    """
    con = duckdb.connect(config={"preserve_insertion_order": True})
    limit = memory_limit or os.environ.get("CXREPORTS_DUCKDB_MEMORY", "2.5GB")
    spill = Path(tempfile.gettempdir()) / f"cxreports-duckdb-{os.getpid()}"
    for setting in ("TimeZone = 'UTC'", f"memory_limit = '{limit}'",
                    f"temp_directory = '{spill.as_posix()}'"):
        # Fetched so no pending result blocks a later register() (DuckDB 2).
        con.execute(f"SET {setting}").fetchall()
    return con


def load_source(source: str | os.PathLike, con: duckdb.DuckDBPyConnection) -> dict[str, RawTable]:
    """Land every contract table found in ``source`` as ``raw_<table>`` in ``con``.

    Raises
    ------
    UnusableInputError
        The source does not exist, a file cannot be read, a folder holds a
        file for an unknown table or two files for one table, or a required
        column or table is missing.

    Examples
    --------
    >>> con = connect()
    >>> tables = load_source("data/sample", con)  # doctest: +SKIP
    >>> tables["interactions"].rows  # doctest: +SKIP
    216000
    """
    text = os.fspath(source)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        tables = _load_sqlalchemy(text, con)
    else:
        path = Path(text)
        if not path.exists():
            raise UnusableInputError(f"source {text} does not exist")
        if path.is_dir():
            tables = _load_folder(path, con)
        elif path.suffix == ".duckdb" or path.suffix == ".db" and _is_duckdb(path):
            tables = _load_duckdb(path, con)
        else:
            raise UnusableInputError(
                f"source {text} is neither a folder, a .duckdb file nor a SQLAlchemy URL"
            )
    _check_required(tables)
    return tables


def _check_required(tables: dict[str, RawTable]) -> None:
    for spec in TABLES:
        if spec.name not in tables:
            if not spec.optional:
                raise UnusableInputError(f"required table {spec.name} is missing from the source")
            continue
        raw = tables[spec.name]
        present = set(raw.columns)
        for column in spec.required_columns:
            if column in present:
                continue
            near = [c for c in raw.columns if c.strip().lower() == column]
            hint = f" (found {near[0]!r}: column names are exact)" if near else ""
            raise UnusableInputError(
                f"{raw.origin} has no column {column!r}, which table {spec.name} requires{hint}"
            )


def _table_name_of(path: Path) -> tuple[str, str] | None:
    name = path.name
    for suffix, fmt in _SUFFIXES.items():
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], fmt
    return None


def _load_folder(folder: Path, con: duckdb.DuckDBPyConnection) -> dict[str, RawTable]:
    tables: dict[str, RawTable] = {}
    for path in sorted(folder.iterdir()):
        found = _table_name_of(path)
        if found is None or not path.is_file():
            continue  # notes, truth files, READMEs: not tables
        name, fmt = found
        if name not in _TABLE_NAMES:
            known = ", ".join(sorted(_TABLE_NAMES))
            raise UnusableInputError(f"{path} is not a known table (known tables: {known})")
        if name in tables:
            raise UnusableInputError(
                f"table {name} is given twice, as {tables[name].origin} and {path}"
            )
        relation = f"raw_{name}"
        if fmt == "csv":
            _land_csv(path, relation, con)
        else:
            _land_parquet(path, relation, con)
        tables[name] = _describe(name, str(path), relation, con, sha256_of(path))
    return tables


def _csv_encoding(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8"


def _land_csv(path: Path, relation: str, con: duckdb.DuckDBPyConnection) -> None:
    if path.stat().st_size == 0 or (
        path.suffix == ".csv" and not path.read_bytes()[:4096].strip(b"\xef\xbb\xbf \r\n\t")
    ):
        raise UnusableInputError(f"{path} is empty: it needs at least a header row")
    options = "all_varchar = true, header = true"
    if _csv_encoding(path) != "utf-8":
        options += ", encoding = 'utf-16'"
    # A table, not a view: its rowid then numbers rows in file order, which a
    # CSV scan cannot report by itself.
    sql = f"CREATE OR REPLACE TABLE {relation}__data AS SELECT * FROM read_csv(?, {{}})"
    try:
        con.execute(sql.format(options), [str(path)])
    except duckdb.Error as exc:
        if "sniffing" not in str(exc):
            raise UnusableInputError(f"{path} cannot be read as CSV: {_first_line(exc)}") from None
        # The sniffer can trip on odd quoted content; the header line tells
        # the delimiter, and RFC 4180 quoting is then all it needs.
        delim = _header_delimiter(path, "utf-16" if "utf-16" in options else "utf-8")
        try:
            con.execute(
                sql.format(f"{options}, delim = '{delim}', quote = '\"', escape = '\"', "
                           "strict_mode = false"),
                [str(path)],
            )
        except duckdb.Error as exc2:
            raise UnusableInputError(
                f"{path} cannot be read as CSV: {_first_line(exc2)}") from None
    con.execute(
        f"CREATE OR REPLACE VIEW {relation} AS "
        f"SELECT *, rowid + 1 AS {ROW_COLUMN} FROM {relation}__data"
    )


def _header_delimiter(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        header = handle.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=counts.get)


def _land_parquet(path: Path, relation: str, con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute(
            f"CREATE OR REPLACE VIEW {relation} AS "
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW_COLUMN} "
            f"FROM read_parquet({sql_literal(path)}, file_row_number = true)"
        )
        con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0]
    except duckdb.Error as exc:
        raise UnusableInputError(f"{path} cannot be read as Parquet: {_first_line(exc)}") from None


def _is_duckdb(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(12)[8:12] == b"DUCK"


def _load_duckdb(path: Path, con: duckdb.DuckDBPyConnection) -> dict[str, RawTable]:
    try:
        con.execute(f"ATTACH {sql_literal(path)} AS cx_source (READ_ONLY)")
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'cx_source' AND table_schema = 'main'"
            ).fetchall()
        ]
    except duckdb.Error as exc:
        raise UnusableInputError(f"{path} cannot be opened as DuckDB: {_first_line(exc)}") from None
    tables = {}
    # Other tables in a database are the owner's business; only ours are read.
    for name in sorted(set(names) & _TABLE_NAMES):
        relation = f"raw_{name}"
        con.execute(
            f"CREATE OR REPLACE VIEW {relation} AS "
            f"SELECT *, rowid + 1 AS {ROW_COLUMN} FROM cx_source.main.{sql_identifier(name)}"
        )
        tables[name] = _describe(name, f"{path}#{name}", relation, con, None)
    return tables


def _load_sqlalchemy(url: str, con: duckdb.DuckDBPyConnection) -> dict[str, RawTable]:
    import pandas as pd
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            names = set(sqlalchemy.inspect(connection).get_table_names())
            frames = {
                name: pd.read_sql_table(name, connection) for name in sorted(names & _TABLE_NAMES)
            }
    except Exception as exc:  # driver errors come in many classes; all mean "unusable"
        raise UnusableInputError(f"{redact_source(url)} cannot be read: {_first_line(exc)}") \
            from None
    finally:
        if "engine" in locals():
            engine.dispose()
    tables = {}
    for name, frame in frames.items():
        relation = f"raw_{name}"
        frame = frame.copy()
        frame[ROW_COLUMN] = range(1, len(frame) + 1)
        con.register(f"{relation}__frame", frame)
        con.execute(
            f"CREATE OR REPLACE TABLE {relation} AS SELECT * FROM {relation}__frame"
        ).fetchall()
        con.unregister(f"{relation}__frame")
        tables[name] = _describe(name, f"{redact_source(url)}#{name}", relation, con, None)
    return tables


def _describe(
    name: str, origin: str, relation: str, con: duckdb.DuckDBPyConnection, sha256: str | None
) -> RawTable:
    columns = [
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        if r[0] != ROW_COLUMN
    ]
    rows, content = con.execute(
        f"SELECT count(*), CAST(sum(hash(t)) AS VARCHAR) FROM {relation} t").fetchall()[0]
    if sha256 is None:
        # No file to checksum (a database table): fingerprint the rows instead, so a
        # changed table still shows up in the manifest and invalidates --resume.
        sha256 = hashlib.sha256(f"{name}:{rows}:{content}".encode()).hexdigest()
    return RawTable(name, origin, relation, columns, int(rows), sha256)


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class SourceRef:
    """A source as named by a user, resolved once.

    ``given`` is what the user wrote; ``location`` is what loaders open: an
    absolute path (notebook kernels run in another folder), a URL as given,
    or the built-in sample's folder for an empty name. ``str()`` of a
    reference is :attr:`redacted`, so printing one never shows a password.

    Examples
    --------
    >>> ref = SourceRef.of("postgresql://me:s3cret@db/cx")
    >>> ref.is_url, str(ref)
    (True, 'postgresql://***@db/cx')
    >>> SourceRef.of("data/sample").location == str(Path("data/sample").resolve())
    True
    """

    given: str
    location: str

    @classmethod
    def of(cls, source: str | os.PathLike | SourceRef | None) -> SourceRef:
        """Resolve ``source``; ``None`` or ``""`` is the built-in sample."""
        if isinstance(source, SourceRef):
            return source
        given = "" if source is None else os.fspath(source).strip()
        if given == "":
            return cls(given, str(builtin_source()))
        if _URL.match(given):
            return cls(given, given)
        return cls(given, str(Path(given).resolve()))

    @property
    def is_url(self) -> bool:
        return bool(_URL.match(self.location))

    @property
    def redacted(self) -> str:
        """The source as it may be written down (messages, manifest, log)."""
        shown = self.given or self.location
        return re.sub(r"//[^@/]*@", "//***@", shown) if self.is_url else shown

    @property
    def key(self) -> str:
        """A digest of :attr:`location`: names the source without showing it."""
        return hashlib.sha256(self.location.encode()).hexdigest()

    def __str__(self) -> str:
        return self.redacted


def resolve_source(source: str | os.PathLike | None) -> str:
    """Where ``source`` is opened from (:attr:`SourceRef.location`); empty = the sample."""
    return SourceRef.of(source).location


def redact_source(source: str | os.PathLike) -> str:
    """``source`` as it may be written down: a URL's credentials masked, a path as is.

    Unlike :meth:`SourceRef.of`, it resolves nothing (an empty name stays empty).
    """
    text = os.fspath(source)
    return SourceRef(text, text).redacted


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Conversion Error: "):
        text = text.replace(prefix, "")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    head = lines[0]
    # DuckDB puts the useful sentence for encoding problems on a later line.
    for line in lines[1:3]:
        if "encoded" in line or "Expected Number of Columns" in line:
            head = f"{head} {line.strip()}"
    return head.rstrip(".")
