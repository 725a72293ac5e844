"""Reads of the simulator: the service's live totals for the dashboard and ``GET /api/v1/stats``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from accounts.models import User
from games.models import Game
from realtime.presence import open_connections
from scores.models import Score
from tournaments.models import Status, Tournament

# Above this many scores, PostgreSQL's own estimate of the table size is used: an exact count reads the whole table.
EXACT_COUNT_LIMIT = 1_000_000


def _score_total() -> tuple[int, bool]:
    """(number of scores, whether it is an estimate)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Score._meta.db_table])
            row = cursor.fetchone()
        if row and row[0] > EXACT_COUNT_LIMIT:
            return int(row[0]), True
    return Score.objects.count(), False


def service_stats(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    scores, estimated = _score_total()
    by_status = dict(Tournament.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "players": User.objects.filter(is_active=True).count(),
        "games": Game.objects.filter(is_active=True).count(),
        "scores": scores,
        "scores_estimated": estimated,
        "scores_last_minute": Score.objects.filter(created_at__gte=now - timedelta(minutes=1)).count(),
        "tournaments": {status: by_status.get(status, 0) for status in Status.values},
        "open_websockets": open_connections(),
        "at": now,
    }
