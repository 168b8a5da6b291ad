"""Open a data source and land its tables, untouched, in DuckDB.

A source is a folder of CSV or Parquet files named after the tables, a
``.duckdb`` file, or a SQLAlchemy URL. Each table lands as a DuckDB relation
``raw_<table>`` holding the columns exactly as they came plus ``__cx_row``,
the 1-based row number in the source, so every later message can point at
the row a person would open.

A CSV line that is not a row (a field too many or too few, a quote never
closed, bytes not in the file's encoding) is a *broken line*: it lands in
``broken_<table>`` with its line number, the line as it came and a reason,
and the rest of the file is read as usual (see "CSV" below). Rows count
every record after the header, broken lines included and blank lines not,
so row N is line N + 1 unless a quoted value holds a line break.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import hashlib
import io
import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..core.errors import UnusableInputError
from ..core.files import sha256_of
from .contract import TABLES
from .sample import builtin_source
from .sql import sql_identifier, sql_literal

__all__ = ["ROW_COLUMN", "RawTable", "SourceRef", "check_encoding", "connect", "load_source",
           "redact_source", "resolve_source"]

ROW_COLUMN = "__cx_row"
_TABLE_NAMES = {t.name for t in TABLES}
_OPTIONAL = {t.name for t in TABLES if t.optional}
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
    #: Lines of a CSV that are not rows (wrong number of fields, a quote not
    #: closed, bytes not in the file's encoding), set aside while reading;
    #: ``rows`` does not count them. They are in ``broken_<table>``:
    #: ``__cx_row``, ``line``, ``raw_line``, ``reason``.
    broken: int = 0

    @property
    def broken_relation(self) -> str | None:
        return f"broken_{self.name}" if self.broken else None


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
    # A bar on stderr clutters logs; in a Jupyter kernel DuckDB refuses the setting.
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false").fetchall()
    return con


def load_source(source: str | os.PathLike, con: duckdb.DuckDBPyConnection, *,
                encoding: str = "utf-8", warnings: list[str] | None = None
                ) -> dict[str, RawTable]:
    """Land every contract table found in ``source`` as ``raw_<table>`` in ``con``.

    ``encoding`` is that of CSV files (a byte-order mark overrides it).
    Broken lines of a CSV are set aside into ``broken_<table>``
    (:attr:`RawTable.broken`); things a reader should know that set nothing
    aside (an optional table's empty file, a column named twice) are
    appended to ``warnings``.

    Raises
    ------
    UnusableInputError
        The source does not exist, a file cannot be read (no readable
        header, no usable row, or not in ``encoding``), a folder holds a file
        for an unknown table or two files for one table, or a required
        column or table is missing.

    Examples
    --------
    >>> con = connect()
    >>> tables = load_source("data/sample", con)  # doctest: +SKIP
    >>> tables["interactions"].rows  # doctest: +SKIP
    216000
    """
    text = os.fspath(source)
    codec = check_encoding(encoding)
    warnings = warnings if warnings is not None else []
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        tables = _load_sqlalchemy(text, con)
    else:
        path = Path(text)
        if not path.exists():
            raise UnusableInputError(f"source {text} does not exist")
        if path.is_dir():
            tables = _load_folder(path, con, codec, warnings)
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


def _load_folder(folder: Path, con: duckdb.DuckDBPyConnection, encoding: str,
                 warnings: list[str]) -> dict[str, RawTable]:
    tables: dict[str, RawTable] = {}
    empty: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        found = _table_name_of(path)
        if found is None or not path.is_file():
            continue  # notes, truth files, READMEs: not tables
        name, fmt = found
        if name not in _TABLE_NAMES:
            known = ", ".join(sorted(_TABLE_NAMES))
            raise UnusableInputError(f"{path} is not a known table (known tables: {known})")
        if name in tables or name in empty:
            first = tables[name].origin if name in tables else empty[name]
            raise UnusableInputError(f"table {name} is given twice, as {first} and {path}")
        relation = f"raw_{name}"
        broken = 0
        if fmt == "csv":
            read = _land_csv(path, relation, con, encoding=encoding, optional=name in _OPTIONAL)
            if read is None:
                empty[name] = path
                warnings.append(f"{path} is empty (not even a header): table {name} is "
                                "taken as absent")
                continue
            warnings.extend(read.warnings)
            broken = read.broken
        else:
            _land_parquet(path, relation, con)
        tables[name] = _describe(name, str(path), relation, con, sha256_of(path))
        tables[name].broken = broken
    return tables


# ---------------------------------------------------------------------------- CSV
#
# A CSV file is read by DuckDB with a fixed RFC 4180 dialect (the delimiter
# taken from the header line) and ``store_rejects``, so a line that is not a
# row lands in DuckDB's reject table instead of stopping the read. When there
# is none (the usual case) the table is the read itself and a row's number
# is its rowid + 1. Otherwise the slow path below finds each broken physical
# line from the reject table's byte positions, replaces it by a placeholder
# row in a temporary copy and reads the copy again: rowid + 1 then still
# counts every record (good rows and broken lines) after the header, so the
# rows after a broken line keep their numbers, and lines a stray quote had
# swallowed are read as the rows they are.

#: Data lines with bytes invalid in the file's encoding, above this share of
#: the lines, mean the file is in another encoding: unusable, not set aside.
WRONG_ENCODING_SHARE = 0.01
#: Reject rows DuckDB keeps per read (one per missing column of a line).
_REJECTS_LIMIT = 200_000
#: Reads of one file before giving up on setting its broken lines aside.
_MAX_READS = 12
_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def check_encoding(encoding: str) -> str:
    """The codec name of ``encoding`` (``'UTF8'`` -> ``'utf-8'``), or UnusableInputError."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise UnusableInputError(
            f"encoding {encoding!r} is not one Python knows (try utf-8, latin-1, cp1252 or "
            "utf-16)") from None


