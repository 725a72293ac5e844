"""Tie-break scores: a game's secondary score, which orders equal primary scores before the earliest-first rule.

A game that declares one (``tiebreak_order``) ranks its boards on one signed
64-bit number that holds both scores::

    board value = (score − min_score) × (tiebreak_max + 1) + t′

where t′ is the tie-break (an integer from 0 to ``tiebreak_max``), turned
round (``tiebreak_max − t``) when the better tie-break would otherwise sort
the wrong way for the board's direction. Comparing board values is then
comparing (score, tie-break) in the game's order, so every ranking engine
(the standings table, Redis, boards cut into ranges) and every tournament
ranks by both without knowing of either; the earliest-first rule and the
user id still order players equal in both. The bounds that make the product
fit in 64 bits are checked when the game is saved (``tiebreak_check``), and
the rules are frozen once the game has scores.

A board value is turned back into (score, tie-break) where it is shown
(``TieBreak.decode``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.db.models import BigIntegerField, Expression, ExpressionWrapper, F, Value

# The largest board value, a signed 64-bit integer's (games.models.INT64_MAX). Not imported from there: this module
# imports no models, so rankings.boards, which reads it, may be imported before the app registry is ready.
BOARD_VALUE_MAX = 2**63 - 1


class TieBreakRules(Protocol):
    sort_order: str
    min_score: int | None
    max_score: int | None
    tiebreak_order: str
    tiebreak_max: int | None


@dataclass(frozen=True)
class TieBreak:
    """How one game's (score, tie-break) pairs map to board values and back."""

    low: int  # the game's min_score
    span: int  # tiebreak_max + 1
    turned: bool  # t′ = tiebreak_max − t

    def encode(self, value: int, tiebreak: int) -> int:
        return (value - self.low) * self.span + (self.span - 1 - tiebreak if self.turned else tiebreak)

    def decode(self, board_value: int) -> tuple[int, int]:
        high, low = divmod(board_value, self.span)
        return high + self.low, (self.span - 1 - low if self.turned else low)


def tiebreak_of(game: TieBreakRules) -> TieBreak | None:
    """The game's codec; None for a game without a tie-break score."""
    if not game.tiebreak_order or game.min_score is None or game.tiebreak_max is None:
        return None
    # A descending board lists large values first: a tie-break whose larger values win goes in as it is.
    return TieBreak(
        game.min_score, game.tiebreak_max + 1, (game.tiebreak_order == "desc") != (game.sort_order == "desc")
    )


def board_value(game: TieBreakRules, value: int, tiebreak: int | None) -> int:
    """What a score of ``game`` counts as on its boards: the score itself, or both scores in one number."""
    codec = tiebreak_of(game)
    return value if codec is None or tiebreak is None else codec.encode(value, tiebreak)


def board_value_sql(game: TieBreakRules) -> Expression:
    """``board_value`` of a score row, in SQL: within 64 bits, as the game's bounds were checked."""
    codec = tiebreak_of(game)
    if codec is None:
        return F("value")
    offset = Value(codec.span - 1) - F("tiebreak") if codec.turned else F("tiebreak")
    return ExpressionWrapper(
        (F("value") - Value(codec.low)) * Value(codec.span) + offset, output_field=BigIntegerField()
    )


def shown(codec: TieBreak | None, value: int) -> tuple[int, int | None]:
    """A board value as (score, tie-break), the tie-break None on a board without one."""
    return (value, None) if codec is None else codec.decode(value)


def tiebreak_check(game: TieBreakRules, *, operator: str, counts_toward_global: bool) -> dict[str, list[str]]:
    """What is wrong with a game's tie-break rules, by field (empty when they hold)."""
    if not game.tiebreak_order:
        return {}
    errors: dict[str, list[str]] = {}
    if game.min_score is None or game.max_score is None:
        errors["min_score"] = ["A game with a tie-break score needs min_score and max_score."]
    if game.tiebreak_max is None or game.tiebreak_max < 0:
        errors["tiebreak_max"] = ["A game with a tie-break score needs tiebreak_max (0 or more)."]
    if operator not in ("best", "latest"):
        errors["score_operator"] = ["A tie-break orders single scores: the operator must be best or latest."]
    if counts_toward_global:
        errors["counts_toward_global"] = ["A game with a tie-break score cannot count toward the global board."]
    if not errors and game.max_score is not None and game.min_score is not None and game.tiebreak_max is not None:
        width = (game.max_score - game.min_score + 1) * (game.tiebreak_max + 1) - 1
        if width > BOARD_VALUE_MAX:
            errors["tiebreak_max"] = [
                "(max_score − min_score + 1) × (tiebreak_max + 1) must be at most 2^63: narrow the score or the "
                "tie-break range."
            ]
    return errors
