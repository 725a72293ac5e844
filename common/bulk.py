"""Thousands of rows in a few round trips: binary COPY and fast loaders on PostgreSQL.

A batch of a thousand scores writes some eight thousand standings rows and
reads as many. Passed as parameters, every value is adapted and quoted in
Python (Django's psycopg cursors bind on the client); passed through a binary
``COPY``, psycopg's C code formats each row, about ten times less CPU. Rows
that must be merged into a table (``INSERT ... ON CONFLICT``) go through a
temporary staging table dropped at commit, so nothing outlives the
transaction and a pooler in transaction mode is fine.

Nothing here is used on SQLite but ``one_of``, which writes each vendor's form:
callers keep their plain statements there.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model

# Below this many rows, one statement with parameters costs less than a staged merge (three round trips).
# A plain COPY pays from one row: new scores go by COPY whatever their number.
STAGED_MIN_ROWS = 1_000


def copy_rows(
    cursor: CursorWrapper, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY`` rows into ``table`` in binary; ``columns`` are (name, PostgreSQL type) pairs."""
    names = ", ".join(connection.ops.quote_name(name) for name, _ in columns)
    with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([kind for _, kind in columns])
        for row in rows:
            copy.write_row(row)


def array_literal(values: Iterable[uuid.UUID | int | bool | datetime | None]) -> str:
    """A PostgreSQL array literal of plain values, for an ``%s::uuid[]`` (bigint, bool, timestamptz) parameter.

    Django's cursors bind on the client: a list parameter is adapted and quoted
    element by element in Python, which cost more than the statement took to
    run for a thousand players. This string is quoted once. Moments must be
    aware (their ISO form carries the offset).
    """
    return "{" + ",".join(map(_element, values)) + "}"


def one_of(field: Field, values: Collection[Any]) -> tuple[str, list[Any]]:
    """``IN`` of ``values`` for a column of ``field``: the SQL after the column and its parameters.

    On PostgreSQL one array parameter (``= ANY(%s::uuid[])``, ``array_literal``)
    whatever the number of values; elsewhere one placeholder per value, each
    prepared by the field.
    """
    if connection.vendor == "postgresql":
        return f"= ANY(%s::{field.db_type(connection)}[])", [array_literal(values)]
    return f"IN ({', '.join(['%s'] * len(values))})", [field.get_db_prep_value(value, connection) for value in values]


def _element(value: uuid.UUID | int | bool | datetime | None) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int | uuid.UUID):
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return f'"{value.isoformat()}"'
    raise TypeError(f"not a plain array element: {value!r}")


def stage_rows(
    cursor: CursorWrapper, name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
) -> str:
    """Put rows into a temporary table ``name`` of ``columns``, dropped at commit; returns its quoted name.

    Must run inside a transaction. A second use in the same transaction finds
    the table and adds to it: the statement reading it should empty it
    (``WITH staged AS (DELETE FROM ... RETURNING ...)``).
    """
    quoted = connection.ops.quote_name(name)
    definition = ", ".join(f"{connection.ops.quote_name(column)} {kind}" for column, kind in columns)
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {quoted} ({definition}) ON COMMIT DROP")
    copy_rows(cursor, name, columns, rows)
    return quoted


def next_ids(model: type[Model], count: int) -> list[int]:
    """``count`` new primary keys from the model's sequence, ascending, for rows written by ``copy_rows``."""
    if count == 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s) ORDER BY 1",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def fast_timestamps(cursor: CursorWrapper) -> None:
    """Load ``timestamptz`` columns on this cursor with psycopg's C loader instead of Django's Python one.

    Django's loader is psycopg's Python loader that pins the time zone; the
    session's zone is UTC (Django sets it), so the C loader's values are the
    same aware moments, five times faster to read.
    """
    oid = psycopg.adapters.types["timestamptz"].oid
    cursor.cursor.adapters.register_loader(oid, psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT))
