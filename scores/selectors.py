"""Score reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMinute

from accounts.models import User
from games.models import Game
from games.tiebreak import board_value_sql

from .models import Score, ScoreFlag


def scores_counted_in_window(
    *, game: Game, user_ids: list[uuid.UUID], start: datetime, end: datetime
) -> Iterator[tuple[uuid.UUID, int, datetime]]:
    """``(user_id, board value, created_at)`` of the players' scores of a game in ``[start, end)`` that are not
    void, oldest first (what a tournament's recompute replays)."""
    return (
        Score.objects.filter(
            game=game, user_id__in=user_ids, voided_at__isnull=True, created_at__gte=start, created_at__lt=end
        )
        .order_by("created_at", "pk")
        .values_list("user_id", board_value_sql(game), "created_at")
        .iterator()
    )


def scores_ranked(*, game: Game, user_id: uuid.UUID) -> list[tuple[int, datetime]]:
    """``(board value, created_at)`` of a player's scores of a game that are not void, oldest first (what a
    recomputation of their boards replays)."""
    return list(
        Score.objects.filter(user_id=user_id, game=game, voided_at__isnull=True)
        .order_by("created_at", "pk")
        .values_list(board_value_sql(game), "created_at")
    )


def score_history(
    *, user_id: uuid.UUID | None = None, game: Game | None = None, viewer: object = None
) -> QuerySet[Score]:
    """Scores ``viewer`` (a request's user, or None) may see, newest first, optionally of one player and/or one
    game (void ones included, flagged). A shadow-banned player's scores are seen by themselves and staff only."""
    scores = Score.objects.all()
    player = viewer if isinstance(viewer, User) else None
    if player is None or not player.is_staff:
        own = Q(user_id=player.pk) if player is not None else Q(pk__in=[])
        scores = scores.filter(Q(user__shadow_banned_at__isnull=True) | own)
    if user_id is not None:
        scores = scores.filter(user_id=user_id)
    if game is not None:
        scores = scores.filter(game=game)
    return scores.order_by("-created_at", "-id")


def score_feed(*, limit: int = 20) -> list[Score]:
    """The latest scores that count (void ones and shadow-banned players' left out), newest first, with their
    player and game."""
    return list(score_history().filter(voided_at__isnull=True).select_related("user", "game")[:limit])


def scores_today(*, now: datetime) -> int:
    """Scores made since midnight UTC of ``now``'s day."""
    midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    return Score.objects.filter(created_at__gte=midnight, created_at__lte=now).count()


def scores_per_minute(*, now: datetime, minutes: int = 30) -> list[int]:
    """Scores made in each of the last ``minutes`` minutes, oldest first; the last one is ``now``'s own minute,
    still running. One grouped query over the ``created_at`` index."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    rows = (
        Score.objects.filter(created_at__gte=start, created_at__lte=now)
        .annotate(minute=TruncMinute("created_at"))
        .order_by()
        .values_list("minute")
        .annotate(n=Count("pk"))
    )
    counts = dict(rows)
    return [counts.get(start + timedelta(minutes=i), 0) for i in range(minutes)]


def flags_list(
    *, status: str | None = None, game: Game | None = None, reason: str | None = None, user_id: object = None
) -> QuerySet[ScoreFlag]:
    """The review queue, newest first, with each flag's score, player, game and resolver; ``status`` None: all."""
    flags = ScoreFlag.objects.select_related("score", "user", "game", "resolved_by")
    if status:
        flags = flags.filter(status=status)
    if game is not None:
        flags = flags.filter(game=game)
    if reason:
        flags = flags.filter(reasons__contains=reason)
    if user_id is not None:
        flags = flags.filter(user_id=user_id)
    return flags.order_by("-created_at", "-id")


def flags_open_count() -> int:
    return ScoreFlag.objects.filter(status=ScoreFlag.Status.OPEN).count()
