"""A player's state on a board and how a score changes it: the rules every write applies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from rest_framework import status

from common.errors import DomainError
from games.models import INT64_MAX, INT64_MIN, ScoreOperator
from rankings.models import Standing

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BoardValueOverflow(DomainError):
    code = "board_value_overflow"
    status_code = status.HTTP_409_CONFLICT
    message = "This score would take the player's total beyond a signed 64-bit integer."


class Row(NamedTuple):
    """What the write path needs of a standings row."""

    value: int
    reached_at: datetime
    version: int


@dataclass(frozen=True)
class State:
    value: int
    reached_at: datetime


def combine(operator: str, descending: bool, old: State | None, value: int, at: datetime) -> State | None:
    """A player's new state on a board after a score, or the old one if it does not change.

    ``reached_at`` moves only when the value does: a player who reaches a value
    first stays ahead of players who reach it later.
    """
    if old is None:
        return State(value, at)
    if operator == ScoreOperator.BEST:
        better = value > old.value if descending else value < old.value
        return State(value, at) if better else old
    if operator == ScoreOperator.LATEST:
        return old if value == old.value else State(value, at)
    if operator == ScoreOperator.SUM:
        return old if value == 0 else State(checked(old.value + value), at)
    raise ValueError(f"unknown score operator {operator!r}")


def checked(value: int) -> int:
    """``value``, refused with ``BoardValueOverflow`` outside the signed 64-bit range (a total's limit)."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise BoardValueOverflow()
    return value


def micros(at: datetime) -> int:
    """Microseconds since the epoch (what versions are made of)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def state_of(row: Standing | Row | None) -> State | None:
    """The state a standings row holds; None when there is no row."""
    return State(row.value, row.reached_at) if row else None


@dataclass(frozen=True)
class ScoreEffect:
    """What one score did to the player's all-time state on its game: whether it moved it."""

    moved: bool


@dataclass(frozen=True)
class ScoreInput:
    user_id: uuid.UUID
    value: int
    at: datetime
    hidden: bool = False  # a shadow-banned player's: it counts on their hidden boards only
