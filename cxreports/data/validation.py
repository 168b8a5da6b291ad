"""Validate a source against the data contract, setting bad rows aside.

The rules of :mod:`cxreports.data.contract` become one DuckDB query per table, so
ten million rows are checked without leaving the engine. Every problem with a
row is collected (not only the first), in three passes:

1. row rules: empty ids, unparsable dates, numbers out of range, unknown
   enumeration values, booleans that are not booleans;
2. repeated keys: among rows that passed 1, the first by source order is kept;
3. references: the agent must be on the roster on the row's date, and the
   behaviour on the QA form (both checked against the *validated* roster and
   form).

Good rows plus set-aside rows always equal the rows read.

Passes 1 and 3 are one pipelined query per table, the only full read of the
source, materialised once as ``checked_<table>``; pass 2 then reads back only
the key columns of that table (by hash first) and rewrites the reasons of the
repeats, if there are any.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ..core.files import atomic_path
from .contract import (
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    BRAND,
    NOT_APPLICABLE,
    SCORE_NO,
    SCORE_YES,
    TABLES,
    Column,
    Table,
)
from .roster import roster_segments_sql
from .sources import ROW_COLUMN, RawTable, connect, load_source
from .sql import sql_identifier, sql_literal

__all__ = ["TableReport", "ValidatedData", "validate_source"]

_REASON = "__cx_reason"
#: In ``checked_<table>`` until pass 2 is done: the row passed pass 1.
_CLEAN = "__cx_clean"
_OK_TYPES_NUMBER = ("DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT",
                    "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "DECIMAL")


@dataclass
class TableReport:
    """What validation did to one table."""

    table: str
    origin: str | None
    rows_read: int
    rows_kept: int
    rows_set_aside: int
    sha256: str | None = None
    #: Up to five example reasons, for the console.
    examples: list[str] = field(default_factory=list)
    #: Of ``rows_set_aside``: lines of a CSV that were not rows at all (wrong
    #: number of fields, a quote not closed, bytes not in the file's encoding).
    broken_lines: int = 0

    @property
    def present(self) -> bool:
        return self.origin is not None


@dataclass
class ValidatedData:
    """The validated tables of one source, held in DuckDB.

    ``table(name)`` returns the good rows as a typed DataFrame (contract
    columns first, extra columns after); a missing optional table comes back
    empty with the contract's columns, so every analysis can ask for it.
    """

    con: duckdb.DuckDBPyConnection
    source: str
    reports: dict[str, TableReport]
    raw: dict[str, RawTable]
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    #: Problems that set nothing aside but a reader should know (one sentence each).
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_set_aside(self) -> int:
        return sum(r.rows_set_aside for r in self.reports.values())

    def has_table(self, name: str) -> bool:
        """Whether the source supplied table ``name`` (optional ones may be absent)."""
        return self.reports[name].present

    def table(self, name: str) -> pd.DataFrame:
        """The good rows of table ``name``, typed, in source order."""
        if name not in self._cache:
            self._cache[name] = self.con.execute(
                f"SELECT * EXCLUDE ({ROW_COLUMN}, {_REASON}) FROM checked_{name} "
                f"WHERE {_REASON} = '' ORDER BY {ROW_COLUMN}"
            ).df()
        return self._cache[name].copy()

    def relation(self, name: str) -> str:
        """SQL (in :attr:`con`) for the good rows of ``name``: for work that stays in DuckDB."""
        return (f"(SELECT * EXCLUDE ({ROW_COLUMN}, {_REASON}) FROM checked_{name} "
                f"WHERE {_REASON} = '')")

    def write_parquet(self, name: str, path: str | os.PathLike) -> None:
        """The good rows of ``name`` to a Parquet file, in source order, without pandas."""
        self.con.execute(
            f"COPY (SELECT * EXCLUDE ({ROW_COLUMN}, {_REASON}) FROM checked_{name} "
            f"WHERE {_REASON} = '' ORDER BY {ROW_COLUMN}) TO {sql_literal(path)} "
            f"(FORMAT PARQUET)")

    def rejects(self, name: str) -> pd.DataFrame:
        """The set-aside rows of ``name`` as they came, plus ``reason``."""
        return self.con.execute(_rejects_sql(name, self.raw.get(name))).df()

    def write_rejects(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``<folder>/<table>.csv`` for every table with rows set aside.

        Each file holds the rejected rows as they came plus a ``reason``
        column; files are written whole (to a temporary name, then renamed).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, report in self.reports.items():
            target = folder / f"{name}.csv"
            if report.rows_set_aside == 0:
                continue
            with atomic_path(target) as tmp:
                sql = _rejects_sql(name, self.raw[name])
                self.con.execute(f"COPY ({sql}) TO {sql_literal(tmp)} (HEADER, DELIMITER ',')")
            written[name] = target
        return written


def validate_source(source: str | os.PathLike, *, memory_limit: str | None = None,
                    encoding: str = "utf-8") -> ValidatedData:
    """Read ``source``, check it against the contract and set bad rows aside.

    Parameters
    ----------
    source
        A folder of CSV/Parquet files, a ``.duckdb`` file or a SQLAlchemy URL.
    memory_limit
        DuckDB buffer limit such as ``"2GB"``; DuckDB spills to disk beyond it.
    encoding
        Of CSV files: ``utf-8`` (with or without a byte-order mark), or any
        codec Python knows (``latin-1``, ``cp1252``, ``utf-16`` ...). A file
        starting with a UTF-16 byte-order mark is read as UTF-16 regardless.
        A CSV line that is not a row (wrong number of fields, a quote not
        closed, bytes not in the encoding) is set aside like a bad row, with
        its line number and the line as it came.

    Returns
    -------
    ValidatedData
        The good rows of every table and a :class:`TableReport` per table.

    Raises
    ------
    UnusableInputError
        When a file cannot be read (no readable header, no usable row, or
        more than 1% of its lines not in ``encoding``), or a required table
        or column is missing.

    Examples
    --------
    >>> data = validate_source("data/sample")  # doctest: +SKIP
    >>> data.reports["interactions"].rows_set_aside  # doctest: +SKIP
    0
    """
    con = connect(memory_limit)
    source_warnings: list[str] = []
    raw = load_source(source, con, encoding=encoding, warnings=source_warnings)
    reports = {}
    for spec in TABLES:
        reports[spec.name] = _validate_table(con, spec, raw.get(spec.name))
        if spec.name == "roster":  # sites comes before it in TABLES
            _make_segments(con)
    return ValidatedData(con=con, source=os.fspath(source), reports=reports, raw=raw,
                         warnings=[*source_warnings, *_zone_warnings(con, reports),
                                   *_evaluator_warnings(con, reports)])


# --------------------------------------------------------------------------- SQL


def _in(expr: str, values: Iterable[str]) -> str:
    return f"{expr} IN ({', '.join(sql_literal(v) for v in values)})"


def _shown(expr: str) -> str:
    """The raw value as it will be shown in a reason (long values cut)."""
    return f"left(CAST({expr} AS VARCHAR), 60)"


def _quoted(expr: str) -> str:
    """SQL for ``expr`` wrapped in single quotes, for reasons."""
    return "(chr(39) || " + expr + " || chr(39))"


@dataclass(frozen=True)
class _Problem:
    """One rule of a column: where ``condition`` holds, the row has reason ``message``."""

    condition: str
    message: str

    @property
    def sql(self) -> str:
        """The reason, or NULL."""
        return f"CASE WHEN {self.condition} THEN {self.message} END"


def _reasons(problems: list[_Problem]) -> str:
    """The reasons of a row, ``'; '``-joined; ``''`` for none.

    Built only for the rows with a problem: the conditions are cheap, the
    strings are not.
    """
    if not problems:
        return "''"
    anything = " OR ".join(f"({p.condition})" for p in problems)
    return (f"CASE WHEN {anything} THEN concat_ws('; ', {', '.join(p.sql for p in problems)}) "
            "ELSE '' END")


@dataclass
class _ColumnSql:
    value: str  # typed value
    problems: list[_Problem]
    #: Helper columns kept in the stage only (dropped before the checked table).
    helpers: dict[str, str] = field(default_factory=dict)
    #: The parsed value, computed once per row in a layer below ``value`` and
    #: ``problems``, which name it as :attr:`_Raw.parsed` (DuckDB does not
    #: share a subexpression between the branches of ``CASE``).
    parsed: str | None = None


@dataclass(frozen=True)
class _Raw:
    """SQL for one raw column as it came: the column, its trimmed text, whether it has one."""

    col: Column
    raw_type: str | None  # DuckDB type of the raw column; None: the source lacks it
    raw: str
    text: str
    present: str
    #: Where ``value`` and ``problems`` find :attr:`_ColumnSql.parsed`.
    parsed: str = "NULL"

    @property
    def label(self) -> str:
        return sql_literal(self.col.name)

    def reason(self, condition: str, message: str, *, quoted: bool = True) -> _Problem:
        """The reason ``'<column> '<value>' <message>'`` where ``condition`` holds."""
        shown = _quoted(_shown(self.text)) if quoted else _shown(self.text)
        return _Problem(condition,
                        f"{self.label} || ' ' || {shown} || {sql_literal(' ' + message)}")


def _text_sql(r: _Raw) -> _ColumnSql:
    return _ColumnSql(r.text, [])


def _enum_sql(r: _Raw) -> _ColumnSql:
    low = r.parsed
    problem = r.reason(f"{r.present} AND NOT {_in(low, r.col.values)}",
                       f"is not one of {', '.join(r.col.values)}")
    return _ColumnSql(f"CASE WHEN {_in(low, r.col.values)} THEN {low} END", [problem],
                      parsed=f"lower({r.text})")


def _bool_sql(r: _Raw) -> _ColumnSql:
    if r.raw_type == "BOOLEAN":
        return _ColumnSql(r.raw, [])
    low = f"lower({r.text})"
    parsed = (f"CASE WHEN {_in(low, BOOLEAN_TRUE)} THEN TRUE "
              f"WHEN {_in(low, BOOLEAN_FALSE)} THEN FALSE END")
    return _ColumnSql(r.parsed, [r.reason(f"{r.present} AND {r.parsed} IS NULL",
                                          "is not true/false, yes/no, t/f or 1/0")],
                      parsed=parsed)


def _number_sql(r: _Raw) -> _ColumnSql:
    """``number``, ``integer`` and ``score`` (0-1, or yes/no/pass/fail; N/A is empty)."""
    col, problems, value = r.col, [], r.parsed
    if r.raw_type is not None and r.raw_type.split("(")[0] in _OK_TYPES_NUMBER:
        parsed = f"CAST({r.raw} AS DOUBLE)"
    elif col.kind == "score":
        low = f"lower({r.text})"
        parsed = (f"CASE WHEN {_in(low, SCORE_YES)} THEN 1.0 WHEN {_in(low, SCORE_NO)} THEN 0.0 "
                  f"WHEN {_in(low, NOT_APPLICABLE)} THEN NULL ELSE TRY_CAST({r.text} AS DOUBLE) "
                  "END")
        # Not yes/no/pass/fail/N/A: the value is the number cast, NULL if none.
        problems.append(r.reason(
            f"{r.present} AND NOT {_in(low, SCORE_YES + SCORE_NO + NOT_APPLICABLE)} "
            f"AND {value} IS NULL", "is not a number, yes/no, pass/fail or N/A"))
    else:
        parsed = f"TRY_CAST({r.text} AS DOUBLE)"
        problems.append(r.reason(f"{r.present} AND {value} IS NULL", "is not a number"))
    problems.append(r.reason(f"{value} IS NOT NULL AND NOT isfinite({value})",
                             "is not a finite number"))
    checks = [f"{value} < {col.low}"] if col.low is not None else []
    if col.high is not None:
        checks.append(f"{value} > {col.high}")
    if checks:
        problems.append(r.reason(" OR ".join(checks), f"is {_range_text(col)}", quoted=False))
    if col.kind == "integer":
        problems.append(r.reason(f"isfinite({value}) AND {value} <> round({value})",
                                 "is not a whole number", quoted=False))
        value = f"CAST(CASE WHEN isfinite({value}) THEN {value} END AS DOUBLE)"
    return _ColumnSql(value, problems, parsed=parsed)


#: A timestamp written with a UTC offset or ``Z`` (a date alone ends in ``-DD``, not an offset).
_OFFSET_PATTERN = (r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                   r"\s*([Zz]|[+-]\d{2}(:?\d{2})?)$")


def _utc_marker(name: str) -> str:
    """The stage column that says a timestamp was given as an instant (with an offset)."""
    return f"__cx_utc_{name}"


def _temporal_sql(r: _Raw) -> _ColumnSql:
    """``date``, ``timestamp`` and ``week`` (a date or ``2026-W40``, as its Monday).

    A timestamp with an offset (or a time-zone-aware column of a typed
    source) becomes UTC here and is marked, so :func:`_localised` can turn it
    into the site's local time; one without an offset is already local.
    Dates are local dates as written.
    """
    kind = r.col.kind
    helpers = {}
    typed = r.raw_type not in (None, "VARCHAR") and r.raw_type.startswith(("TIMESTAMP", "DATE"))
    if typed:
        parsed = f"CAST({r.raw} AS TIMESTAMP)"
        aware = "TRUE" if "TIME ZONE" in r.raw_type else "FALSE"
    else:
        parsed = f"CAST(TRY_CAST({r.text} AS TIMESTAMPTZ) AS TIMESTAMP)"
        aware = f"coalesce(regexp_matches({r.text}, {sql_literal(_OFFSET_PATTERN)}), FALSE)"
        if kind == "week":
            parsed = f"coalesce({parsed}, TRY_STRPTIME({r.text} || '-1', '%G-W%V-%u'))"
    if kind == "timestamp":
        helpers[_utc_marker(r.col.name)] = aware
    value = {"timestamp": r.parsed, "date": f"CAST({r.parsed} AS DATE)",
             "week": f"CAST(date_trunc('week', {r.parsed}) AS DATE)"}[kind]
    return _ColumnSql(value, [r.reason(f"{r.present} AND {r.parsed} IS NULL",
                                       "is not an ISO 8601 date")], helpers, parsed=parsed)


def _time_zone_sql(r: _Raw) -> _ColumnSql:
    """An IANA time zone name known to DuckDB's ICU database (``America/Chicago``)."""
    known = f"{r.text} IN (SELECT name FROM pg_timezone_names())"
    return _ColumnSql(f"CASE WHEN {known} THEN {r.text} END",
                      [r.reason(f"{r.present} AND NOT {known}",
                                "is not an IANA time zone name (such as Europe/London)")])


