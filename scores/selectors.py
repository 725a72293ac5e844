"""Score reads."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from games.models import Game

from .models import Score


def score_history(*, user_id: uuid.UUID | None = None, game: Game | None = None) -> QuerySet[Score]:
    """Scores, newest first, optionally of one player and/or one game (void ones included, flagged)."""
    scores = Score.objects.all()
    if user_id is not None:
        scores = scores.filter(user_id=user_id)
    if game is not None:
        scores = scores.filter(game=game)
    return scores.order_by("-created_at", "-id")
