"""Reads the hub makes: a board's state after changes, and watched players' ranks on it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from events.names import Channel, board_key_channel
from games.models import Game
from games.tiebreak import TieBreak, shown
from rankings.boards import HIDDEN_PREFIX, board_from_key, game_board_at, global_board_at, tournament_board_of
from rankings.engine.base import MAX_FRIENDS
from rankings.models import Standing
from rankings.periods import Period
from rankings.selectors import BoardEntry, board_friends, board_rank, board_top
from rankings.serializers import leaderboard_body
from tournaments.models import Tournament


@dataclass(frozen=True)
class TokenUser:
    id: uuid.UUID
    is_staff: bool


def token_user(token: str) -> TokenUser | None:
    """The active user a valid access token names; None for a bad token or a gone user."""
    try:
        user_id = AccessToken(token)["user_id"]
    except (TokenError, KeyError):
        return None
    found = User.objects.filter(pk=user_id, is_active=True).values_list("pk", "is_staff").first()
    return TokenUser(*found) if found else None


def unknown_boards(channels: list[Channel]) -> list[str]:
    """The board channels (``leaderboard.{game_id}``, ``tournament.{id}``) naming nothing that exists."""
    game_ids = [c.id for c in channels if c.kind == "leaderboard" and c.id]
    tournament_ids = [c.id for c in channels if c.kind == "tournament" and c.id]
    known = {f"leaderboard.{pk}" for pk in Game.objects.filter(pk__in=game_ids).values_list("pk", flat=True)}
    known |= {
        f"tournament.{pk}" for pk in Tournament.objects.filter(pk__in=tournament_ids).values_list("pk", flat=True)
    }
    return [c.name for c in channels if c.is_board and c.id and c.name not in known]


@dataclass(frozen=True)
class BoardUpdate:
    body: dict[str, Any]  # the board (key, period, size) and its top entries
    moved: list[dict[str, Any]]  # the changed players, with their new rank
    ranks: dict[str, dict[str, Any] | None]  # watched players: their entry, None when not on the board
    listed: bool = True  # False for a tournament kept off the ``tournament`` feed (a league's cohort)
    tiebreak: TieBreak | None = None  # how the board ranks (score, tie-break) pairs, on a tie-break game's board


def _entry(entry: BoardEntry) -> dict[str, Any]:
    return {
        "user_id": str(entry.user_id),
        "username": entry.username,
        "display_name": entry.display_name,
        "rank": entry.rank,
        "value": entry.value,
        "tiebreak": entry.tiebreak,
    }


def _friends(board: Any, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(user_ids), MAX_FRIENDS):
        chunk = [uuid.UUID(user_id) for user_id in user_ids[start : start + MAX_FRIENDS]]
        found.update({str(e.user_id): _entry(e) for e in board_friends(board=board, user_ids=chunk).entries})
    return found


def board_update(*, channel: str, moved: set[str], watched: list[str]) -> BoardUpdate | None:
    """The all-time board behind ``leaderboard`` or ``leaderboard.{game_id}`` now; None if there is no such game."""
    close_old_connections()  # runs in a worker thread that outlives requests
    now = timezone.now()
    kind, _, ident = channel.partition(".")
    listed = True
    if channel == "leaderboard":
        board = global_board_at(Period.ALL, now)
    elif kind == "tournament":
        tournament = Tournament.objects.select_related("game").filter(pk=ident).only("listed", "game").first()
        if tournament is None:
            return None
        listed = tournament.listed
        board = tournament_board_of(ident, tournament.game)
    else:
        game = Game.objects.filter(pk=ident).first()
        if game is None:
            return None
        board = game_board_at(game, Period.ALL, now)
    page = leaderboard_body(board_top(board=board, offset=0, limit=settings.REALTIME_BOARD_TOP))
    body = {"board": page["board"], "size": page["size"], "top": page["entries"]}
    if kind == "tournament":
        body = {"tournament_id": int(ident), **body}
    movers = _friends(board, sorted(moved)[: settings.REALTIME_BOARD_MOVED])
    ranks = _friends(board, watched)
    return BoardUpdate(
        body=body,
        moved=sorted(movers.values(), key=lambda entry: entry["rank"]),
        ranks={user_id: ranks.get(user_id) for user_id in watched},
        listed=listed,
        tiebreak=board.tiebreak,
    )


def user_board_ranks(*, user_id: uuid.UUID, limit: int = 50) -> dict[str, tuple[int, int, int | None]]:
    """Where a player stands now on each all-time board they are on: board channel -> (rank, value, tie-break)."""
    close_old_connections()
    keys = (
        Standing.objects.filter(user_id=user_id, board__endswith=".all")
        .exclude(board__startswith=HIDDEN_PREFIX)
        .values_list("board", flat=True)
    )
    found: dict[str, tuple[int, int, int | None]] = {}
    for key in sorted(keys)[:limit]:
        board = board_from_key(key)
        entry, _ = board_rank(board=board, user_id=user_id)
        channel = board_key_channel(key)
        if entry is not None and channel is not None:
            found[channel] = (entry.rank, *shown(board.tiebreak, entry.value))
    return found
