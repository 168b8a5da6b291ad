"""The data contract: every table, column and rule of ``docs/design.md`` as data.

Validation (:mod:`cxreports.data.validation`) turns these declarations into DuckDB
SQL, so a rule lives in exactly one place and the documentation table in
``README.md`` can be checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..core.kpis import modelled_kpis

__all__ = [
    "BOOLEAN_FALSE",
    "BOOLEAN_TRUE",
    "BRAND",
    "CHANNELS",
    "Column",
    "NOT_APPLICABLE",
    "SCORE_NO",
    "SCORE_YES",
    "TABLES",
    "Table",
    "table_spec",
]

Kind = Literal[
    "id", "text", "date", "timestamp", "week", "number", "integer", "bool", "enum", "score",
    "time_zone",
]

BOOLEAN_TRUE = ("true", "yes", "t", "1")
BOOLEAN_FALSE = ("false", "no", "f", "0")
SCORE_YES = ("yes", "pass")
SCORE_NO = ("no", "fail")
NOT_APPLICABLE = ("n/a", "na")
#: The ``employer`` of the brand's own evaluators (any other employer is a roster vendor).
BRAND = "brand"
CHANNELS = ("voice", "chat", "email", "social", "sms")
SHORES = ("onshore", "nearshore", "offshore")


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    ``kind`` decides how the raw text is parsed; ``low``/``high`` bound numbers
    (inclusive); ``values`` lists an enumeration (matched case-insensitively).
    """

    name: str
    kind: Kind
    required: bool = False
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One contract table: its columns, key and cross-table rules."""

    name: str
    columns: tuple[Column, ...]
    optional: bool = False
    #: Columns whose combination must be unique; later repeats are set aside.
    key: tuple[str, ...] = ()
    #: Column holding the date on which ``agent_id`` must be on the roster.
    agent_on: str | None = None
    #: Column naming a behaviour that must be on the QA form (empty allowed
    #: unless the column is required).
    behavior: str | None = None
    #: Column naming an employer: ``brand`` or a vendor on the validated roster.
    employer: str | None = None
    notes: str = ""
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _c(name: str, kind: Kind, required: bool = False, **kw) -> Column:
    return Column(name, kind, required, **kw)


# Order matters: tables other tables refer to come first.
TABLES: tuple[Table, ...] = (
    Table(
        "sites",
        (
            _c("site", "id", True),
            _c("time_zone", "time_zone", True),
            _c("site_name", "text"),
            _c("country", "text"),
        ),
        optional=True,
        key=("site",),
        notes="time_zone is an IANA name (America/Chicago); months, windows and dates are the "
              "site's local ones; a roster site missing here is taken as UTC",
    ),
    Table(
        "qa_form",
        (
            _c("behavior_id", "id", True),
            _c("label", "text", True),
            _c("description", "text"),
            _c("kind", "enum", True, values=("intent", "task")),
            _c("weight", "number", low=0),
        ),
        key=("behavior_id",),
    ),
    Table(
        "roster",
        (
            _c("agent_id", "id", True),
            _c("agent_name", "text"),
            _c("supervisor_id", "id", True),
            _c("supervisor_name", "text"),
            _c("supervisor_email", "text"),
            _c("site", "id", True),
            _c("vendor", "id", True),
            _c("shore", "enum", values=SHORES),
            _c("valid_from", "date", True),
            _c("valid_to", "date"),
        ),
        notes="one row per assignment; valid_to is the last day (inclusive), empty = current",
    ),
    Table(
        "evaluators",
        (
            _c("evaluator_id", "id", True),
            _c("evaluator_name", "text"),
            _c("employer", "id", True),
            _c("role", "text"),
        ),
        optional=True,
        key=("evaluator_id",),
        employer="employer",
        notes="employer is brand or a vendor on the roster; qa_scores rows whose evaluator is "
              "missing here are kept and listed in the validation report",
    ),
    Table(
        "interactions",
        (
            _c("interaction_id", "id", True),
            _c("agent_id", "id", True),
            _c("started_at", "timestamp", True),
            _c("channel", "enum", values=CHANNELS),
            _c("aht_seconds", "number", low=0),
            _c("fcr", "bool"),
            _c("csat", "integer", low=1, high=5),
            _c("nps", "integer", low=0, high=10),
            _c("ces", "integer", low=1, high=7),
        ),
        key=("interaction_id",),
        agent_on="started_at",
    ),
    Table(
        "qa_scores",
        (
            _c("evaluation_id", "id", True),
            _c("interaction_id", "id"),
            _c("agent_id", "id", True),
            _c("evaluator_id", "id"),
            _c("evaluated_at", "timestamp", True),
            _c("behavior_id", "id", True),
            _c("score", "score", low=0, high=1),
        ),
        key=("evaluation_id", "behavior_id"),
        agent_on="evaluated_at",
        behavior="behavior_id",
    ),
    Table(
        "coaching",
        (
            _c("session_id", "id", True),
            _c("supervisor_id", "id", True),
            _c("agent_id", "id", True),
            _c("held_on", "date", True),
            _c("minutes", "number", low=0),
            _c("behavior_id", "id"),
            _c("topic", "text"),
            _c("kind", "text"),
        ),
        optional=True,
        key=("session_id",),
        agent_on="held_on",
        behavior="behavior_id",
    ),
    Table(
        "targets",
        (
            _c("kpi", "enum", True, values=modelled_kpis()),
            _c("target", "number", True),
            _c("scope", "enum", values=("all", "vendor", "site")),
            _c("scope_value", "text"),
            _c("direction", "enum", values=("higher", "lower")),
            _c("weight", "number", low=0),
        ),
        optional=True,
    ),
    Table(
        "supervisor_time",
        (
            _c("supervisor_id", "id", True),
            _c("week", "week", True),
            _c("coaching_minutes", "number", True, low=0),
            _c("total_minutes", "number", True, low=0),
        ),
        optional=True,
        notes="week is the ISO date of any day in the week, or an ISO week such as 2026-W40",
    ),
)

_BY_NAME = {t.name: t for t in TABLES}


def table_spec(name: str) -> Table:
    """Return the contract for table ``name`` (``KeyError`` if unknown)."""
    return _BY_NAME[name]
