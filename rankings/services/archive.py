"""Ended period boards: their final standings stay in the table, readable as they were, for
``RANKING_ARCHIVE_DAYS`` after their period ended (0: for ever); then ``archive_prune`` deletes them."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from rankings.boards import period_window_of_key
from rankings.models import StaleBoard, Standing
from rankings.periods import archive_horizon

from .storage import board_keys

PRUNE_BOARDS = 200  # boards deleted per statement


def archive_prune(*, now: datetime | None = None) -> int:
    """Delete the standings of every period board that ended before the retention horizon; how many rows went.

    All-time and tournament boards are never deleted; nor is anything while ``RANKING_ARCHIVE_DAYS`` is 0.
    """
    horizon = archive_horizon(now)
    if horizon is None:
        return 0
    ended = [key for key in board_keys() if (window := period_window_of_key(key)) is not None and window.end <= horizon]
    deleted = 0
    for start in range(0, len(ended), PRUNE_BOARDS):
        chunk = ended[start : start + PRUNE_BOARDS]
        with transaction.atomic():
            count, _ = Standing.objects.filter(board__in=chunk).delete()
            StaleBoard.objects.filter(board__in=chunk).delete()
        deleted += count
    return deleted