def _encoding_label(codec: str) -> str:
    return {"utf-8": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16", "latin-1": "Latin-1",
            "iso8859-1": "Latin-1", "cp1252": "Windows-1252"}.get(codec, codec)


@dataclass
class _Dialect:
    delimiter: str
    #: Column names given to DuckDB: as written, a repeated one as ``name_1``.
    columns: list[str]
    #: Physical lines the header takes (more than 1 only if a quoted name holds a line break).
    header_lines: int


@dataclass
class _CsvRead:
    columns: list[str]
    broken: int
    warnings: list[str] = field(default_factory=list)


def _is_blank(path: Path) -> bool:
    """Zero bytes, or nothing but a byte-order mark and white space."""
    with _open_bytes(path) as handle:
        head = handle.read(4096)
    for bom, _ in _BOMS:
        head = head.removeprefix(bom)
    return not head.replace(b"\x00", b"").strip()


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _file_encoding(path: Path, requested: str) -> str:
    """The codec to read ``path`` with: a byte-order mark wins over ``requested``."""
    with _open_bytes(path) as handle:
        head = handle.read(4)
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    if requested == "utf-8-sig":
        return "utf-8"
    # Python's utf-16 wants a byte-order mark; without one, Windows writes little-endian.
    return "utf-16-le" if requested == "utf-16" else requested


def _flag_undecodable(error: UnicodeDecodeError) -> tuple[str, int]:
    """Decode errors become bytes that are not UTF-8 either, so DuckDB rejects their line."""
    bad = error.object[error.start:error.end]
    return "".join(chr(0xDC00 + b) if b >= 0x80 else "\udcff" for b in bad), error.end


codecs.register_error("cxreports-flag", _flag_undecodable)


