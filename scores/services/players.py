"""The players' row locks every score write takes first, and their best scores so far (personal bests).

Every submission takes the player's row lock first, so one player's scores
are applied one at a time (idempotency keys and running totals stay exact
under concurrent requests).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models import Max, Min

from accounts.models import User
from common.bulk import one_of
from games.models import Game
from games.tiebreak import board_value_sql
from rankings.services import ScoreEffect

from ..models import Score


def lock_players(user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Take the players' row locks, always in id order, so two batches naming the same players cannot deadlock.
    Returns those of them who are shadow-banned, as the lock finds them (``moderation`` bans under the same lock).
    """
    return {row[0] for row in _locked_rows(user_ids, (), active_only=False) if row[1]}


class LockedPlayer(NamedTuple):
    username: str
    display_name: str
    is_synthetic: bool
    hidden: bool  # shadow-banned


def lock_active_players(user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LockedPlayer]:
    """``lock_players`` of the active ones among ``user_ids``, read by the statement that locks them."""
    rows = _locked_rows(user_ids, ("username", "display_name", "is_synthetic"), active_only=True)
    return {pk: LockedPlayer(name, shown, bool(synthetic), hidden) for pk, hidden, name, shown, synthetic in rows}


def _locked_rows(user_ids: Sequence[uuid.UUID], fields: Sequence[str], *, active_only: bool) -> list[tuple]:
    """``(id, shadow-banned, *fields)`` of the players, locked in id order.

    Plain SQL: every submission runs it, and the ORM took more CPU building the
    statement than the database took running it. SQLite has no row locks (its
    writers are serialized), so there it only reads.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return []
    id_field = User._meta.pk
    quote = connection.ops.quote_name
    column = quote(id_field.column)
    banned = quote(User._meta.get_field("shadow_banned_at").column)
    extra = "".join(f", {quote(User._meta.get_field(name).column)}" for name in fields)
    active = f" AND {quote(User._meta.get_field('is_active').column)}" if active_only else ""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    members, params = one_of(id_field, ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column}, {banned} IS NOT NULL{extra} FROM {User._meta.db_table}"
            f" WHERE {column} {members}{active} ORDER BY {column}{lock}",
            params,
        )
        return [(id_field.to_python(pk), bool(hidden), *rest) for pk, hidden, *rest in cursor.fetchall()]


def _is_better(game: Game, value: int, than: int) -> bool:
    return value > than if game.sort_order == "desc" else value < than


def _previous_bests(game: Game, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each player's best single counted score in the game so far, as its boards rank it (``board_value``)."""
    ranked = board_value_sql(game)
    best = Max(ranked) if game.sort_order == "desc" else Min(ranked)
    rows = (
        Score.objects.filter(game=game, user_id__in=set(user_ids), voided_at__isnull=True)
        .values("user_id")
        .annotate(best=best)
        .order_by()
    )
    return {row["user_id"]: row["best"] for row in rows}


def _personal_best(game: Game, value: int, effect: ScoreEffect, previous_best: int | None) -> bool:
    if game.score_operator == "best":
        # The all-time value is the best score: it moved only if this one beat it.
        return effect.moved
    return previous_best is None or _is_better(game, value, previous_best)
