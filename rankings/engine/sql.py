"""The SQL backend: ranks straight from the indexed standings table (the embedded default).

It is also the fallback every other backend's reads use while their index is
unreachable or stale, since the table is always the committed truth.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from rankings.boards import Board
from rankings.models import Standing

from .base import Entry, RankingEngine, StandingChange, StandingRow, ranked


def listing_order(board: Board, *, reverse: bool = False) -> list:
    value = F("value").asc() if board.descending == reverse else F("value").desc()
    if reverse:
        return [value, F("reached_at").desc(), F("user_id").desc()]
    return [value, F("reached_at").asc(), F("user_id").asc()]


def _better_value(board: Board, value: int) -> Q:
    return Q(value__gt=value) if board.descending else Q(value__lt=value)


def _listed_before(board: Board, row: Standing | StandingRow) -> Q:
    """Rows that come before ``row`` in the board's listing."""
    return (
        _better_value(board, row.value)
        | Q(value=row.value, reached_at__lt=row.reached_at)
        | Q(value=row.value, reached_at=row.reached_at, user_id__lt=row.user_id)
    )


class SqlEngine(RankingEngine):
    name = "sql"

    def _rows(self, board: Board) -> QuerySet[Standing]:
        return Standing.objects.filter(board=board.key)

    def _rank_of_value(self, board: Board, value: int) -> int:
        return 1 + self._rows(board).filter(_better_value(board, value)).count()

    def _listing(self, board: Board, rows: Sequence[Standing], *, first_position: int) -> list[Entry]:
        if not rows:
            return []
        return ranked(
            ((row.user_id, row.value, row.reached_at) for row in rows),
            first_rank=self._rank_of_value(board, rows[0].value),
            first_position=first_position,
        )

    def apply(self, changes: Sequence[StandingChange]) -> None:
        """Nothing to do: the standings table is this backend's index."""

    def top(self, board: Board, *, offset: int = 0, limit: int = 10) -> list[Entry]:
        rows = list(self._rows(board).order_by(*listing_order(board))[offset : offset + limit])
        return self._listing(board, rows, first_position=offset)

    def place(self, board: Board, *, value: int, reached_at: datetime, user_id: uuid.UUID) -> tuple[int, int]:
        standing = StandingRow(user_id, value, reached_at, 0)
        position = self._rows(board).filter(_listed_before(board, standing)).count()
        return position, self._rank_of_value(board, value)

    def entry(self, board: Board, user_id: uuid.UUID) -> Entry | None:
        row = self._rows(board).filter(user_id=user_id).first()
        if row is None:
            return None
        return Entry(self._rank_of_value(board, row.value), row.user_id, row.value, row.reached_at)

    def around(self, board: Board, user_id: uuid.UUID, *, before: int, after: int) -> list[Entry]:
        me = self._rows(board).filter(user_id=user_id).first()
        if me is None:
            return []
        earlier = self._rows(board).filter(_listed_before(board, me))
        position = earlier.count()
        # The value bounds are implied by the listing order, but without them the index scan starts at the
        # board's far end and reads every row below the player.
        at_least_as_good = Q(value__gte=me.value) if board.descending else Q(value__lte=me.value)
        at_most_as_good = Q(value__lte=me.value) if board.descending else Q(value__gte=me.value)
        above = (
            list(earlier.filter(at_least_as_good).order_by(*listing_order(board, reverse=True))[:before])[::-1]
            if before
            else []
        )
        later = self._rows(board).filter(at_most_as_good).exclude(_listed_before(board, me)).exclude(pk=me.pk)
        below = list(later.order_by(*listing_order(board))[:after]) if after else []
        return self._listing(board, [*above, me, *below], first_position=position - len(above))

    def entries(self, board: Board, user_ids: Sequence[uuid.UUID]) -> list[Entry]:
        value_is_better = "value__gt" if board.descending else "value__lt"
        better = (
            Standing.objects.filter(board=board.key, **{value_is_better: OuterRef("value")})
            .order_by()
            .values("board")
            .annotate(n=Count("pk"))
            .values("n")
        )
        rows = (
            self._rows(board)
            .filter(user_id__in=list(user_ids))
            .annotate(better=Coalesce(Subquery(better, output_field=IntegerField()), 0))
            .order_by(*listing_order(board))
        )
        return [Entry(row.better + 1, row.user_id, row.value, row.reached_at) for row in rows]

    def size(self, board: Board) -> int:
        return self._rows(board).count()

    def rebuild(self, board: Board, rows: Iterable[StandingRow], *, size: int | None = None) -> int:
        """Nothing to rebuild: the rows are the standings table itself."""
        return self.size(board)