@contextmanager
def _utf8_file(path: Path, codec: str, workdir: Path):
    """``path`` as plain UTF-8 for DuckDB: itself, or a transcoded (or unzipped) copy.

    DuckDB 2.0 reads UTF-8, UTF-16 and Latin-1 itself but Windows-1252 and
    the rest only through its ``encodings`` extension, which is not bundled
    and would be downloaded. So anything but plain UTF-8 is transcoded here,
    streaming, to a temporary UTF-8 file; a byte the codec cannot decode is
    kept as a byte that is not UTF-8, so DuckDB sets its line aside. Reading
    UTF-8 always also keeps byte positions in the reject table meaningful.
    """
    gz = path.name.lower().endswith(".gz")
    if codec == "utf-8" and not gz:
        yield path
        return
    target = workdir / f"{path.stem}.utf8.csv"
    try:
        with (_open_bytes(path) as raw,
              io.TextIOWrapper(raw, encoding=codec, errors="cxreports-flag", newline="") as src,
              target.open("w", encoding="utf-8", errors="surrogateescape", newline="") as dst):
            shutil.copyfileobj(src, dst, 1 << 20)
    except UnicodeError as exc:  # the codec's own complaint, not a byte it cannot decode
        target.unlink(missing_ok=True)
        raise UnusableInputError(f"{path} cannot be read as {_encoding_label(codec)}: "
                                 f"{exc}") from None
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


def _read_header(text: Path, origin: Path, codec: str) -> tuple[_Dialect, list[str]]:
    """The header record of UTF-8 file ``text``: delimiter, column names, and warnings."""
    label = _encoding_label(codec)
    with text.open("rb") as handle:
        head = handle.read(1 << 20)
    head = head.removeprefix(codecs.BOM_UTF8)
    lines, quotes = [], 0
    for line in head.split(b"\n"):
        lines.append(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            break
    else:
        raise UnusableInputError(f"{origin} has no readable header: its first line opens a "
                                 "quote that does not close")
    raw = b"\n".join(lines).rstrip(b"\r")
    if b"\x00" in raw:
        raise UnusableInputError(
            f"{origin} has no readable header: it holds NUL bytes, as UTF-16 without a "
            "byte-order mark does; if it is UTF-16, pass --encoding utf-16")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnusableInputError(
            f"{origin} has no readable header: its first line has bytes that are not valid "
            f"{label} (0x{raw[exc.start]:02X}); if the file was exported as Latin-1, "
            "Windows-1252 or UTF-16, pass --encoding (encoding: in the run's parameters)"
        ) from None
    outside = _QUOTED.sub("", line)
    counts = {d: outside.count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d])  # ties: the first, ","
    try:
        names = next(csv.reader([line], delimiter=delimiter, quotechar='"', strict=True))
    except (csv.Error, StopIteration) as exc:
        raise UnusableInputError(f"{origin} has no readable header: {exc}") from None
    if not any(n.strip() for n in names):
        raise UnusableInputError(f"{origin} has no readable header: its first line is empty")
    columns, seen, warnings = [], {}, []
    for k, name in enumerate(names, start=1):
        name = name or f"column{k}"
        if name in seen:
            unique = next(f"{name}_{i}" for i in range(1, len(names) + 2)
                          if f"{name}_{i}" not in names and f"{name}_{i}" not in columns)
            warnings.append(f"{origin} names column {name!r} twice (columns {seen[name]} and "
                            f"{k}): column {seen[name]} is used, column {k} is read as "
                            f"{unique!r} and ignored")
            name = unique
        else:
            seen[name] = k
        columns.append(name)
    return _Dialect(delimiter, columns, len(lines)), warnings


def _read_options(dialect: _Dialect, rejects: str) -> str:
    columns = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in dialect.columns)
    return (f"delim = {sql_literal(dialect.delimiter)}, quote = '\"', escape = '\"', "
            f"header = true, auto_detect = false, columns = {{{columns}}}, "
            f"store_rejects = true, rejects_table = '{rejects}_errors', "
            f"rejects_scan = '{rejects}_scans', rejects_limit = {_REJECTS_LIMIT}")


