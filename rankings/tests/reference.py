"""A plain-Python model of the ranking semantics of docs/rankings.md, for the property tests.

Written from the spec alone: it imports nothing from the rankings app, so a
mistake in ``rankings.services`` or ``rankings.periods`` cannot hide by being
shared with the model. Players and games are identified by whatever hashable
ids the caller uses; user ids must be ``uuid.UUID`` (ties are broken by their
bytes).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
PERIODS = ("all", "daily", "weekly", "monthly")
OPERATORS = ("best", "latest", "sum")


@dataclass(frozen=True)
class Window:
    """One period window in UTC; ``start``/``end`` are None for all-time, ``end`` is exclusive."""

    period: str
    start: datetime | None
    end: datetime | None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def window_of(period: str, at: datetime) -> Window:
    """The window of ``period`` holding the moment ``at`` (weeks are ISO weeks, Monday first)."""
    if at.tzinfo is None:
        raise ValueError("moments must be timezone-aware")
    day = at.astimezone(UTC).date()
    if period == "all":
        return Window(period, None, None)
    if period == "daily":
        return Window(period, _midnight(day), _midnight(day + timedelta(days=1)))
    if period == "weekly":
        monday = day - timedelta(days=day.weekday())
        return Window(period, _midnight(monday), _midnight(monday + timedelta(days=7)))
    if period == "monthly":
        first = date(day.year, day.month, 1)
        following = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
        return Window(period, _midnight(first), _midnight(following))
    raise ValueError(f"unknown period {period!r}")


@dataclass(frozen=True)
class GameSpec:
    descending: bool
    operator: str
    counts_toward_global: bool

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(f"unknown score operator {self.operator!r}")


@dataclass(frozen=True)
class Row:
    """A player's value on one board and when they first reached it."""

    value: int
    reached_at: datetime


@dataclass(frozen=True)
class Ranked:
    rank: int
    user_id: uuid.UUID
    value: int
    reached_at: datetime


def _candidate(game: GameSpec, old: Row | None, value: int) -> int:
    """The value a score would leave on a board, before deciding whether anything changed."""
    if old is None:
        return value
    if game.operator == "best":
        return max(old.value, value) if game.descending else min(old.value, value)
    if game.operator == "latest":
        return value
    return old.value + value


def listing(rows: dict[uuid.UUID, Row], *, descending: bool) -> list[Ranked]:
    """A board in listing order: better value, then earlier ``reached_at``, then user id bytes.

    Competition ranking: 1 + the number of players with a strictly better value.
    """
    ordered = sorted(
        rows.items(),
        key=lambda item: (-item[1].value if descending else item[1].value, item[1].reached_at, item[0].bytes),
    )
    result = []
    for user_id, row in ordered:
        better = sum(
            1 for other in rows.values() if (other.value > row.value if descending else other.value < row.value)
        )
        result.append(Ranked(better + 1, user_id, row.value, row.reached_at))
    return result


def percentile(rank: int, size: int) -> float:
    """Share of the board at the same rank or worse, in per cent, to 2 decimals."""
    if size == 0:
        return 0.0
    return round(100 * (size - rank + 1) / size, 2)


@dataclass
class Model:
    """Every game board as ``{(game id, window): {user id: Row}}``; global boards are derived from them."""

    games: dict[Hashable, GameSpec]
    game_rows: dict[tuple[Hashable, Window], dict[uuid.UUID, Row]] = field(default_factory=dict)

    def submit(self, *, game_id: Hashable, user_id: uuid.UUID, value: int, at: datetime) -> bool:
        """Apply one score to every window holding ``at``. Returns False when it is skipped.

        A score that would put any board value (a game board, or the global sum
        of a window) outside a signed 64-bit integer changes nothing at all.
        """
        game = self.games[game_id]
        updates: dict[Window, Row] = {}
        for period in PERIODS:
            window = window_of(period, at)
            old = self.game_rows.get((game_id, window), {}).get(user_id)
            new_value = _candidate(game, old, value)
            if old is None or new_value != old.value:
                updates[window] = Row(new_value, at)
        for window, row in updates.items():
            if not INT64_MIN <= row.value <= INT64_MAX:
                return False
            if game.counts_toward_global:
                total = row.value + sum(
                    other.value
                    for (other_game, other_window), rows in self.game_rows.items()
                    if other_window == window
                    and other_game != game_id
                    and self.games[other_game].counts_toward_global
                    and (other := rows.get(user_id)) is not None
                )
                if not INT64_MIN <= total <= INT64_MAX:
                    return False
        for window, row in updates.items():
            self.game_rows.setdefault((game_id, window), {})[user_id] = row
        return True

    def game_board(self, game_id: Hashable, window: Window) -> dict[uuid.UUID, Row]:
        return dict(self.game_rows.get((game_id, window), {}))

    def global_board(self, window: Window) -> dict[uuid.UUID, Row]:
        """Per player: the sum of their values on the counting games' boards of ``window``,
        reached when the latest of those rows was reached. Players with no such row are absent."""
        parts: dict[uuid.UUID, list[Row]] = {}
        for (game_id, game_window), rows in self.game_rows.items():
            if game_window == window and self.games[game_id].counts_toward_global:
                for user_id, row in rows.items():
                    parts.setdefault(user_id, []).append(row)
        return {
            user_id: Row(sum(row.value for row in rows), max(row.reached_at for row in rows))
            for user_id, rows in parts.items()
        }
