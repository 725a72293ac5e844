"""Creating tournaments and taking seats: the rules' validation, creation, join and leave.

A join inserts the seat, then takes one conditional ``UPDATE`` of the tournament's ``participant_count``; the row
lock that update holds makes the 101st of 100 wait and then fail, whatever the number of servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from games.models import Game
from games.services import synthetic_pairing_check

from ..models import (
    LIVE,
    MAX_ATTEMPTS,
    MAX_PARTICIPANTS,
    MIN_PARTICIPANTS,
    Format,
    Participant,
    RecurringTournament,
    Status,
    Tournament,
)
from ..prizes import validate_split
from .errors import (
    AlreadyJoined,
    LeaveClosed,
    NotJoined,
    PlacedOnly,
    RegistrationClosed,
    TournamentFull,
    TournamentInvalid,
)
from .events import _announce
from .pools import _fund

# --- validation ---------------------------------------------------------------------


def _invalid(field: str, message: str) -> TournamentInvalid:
    return TournamentInvalid(message, fields={field: [message]})


def tournament_validate_rules(
    *,
    format: str,
    max_attempts: int | None,
    max_participants: int,
    prize_pool: int,
    prize_split: Sequence[Any],
    game: Game | None = None,
) -> list[int | float]:
    """Check what a tournament and a template share; returns the prize split as stored (JSON numbers)."""
    if format not in Format.values:
        raise _invalid("format", f"Must be one of {', '.join(Format.values)}.")
    if format == Format.CUMULATIVE and game is not None and game.tiebreak_order:
        # A sum of scores has no one tie-break to order it by.
        raise _invalid("format", "A game with a tie-break score runs best_score or limited_attempts tournaments.")
    if format == Format.LIMITED_ATTEMPTS:
        if max_attempts is None or not 1 <= max_attempts <= MAX_ATTEMPTS:
            raise _invalid("max_attempts", f"limited_attempts needs max_attempts from 1 to {MAX_ATTEMPTS}.")
    elif max_attempts is not None:
        raise _invalid("max_attempts", "Only limited_attempts tournaments take max_attempts.")
    if not MIN_PARTICIPANTS <= max_participants <= MAX_PARTICIPANTS:
        raise _invalid("max_participants", f"Must be from {MIN_PARTICIPANTS} to {MAX_PARTICIPANTS}.")
    if not 0 <= prize_pool <= settings.TOURNAMENT_MAX_PRIZE_POOL:
        raise _invalid("prize_pool", f"Must be from 0 to {settings.TOURNAMENT_MAX_PRIZE_POOL}.")
    try:
        split = validate_split(prize_split)
    except ValueError as error:
        raise _invalid("prize_split", str(error)) from None
    return [int(share) if share == share.to_integral_value() else float(share) for share in split]


def check_window(start_time: datetime, end_time: datetime) -> None:
    if end_time <= start_time:
        raise _invalid("end_time", "Must be after start_time.")
    longest = timedelta(days=settings.TOURNAMENT_MAX_DAYS)
    if end_time - start_time > longest:
        raise _invalid("end_time", f"A tournament lasts at most {settings.TOURNAMENT_MAX_DAYS} days.")


# --- creation and registration -----------------------------------------------------


@transaction.atomic
def tournament_create(
    *,
    organizer: User,
    game: Game,
    name: str,
    start_time: datetime,
    end_time: datetime,
    description: str = "",
    format: str = Format.BEST_SCORE,
    max_attempts: int | None = None,
    max_participants: int = 100,
    prize_pool: int = 0,
    prize_split: Sequence[Any] | None = None,
    recurrence: RecurringTournament | None = None,
    listed: bool = True,
) -> Tournament:
    split = tournament_validate_rules(
        format=format,
        max_attempts=max_attempts,
        max_participants=max_participants,
        prize_pool=prize_pool,
        prize_split=[50, 30, 20] if prize_split is None else prize_split,
        game=game,
    )
    check_window(start_time, end_time)
    if recurrence is None and end_time <= timezone.now():
        raise _invalid("end_time", "Must be in the future.")
    if not game.is_active:
        raise _invalid("game_id", "This game does not accept scores.")
    if organizer.is_synthetic:
        synthetic_pairing_check(user_is_synthetic=True, game=game)
    tournament = Tournament.objects.create(
        organizer=organizer,
        game=game,
        name=name,
        description=description,
        format=format,
        max_attempts=max_attempts,
        max_participants=max_participants,
        prize_pool=prize_pool,
        prize_split=split,
        start_time=start_time,
        end_time=end_time,
        recurrence=recurrence,
        listed=listed,
    )
    _fund(tournament, organizer)
    _announce(tournament, "tournament.created")
    return tournament


def _player(user: User) -> dict[str, str]:
    return {"user_id": str(user.pk), "username": user.username, "display_name": user.display_name}


@transaction.atomic
def tournament_join(
    *, tournament: Tournament, user: User, joined_at: datetime | None = None, placed: bool = False
) -> Participant:
    """Take a seat: 409 when full, already in, or after the end (or once finished or cancelled).

    An unlisted tournament (a league's cohort) seats only the players its league places (``placed``), and
    ``joined_at`` is then the moment of the score that placed them (scores before a seat's ``joined_at`` do not
    count; default now). 409 ``placed_only`` for anyone else.

    403 ``synthetic_mismatch`` for a synthetic player in a real game's tournament, or the other way round.
    """
    if not tournament.listed and not placed:
        raise PlacedOnly()
    synthetic_pairing_check(user_is_synthetic=user.is_synthetic, game=tournament.game)
    now = timezone.now()
    try:
        with transaction.atomic():
            participant = Participant.objects.create(tournament=tournament, user=user, joined_at=joined_at or now)
    except IntegrityError:
        raise AlreadyJoined() from None
    seated = Tournament.objects.filter(
        pk=tournament.pk, status__in=LIVE, end_time__gt=now, participant_count__lt=F("max_participants")
    ).update(participant_count=F("participant_count") + 1)
    if not seated:
        current = Tournament.objects.get(pk=tournament.pk)
        if current.status not in LIVE or current.end_time <= now:
            raise RegistrationClosed()
        raise TournamentFull()
    tournament.refresh_from_db()
    _announce(tournament, "tournament.joined", _player(user))
    return participant


@transaction.atomic
def tournament_leave(*, tournament: Tournament, user: User) -> None:
    """Give a seat back, before the start only."""
    tournament = Tournament.objects.select_for_update(no_key=True).get(pk=tournament.pk)
    if tournament.status != Status.SCHEDULED or tournament.start_time <= timezone.now():
        raise LeaveClosed()
    deleted, _ = Participant.objects.filter(tournament=tournament, user=user).delete()
    if not deleted:
        raise NotJoined()
    Tournament.objects.filter(pk=tournament.pk).update(participant_count=F("participant_count") - 1)
    tournament.refresh_from_db()
    _announce(tournament, "tournament.left", _player(user))
