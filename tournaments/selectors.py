"""Reads of tournaments: listings, a player's view of one, participants, standings (live or frozen), prizes won."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import CreditEntry, User
from accounts.selectors import credit_entries
from games.models import Game
from rankings.selectors import BoardEntry, board_around, board_top

from .models import LIVE, Participant, Status, Tournament, TournamentResult
from .prizes import Placed, prize_awards, validate_split
from .services import board_of


def tournament_list(*, status: str | None = None, game_id: uuid.UUID | None = None) -> QuerySet[Tournament]:
    """The listed tournaments (not leagues' cohorts), latest start first."""
    tournaments = Tournament.objects.filter(listed=True).select_related("game", "organizer")
    if status:
        tournaments = tournaments.filter(status=status)
    if game_id:
        tournaments = tournaments.filter(game_id=game_id)
    return tournaments.order_by("-start_time", "-id")


@dataclass(frozen=True)
class TournamentSections:
    """The tournaments list: running (ending soonest first), upcoming (starting soonest first), and the
    latest finished, paid or cancelled ones; ``*_total`` counts each section beyond its limit."""

    running: list[Tournament]
    upcoming: list[Tournament]
    finished: list[Tournament]
    running_total: int
    upcoming_total: int
    finished_total: int


OVER = (Status.FINISHED, Status.PAID, Status.CANCELLED)


def tournament_sections(*, limit: int = 50, finished_limit: int = 20) -> TournamentSections:
    tournaments = Tournament.objects.filter(listed=True).select_related("game", "organizer")
    running = tournaments.filter(status=Status.RUNNING).order_by("end_time", "id")
    upcoming = tournaments.filter(status=Status.SCHEDULED).order_by("start_time", "id")
    finished = tournaments.filter(status__in=OVER).order_by("-end_time", "-id")
    return TournamentSections(
        running=list(running[:limit]),
        upcoming=list(upcoming[:limit]),
        finished=list(finished[:finished_limit]),
        running_total=running.count(),
        upcoming_total=upcoming.count(),
        finished_total=finished.count(),
    )


def tournament_joined_ids(*, user: User | None, tournament_ids: Iterable[int]) -> set[int]:
    """Which of these tournaments the player has joined, in one query."""
    ids = list(tournament_ids)
    if user is None or not ids:
        return set()
    return set(Participant.objects.filter(user=user, tournament_id__in=ids).values_list("tournament_id", flat=True))


def tournament_can_leave(*, tournament: Tournament, joined: bool, now: datetime | None = None) -> bool:
    """Whether a player could give their seat back now: only before the start (``tournament_leave``'s rule)."""
    now = now or timezone.now()
    return joined and tournament.status == Status.SCHEDULED and tournament.start_time > now


@dataclass(frozen=True)
class PrizePlace:
    place: int
    share: Decimal  # per cent of the pool
    credits: int


def tournament_prize_table(*, tournament: Tournament) -> list[PrizePlace]:
    """What each paid place is worth, as ``prizes.prize_awards`` pays it when no two players tie."""
    split = validate_split([str(share) for share in tournament.prize_split])
    # One player per place, each strictly better than the next: the awards are then the places' own worth.
    standings = [
        Placed(uuid.UUID(int=place), len(split) - place, datetime(2000, 1, 1, tzinfo=UTC), place)
        for place in range(1, len(split) + 1)
    ]
    credits = {
        award.place: award.amount
        for award in prize_awards(pool=tournament.prize_pool, split=split, standings=standings)
    }
    return [PrizePlace(place, share, credits.get(place, 0)) for place, share in enumerate(split, start=1)]


def tournament_game(tournament_id: str) -> Game:
    """The game of this tournament (by the id in its key), whose order and tie-break its board follows."""
    return Game.objects.get(tournaments__pk=tournament_id)


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


def tournament_standings(
    *, tournament: Tournament, offset: int, limit: int, around: uuid.UUID | None = None
) -> Standings:
    """The live board while it runs; the frozen results once it has finished. ``around``: ``limit`` rows with that
    player in the middle (one more below than above when even) instead of the page at ``offset``; no rows when the
    player has no place."""
    if tournament.status in (Status.FINISHED, Status.PAID):
        results = TournamentResult.objects.filter(tournament=tournament).select_related("user").order_by("position")
        if around is not None:
            position = results.filter(user_id=around).values_list("position", flat=True).first()
            if position is None:
                return Standings(True, results.count(), [])
            offset = max(position - 1 - (limit - 1) // 2, 0)
        page = list(results[offset : offset + limit])
        rows = [
            StandingRow(
                r.rank,
                r.user_id,
                r.user.username,
                r.user.display_name,
                r.value,
                r.reached_at,
                tiebreak=r.tiebreak,
                attempts_used=r.attempts_used,
                prize=r.prize,
            )
            for r in page
        ]
        return Standings(True, results.count(), rows)
    board = board_of(tournament)
    if around is not None:
        page = board_around(board=board, user_id=around, limit=limit)
    else:
        page = board_top(board=board, offset=offset, limit=limit)
    attempts = dict(
        Participant.objects.filter(tournament=tournament, user_id__in=[e.user_id for e in page.entries]).values_list(
            "user_id", "attempts_used"
        )
    )
    return Standings(False, page.size, [_row(entry, attempts.get(entry.user_id, 0)) for entry in page.entries])


def _row(entry: BoardEntry, attempts_used: int) -> StandingRow:
    return StandingRow(**vars(entry), attempts_used=attempts_used)


# --- prizes in a player's ledger ---------------------------------------------------


# The inverse of services.prize_reference.
_TOURNAMENT_PRIZE = re.compile(r"^tournament:(\d+):prize$")


@dataclass(frozen=True)
class Prize:
    """A prize in a player's ledger, with the tournament it paid for when that still exists."""

    amount: int
    description: str
    created_at: datetime
    tournament_id: int | None
    tournament_name: str | None
    rank: int | None


def player_prizes(*, user_id: uuid.UUID, limit: int = 50) -> list[Prize]:
    """The user's latest prize entries, newest first, each joined to its tournament and final rank."""
    entries = list(credit_entries(user_id=user_id).filter(kind=CreditEntry.Kind.PRIZE)[:limit])
    ids = {int(m[1]) for e in entries if (m := _TOURNAMENT_PRIZE.match(e.reference))}
    names = dict(Tournament.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    ranks = (
        dict(
            TournamentResult.objects.filter(tournament_id__in=names, user_id=user_id).values_list(
                "tournament_id", "rank"
            )
        )
        if names
        else {}
    )
    prizes = []
    for entry in entries:
        match = _TOURNAMENT_PRIZE.match(entry.reference)
        tournament_id = int(match[1]) if match and int(match[1]) in names else None
        prizes.append(
            Prize(
                amount=entry.amount,
                description=entry.description,
                created_at=entry.created_at,
                tournament_id=tournament_id,
                tournament_name=names.get(tournament_id) if tournament_id else None,
                rank=ranks.get(tournament_id) if tournament_id else None,
            )
        )
    return prizes
