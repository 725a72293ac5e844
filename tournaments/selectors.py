"""Reads of tournaments: listings, a player's view of one, participants, standings (live or frozen)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from rankings.selectors import BoardEntry, board_top

from .models import LIVE, Participant, Status, Tournament, TournamentResult
from .services import board_of


def tournament_list(*, status: str | None = None, game_id: uuid.UUID | None = None) -> QuerySet[Tournament]:
    tournaments = Tournament.objects.select_related("game", "organizer")
    if status:
        tournaments = tournaments.filter(status=status)
    if game_id:
        tournaments = tournaments.filter(game_id=game_id)
    return tournaments.order_by("-start_time", "-id")


def tournament_get(*, tournament_id: int) -> Tournament | None:
    return Tournament.objects.select_related("game", "organizer").filter(pk=tournament_id).first()


def tournament_is_participant(*, tournament: Tournament, user: User | None) -> bool:
    return user is not None and Participant.objects.filter(tournament=tournament, user=user).exists()


def tournament_can_join(*, tournament: Tournament, joined: bool, now: datetime | None = None) -> bool:
    """Whether a player who has (not) joined could take a seat now."""
    now = now or timezone.now()
    return not joined and tournament.status in LIVE and tournament.end_time > now and not tournament.is_full


def tournament_participants(*, tournament: Tournament) -> QuerySet[Participant]:
    return Participant.objects.filter(tournament=tournament).select_related("user").order_by("joined_at", "id")


@dataclass(frozen=True)
class StandingRow(BoardEntry):
    """A board entry with the player's attempts, and their prize once the tournament has finished."""

    attempts_used: int = 0
    prize: int | None = None


@dataclass(frozen=True)
class Standings:
    frozen: bool
    size: int
    rows: list[StandingRow]


def tournament_standings(*, tournament: Tournament, offset: int, limit: int) -> Standings:
    """The live board while it runs; the frozen results once it has finished."""
    if tournament.status in (Status.FINISHED, Status.PAID):
        results = TournamentResult.objects.filter(tournament=tournament).select_related("user").order_by("position")
        page = list(results[offset : offset + limit])
        rows = [
            StandingRow(
                r.rank, r.user_id, r.user.username, r.user.display_name, r.value, r.reached_at, r.attempts_used, r.prize
            )
            for r in page
        ]
        return Standings(True, results.count(), rows)
    page = board_top(board=board_of(tournament), offset=offset, limit=limit)
    attempts = dict(
        Participant.objects.filter(tournament=tournament, user_id__in=[e.user_id for e in page.entries]).values_list(
            "user_id", "attempts_used"
        )
    )
    return Standings(False, page.size, [_row(entry, attempts.get(entry.user_id, 0)) for entry in page.entries])


def _row(entry: BoardEntry, attempts_used: int) -> StandingRow:
    return StandingRow(**vars(entry), attempts_used=attempts_used)
