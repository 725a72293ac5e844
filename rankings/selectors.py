"""Reads of boards: pages, around a player, friends, one player's standing.

Every read goes through ``index.index_read``: the index when it is usable for
the board, the standings table otherwise. Player names are attached with one
query per page.

A shadow-banned player's standings are on hidden boards no public read sees.
Their own reads (``hidden_viewer``) show them the board as if they were on it:
in their place, the players below them one rank down, the board one larger.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from accounts.selectors import user_names
from common.metrics import RANKING_SECONDS, timed
from games.models import Game
from games.tiebreak import shown

from .boards import Board, game_board, hidden_board
from .engine import Entry, RankingEngine, get_engine, sql_engine
from .engine.base import percentile
from .engine.sql import listing_order
from .index import index_read
from .models import Standing
from .periods import Period, period_window


@dataclass(frozen=True)
class BoardEntry:
    rank: int
    user_id: uuid.UUID
    username: str
    display_name: str
    value: int
    reached_at: datetime
    tiebreak: int | None = None  # the game's secondary score, on a board that ranks by one


@dataclass(frozen=True)
class BoardPage:
    board: Board
    size: int
    entries: list[BoardEntry]


@dataclass(frozen=True)
class PlayerStanding:
    board: Board
    entry: BoardEntry
    size: int

    @property
    def percentile(self) -> float:
        return percentile(self.entry.rank, self.size)


def _named(board: Board, entries: Sequence[Entry]) -> list[BoardEntry]:
    """Entries as they are shown: with names, and on a tie-break board the board value back as its two scores."""
    names = user_names(user_ids=[e.user_id for e in entries])
    named = []
    for e in entries:
        value, tiebreak = shown(board.tiebreak, e.value)
        named.append(BoardEntry(e.rank, e.user_id, *names.get(e.user_id, ("", "")), value, e.reached_at, tiebreak))
    return named


def _page(board: Board, read: Callable[[RankingEngine], list[Entry]]) -> BoardPage:
    entries, size = index_read(board, lambda engine: (read(engine), engine.size(board)))
    return BoardPage(board, size, _named(board, entries) if entries else [])


@dataclass(frozen=True)
class _Imagined:
    """A hidden standing as its owner is shown it: their entry and their 0-based place in the listing."""

    board: Board
    me: Entry
    place: int

    def _sort_key(self, entry: Entry) -> tuple:
        value = -entry.value if self.board.descending else entry.value
        return value, entry.reached_at, entry.user_id

    def merged(self, public: Sequence[Entry]) -> list[Entry]:
        """``public`` entries (in listing order) with the owner among them; those strictly worse one rank down."""
        mine = self._sort_key(self.me)[0]
        shifted = [
            replace(e, rank=e.rank + 1) if self._sort_key(e)[0] > mine else e
            for e in public
            if e.user_id != self.me.user_id
        ]
        return sorted([*shifted, self.me], key=self._sort_key)

    def window(self, engine: RankingEngine, first: int, last: int) -> list[Entry]:
        """The imagined listing's places ``first`` to ``last`` (0-based, inclusive)."""
        start = max(first - 1, 0)  # a public place p is the imagined p, or p + 1 below the owner
        public = engine.top(self.board, offset=start, limit=last - start + 1)
        places = [place if place < self.place else place + 1 for place in range(start, start + len(public))]
        listed = sorted([*zip(places, public, strict=True), (self.place, self.me)], key=lambda item: item[0])
        return [
            replace(entry, rank=entry.rank + 1) if place > self.place and entry.value != self.me.value else entry
            for place, entry in listed
            if first <= place <= last
        ]


def _imagined(board: Board, user_id: uuid.UUID | None) -> _Imagined | None:
    """The hidden standing of ``user_id`` on ``board``, placed among the public ones; None when they have none."""
    if user_id is None:
        return None
    row = Standing.objects.filter(board=hidden_board(board).key, user_id=user_id).values_list("value", "reached_at")
    found = row.first()
    if found is None:
        return None
    value, reached_at = found
    place, rank = index_read(
        board, lambda engine: engine.place(board, value=value, reached_at=reached_at, user_id=user_id)
    )
    return _Imagined(board, Entry(rank, user_id, value, reached_at), place)


def _imagined_page(mine: _Imagined, read: Callable[[RankingEngine], list[Entry]]) -> BoardPage:
    board = mine.board
    entries, size = index_read(board, lambda engine: (read(engine), engine.size(board)))
    return BoardPage(board, size + 1, _named(board, entries))


@timed(RANKING_SECONDS, "top")
def board_top(*, board: Board, offset: int, limit: int, hidden_viewer: uuid.UUID | None = None) -> BoardPage:
    mine = _imagined(board, hidden_viewer)
    if mine is not None:
        return _imagined_page(mine, lambda engine: mine.window(engine, offset, offset + limit - 1))
    return _page(board, lambda engine: engine.top(board, offset=offset, limit=limit))


