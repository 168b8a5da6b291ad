"""Quoting for the SQL the data layer writes (DuckDB dialect).

Every identifier and literal that comes from data (a column name, a file
path, a behaviour id) goes through these, never through string formatting.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["sql_identifier", "sql_list", "sql_literal"]


def sql_identifier(name: str) -> str:
    '''``name`` as a quoted SQL identifier (a column or table name).

    >>> print(sql_identifier('odd "name"'))
    "odd ""name"""
    '''
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str | Path) -> str:
    '''``text`` as a quoted SQL string literal.

    >>> print(sql_literal("O'Brien"))
    'O''Brien'
    '''
    return "'" + str(text).replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    '''Values as comma-separated literals, for ``IN (...)`` or ``PIVOT ... IN (...)``.

    >>> print(sql_list(["a", "b'c"]))
    'a', 'b''c'
    '''
    return ", ".join(sql_literal(v) for v in values)
