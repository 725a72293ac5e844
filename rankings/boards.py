"""Boards: a scope (one game, the global board, one tournament) in one period window.

A board's key names it everywhere: in the standings table, in Redis and in
channel-layer group names, so it uses letters, digits, '-', '_' and '.' only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from games.tiebreak import TieBreak, TieBreakRules, tiebreak_of

from .periods import Period, PeriodWindow, period_window, windows_containing

if TYPE_CHECKING:
    from games.models import Game

GLOBAL_SCOPE = "global"
# A shadow-banned player's standings: kept, under the public board's key with this prefix, where no public read
# looks (every engine reads one key); only the player's own reads add them back (rankings.selectors).
HIDDEN_PREFIX = "hidden."


@dataclass(frozen=True)
class Board:
    key: str
    descending: bool
    window: PeriodWindow
    # How the board's values hold a game's tie-break score (games.tiebreak); None when they are plain scores.
    # Reads decode with it; the board is the same board without it.
    tiebreak: TieBreak | None = field(default=None, compare=False)

    @property
    def expires_at(self) -> datetime | None:
        """When an index of this board may be dropped: the end of the period after it."""
        if self.window.end is None:
            return None
        return self.window.end + (self.window.end - self.window.start) + timedelta(days=1)


def board_key(scope: str, window: PeriodWindow) -> str:
    return f"{scope}.{window.period}" if window.period == Period.ALL else f"{scope}.{window.period}.{window.key}"


def hidden_board(board: Board) -> Board:
    """Where a shadow-banned player's standing on ``board`` is kept."""
    return Board(HIDDEN_PREFIX + board.key, board.descending, board.window, board.tiebreak)


def is_hidden(key: str) -> bool:
    return key.startswith(HIDDEN_PREFIX)


def game_scope(game_id: object) -> str:
    return f"game.{game_id}"


def game_board(game: Game, window: PeriodWindow) -> Board:
    return Board(board_key(game_scope(game.pk), window), game.sort_order == "desc", window, tiebreak_of(game))


def global_board(window: PeriodWindow) -> Board:
    return Board(board_key(GLOBAL_SCOPE, window), True, window)


def tournament_board(tournament_id: object, *, descending: bool, tiebreak: TieBreak | None = None) -> Board:
    """A tournament's standings: one all-time board, ordered like its game."""
    window = period_window(Period.ALL, datetime.now(UTC))
    return Board(board_key(f"tournament.{tournament_id}", window), descending, window, tiebreak)


def tournament_board_of(tournament_id: object, game: TieBreakRules) -> Board:
    """A tournament's board, ranked and shown as its game's boards are."""
    return tournament_board(tournament_id, descending=game.sort_order == "desc", tiebreak=tiebreak_of(game))


def game_board_at(game: Game, period: str, at: datetime) -> Board:
    return game_board(game, period_window(period, at))


def global_board_at(period: str, at: datetime) -> Board:
    return global_board(period_window(period, at))


def boards_for_score(game: Game, at: datetime) -> list[tuple[Board, Board | None]]:
    """For a score made at ``at``: each game board it counts on, paired with the global board it feeds."""
    return [
        (game_board(game, window), global_board(window) if game.counts_toward_global else None)
        for window in windows_containing(at)
    ]


def window_from_key(period: str, key: str) -> PeriodWindow:
    """The window a board key names (the inverse of ``board_key`` for the period part)."""
    if period == Period.ALL:
        return period_window(period, datetime.now(UTC))
    if period == Period.DAILY:
        day = date.fromisoformat(key)
    elif period == Period.WEEKLY:
        year, week = key.split("-W")
        day = date.fromisocalendar(int(year), int(week), 1)
    elif period == Period.MONTHLY:
        day = date.fromisoformat(f"{key}-01")
    else:
        raise ValueError(f"unknown period {period!r}")
    return period_window(period, datetime.combine(day, time.min, tzinfo=UTC))


def _period_of(parts: list[str]) -> tuple[str, str] | None:
    """(period, period key) of a game or global board's key split on '.'; None for other scopes."""
    if parts[0] == GLOBAL_SCOPE:
        rest = parts[1:]
    elif parts[0] == "game":
        rest = parts[2:]
    else:
        return None
    if not rest:
        return None
    return rest[0], (rest[1] if len(rest) > 1 else "")


def period_window_of_key(key: str) -> PeriodWindow | None:
    """The window of a daily, weekly or monthly game or global board (hidden or not) named by ``key``; None for
    any other board (all-time, a tournament's) or a key that names none."""
    found = _period_of(key.removeprefix(HIDDEN_PREFIX).split("."))
    if found is None or found[0] not in (Period.DAILY, Period.WEEKLY, Period.MONTHLY):
        return None
    try:
        return window_from_key(*found)
    except ValueError:
        return None


# The game whose rules a board of a scope another app owns follows (direction, tie-break), by the id in its key:
# tournaments registers its own from ready(), as rankings sits below tournaments and reads none of its tables.
_scope_games: dict[str, Callable[[str], TieBreakRules]] = {}


def board_scope_register(scope: str, *, game: Callable[[str], TieBreakRules]) -> None:
    """Let ``board_from_key`` rebuild the boards of ``scope``: ``game(id)`` is the game they rank like."""
    _scope_games[scope] = game


def board_from_key(key: str) -> Board:
    """Rebuild a Board (with its direction) from its key, e.g. for ``rebuild_rankings``."""
    from games.models import Game

    if is_hidden(key):
        return hidden_board(board_from_key(key.removeprefix(HIDDEN_PREFIX)))

    parts = key.split(".")
    found = _period_of(parts)
    if found is not None and parts[0] == GLOBAL_SCOPE:
        return global_board(window_from_key(*found))
    if found is not None:
        return game_board(Game.objects.get(pk=parts[1]), window_from_key(*found))
    if parts[0] == "tournament" and len(parts) == 3 and "tournament" in _scope_games:
        return tournament_board_of(parts[1], _scope_games["tournament"](parts[1]))
    raise ValueError(f"not a board key: {key!r}")
