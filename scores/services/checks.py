"""The checks a score passes before it is stored: the rate limits, and the rules of its game."""

from __future__ import annotations

import json
import uuid

from django.conf import settings

from accounts.models import ApiKey
from common import ratelimit
from games.models import INT64_MAX, INT64_MIN, Game

from .errors import (
    MAX_METADATA_BYTES,
    ApiKeyRateLimited,
    GameInactive,
    MetadataTooLarge,
    ScoreOutOfBounds,
    ScoreRateLimited,
    ScoreRejected,
)


def _check_rate(user_id: uuid.UUID, game_id: uuid.UUID) -> None:
    """Fixed-window count per player and game, shared by every server process."""
    ratelimit.enforce(f"score:{user_id}:{game_id}", settings.SCORE_RATE_PER_USER_GAME, ScoreRateLimited)


def api_key_rate_check(*, api_key: ApiKey, scores: int) -> None:
    """Count the scores a game server offers against ``SCORE_RATE_PER_API_KEY``, shared by every process.

    Called before anything is parsed or stored, with every score a request carries (a batch's invalid ones
    too), so a flood costs one counter round trip per request. Fails open like the per-player limit.
    """
    ratelimit.enforce(f"api-key:{api_key.pk}", settings.SCORE_RATE_PER_API_KEY, ApiKeyRateLimited, amount=scores)


def score_validate(*, game: Game, value: int, metadata: object, tiebreak: int | None = None) -> None:
    """The rules every score meets, whoever submits it. Raises a ScoreRejected."""
    if not game.is_active:
        raise GameInactive()
    low = game.min_score if game.min_score is not None else INT64_MIN
    high = game.max_score if game.max_score is not None else INT64_MAX
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ScoreOutOfBounds(
            f"The score must be an integer from {low} to {high} for this game.",
            fields={"score": [f"Must be an integer from {low} to {high}."]},
        )
    _check_tiebreak(game, tiebreak)
    encoded = json.dumps(metadata, separators=(",", ":")) if isinstance(metadata, dict) else None
    if encoded is None or len(encoded) > MAX_METADATA_BYTES:
        raise MetadataTooLarge(fields={"metadata": [MetadataTooLarge.message]})
    if _holds_nul(metadata):
        # PostgreSQL's jsonb cannot hold a NUL character, in a key or a value, at any depth.
        message = "metadata must not contain a NUL character (\\u0000)."
        raise ScoreRejected(message, fields={"metadata": [message]})


def _check_tiebreak(game: Game, tiebreak: int | None) -> None:
    """A game with a tie-break score takes one with every score, from 0 to its tiebreak_max; others take none."""
    if not game.tiebreak_order:
        if tiebreak is not None:
            message = "This game has no tie-break score: leave tiebreak out."
            raise ScoreRejected(message, fields={"tiebreak": [message]})
        return
    high = game.tiebreak_max
    if not isinstance(tiebreak, int) or isinstance(tiebreak, bool) or not 0 <= tiebreak <= high:
        what = f"the tie-break score ({game.tiebreak_label})" if game.tiebreak_label else "the tie-break score"
        raise ScoreOutOfBounds(
            f"This game ranks equal scores by {what}: tiebreak must be an integer from 0 to {high}.",
            fields={"tiebreak": [f"Required: an integer from 0 to {high}."]},
        )


def _holds_nul(value: object) -> bool:
    """Whether a NUL character stands in a string of ``value`` (parsed JSON), keys included, at any depth."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return False