#: How each contract column kind becomes a typed value and its problems.
_KIND_SQL = {
    "id": _text_sql, "text": _text_sql, "enum": _enum_sql, "bool": _bool_sql,
    "number": _number_sql, "integer": _number_sql, "score": _number_sql,
    "date": _temporal_sql, "timestamp": _temporal_sql, "week": _temporal_sql,
    "time_zone": _time_zone_sql,
}


#: Kinds whose typed value is the trimmed text itself (or made from it for every row).
_TEXT_KINDS = ("id", "text", "enum", "time_zone")


@dataclass
class _Layers:
    """The per-row work below the value and problem expressions of a table's columns.

    ``texts`` (trimmed text of a column, where every row needs it) come
    first, then ``parsed`` (a value parsed from it); each is computed once
    per row and named, so the ``CASE`` branches of the problems read a
    column instead of parsing again.
    """

    texts: dict[str, str] = field(default_factory=dict)
    parsed: dict[str, str] = field(default_factory=dict)
    columns: int = 0  # columns seen, to name their layers


def _column_sql(col: Column, raw_type: str | None, layers: _Layers) -> _ColumnSql:
    """Typed value and problem expressions for one column, by its kind (:data:`_KIND_SQL`).

    ``raw_type`` is the DuckDB type of the raw column (``None`` if the source
    lacks the column, which then reads as empty). Typed sources such as
    Parquet skip the text parsing their type makes unnecessary. The
    column's trimmed text and parsed value are added to ``layers``; the
    expressions returned name them.
    """
    n, layers.columns = layers.columns, layers.columns + 1
    parsed_name = f"__cx_parsed_{n}"
    if raw_type is None:
        raw = _Raw(col, None, "NULL", "NULL", "FALSE", parsed_name)
    else:
        text = f"NULLIF(trim(CAST({sql_identifier(col.name)} AS VARCHAR)), '')"
        if raw_type == "VARCHAR" or col.kind in _TEXT_KINDS:
            # Text every row parses: trimmed once. A typed column's text stays
            # inline: only a reason shows it, for the few rows that have one.
            layers.texts[f"__cx_text_{n}"] = text
            text = f"__cx_text_{n}"
        raw = _Raw(col, raw_type, sql_identifier(col.name), text, f"({text} IS NOT NULL)",
                   parsed_name)
    out = _KIND_SQL[col.kind](raw)
    if out.parsed is not None:
        layers.parsed[parsed_name] = out.parsed
    if col.required:
        out.problems.insert(0, _Problem(f"NOT {raw.present}", f"{raw.label} || ' is empty'"))
    return out


