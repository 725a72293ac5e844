"""Deleting generated data wholesale: the demo data, or what load tools wrote. One way for both.

``data_delete`` removes the given games with every score, standing and
tournament on them, and the given players with everything they did anywhere
(scores, seats, results, credit entries, tournaments they organized), plus the
prize entries of deleted tournaments. Other players who played one of those
games keep their other scores; their boards are recomputed without it. The
ranking index of every board touched is rebuilt after commit, and every open
page is told to re-read its boards.

``data_lock`` makes such writes take turns: populates, resets and clean-ups.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from accounts.models import CreditEntry, User
from events.bus import publish_many, publish_resync
from games.models import Game
from leagues.models import League
from rankings import index
from rankings.boards import Board, board_from_key, game_scope
from rankings.models import StaleBoard, Standing
from rankings.services import StandingsWrites, board_rebuild, standings_recompute
from scores.models import Score, ScoreAudit
from tournaments.models import Participant, RecurringTournament, Tournament, TournamentResult
from tournaments.services import prize_reference

# The PostgreSQL advisory lock that serializes generated-data writes (any number unique to them).
DATA_LOCK = 7_265_020_001

# progress(step, done, total): the commands draw it as a bar.
Progress = Callable[[str, int, int], None]


def data_lock() -> None:
    """Take the generated-data lock until the current transaction ends (PostgreSQL).

    SQLite needs nothing: its transactions here begin IMMEDIATE, holding its one write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DATA_LOCK])


@transaction.atomic
def data_delete(*, games: Sequence[Game], players: QuerySet[User], progress: Progress | None = None) -> None:
    """Delete ``games`` and ``players`` and everything that hangs on them (see the module's docstring)."""
    game_ids = [game.pk for game in games]
    tournaments = Tournament.objects.filter(Q(game_id__in=game_ids) | Q(organizer__in=players))
    tournament_ids = list(tournaments.values_list("pk", flat=True))
    boards = _touched_boards(game_ids, tournament_ids, players)
    if progress:
        progress("reset", 0, 4)
    _forget_games_of_others(games, players)
    League.objects.filter(game_id__in=game_ids).delete()  # its cohorts hold on to their tournaments
    CreditEntry.objects.filter(
        Q(user__in=players)
        | Q(reference__in=[prize_reference(Tournament(pk=pk)) for pk in tournament_ids], kind=CreditEntry.Kind.PRIZE)
    ).delete()
    tournaments.delete()
    RecurringTournament.objects.filter(Q(game_id__in=game_ids) | Q(organizer__in=players)).delete()
    seats_elsewhere = set(Participant.objects.filter(user__in=players).values_list("tournament_id", flat=True))
    Participant.objects.filter(user__in=players).delete()
    TournamentResult.objects.filter(user__in=players).delete()
    for tournament_id in seats_elsewhere:
        Tournament.objects.filter(pk=tournament_id).update(
            participant_count=Participant.objects.filter(tournament_id=tournament_id).count()
        )
    if progress:
        progress("reset", 1, 4)
    _delete_scores(Score.objects.filter(Q(user__in=players) | Q(game_id__in=game_ids)))
    if progress:
        progress("reset", 2, 4)
    for prefix in [f"{game_scope(pk)}." for pk in game_ids] + [f"tournament.{pk}." for pk in tournament_ids]:
        Standing.objects.filter(board__startswith=prefix).delete()
        StaleBoard.objects.filter(board__startswith=prefix).delete()
    Standing.objects.filter(user__in=players).delete()
    Game.objects.filter(pk__in=game_ids).delete()
    players.delete()
    if progress:
        progress("reset", 3, 4)
    if index.index_is_separate():
        transaction.on_commit(partial(_rebuild, boards))
    publish_resync()
    if progress:
        progress("reset", 4, 4)


def _touched_boards(
    game_ids: Sequence[uuid.UUID], tournament_ids: Sequence[int], players: QuerySet[User]
) -> list[Board]:
    """Every board whose index changes with the deletion, as Board objects made while their games still exist."""
    prefixes = Q(board__startswith="global.")
    for pk in game_ids:
        prefixes |= Q(board__startswith=f"{game_scope(pk)}.")
    for pk in tournament_ids:
        prefixes |= Q(board__startswith=f"tournament.{pk}.")
    keys = set(Standing.objects.filter(prefixes).values_list("board", flat=True).distinct())
    keys |= set(Standing.objects.filter(user__in=players).values_list("board", flat=True).distinct())
    return [board_from_key(key) for key in sorted(keys)]


def _forget_games_of_others(games: Sequence[Game], players: QuerySet[User]) -> None:
    """Other players who played one of the games: drop those scores and recompute their boards without them."""
    for game in games:
        others = (
            Score.objects.filter(game=game).exclude(user__in=players).order_by().values_list("user_id", "created_at")
        )
        moments: dict[uuid.UUID, dict[str, datetime]] = {}
        for user_id, created_at in others:
            moments.setdefault(user_id, {}).setdefault(created_at.date().isoformat(), created_at)
        if not moments:
            continue
        list(User.objects.select_for_update().filter(pk__in=sorted(moments)).order_by("pk").values_list("pk"))
        _delete_scores(Score.objects.filter(game=game, user_id__in=list(moments)))
        with StandingsWrites() as writes:
            for user_id, by_day in moments.items():
                for at in by_day.values():
                    standings_recompute(game=game, user_id=user_id, at=at, scores=[], writes=writes)
        publish_many(writes.announcements)


def _delete_scores(scores: QuerySet[Score]) -> None:
    """One statement: the ORM would load every score into memory to cascade to their audits, deleted first here."""
    ScoreAudit.objects.filter(score__in=scores).delete()
    sql, params = scores.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Score._meta.db_table} WHERE id IN ({sql})", params)


def _rebuild(boards: Sequence[Board]) -> None:
    for board in boards:
        board_rebuild(board=board)
