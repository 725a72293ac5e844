"""The tournament feed: every tournament write announces itself here, after commit."""

from __future__ import annotations

from typing import Any

from common.serializers import timestamp
from events.bus import publish_many

from ..models import Tournament

FEED = "tournament"


def _summary(tournament: Tournament) -> dict[str, Any]:
    return {
        "tournament_id": tournament.pk,
        "name": tournament.name,
        "game_id": str(tournament.game_id),
        "format": tournament.format,
        "status": tournament.status,
        "start_time": timestamp(tournament.start_time),
        "end_time": timestamp(tournament.end_time),
        "participant_count": tournament.participant_count,
        "max_participants": tournament.max_participants,
        "prize_pool": tournament.prize_pool,
    }


def _announce(tournament: Tournament, type: str, extra: dict[str, Any] | None = None) -> None:
    """An event on the tournament feed (a listed tournament's) and on the tournament's own channel, after commit."""
    data = _summary(tournament) | (extra or {})
    own = (f"{FEED}.{tournament.pk}", type, data)
    publish_many([(FEED, type, data), own] if tournament.listed else [own])
