"""Standings rows in few statements: the upsert, the rows pending in a write, reading the current rows, listing
the boards.

Index writes and the boards' announcements happen after commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from common import bulk
from events.bus import Event
from events.names import BOARDS, board_key_channel
from rankings import index
from rankings.boards import (
    Board,
    is_hidden,
)
from rankings.engine import StandingChange
from rankings.models import Standing

from .state import Row, State, micros

_UPSERT_SET = (
    "ON CONFLICT (board, user_id) DO UPDATE SET value = excluded.value, reached_at = excluded.reached_at, "
    "version = excluded.version, updated_at = excluded.updated_at"
)


_STAGED_COLUMNS = (
    ("board", "varchar"),
    ("user_id", "uuid"),
    ("value", "int8"),
    ("reached_at", "timestamptz"),
    ("version", "int8"),
)


def _upsert(rows: Sequence[tuple[str, uuid.UUID, Row]], *, updated_at: datetime) -> None:
    """Insert or update standings rows in plain SQL: ``INSERT ... ON CONFLICT DO UPDATE``.

    The ORM's bulk upsert builds a model instance and prepares every field of
    every row, which made it most of the cost of a large import. PostgreSQL
    takes a large set by binary COPY into a staging table (``bulk``), a
    smaller one as one array per column (2.5 times faster than rows of
    parameters); SQLite takes rows of parameters, a thousand a statement.
    """
    table = connection.ops.quote_name(Standing._meta.db_table)
    insert = f"INSERT INTO {table} (board, user_id, value, reached_at, version, updated_at)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= bulk.STAGED_MIN_ROWS:
            staged = bulk.stage_rows(
                cursor, "podium_standing_in", _STAGED_COLUMNS, ((key, user_id, *row) for key, user_id, row in rows)
            )
            cursor.execute(
                f"WITH staged AS (DELETE FROM {staged} RETURNING board, user_id, value, reached_at, version) "
                f"{insert} SELECT board, user_id, value, reached_at, version, %s FROM staged {_UPSERT_SET}",
                [updated_at],
            )
            return
        if connection.vendor == "postgresql":
            for start in range(0, len(rows), 10_000):
                batch = rows[start : start + 10_000]
                cursor.execute(
                    f"{insert} SELECT board, user_id, value, reached_at, version, %s FROM unnest("
                    "%s::varchar[], %s::uuid[], %s::bigint[], %s::timestamptz[], %s::bigint[]"
                    f") AS rows (board, user_id, value, reached_at, version) {_UPSERT_SET}",
                    [
                        updated_at,
                        [board for board, _, _ in batch],
                        [user_id for _, user_id, _ in batch],
                        [row.value for _, _, row in batch],
                        [row.reached_at for _, _, row in batch],
                        [row.version for _, _, row in batch],
                    ],
                )
            return
        user_value = Standing._meta.get_field("user").target_field.get_db_prep_value
        moment = connection.ops.adapt_datetimefield_value
        updated = moment(updated_at)
        for start in range(0, len(rows), 1_000):
            batch = rows[start : start + 1_000]
            params: list[object] = []
            for board, user_id, row in batch:
                params += (
                    board,
                    user_value(user_id, connection),
                    row.value,
                    moment(row.reached_at),
                    row.version,
                    updated,
                )
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
            cursor.execute(f"{insert} VALUES {values} {_UPSERT_SET}", params)


class PendingWrites:
    """Standings rows to write in few statements, and the changes to send to the index after commit."""

    def __init__(self, now: datetime) -> None:
        # Versions are time-based, so a board row deleted and created again still outranks its old tombstone.
        self.micros = micros(now)
        self.rows: dict[tuple[str, uuid.UUID], tuple[Board, Row]] = {}
        self.changes: list[StandingChange] = []

    def _version(self, old: Standing | Row | None) -> int:
        return max(old.version + 1, self.micros) if old else self.micros

    def put(self, board: Board, user_id: uuid.UUID, state: State, old: Standing | Row | None) -> Row:
        row = Row(state.value, state.reached_at, self._version(old))
        self.rows[(board.key, user_id)] = (board, row)
        return row

    def remove(self, board: Board, old: Standing) -> None:
        old.delete()
        self.changes.append(StandingChange(board, old.user_id, None, None, self._version(old)))

    def save(self) -> None:
        """Write the pending rows and queue their changes for the index."""
        if not self.rows:
            return
        # In key order: neighbouring rows land in the same index pages. Ids compare as integers (the order
        # PostgreSQL gives uuids): comparing UUID objects runs Python code, and an import sorts half a million.
        _upsert(
            sorted(
                ((key, user_id, row) for (key, user_id), (_, row) in self.rows.items()),
                key=lambda item: (item[0], item[1].int),
            ),
            updated_at=timezone.now(),
        )
        self.changes += [
            StandingChange(board, user_id, row.value, row.reached_at, row.version)
            for (_, user_id), (board, row) in self.rows.items()
        ]
        self.rows.clear()

    def index_after_commit(self) -> list[Event]:
        """Index the changes after commit; return the ``board.changed`` events of the public boards that moved,
        for the action's service to publish (after this, so a server reading a board on the announcement finds
        the change in the index)."""
        # A hidden standing (a shadow-banned player's) is in no index and moves no public board.
        changes = [change for change in self.changes if not is_hidden(change.board.key)]
        self.changes = []
        if not changes:
            return []
        transaction.on_commit(partial(index.index_apply, changes))
        moved: dict[str, set[str]] = {}
        for change in changes:
            channel = board_key_channel(change.board.key)
            if channel is not None:
                moved.setdefault(channel, set()).add(str(change.user_id))
        return [(BOARDS, "board.changed", {"channel": name, "moved": sorted(users)}) for name, users in moved.items()]


def current_rows(keys: set[str], user_ids: set[uuid.UUID]) -> dict[tuple[str, uuid.UUID], Row]:
    """The players' standings rows on the boards, as plain tuples: a batch reads thousands of rows."""
    if connection.vendor != "postgresql":
        found = Standing.objects.filter(board__in=keys, user_id__in=user_ids).values_list(
            "board", "user_id", "value", "reached_at", "version"
        )
    else:
        # Arrays for the sets and psycopg's own moment loader: the ORM's statement and loader cost more CPU
        # than the database took to answer, for a group of submissions as for a batch.
        with connection.cursor() as cursor:
            bulk.fast_timestamps(cursor)
            cursor.execute(
                f"SELECT board, user_id, value, reached_at, version FROM {Standing._meta.db_table}"
                " WHERE board = ANY(%s::varchar[]) AND user_id = ANY(%s::uuid[])",
                [sorted(keys), list(user_ids)],
            )
            found = cursor.fetchall()
    return {(board, user_id): Row(value, reached_at, version) for board, user_id, value, reached_at, version in found}


def board_keys() -> list[str]:
    """Every board key of the standings table (hidden ones included), each found by one step along the
    (board, ...) index: the cost follows the number of boards, not of rows, as a DISTINCT's would."""
    table = connection.ops.quote_name(Standing._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE keys(board) AS (SELECT MIN(board) FROM {table} UNION ALL "
            f"SELECT (SELECT MIN(s.board) FROM {table} s WHERE s.board > keys.board) FROM keys "
            "WHERE keys.board IS NOT NULL) SELECT board FROM keys WHERE board IS NOT NULL"
        )
        return [board for (board,) in cursor.fetchall()]