def _make_segments(con: duckdb.DuckDBPyConnection) -> None:
    """``roster_segments``: the validated roster as disjoint pieces with each site's zone.

    Built once, after the roster and ``sites``; the fact tables join it to
    check that an agent was on the roster on the day and to find the time
    zone of the agent's site (see :func:`_localised`).
    """
    spans = (f"(SELECT agent_id, valid_from, valid_to, site, {ROW_COLUMN} FROM checked_roster "
             f"WHERE {_REASON} = '')")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE roster_segments AS SELECT g.*, t.time_zone FROM "
        f"({roster_segments_sql(spans, ['site'], order=ROW_COLUMN)}) g LEFT JOIN "
        f"(SELECT site, time_zone FROM checked_sites WHERE {_REASON} = '') t USING (site)"
    )


def _localised(spec: Table, stage: str, helpers: Iterable[str]) -> str:
    """The stage with timestamps given with an offset moved to the local time of the agent's site.

    The site is the agent's on the instant's UTC date by the validated roster
    (the later-starting assignment where two overlap), its zone from the
    validated ``sites`` table; without one the time stays UTC. ICU's
    time-zone database, not a fixed offset, decides daylight saving. Done
    once, here, so nothing downstream converts again; the checks that follow
    (on the roster on the day) see local times.
    """
    excluded = f" EXCLUDE ({', '.join(helpers)})" if helpers else ""
    replaced, joins = [], ""
    if "agent_id" in spec.column_index:
        for i, col in enumerate(c for c in spec.columns if c.kind == "timestamp"):
            name, z = sql_identifier(col.name), f"z{i}"
            day = f"CAST(s.{name} AS DATE)"
            joins += (f" LEFT JOIN roster_segments {z} ON s.{_utc_marker(col.name)} "
                      f"AND {z}.agent_id = s.agent_id AND {day} >= {z}.seg_from "
                      f"AND {day} < {z}.seg_to")
            replaced.append(f"CASE WHEN {z}.time_zone IS NULL THEN s.{name} ELSE "
                            f"timezone({z}.time_zone, timezone('UTC', s.{name})) END AS {name}")
    replace = f" REPLACE ({', '.join(replaced)})" if replaced else ""
    return f"(SELECT s.*{excluded}{replace} FROM {stage} s{joins})"