def _read_into(con: duckdb.DuckDBPyConnection, table: str, text: Path, dialect: _Dialect,
               rejects: str, origin: Path) -> tuple[list[tuple[int, str, str]], bool]:
    """Read ``text`` into ``table``.

    Returns the rejected records as (byte position, type, message), and
    whether DuckDB stopped keeping them (``rejects_limit`` reached).
    """
    for kind in ("errors", "scans"):
        con.execute(f"DROP TABLE IF EXISTS {rejects}_{kind}")
    # A table, not a view: its rowid then numbers rows in file order, which a
    # CSV scan cannot report by itself.
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv(?, "
                    f"{_read_options(dialect, rejects)})", [str(text)])
        found = con.execute(
            f"SELECT line_byte_position, min(error_type), min(error_message), "
            f"sum(count(*)) OVER () FROM {rejects}_errors GROUP BY line_byte_position "
            f"ORDER BY 1").fetchall()
    except duckdb.Error as exc:
        raise UnusableInputError(f"{origin} cannot be read as CSV: {_first_line(exc)}") from None
    for kind in ("errors", "scans"):
        con.execute(f"DROP TABLE IF EXISTS {rejects}_{kind}")
    full = bool(found) and found[0][3] >= _REJECTS_LIMIT
    return [(int(p), str(t), str(m)) for p, t, m, _ in found], full


class _Lines:
    """Where each physical line of a file starts (for the slow path only)."""

    def __init__(self, path: Path) -> None:
        import numpy as np

        parts, offset = [np.zeros(1, dtype=np.int64)], 0
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 24):
                ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
                parts.append(ends.astype(np.int64) + offset + 1)
                offset += len(chunk)
        starts = np.concatenate(parts)
        self.size = offset
        self.starts = starts[:-1] if len(starts) > 1 and starts[-1] == offset else starts
        self.path = path

    @property
    def count(self) -> int:
        return len(self.starts)

    def at(self, position: int) -> int:
        """The 1-based line holding byte ``position`` (its line break belongs to it)."""
        import numpy as np

        return max(1, min(int(np.searchsorted(self.starts, position, side="right")), self.count))

    def span(self, line: int) -> tuple[int, int]:
        """Byte range of ``line`` without its line break."""
        start = int(self.starts[line - 1])
        end = int(self.starts[line]) - 1 if line < self.count else self.size
        return start, end

    def text(self, line: int, handle) -> bytes:
        start, end = self.span(line)
        handle.seek(start)
        return handle.read(end - start).removesuffix(b"\n").removesuffix(b"\r")


