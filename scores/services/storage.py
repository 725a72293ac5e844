"""How new scores are stored (binary COPY in PostgreSQL) and counted in the metrics once committed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import NamedTuple

from django.db import connection, transaction

from common import bulk
from common.metrics import SCORES_SUBMITTED

from ..models import Score


class _NewScore(NamedTuple):
    """A score a batch stores: a plain tuple, not a model instance (a batch builds a thousand)."""

    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    metadata: dict
    idempotency_key: str | None
    source: str
    api_key_id: uuid.UUID | None
    is_personal_best: bool
    created_at: datetime
    void_reason: str = ""
    tiebreak: int | None = None
    pk: int | None = None


_COPIED_SCORE_COLUMNS = tuple(
    zip(
        _NewScore._fields[:-1],
        ("uuid", "uuid", "int8", "jsonb", "varchar", "varchar", "uuid", "bool", "timestamptz", "varchar", "int8"),
        strict=True,
    )
)


def _insert_scores(scores: Sequence[Score | _NewScore]) -> list[int]:
    """Store new scores (instances or a batch's tuples); returns their ids, in order, ascending.

    PostgreSQL takes them by binary COPY, ids drawn from the sequence first: the
    ORM's insert prepares every field of every row in Python, and even one
    score costs less CPU this way (two round trips instead of one).
    """
    if connection.vendor == "postgresql":
        ids = bulk.next_ids(Score, len(scores))
        names = [name for name, _ in _COPIED_SCORE_COLUMNS]
        with connection.cursor() as cursor:
            bulk.copy_rows(
                cursor,
                Score._meta.db_table,
                [("id", "int8"), *_COPIED_SCORE_COLUMNS],
                ((pk, *(getattr(score, name) for name in names)) for pk, score in zip(ids, scores, strict=True)),
            )
        return ids
    instances = [score if isinstance(score, Score) else Score(**score._asdict()) for score in scores]
    return [row.pk for row in Score.objects.bulk_create(instances)]


def _count_after_commit(counts: Mapping[tuple[str, str], int]) -> None:
    """Add accepted scores, by (game slug, source), to ``podium_scores_submitted`` once they are committed."""
    if counts:
        transaction.on_commit(partial(_count, counts))


def _count(counts: Mapping[tuple[str, str], int]) -> None:
    for (game, source), number in counts.items():
        SCORES_SUBMITTED.labels(game, source).inc(number)