def _missing_keys(con: duckdb.DuckDBPyConnection, table: str, column: str,
                  reference: str, key: str) -> list[str]:
    """Values of ``table.column`` (kept rows) that no kept row of ``reference`` has as ``key``."""
    c, k = sql_identifier(column), sql_identifier(key)
    return [r[0] for r in con.execute(
        f"SELECT DISTINCT a.{c} FROM checked_{table} a WHERE a.{_REASON} = '' "
        f"AND a.{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM checked_{reference} b "
        f"WHERE b.{_REASON} = '' AND b.{k} = a.{c}) ORDER BY 1").fetchall()]


def _zone_warnings(con: duckdb.DuckDBPyConnection, reports: dict[str, TableReport]) -> list[str]:
    """One warning naming the roster sites a supplied ``sites`` table gives no time zone."""
    if not reports["sites"].present:
        return []
    missing = _missing_keys(con, "roster", "site", "sites", "site")
    if not missing:
        return []
    return [f"sites gives no time zone for {', '.join(missing)}: their times are taken as UTC"]


def _evaluator_warnings(con: duckdb.DuckDBPyConnection,
                        reports: dict[str, TableReport]) -> list[str]:
    """One warning naming the evaluators ``qa_scores`` uses that a supplied ``evaluators``
    table lacks: their rows are kept (the table is optional), their employer is unknown."""
    if not reports["evaluators"].present:
        return []
    missing = _missing_keys(con, "qa_scores", "evaluator_id", "evaluators", "evaluator_id")
    if not missing:
        return []
    shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20
                                       else "")
    return [f"qa_scores names {len(missing)} evaluator(s) missing from evaluators: {shown} "
            f"(their rows are kept; their employer is unknown)"]


