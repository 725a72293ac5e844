"""The ranking engine's interface. Backends: ``sql`` (the standings table) and ``redis`` (sorted sets).

Every backend answers the same queries with the same results (the contract
tests in ``rankings/tests/test_engine_contract.py`` run against each):

* competition ranking ("1224"): 1 + the number of players with a strictly
  better value;
* listings order equal values by who reached them first (``reached_at``), then
  by user id, so every backend lists ties identically.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rankings.boards import Board

MAX_PAGE = 200
MAX_FRIENDS = 100


@dataclass(frozen=True)
class Entry:
    rank: int
    user_id: uuid.UUID
    value: int
    reached_at: datetime


@dataclass(frozen=True)
class StandingChange:
    """A player's new state on a board, to be written to an index. ``value`` None removes the player."""

    board: Board
    user_id: uuid.UUID
    value: int | None
    reached_at: datetime | None
    version: int


@dataclass(frozen=True)
class StandingRow:
    user_id: uuid.UUID
    value: int
    reached_at: datetime
    version: int


def percentile(rank: int, size: int) -> float:
    """Share of the board whose value is the same as or worse than this rank's, in per cent."""
    return round(100.0 * (size - rank + 1) / size, 2) if size else 0.0


def ranked(rows: Iterable[tuple[uuid.UUID, int, datetime]], *, first_rank: int, first_position: int) -> list[Entry]:
    """Competition ranks for consecutive rows of a listing.

    ``first_rank`` is the rank of the first row, ``first_position`` its 0-based
    place in the full listing: a row whose value differs from the previous
    one has every earlier row strictly better, so its rank is its place + 1.
    """
    entries: list[Entry] = []
    previous_value: int | None = None
    rank = first_rank
    for offset, (user_id, value, reached_at) in enumerate(rows):
        if entries and value != previous_value:
            rank = first_position + offset + 1
        entries.append(Entry(rank, user_id, value, reached_at))
        previous_value = value
    return entries


class RankingEngine(ABC):
    name: str
    # The errors by which the engine says its store cannot be reached: callers fall back to the standings table
    # on these, whatever the store is. An engine that is the table raises none of its own.
    unavailable: tuple[type[Exception], ...] = ()

    @abstractmethod
    def apply(self, changes: Sequence[StandingChange]) -> None:
        """Bring the index up to date with committed standings (called after commit)."""

    @abstractmethod
    def top(self, board: Board, *, offset: int = 0, limit: int = 10) -> list[Entry]:
        """The board from ``offset`` (0-based place), at most ``limit`` entries."""

    @abstractmethod
    def entry(self, board: Board, user_id: uuid.UUID) -> Entry | None:
        """One player's rank and value, or None if they are not on the board."""

    @abstractmethod
    def around(self, board: Board, user_id: uuid.UUID, *, before: int, after: int) -> list[Entry]:
        """The player's entry with up to ``before`` entries above and ``after`` below; empty if absent."""

    @abstractmethod
    def entries(self, board: Board, user_ids: Sequence[uuid.UUID]) -> list[Entry]:
        """The listed players present on the board, in board order, with their ranks on the full board."""

    @abstractmethod
    def size(self, board: Board) -> int:
        """How many players are on the board."""

    @abstractmethod
    def place(self, board: Board, *, value: int, reached_at: datetime, user_id: uuid.UUID) -> tuple[int, int]:
        """Where a standing that is not on the board would go: its 0-based place in the listing (how many
        entries are listed before it) and its rank (1 + how many have a strictly better value)."""

    def standings(self, boards: Sequence[Board], user_id: uuid.UUID) -> list[tuple[Entry | None, int]]:
        """Per board, the player's entry (None if absent) and the board's size: what a submission reports."""
        return [(found.get(user_id), size) for found, size in self.players_standings(boards, [user_id])]

    def players_standings(
        self, boards: Sequence[Board], user_ids: Sequence[uuid.UUID]
    ) -> list[tuple[dict[uuid.UUID, Entry], int]]:
        """Per board, the entries of those of the players who are on it, and the board's size, in one read:
        what the submissions of several players report."""
        return [
            ({entry.user_id: entry for entry in self.entries(board, user_ids)}, self.size(board)) for board in boards
        ]

    def version(self, board: Board) -> int | None:
        """A number that changes whenever the board does, which reads of it may be cached by; None when this
        backend keeps none (every read is then made afresh)."""
        return None

    @abstractmethod
    def rebuild(self, board: Board, rows: Iterable[StandingRow], *, size: int | None = None) -> int:
        """Replace the board's index with ``rows`` (``size`` of them, when known), which come in board order unless
        they are a list. Returns how many were loaded."""

    def boards_to_recut(self) -> list[str]:
        """Keys of boards the index asks to have rebuilt because one of its parts grew too large (the heal task
        rebuilds them); each is handed out once."""
        return []

    def is_complete(self) -> bool:
        """Whether the index holds every board: a full rebuild said so (``mark_complete``) and nothing has emptied
        it since. An engine that reads the standings table itself always does."""
        return True

    def mark_complete(self, *, at: datetime) -> None:
        """Record that the index now holds every board (the end of a full rebuild). Nothing to record for an
        engine that is always complete."""
        return None
