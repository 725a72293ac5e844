"""A tournament's standings: counting scores into its board, rebuilding it (a void), freezing it into results.

A score locks the player's participant rows, then reads the tournament's status again; finishing locks the
tournament and every participant row before it freezes the standings (``tournament_finish``), so a score either
counts and is frozen, or does not count.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db import connection, transaction

from accounts.models import User
from common.bulk import one_of
from events.bus import publish_many
from games.models import Game, ScoreOperator
from games.tiebreak import shown
from rankings.boards import Board, hidden_board, tournament_board, tournament_board_of
from rankings.engine.base import ranked
from rankings.engine.sql import listing_order
from rankings.models import Standing
from rankings.services import (
    ScoreInput,
    StandingsWrites,
    State,
    combine,
    standings_record_board,
    standings_replace_board,
)

from ..models import LIVE, Format, Participant, Status, Tournament, TournamentResult
from ..prizes import Placed, prize_awards
from .errors import IllegalTransition

# The scores a recompute replays: the players' counted (not voided) scores of a game in ``[start, end)``, as
# ``(user_id, value, created_at)`` oldest first. The scores app sits above tournaments (a submit counts into
# them), so it hands its reader in from ready().
ScoresRead = Callable[..., Iterable[tuple[uuid.UUID, int, datetime]]]
_scores_read: ScoresRead | None = None


def scores_read_by(read: ScoresRead | None) -> None:
    """Name what ``tournament_recompute`` reads scores with: ``read(game=, user_ids=, start=, end=)``, which gives
    ``(user_id, board value, created_at)`` (``games.tiebreak.board_value``)."""
    global _scores_read
    _scores_read = read


_OPERATOR = {
    Format.BEST_SCORE: ScoreOperator.BEST,
    Format.CUMULATIVE: ScoreOperator.SUM,
    Format.LIMITED_ATTEMPTS: ScoreOperator.BEST,
}


def board_of(tournament: Tournament) -> Board:
    return tournament_board_of(tournament.pk, tournament.game)


def tournament_record_scores(*, game: Game, scores: Sequence[ScoreInput], writes: StandingsWrites) -> None:
    """Count new scores of one game in every live tournament their players joined (inside its window).

    Called by score submission, in its transaction, with the players' row locks held; the boards' writes go
    through the submission's ``writes``, whose service announces them.
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
        _count_scores(tournament_seats[0].tournament, {seat.user_id: seat for seat in tournament_seats}, scores, writes)


_SEATS_SQL = (
    "SELECT p.id FROM tournaments_participant p JOIN tournaments_tournament t ON t.id = p.tournament_id"
    " WHERE t.game_id = %s AND t.status IN (%s, %s) AND t.start_time <= %s AND t.end_time > %s"
    " AND p.user_id {users}"
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
    ]
    members, users = one_of(uuid_field, sorted(user_ids))
    with connection.cursor() as cursor:
        cursor.execute(_SEATS_SQL.format(users=members), params + users)
        return [row[0] for row in cursor.fetchall()]


def _counts(tournament: Tournament, seat: Participant, at: datetime) -> bool:
    """Whether a score made at ``at`` by this participant counts: inside the window, after joining, within attempts."""
    if not (tournament.start_time <= at < tournament.end_time and at >= seat.joined_at):
        return False
    return tournament.format != Format.LIMITED_ATTEMPTS or seat.attempts_used < tournament.max_attempts


def _count_scores(
    tournament: Tournament,
    seats: dict[uuid.UUID, Participant],
    scores: Sequence[ScoreInput],
    writes: StandingsWrites,
) -> None:
    counted: list[ScoreInput] = []
    for score in scores:
        seat = seats.get(score.user_id)
        if seat is not None and _counts(tournament, seat, score.at):
            seat.attempts_used += 1
            counted.append(score)
    if not counted:
        return
    standings_record_board(
        board=board_of(tournament), operator=_OPERATOR[tournament.format], scores=counted, writes=writes
    )
    Participant.objects.bulk_update(
        [seat for seat in seats.values() if any(s.user_id == seat.user_id for s in counted)], ["attempts_used"]
    )


@transaction.atomic
def tournament_recompute(
    *, tournament: Tournament, user_ids: Sequence[uuid.UUID] | None = None, writes: StandingsWrites | None = None
) -> int:
    """Rebuild the standings (and attempts) from the scores, e.g. after a score was voided; refreezes a finished one.

    Returns how many players are on the board afterwards (of those recomputed). Part of another action (a
    void), it writes through that action's ``writes``; on its own (the admin's action), it announces its boards.
    """
    if writes is None:
        with StandingsWrites() as writes:
            on_board = _recompute(tournament, user_ids, writes)
        publish_many(writes.announcements)
        return on_board
    return _recompute(tournament, user_ids, writes)


def _recompute(tournament: Tournament, user_ids: Sequence[uuid.UUID] | None, writes: StandingsWrites) -> int:
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
        game=tournament.game, user_ids=list(seats), start=tournament.start_time, end=tournament.end_time
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
    standings_replace_board(
        board=board, states={user_id: s for user_id, s in states.items() if user_id not in hidden}, writes=writes
    )
    if hidden:
        standings_replace_board(
            board=hidden_board(board), states={user_id: states[user_id] for user_id in hidden}, writes=writes
        )
    Participant.objects.bulk_update(list(seats.values()), ["attempts_used"], batch_size=1_000)
    if tournament.status == Status.FINISHED:
        _freeze(tournament)
    return sum(1 for state in states.values() if state is not None)


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
                value=shown(board.tiebreak, entry.value)[0],
                tiebreak=shown(board.tiebreak, entry.value)[1],
                reached_at=entry.reached_at,
                attempts_used=attempts.get(entry.user_id, 0),
                prize=prizes.get(entry.user_id, 0),
            )
            for position, entry in enumerate(entries, start=1)
        ],
        batch_size=1_000,
    )


class VoidedScore(Protocol):
    game_id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime


def tournaments_score_voided(*, score: VoidedScore, writes: StandingsWrites) -> None:
    """Recompute the voided score's player in every tournament it counted in that is not paid yet, through the
    void's ``writes``."""
    for tournament in Tournament.objects.filter(
        game_id=score.game_id,
        status__in=(*LIVE, Status.FINISHED),
        start_time__lte=score.created_at,
        end_time__gt=score.created_at,
        participants__user_id=score.user_id,
    ):
        tournament_recompute(tournament=tournament, user_ids=[score.user_id], writes=writes)


def tournament_deleted(*, instance: Tournament, **_signal: object) -> None:
    """Remove a deleted tournament's board: its standings rows, and its index after commit."""
    public = tournament_board(instance.pk, descending=True)  # the direction does not matter for removal
    with StandingsWrites() as writes:
        for board in (public, hidden_board(public)):
            rows = list(Standing.objects.filter(board=board.key))
            if rows:
                states: dict[uuid.UUID, State | None] = dict.fromkeys((row.user_id for row in rows), None)
                standings_replace_board(board=board, states=states, writes=writes)
    publish_many(writes.announcements)