def _range_text(col: Column) -> str:
    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)

    if col.low is not None and col.high is not None:
        return f"outside {fmt(col.low)} to {fmt(col.high)}"
    if col.low is not None:
        return f"below {fmt(col.low)}" if col.low != 0 else "negative"
    return f"above {fmt(col.high)}"


def _empty_raw(con: duckdb.DuckDBPyConnection, spec: Table) -> str:
    relation = f"raw_{spec.name}"
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {sql_identifier(c.name)}" for c in spec.columns)
    con.execute(
        f"CREATE OR REPLACE VIEW {relation} AS "
        f"SELECT {columns}, CAST(NULL AS BIGINT) AS {ROW_COLUMN} WHERE FALSE"
    )
    return relation


def _validate_table(
    con: duckdb.DuckDBPyConnection, spec: Table, raw: RawTable | None
) -> TableReport:
    relation = raw.relation if raw else _empty_raw(con, spec)
    types = {
        r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    }
    layers = _Layers()
    selects, problems, helpers = [], [], {}
    for col in spec.columns:
        sql = _column_sql(col, types.get(col.name), layers)
        selects.append(f"{sql.value} AS {sql_identifier(col.name)}")
        problems.extend(sql.problems)
        helpers.update(sql.helpers)
    selects.extend(f"{expr} AS {name}" for name, expr in helpers.items())
    extras = [c for c in types if c not in spec.column_index and c != ROW_COLUMN]
    selects.extend(sql_identifier(c) for c in extras)
    # Pass 1 as one pipelined subquery (not materialised): trimmed texts, then
    # parsed values, then typed values and the row's problems.
    below = relation
    for layer in (layers.texts, layers.parsed):
        if layer:
            below = (f"(SELECT *, {', '.join(f'{e} AS {n}' for n, e in layer.items())} "
                     f"FROM {below})")
    stage = (f"(SELECT {ROW_COLUMN}, {', '.join(selects)}, "
             f"{_reasons(problems)} AS {_REASON} FROM {below})")

    later = []  # extra reasons from pass 3, as SQL expressions over s.*
    joins = ""
    if spec.agent_on:
        on_day = f"CAST(s.{sql_identifier(spec.agent_on)} AS DATE)"
        joins += (f" LEFT JOIN roster_segments g ON g.agent_id = s.agent_id "
                  f"AND {on_day} >= g.seg_from AND {on_day} < g.seg_to")
        later.append(
            f"CASE WHEN s.agent_id IS NOT NULL AND {on_day} IS NOT NULL AND g.agent_id IS NULL "
            f"THEN CASE WHEN s.agent_id IN (SELECT agent_id FROM roster_segments) "
            f"THEN 'agent_id ' || {_quoted('s.agent_id')} || ' is not on the roster on ' "
            f"|| {on_day} "
            f"ELSE 'agent_id ' || {_quoted('s.agent_id')} || ' is not on the roster' END END"
        )
    if spec.behavior:
        b = f"s.{sql_identifier(spec.behavior)}"
        later.append(
            f"CASE WHEN {b} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM checked_qa_form f "
            f"WHERE f.{_REASON} = '' AND f.behavior_id = {b}) THEN "
            f"{sql_literal(spec.behavior + ' ')} || {_quoted(b)} || ' is not on the QA form' END"
        )
    if spec.employer:
        e = f"s.{sql_identifier(spec.employer)}"
        later.append(
            f"CASE WHEN {e} IS NOT NULL AND {e} <> {sql_literal(BRAND)} AND NOT EXISTS "
            f"(SELECT 1 FROM checked_roster r WHERE r.{_REASON} = '' AND r.vendor = {e}) THEN "
            f"{sql_literal(spec.employer + ' ')} || {_quoted(e)} || "
            f"' is neither brand nor a vendor on the roster' END"
        )
    reason = f"s.{_REASON}"
    if later:
        reason = f"concat_ws('; ', NULLIF(s.{_REASON}, ''), {', '.join(later)})"
    # Passes 1 and 3 in one pass over the source, materialised once; pass 2
    # (repeated keys among the rows pass 1 kept) reads the result back.
    clean = f", s.{_REASON} = '' AS {_CLEAN}" if spec.key else ""
    con.execute(
        f"CREATE OR REPLACE TABLE checked_{spec.name} AS "
        f"SELECT s.* EXCLUDE ({_REASON}), {reason} AS {_REASON}{clean} "
        f"FROM {_localised(spec, stage, helpers)} s{joins}"
    )
    if spec.key:
        _set_aside_repeats(con, spec)

    rows_read, set_aside = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {_REASON} <> '') FROM checked_{spec.name}"
    ).fetchall()[0]
    # Broken lines are rows read and set aside too: read = kept + set aside.
    broken = raw.broken if raw else 0
    reasons = f"SELECT {ROW_COLUMN}, {_REASON} FROM checked_{spec.name} WHERE {_REASON} <> ''"
    if broken:
        reasons += f" UNION ALL SELECT {ROW_COLUMN}, reason FROM {raw.broken_relation}"
    examples = [
        f"{raw.origin if raw else spec.name} row {r[0]}: {r[1]}"
        for r in con.execute(f"{reasons} ORDER BY 1 LIMIT 5").fetchall()
    ]
    return TableReport(
        table=spec.name,
        origin=raw.origin if raw else None,
        rows_read=int(rows_read + broken),
        rows_kept=int(rows_read - set_aside),
        rows_set_aside=int(set_aside + broken),
        sha256=raw.sha256 if raw else None,
        examples=examples,
        broken_lines=broken,
    )