def _line_problem(raw: bytes, dialect: _Dialect, label: str) -> str | None:
    """Why one physical line cannot be a row on its own; None if it can.

    ``""`` for a line of white space only: DuckDB reads it as one empty
    field, but it is a blank line, not a broken one, and is dropped.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"has bytes that are not valid {label} (0x{raw[exc.start]:02X})"
    if not text.strip():
        return ""
    try:
        fields = next(csv.reader([text], delimiter=dialect.delimiter, quotechar='"',
                                 strict=True))
    except csv.Error as exc:
        if "end of data" in str(exc):
            return "has a quote that is not closed on the line"
        if "NUL" in str(exc):
            return "has a NUL byte"
        return "has a stray quote (text after a closing quote)"
    n, expected = len(fields), len(dialect.columns)
    if n != expected:
        return f"has {n} field{'s' if n != 1 else ''}, the header has {expected}"
    return None


def _duckdb_problem(error_type: str, message: str) -> str:
    return {"LINE SIZE OVER MAXIMUM": "is longer than DuckDB's maximum line size",
            "INVALID ENCODING": "has bytes that are not valid UTF-8"}.get(
        error_type, f"cannot be read ({message.strip().rstrip('.')})")


def _write_placeholders(source: Path, lines: _Lines, broken: dict[int, str], marker: str,
                        dialect: _Dialect, target: Path) -> None:
    """Copy ``source`` with each broken line replaced by a one-row placeholder naming it."""
    filler = dialect.delimiter * (len(dialect.columns) - 1)
    with source.open("rb") as src, target.open("wb") as dst:
        position = 0
        for line in sorted(broken):
            start, end = lines.span(line)
            src.seek(position)
            _copy_bytes(src, dst, start - position)
            src.seek(start)
            content = src.read(end - start)
            if broken[line]:  # else a blank line: left empty, so skipped
                dst.write(f"{marker}{line}{filler}".encode())
            if content.endswith(b"\r"):
                dst.write(b"\r")
            position = end
        src.seek(position)
        shutil.copyfileobj(src, dst, 1 << 20)


def _copy_bytes(src, dst, n: int) -> None:
    while n > 0:
        chunk = src.read(min(n, 1 << 20))
        if not chunk:
            break
        dst.write(chunk)
        n -= len(chunk)


def _land_csv(path: Path, relation: str, con: duckdb.DuckDBPyConnection, *, encoding: str,
              optional: bool) -> _CsvRead | None:
    """Land ``path`` as ``relation``; None for an optional table's empty file (absent)."""
    if _is_blank(path):
        if optional:
            return None
        raise UnusableInputError(f"{path} is empty: it needs at least a header row")
    codec = _file_encoding(path, encoding)
    workdir = Path(tempfile.mkdtemp(prefix="cxreports-csv-"))
    try:
        with _utf8_file(path, codec, workdir) as text:
            dialect, warnings = _read_header(text, path, codec)
            data = f"{relation}__data"
            rejected, full = _read_into(con, data, text, dialect, f"{relation}__rejects", path)
            if not rejected:
                con.execute(f"CREATE OR REPLACE VIEW {relation} AS "
                            f"SELECT *, rowid + 1 AS {ROW_COLUMN} FROM {data}")
                return _CsvRead(dialect.columns, 0, warnings)
            broken = _set_aside_broken_lines(con, path, text, workdir, relation, dialect,
                                             rejected, full, _encoding_label(codec))
            return _CsvRead(dialect.columns, broken, warnings)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _set_aside_broken_lines(con: duckdb.DuckDBPyConnection, origin: Path, text: Path,
                            workdir: Path, relation: str, dialect: _Dialect,
                            rejected: list[tuple[int, str, str]], full: bool, label: str) -> int:
    """The slow path: find the broken lines, read the rest around them (see above).

    Lands ``relation`` (good rows, numbered) and ``broken_<table>`` (one row
    per broken line: ``__cx_row``, ``line``, ``raw_line``, ``reason``);
    returns the number of broken lines.
    """
    data, rejects = f"{relation}__data", f"{relation}__rejects"
    marker = f"__cx_broken_{secrets.token_hex(6)}_"
    lines = _Lines(text)
    read_lines = lines  # the lines of the file the last read saw (text, or a copy)
    # line -> why it is broken; "" for a blank line DuckDB rejected (dropped).
    broken: dict[int, str] = {}
    copy = workdir / "placeholders.csv"
    with text.open("rb") as handle:
        if full and not con.execute(f"SELECT count(*) FROM {data}").fetchall()[0][0]:
            # Not one row, and more broken lines than DuckDB keeps: a file of
            # nothing but broken lines, not worth reading again and again.
            line = lines.at(rejected[0][0])
            problem = _line_problem(lines.text(line, handle), dialect, label)
            if problem != "":
                problem = problem or _duckdb_problem(rejected[0][1], rejected[0][2])
                raise UnusableInputError(f"{origin} has no usable rows: every line after the "
                                         f"header is broken (line {line} {problem})")
        for _ in range(_MAX_READS):
            added = 0
            for position, error_type, message in rejected:
                line = read_lines.at(position)
                # A quote error can be reported on the line before the one at fault.
                for candidate in (line, line + 1, line - 1):
                    if dialect.header_lines < candidate <= lines.count \
                            and candidate not in broken:
                        problem = _line_problem(lines.text(candidate, handle), dialect, label)
                        if problem is not None:
                            broken[candidate] = problem
                            added += 1
                            break
                else:
                    if dialect.header_lines < line and line not in broken:
                        broken[line] = _duckdb_problem(error_type, message)
                        added += 1
            if not added:
                line = read_lines.at(rejected[0][0])
                raise UnusableInputError(f"{origin} cannot be read as CSV: line {line} "
                                         f"{_duckdb_problem(rejected[0][1], rejected[0][2])}")
            _write_placeholders(text, lines, broken, marker, dialect, copy)
            read_lines = _Lines(copy)
            rejected, full = _read_into(con, data, copy, dialect, rejects, origin)
            if not rejected:
                break
        else:
            first = min(k for k, why in broken.items() if why)
            raise UnusableInputError(f"{origin} cannot be read as CSV: too many broken lines "
                                     f"to set aside (the first is line {first}, which "
                                     f"{broken[first]})")
        broken = {k: why for k, why in sorted(broken.items()) if why}
        raws = {k: lines.text(k, handle) for k in broken}
    copy.unlink(missing_ok=True)

    first = sql_identifier(dialect.columns[0])
    is_marker = f"starts_with({first}, {sql_literal(marker)})"
    good = con.execute(
        f"SELECT count(*) FILTER (WHERE {first} IS NULL OR NOT {is_marker}) FROM {data}"
    ).fetchall()[0][0]
    view = (f"CREATE OR REPLACE VIEW {relation} AS SELECT *, rowid + 1 AS {ROW_COLUMN} "
            f"FROM {data} WHERE {first} IS NULL OR NOT {is_marker}")
    if not broken:  # only blank lines
        con.execute(view)
        return 0
    _check_broken_share(origin, broken, good, label)
    import pandas as pd

    frame = pd.DataFrame({
        "line": list(broken),
        "raw_line": [raws[k].decode("utf-8", errors="backslashreplace") for k in broken],
        "reason": [f"line {k}{' (the last)' if k == lines.count else ''} {why}"
                   for k, why in broken.items()],
    })
    table = relation.removeprefix("raw_")
    con.register(f"{relation}__broken_frame", frame)
    con.execute(
        f"CREATE OR REPLACE TABLE broken_{table} AS SELECT d.{ROW_COLUMN}, f.line, f.raw_line, "
        f"f.reason FROM (SELECT rowid + 1 AS {ROW_COLUMN}, "
        f"CAST(substr({first}, {len(marker) + 1}) AS BIGINT) AS line FROM {data} "
        f"WHERE {is_marker}) d JOIN {relation}__broken_frame f USING (line) "
        f"ORDER BY d.{ROW_COLUMN}").fetchall()
    con.unregister(f"{relation}__broken_frame")
    con.execute(view)
    return len(broken)


