"""Bulk inserts in the caller's transaction: PostgreSQL COPY (psycopg 3), a batched executemany elsewhere.

A multi-row INSERT costs PostgreSQL a parse, a plan and a bind per batch and
the driver a parameter per value; COPY streams the rows instead
(benchmarks/results_national.py measures both on 400,000 student scores).
Values go through each column's SQLAlchemy bind processing (JSON is
serialised exactly as `insert()` would) and Python-side column defaults are
filled in for columns the rows leave out, so both paths store the same rows.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from .db import Base
from .errors import InvalidInput

__all__ = ["copy_rows", "uses_copy"]

_BATCH = 5000


def uses_copy(session: Session) -> bool:
    """True when `copy_rows` on this session's database streams with COPY (PostgreSQL through psycopg 3)."""
    dialect = session.get_bind().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def copy_rows(session: Session, table: Table | type[Base], rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert `rows` (dicts with the same keys, column names of `table`) into `table`; returns how many.

    `table` is a Table or a mapped class. Columns the rows leave out get their
    Python-side default (`default=`) or else the database's; the ids of the
    new rows are not returned.
    """
    tbl = table if isinstance(table, Table) else cast(Table, table.__table__)
    if not rows:
        return 0
    names = list(rows[0].keys())
    unknown = [n for n in names if n not in tbl.c]
    if unknown:
        raise InvalidInput(f"copy_rows: table {tbl.name} has no column {', '.join(map(repr, unknown))}; "
                           f"its columns are {', '.join(tbl.c.keys())}")
    first = rows[0].keys()
    for k, row in enumerate(rows):
        if row.keys() != first:
            raise InvalidInput(f"copy_rows: row {k} of {tbl.name} has the columns {sorted(row)}; every row needs "
                               f"exactly the columns of row 0, {sorted(names)}")
    if not uses_copy(session):
        for start in range(0, len(rows), _BATCH):
            session.execute(insert(tbl), list(rows[start:start + _BATCH]))
        return len(rows)

    from psycopg import sql

    conn = session.connection()
    dialect = conn.dialect
    filled = [c for c in tbl.c
              if c.name not in first and c.default is not None and (c.default.is_scalar or c.default.is_callable)]
    defaults = [c.default for c in filled]
    columns = names + [c.name for c in filled]
    processors = [(i, proc) for i, name in enumerate(columns)
                  if (proc := tbl.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(tbl.name), sql.SQL(", ").join(sql.Identifier(name) for name in columns))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                values = [row[name] for name in names]
                for default in defaults:
                    values.append(default.arg(None) if default.is_callable else default.arg)  # type: ignore[union-attr]
                for i, proc in processors:
                    values[i] = proc(values[i])
                copy.write_row(values)
    finally:
        cursor.close()
    return len(rows)