def _set_aside_repeats(con: duckdb.DuckDBPyConnection, spec: Table) -> None:
    """Pass 2: a key repeated among the rows pass 1 kept keeps its first row only.

    ``checked_<table>`` has ``__cx_clean`` (the row passed pass 1), dropped
    here. A repeat's reason goes first: the row had none from pass 1. Keys
    are first counted by their hash (a number: a smaller, faster aggregate
    than one of text keys); only keys whose hash repeats are then compared.
    """
    table, firsts, hashes = (f"checked_{spec.name}", f"firsts_{spec.name}",
                             f"hashes_{spec.name}")
    keys = ", ".join(sql_identifier(k) for k in spec.key)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {hashes} AS "
        f"SELECT hash({keys}) AS h FROM {table} WHERE {_CLEAN} GROUP BY h HAVING count(*) > 1"
    )
    if con.execute(f"SELECT count(*) FROM {hashes}").fetchall()[0][0]:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {firsts} AS "
            f"SELECT {keys}, min({ROW_COLUMN}) AS first_row FROM {table} "
            f"WHERE {_CLEAN} AND hash({keys}) IN (SELECT h FROM {hashes}) "
            f"GROUP BY {keys} HAVING count(*) > 1"
        )
        named = " || ', ' || ".join(
            f"{sql_literal(k + ' ')} || {_quoted('s.' + sql_identifier(k))}" for k in spec.key)
        on = " AND ".join(f"s.{sql_identifier(k)} = d.{sql_identifier(k)}" for k in spec.key)
        con.execute(
            f"UPDATE {table} AS s SET {_REASON} = concat_ws('; ', 'repeated ' || {named} || "
            f"' (first at row ' || d.first_row || ')', NULLIF(s.{_REASON}, '')) "
            f"FROM {firsts} d WHERE s.{_CLEAN} AND {on} AND s.{ROW_COLUMN} <> d.first_row"
        )
        con.execute(f"DROP TABLE {firsts}")
    con.execute(f"DROP TABLE {hashes}")
    con.execute(f"ALTER TABLE {table} DROP COLUMN {_CLEAN}")


