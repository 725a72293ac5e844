"""Tournament writes: creation, registration, scores, the lifecycle (start, finish, pay, cancel), recurrence.

Locks, so every rule holds under concurrent requests and tasks:

* a join inserts the seat, then takes one conditional ``UPDATE`` of the
  tournament's ``participant_count``; the row lock that update holds makes the
  101st of 100 wait and then fail, whatever the number of servers;
* a score locks the player's participant rows, then reads the tournament's
  status again; finishing locks the tournament and every participant row before
  it freezes the standings, so a score either counts and is frozen, or does not count;
* paying locks the tournament and writes ledger entries whose (user, reference)
  is unique: a payout run twice, concurrently or after a crash pays each player once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

from croniter import CroniterError, croniter
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from opentelemetry import trace
from rest_framework import status

from accounts.models import CreditEntry, User
from accounts.services import CreditGrant, credits_grant, credits_spend
from common.errors import Conflict, DomainError
from common.metrics import PRIZE_CREDITS_PAID, PRIZES_PAID
from common.serializers import timestamp
from common.tracing import tracer
from events.bus import publish_many
from games.models import Game, ScoreOperator
from games.services import synthetic_pairing_check
from rankings.boards import Board, hidden_board, tournament_board
from rankings.engine.base import ranked
from rankings.engine.sql import listing_order
from rankings.models import Standing
from rankings.services import ScoreInput, State, combine, standings_record_board, standings_replace_board

from .models import (
    LIVE,
    MAX_ATTEMPTS,
    MAX_PARTICIPANTS,
    MIN_PARTICIPANTS,
    Format,
    Participant,
    RecurringTournament,
    Status,
    Tournament,
    TournamentResult,
)
from .prizes import Placed, prize_awards, validate_split

logger = logging.getLogger(__name__)

FEED = "tournament"

# What pays a finished tournament once the finish is committed: the payout task, handed in by the app's ready()
# (the services know no Celery entry point). The clock pays anything still unpaid at its next tick.
_pay_later: Callable[[int], object] | None = None


# The scores a recompute replays: the players' counted (not voided) scores of a game in ``[start, end)``, as
# ``(user_id, value, created_at)`` oldest first. The scores app sits above tournaments (a submit counts into
# them), so it hands its reader in from ready().
ScoresRead = Callable[..., Iterable[tuple[uuid.UUID, int, datetime]]]
_scores_read: ScoresRead | None = None


def scores_read_by(read: ScoresRead | None) -> None:
    """Name what ``tournament_recompute`` reads scores with: ``read(game_id=, user_ids=, start=, end=)``."""
    global _scores_read
    _scores_read = read


def payouts_run_by(pay_later: Callable[[int], object] | None) -> None:
    """Name what pays a finished tournament by id after commit (``None``: the clock's next tick does)."""
    global _pay_later
    _pay_later = pay_later


class TournamentInvalid(DomainError):
    code = "invalid"
    message = "Some fields are invalid."


class TournamentFull(Conflict):
    code = "tournament_full"
    message = "This tournament has no free seat."


class AlreadyJoined(Conflict):
    code = "already_joined"
    message = "You are already registered in this tournament."


class RegistrationClosed(Conflict):
    code = "registration_closed"
    message = "This tournament no longer takes registrations."


class NotJoined(Conflict):
    code = "not_joined"
    message = "You are not registered in this tournament."


class LeaveClosed(Conflict):
    code = "tournament_started"
    message = "Players may leave a tournament only before it starts."


class IllegalTransition(Conflict):
    code = "invalid_transition"
    message = "The tournament cannot do that in its current state."


class NotOrganizer(DomainError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    message = "Only the organizer or staff may do this."


# --- validation ---------------------------------------------------------------------


def _invalid(field: str, message: str) -> TournamentInvalid:
    return TournamentInvalid(message, fields={field: [message]})


def tournament_validate_rules(
    *, format: str, max_attempts: int | None, max_participants: int, prize_pool: int, prize_split: Sequence[Any]
) -> list[int | float]:
    """Check what a tournament and a template share; returns the prize split as stored (JSON numbers)."""
    if format not in Format.values:
        raise _invalid("format", f"Must be one of {', '.join(Format.values)}.")
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


# --- events -------------------------------------------------------------------------


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
    """An event on the tournament feed and on the tournament's own channel, after commit."""
    data = _summary(tournament) | (extra or {})
    publish_many([(FEED, type, data), (f"{FEED}.{tournament.pk}", type, data)])


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
) -> Tournament:
    split = tournament_validate_rules(
        format=format,
        max_attempts=max_attempts,
        max_participants=max_participants,
        prize_pool=prize_pool,
        prize_split=[50, 30, 20] if prize_split is None else prize_split,
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
    )
    _fund(tournament, organizer)
    _announce(tournament, "tournament.created")
    return tournament


# --- prize pools ---------------------------------------------------------------------
#
# Credits come into the ledger only from the house: prizes of pools staff fund, and staff adjustments. A player
# who organizes a tournament with a prize pool pays the pool from their own balance when creating it (409
# insufficient_credits otherwise); a cancel gives it back, and so does a payout for the places nobody took. So a
# player-funded tournament adds nothing to the ledger's sum, and no balance goes below zero.


def pool_reference(tournament: Tournament) -> str:
    return f"tournament:{tournament.pk}:pool"


def _fund(tournament: Tournament, organizer: User) -> None:
    if tournament.prize_pool and not organizer.is_staff:
        credits_spend(
            user=organizer,
            amount=tournament.prize_pool,
            reference=pool_reference(tournament),
            description=f"Prize pool of {tournament.name}"[:200],
        )


def _refund(tournament: Tournament, amount: int, description: str) -> None:
    """Give the organizer back ``amount`` of a pool they funded (once per tournament); nothing for a house pool."""
    funded = CreditEntry.objects.filter(user_id=tournament.organizer_id, reference=pool_reference(tournament))
    if amount > 0 and funded.exists():
        credits_grant(
            grants=[
                CreditGrant(
                    user_id=tournament.organizer_id,
                    amount=amount,
                    reference=f"tournament:{tournament.pk}:refund",
                    description=description[:200],
                    kind=CreditEntry.Kind.REFUND,
                )
            ]
        )


def _player(user: User) -> dict[str, str]:
    return {"user_id": str(user.pk), "username": user.username, "display_name": user.display_name}


@transaction.atomic
def tournament_join(*, tournament: Tournament, user: User) -> Participant:
    """Take a seat: 409 when full, already in, or after the end (or once finished or cancelled).

    403 ``synthetic_mismatch`` for a synthetic player in a real game's tournament, or the other way round.
    """
    synthetic_pairing_check(user_is_synthetic=user.is_synthetic, game=tournament.game)
    now = timezone.now()
    try:
        with transaction.atomic():
            participant = Participant.objects.create(tournament=tournament, user=user, joined_at=now)
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


# --- scores -------------------------------------------------------------------------

_OPERATOR = {
    Format.BEST_SCORE: ScoreOperator.BEST,
    Format.CUMULATIVE: ScoreOperator.SUM,
    Format.LIMITED_ATTEMPTS: ScoreOperator.BEST,
}


def board_of(tournament: Tournament) -> Board:
    return tournament_board(tournament.pk, descending=tournament.game.sort_order == "desc")


def tournament_record_scores(*, game: Game, scores: Sequence[ScoreInput]) -> None:
    """Count new scores of one game in every live tournament their players joined (inside its window).

    Called by score submission, in its transaction, with the players' row locks held.
    """
    if not scores:
        return
    moments = [score.at for score in scores]
    # Most scores count in no tournament: find out with one plain query before locking anything.
    seat_ids = _seat_ids(game, {score.user_id for score in scores}, min(moments), max(moments))
    if not seat_ids:
        return
    seats = list(
        Participant.objects.select_for_update(of=("self",))
        .filter(pk__in=seat_ids)
        .select_related("tournament", "tournament__game")
        .order_by("pk")
    )
    # Read again now that the seats are locked: a tournament that finished meanwhile froze without these.
    live = set(
        Tournament.objects.filter(pk__in={s.tournament_id for s in seats}, status__in=LIVE).values_list("pk", flat=True)
    )
    by_tournament: dict[int, list[Participant]] = {}
    for seat in seats:
        if seat.tournament_id in live:
            by_tournament.setdefault(seat.tournament_id, []).append(seat)
    for tournament_seats in by_tournament.values():
        _count_scores(tournament_seats[0].tournament, {seat.user_id: seat for seat in tournament_seats}, scores)


_SEATS_SQL = (
    "SELECT p.id FROM tournaments_participant p JOIN tournaments_tournament t ON t.id = p.tournament_id"
    " WHERE t.game_id = %s AND t.status IN (%s, %s) AND t.start_time <= %s AND t.end_time > %s"
    " AND p.user_id IN ({users})"
)


def _seat_ids(game: Game, user_ids: set[uuid.UUID], first: datetime, last: datetime) -> list[int]:
    """The seats these players hold in the game's live tournaments whose window meets [first, last].

    Plain SQL: every score asks, and building the equivalent ORM query cost more
    CPU than the rest of the tournament bookkeeping. Values are prepared by the
    model fields, so it runs the same on SQLite and PostgreSQL.
    """
    uuid_field = Participant._meta.get_field("user").target_field
    moment = Tournament._meta.get_field("start_time")
    params = [
        uuid_field.get_db_prep_value(game.pk, connection),
        *LIVE,
        moment.get_db_prep_value(last, connection),
        moment.get_db_prep_value(first, connection),
        *(uuid_field.get_db_prep_value(user_id, connection) for user_id in sorted(user_ids)),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_SEATS_SQL.format(users=", ".join(["%s"] * len(user_ids))), params)
        return [row[0] for row in cursor.fetchall()]


def _counts(tournament: Tournament, seat: Participant, at: datetime) -> bool:
    """Whether a score made at ``at`` by this participant counts: inside the window, after joining, within attempts."""
    if not (tournament.start_time <= at < tournament.end_time and at >= seat.joined_at):
        return False
    return tournament.format != Format.LIMITED_ATTEMPTS or seat.attempts_used < tournament.max_attempts


def _count_scores(tournament: Tournament, seats: dict[uuid.UUID, Participant], scores: Sequence[ScoreInput]) -> None:
    counted: list[ScoreInput] = []
    for score in scores:
        seat = seats.get(score.user_id)
        if seat is not None and _counts(tournament, seat, score.at):
            seat.attempts_used += 1
            counted.append(score)
    if not counted:
        return
    standings_record_board(board=board_of(tournament), operator=_OPERATOR[tournament.format], scores=counted)
    Participant.objects.bulk_update(
        [seat for seat in seats.values() if any(s.user_id == seat.user_id for s in counted)], ["attempts_used"]
    )


@transaction.atomic
def tournament_recompute(*, tournament: Tournament, user_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Rebuild the standings (and attempts) from the scores, e.g. after a score was voided; refreezes a finished one.

    Returns how many players are on the board afterwards (of those recomputed).
    """
    tournament = Tournament.objects.select_for_update(no_key=True).select_related("game").get(pk=tournament.pk)
    if tournament.status in (Status.PAID, Status.CANCELLED):
        raise IllegalTransition(f"A {tournament.status} tournament's standings are final.")
    seats_query = Participant.objects.select_for_update().filter(tournament=tournament)
    if user_ids is not None:
        seats_query = seats_query.filter(user_id__in=user_ids)
    seats = {seat.user_id: seat for seat in seats_query}
    if _scores_read is None:
        raise RuntimeError("no reader of scores is registered (the scores app's ready() registers one)")
    scores = _scores_read(
        game_id=tournament.game_id, user_ids=list(seats), start=tournament.start_time, end=tournament.end_time
    )
    board = board_of(tournament)
    operator = _OPERATOR[tournament.format]
    states: dict[uuid.UUID, State | None] = dict.fromkeys(seats)
    for seat in seats.values():
        seat.attempts_used = 0
    for user_id, value, created_at in scores:
        seat = seats[user_id]
        if _counts(tournament, seat, created_at):
            seat.attempts_used += 1
            states[user_id] = combine(operator, board.descending, states[user_id], value, created_at)
    if user_ids is None:
        # Players who left (or were removed) leave the board too.
        gone = Standing.objects.filter(board=board.key).exclude(user_id__in=list(seats)).values_list("user_id")
        states |= {user_id: None for (user_id,) in gone}
    # A shadow-banned player's standing stays on the board's hidden twin (rankings.boards.hidden_board).
    hidden = set(User.objects.filter(pk__in=list(seats), shadow_banned_at__isnull=False).values_list("pk", flat=True))
    standings_replace_board(board=board, states={user_id: s for user_id, s in states.items() if user_id not in hidden})
    if hidden:
        standings_replace_board(board=hidden_board(board), states={user_id: states[user_id] for user_id in hidden})
    Participant.objects.bulk_update(list(seats.values()), ["attempts_used"], batch_size=1_000)
    if tournament.status == Status.FINISHED:
        _freeze(tournament)
    return sum(1 for state in states.values() if state is not None)


class VoidedScore(Protocol):
    game_id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime


def tournaments_score_voided(*, score: VoidedScore) -> None:
    """Recompute the voided score's player in every tournament it counted in that is not paid yet."""
    for tournament in Tournament.objects.filter(
        game_id=score.game_id,
        status__in=(*LIVE, Status.FINISHED),
        start_time__lte=score.created_at,
        end_time__gt=score.created_at,
        participants__user_id=score.user_id,
    ):
        tournament_recompute(tournament=tournament, user_ids=[score.user_id])


def tournament_deleted(*, instance: Tournament, **_signal: object) -> None:
    """Remove a deleted tournament's board: its standings rows, and its index after commit."""
    public = tournament_board(instance.pk, descending=True)  # the direction does not matter for removal
    for board in (public, hidden_board(public)):
        rows = list(Standing.objects.filter(board=board.key))
        if rows:
            states: dict[uuid.UUID, State | None] = dict.fromkeys((row.user_id for row in rows), None)
            standings_replace_board(board=board, states=states)


# --- lifecycle ----------------------------------------------------------------------


def _locked(tournament_id: int) -> Tournament:
    return Tournament.objects.select_for_update(no_key=True).select_related("game").get(pk=tournament_id)


@transaction.atomic
def tournament_start(*, tournament: Tournament, now_: bool = False) -> Tournament:
    """``scheduled -> running`` at the start time, or at once (``now_``: the admin's "start now")."""
    tournament = _locked(tournament.pk)
    now = timezone.now()
    if tournament.status != Status.SCHEDULED:
        raise IllegalTransition(f"Only a scheduled tournament can start; this one is {tournament.status}.")
    if tournament.start_time > now:
        if not now_:
            raise IllegalTransition("This tournament's start time has not come yet.")
        tournament.start_time = now
    tournament.status = Status.RUNNING
    tournament.started_at = now
    tournament.save(update_fields=["status", "start_time", "started_at"])
    _announce(tournament, "tournament.started")
    return tournament


@transaction.atomic
def tournament_finish(*, tournament: Tournament, now_: bool = False) -> Tournament:
    """``running -> finished`` at the end time (or at once): freeze the standings into results with their prizes.

    The payout runs after commit, in the background (see ``payouts_run_by``).
    """
    tournament = _locked(tournament.pk)
    now = timezone.now()
    if tournament.status != Status.RUNNING:
        raise IllegalTransition(f"Only a running tournament can finish; this one is {tournament.status}.")
    if tournament.end_time > now:
        if not now_:
            raise IllegalTransition("This tournament's end time has not come yet.")
        tournament.end_time = max(now, tournament.start_time + timedelta(microseconds=1))
    # Wait for scores being counted right now; later ones see the tournament finished.
    list(Participant.objects.select_for_update().filter(tournament=tournament).values_list("pk"))
    tournament.status = Status.FINISHED
    tournament.finished_at = now
    tournament.save(update_fields=["status", "end_time", "finished_at"])
    results = _freeze(tournament)
    top = [
        {"rank": r.rank, "user_id": str(r.user_id), "value": r.value, "prize": r.prize}
        for r in results[: settings.REALTIME_BOARD_TOP]
    ]
    _announce(tournament, "tournament.finished", {"results": top, "players": len(results)})
    if _pay_later is not None:
        transaction.on_commit(partial(_pay_later, tournament.pk), robust=True)
    return tournament


def _freeze(tournament: Tournament) -> list[TournamentResult]:
    """Write the final standings (from the standings table, the truth) with each player's prize."""
    board = board_of(tournament)
    rows = list(
        Standing.objects.filter(board=board.key)
        .order_by(*listing_order(board))
        .values_list("user_id", "value", "reached_at")
    )
    entries = ranked(rows, first_rank=1, first_position=0)
    prizes = {
        award.user_id: award.amount
        for award in prize_awards(
            pool=tournament.prize_pool,
            split=[Decimal(str(share)) for share in tournament.prize_split],
            standings=[Placed(e.user_id, e.value, e.reached_at, e.rank) for e in entries],
        )
    }
    attempts = dict(Participant.objects.filter(tournament=tournament).values_list("user_id", "attempts_used"))
    TournamentResult.objects.filter(tournament=tournament).delete()
    return TournamentResult.objects.bulk_create(
        [
            TournamentResult(
                tournament=tournament,
                user_id=entry.user_id,
                rank=entry.rank,
                position=position,
                value=entry.value,
                reached_at=entry.reached_at,
                attempts_used=attempts.get(entry.user_id, 0),
                prize=prizes.get(entry.user_id, 0),
            )
            for position, entry in enumerate(entries, start=1)
        ],
        batch_size=1_000,
    )


def prize_reference(tournament: Tournament) -> str:
    return f"tournament:{tournament.pk}:prize"


def _count_payout(prizes: int, credits: int) -> None:
    PRIZES_PAID.inc(prizes)
    PRIZE_CREDITS_PAID.inc(credits)


@tracer.start_as_current_span("tournaments.pay")
@transaction.atomic
def tournament_pay(*, tournament: Tournament) -> list[CreditGrant]:
    """``finished -> paid``: credit each prize winner once. Returns the grants written by this call.

    Safe to run twice, concurrently, or again after a crash: the tournament row
    lock serializes runs, a paid tournament pays nothing, and the ledger refuses
    a second entry with the same (player, reference) even if all else failed.
    """
    span = trace.get_current_span()
    span.set_attribute("podium.tournament", tournament.pk)
    tournament = _locked(tournament.pk)
    if tournament.status == Status.PAID:
        return []
    if tournament.status != Status.FINISHED:
        raise IllegalTransition(f"Only a finished tournament pays prizes; this one is {tournament.status}.")
    winners = list(TournamentResult.objects.filter(tournament=tournament, prize__gt=0).order_by("position"))
    grants = [
        CreditGrant(
            user_id=result.user_id,
            amount=result.prize,
            reference=prize_reference(tournament),
            description=f"Prize for place {result.rank} in {tournament.name}"[:200],
        )
        for result in winners
    ]
    paid = credits_grant(grants=grants)
    credits = sum(grant.amount for grant in paid)
    unclaimed = tournament.prize_pool - sum(grant.amount for grant in grants)
    _refund(tournament, unclaimed, f"Prize pool of {tournament.name}: the places nobody took")
    span.set_attributes({"podium.prizes": len(paid), "podium.credits": credits})
    if paid:
        transaction.on_commit(partial(_count_payout, len(paid), credits))
    tournament.status = Status.PAID
    tournament.paid_at = timezone.now()
    tournament.save(update_fields=["status", "paid_at"])
    places = {result.user_id: result.rank for result in winners}
    awards = [{"user_id": str(r.user_id), "rank": r.rank, "prize": r.prize} for r in winners]
    _announce(tournament, "tournament.paid", {"awards": awards})
    publish_many(
        [
            (
                f"user.{grant.user_id}",
                "tournament.prize",
                {
                    "tournament_id": tournament.pk,
                    "name": tournament.name,
                    "rank": places[grant.user_id],
                    "amount": grant.amount,
                },
            )
            for grant in paid
        ]
    )
    return paid


@transaction.atomic
def tournament_cancel(*, tournament: Tournament, actor: User) -> Tournament:
    """Cancel before the finish (organizer or staff); no prizes are paid."""
    tournament = _locked(tournament.pk)
    if not (actor.is_staff or actor.pk == tournament.organizer_id):
        raise NotOrganizer()
    if tournament.status not in LIVE:
        raise IllegalTransition(
            f"Only a scheduled or running tournament can be cancelled; this one is {tournament.status}."
        )
    tournament.status = Status.CANCELLED
    tournament.cancelled_at = timezone.now()
    tournament.save(update_fields=["status", "cancelled_at"])
    _refund(tournament, tournament.prize_pool, f"Prize pool of {tournament.name}, cancelled")
    _announce(tournament, "tournament.cancelled")
    return tournament


# --- recurring tournaments ----------------------------------------------------------


def recurring_validate(*, schedule: str, duration: timedelta) -> None:
    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise _invalid("schedule", "Must be a cron expression of five fields, e.g. '0 18 * * 5'.")
    try:
        recurring_next_start(schedule=schedule, after=timezone.now())
    except CroniterError:
        raise _invalid("schedule", "This schedule never names a time (e.g. 30 February).") from None
    if not timedelta(minutes=1) <= duration <= timedelta(days=settings.TOURNAMENT_MAX_DAYS):
        raise _invalid("duration", f"Must be from one minute to {settings.TOURNAMENT_MAX_DAYS} days.")


def recurring_next_start(*, schedule: str, after: datetime) -> datetime:
    """The first time the schedule names strictly after ``after`` (UTC)."""
    return croniter(schedule, after.astimezone(UTC)).get_next(datetime)


# An instance is named after its template and start, "<name> YYYY-MM-DD HH:MM", within Tournament.name's 100.
NAME_ROOM = 100 - len(" YYYY-MM-DD HH:MM")


def recurring_create_due(*, now: datetime | None = None) -> list[Tournament]:
    """Keep one upcoming tournament per active template: create the next occurrence when none is scheduled."""
    now = now or timezone.now()
    created: list[Tournament] = []
    for template in RecurringTournament.objects.filter(is_active=True).select_related("game", "organizer"):
        if template.instances.filter(start_time__gt=now).exists():
            continue
        last = template.instances.order_by("-start_time").values_list("start_time", flat=True).first()
        try:
            start = recurring_next_start(schedule=template.schedule, after=max(now, last) if last else now)
            created.append(
                tournament_create(
                    organizer=template.organizer,
                    game=template.game,
                    name=f"{template.name[:NAME_ROOM]} {start:%Y-%m-%d %H:%M}",
                    description=template.description,
                    format=template.format,
                    max_attempts=template.max_attempts,
                    max_participants=template.max_participants,
                    prize_pool=template.prize_pool,
                    prize_split=template.prize_split,
                    start_time=start,
                    end_time=start + template.duration,
                    recurrence=template,
                )
            )
        except IntegrityError:
            continue  # another scheduler created this occurrence first
        except Exception:  # noqa: BLE001  one broken template must not stop the others, nor the clock
            logger.warning("recurring tournament %s cannot create an instance", template.pk, exc_info=True)
    return created


@dataclass
class TickReport:
    created: int = 0
    started: int = 0
    finished: int = 0
    paid: int = 0
    failed: int = 0


def tournaments_tick(*, now: datetime | None = None) -> TickReport:
    """The lifecycle's clock: create recurring instances, then start, finish and pay what is due.

    Each tournament moves in its own transaction; one that fails is logged and
    retried at the next tick (a finished tournament left unpaid by a crash is paid here).
    """
    now = now or timezone.now()
    report = TickReport(created=len(recurring_create_due(now=now)))
    steps = [
        ("started", tournament_start, Tournament.objects.filter(status=Status.SCHEDULED, start_time__lte=now)),
        ("finished", tournament_finish, Tournament.objects.filter(status=Status.RUNNING, end_time__lte=now)),
        ("paid", tournament_pay, Tournament.objects.filter(status=Status.FINISHED)),
    ]
    for counter, step, due in steps:
        for tournament in list(due.order_by("pk")[: settings.TOURNAMENT_TICK_BATCH]):
            try:
                step(tournament=tournament)
            except IllegalTransition:
                continue  # another worker moved it first
            except Exception:  # noqa: BLE001  one broken tournament must not stop the others
                logger.exception("tournament %s: %s failed", tournament.pk, step.__name__)
                report.failed += 1
            else:
                setattr(report, counter, getattr(report, counter) + 1)
    return report