@timed(RANKING_SECONDS, "around")
def board_around(*, board: Board, user_id: uuid.UUID, limit: int, hidden_viewer: uuid.UUID | None = None) -> BoardPage:
    """``limit`` entries with the player in the middle (one more below than above when even)."""
    before = (limit - 1) // 2
    after = limit - 1 - before
    mine = _imagined(board, hidden_viewer) if user_id == hidden_viewer else None
    if mine is not None:
        first, last = max(mine.place - before, 0), mine.place + after
        return _imagined_page(mine, lambda engine: mine.window(engine, first, last))
    return _page(board, lambda engine: engine.around(board, user_id, before=before, after=after))


@timed(RANKING_SECONDS, "friends")
def board_friends(*, board: Board, user_ids: Sequence[uuid.UUID], hidden_viewer: uuid.UUID | None = None) -> BoardPage:
    mine = _imagined(board, hidden_viewer) if hidden_viewer in user_ids else None
    if mine is not None:
        return _imagined_page(mine, lambda engine: mine.merged(engine.entries(board, user_ids)))
    return _page(board, lambda engine: engine.entries(board, user_ids))


@timed(RANKING_SECONDS, "entry")
def board_rank(*, board: Board, user_id: uuid.UUID) -> tuple[Entry | None, int]:
    """A player's entry (None if absent) and the board's size, without names: the cheap read."""
    return index_read(board, lambda engine: (engine.entry(board, user_id), engine.size(board)))


def board_standings(
    *, boards: Sequence[Board], user_id: uuid.UUID, hidden: bool = False
) -> list[tuple[Entry | None, int]]:
    """``board_rank`` on several boards at once (one round trip to the index). ``hidden``: the player is
    shadow-banned and asks for themselves (what a submission reports to them)."""
    return players_standings(boards=boards, players=[(user_id, hidden)])[0]


@timed(RANKING_SECONDS, "standings")
def players_standings(
    *, boards: Sequence[Board], players: Sequence[tuple[uuid.UUID, bool]]
) -> list[list[tuple[Entry | None, int]]]:
    """``board_standings`` of several players, each ``(user id, hidden)``, in one round trip to the index
    (a shadow-banned player's own imagined standings are read on their own)."""
    shown = [user_id for user_id, hidden in players if not hidden]
    read = index_read(boards, lambda engine: engine.players_standings(boards, shown)) if shown else []
    return [
        [_hidden_rank(board, user_id) for board in boards]
        if hidden
        else [(entries.get(user_id), size) for entries, size in read]
        for user_id, hidden in players
    ]


def _hidden_rank(board: Board, user_id: uuid.UUID) -> tuple[Entry | None, int]:
    mine = _imagined(board, user_id)
    size = index_read(board, lambda engine: engine.size(board))
    return (None, size) if mine is None else (mine.me, size + 1)


def board_player(*, board: Board, user_id: uuid.UUID, hidden_viewer: uuid.UUID | None = None) -> PlayerStanding | None:
    if hidden_viewer is not None and hidden_viewer == user_id:
        entry, size = _hidden_rank(board, user_id)
    else:
        entry, size = board_rank(board=board, user_id=user_id)
    if entry is None:
        return None
    return PlayerStanding(board, _named(board, [entry])[0], size)


def player_game_standings(*, user_id: uuid.UUID, at: datetime) -> list[tuple[Game, PlayerStanding]]:
    """A player's all-time standing on every game board they are on, for their public profile."""
    window = period_window(Period.ALL, at)
    keys = Standing.objects.filter(user_id=user_id, board__startswith="game.", board__endswith=".all").values_list(
        "board", flat=True
    )
    game_ids = [key.split(".")[1] for key in keys]
    standings = []
    for game in Game.objects.filter(pk__in=game_ids).order_by("name"):
        found = board_player(board=game_board(game, window), user_id=user_id)
        if found is not None:
            standings.append((game, found))
    return standings


def board_drift(*, board: Board, chunk: int = 10_000) -> str:
    """How the index's copy of a board differs from the standings table ("" when identical)."""
    index_engine, table = get_engine(), sql_engine()
    size_index, size_table = index_engine.size(board), table.size(board)
    if size_index != size_table:
        return f"{size_index} players in the index, {size_table} in the table"
    rows = (
        Standing.objects.filter(board=board.key)
        .order_by(*listing_order(board))
        .values_list("user_id", "value", "reached_at")
        .iterator(chunk_size=chunk)
    )
    position = 0
    while page := index_engine.top(board, offset=position, limit=chunk):
        for entry in page:
            expected = next(rows)
            if (entry.user_id, entry.value, entry.reached_at) != expected:
                found = f"{entry.user_id}={entry.value}"
                return f"place {position + 1}: index has {found}, table has {expected[0]}={expected[1]}"
            position += 1
    return ""