def _check_broken_share(origin: Path, broken: dict[int, str], good: int, label: str) -> None:
    """Unusable: no good row at all, or so many undecodable lines the encoding is wrong."""
    first = min(broken)
    if good == 0:
        raise UnusableInputError(
            f"{origin} has no usable rows: all {len(broken):,} of its lines after the header "
            f"are broken (line {first} {broken[first]})")
    undecodable = sorted(k for k, why in broken.items() if why.startswith("has bytes"))
    if len(undecodable) > WRONG_ENCODING_SHARE * (good + len(broken)):
        raise UnusableInputError(
            f"{origin} is not {label}: {len(undecodable):,} of its {good + len(broken):,} "
            f"lines {'has' if len(undecodable) == 1 else 'have'} bytes that are not valid "
            f"{label} (the first is line "
            f"{undecodable[0]}); if it was exported as Latin-1, Windows-1252 or UTF-16, pass "
            "--encoding latin-1, cp1252 or utf-16 (encoding: in the run's parameters)")


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
    if sha256 is None:
        # No file to checksum (a database table): fingerprint the rows instead, so a
        # changed table still shows up in the manifest and invalidates --resume.
        rows, content = con.execute(
            f"SELECT count(*), CAST(sum(hash(t)) AS VARCHAR) FROM {relation} t").fetchall()[0]
        sha256 = hashlib.sha256(f"{name}:{rows}:{content}".encode()).hexdigest()
    else:  # a file's checksum: the count alone (Parquet's is in its footer)
        rows = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
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