def _rejects_sql(name: str, raw: RawTable | None) -> str:
    """The set-aside rows as they came plus ``reason``, in row order.

    A table with broken lines gets one more column, ``raw_line``: the line
    as it came (bytes not in the encoding shown as ``\\xNN``), its other
    columns empty; ``raw_line`` is empty for the rows set aside by the rules.
    """
    if raw is None:
        return "SELECT NULL AS reason WHERE FALSE"
    columns = ", ".join(f"r.{sql_identifier(c)}" for c in raw.columns)
    reason_name = "reason" if "reason" not in raw.columns else "cx_reason"

    def rows(more: str = "") -> str:
        return (f"SELECT {columns}, 'row ' || c.{ROW_COLUMN} || ': ' || c.{_REASON} "
                f"AS {reason_name}{more} FROM {raw.relation} r JOIN checked_{name} c "
                f"ON r.{ROW_COLUMN} = c.{ROW_COLUMN} WHERE c.{_REASON} <> ''")

    if not raw.broken:
        return f"{rows()} ORDER BY c.{ROW_COLUMN}"
    line_name = "raw_line" if "raw_line" not in raw.columns else "cx_raw_line"
    empty = ", ".join(f"CAST(NULL AS VARCHAR) AS {sql_identifier(c)}" for c in raw.columns)
    return (
        f"SELECT * EXCLUDE (__cx_order) FROM ("
        f"{rows(f', NULL AS {line_name}, c.{ROW_COLUMN} AS __cx_order')} "
        f"UNION ALL SELECT {empty}, 'row ' || b.{ROW_COLUMN} || ': ' || b.reason, b.raw_line, "
        f"b.{ROW_COLUMN} FROM {raw.broken_relation} b) ORDER BY __cx_order"
    )
