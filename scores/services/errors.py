"""The errors a score write is refused with (``DomainError``: a stable code, a status, a message)."""

from __future__ import annotations

from rest_framework import status

from common.errors import Conflict, DomainError

MAX_METADATA_BYTES = 2048


class ScoreRejected(DomainError):
    code = "invalid"
    message = "The score was not accepted."


class GameInactive(ScoreRejected):
    code = "game_inactive"
    message = "This game does not accept scores."


class ScoreOutOfBounds(ScoreRejected):
    code = "score_out_of_bounds"


class MetadataTooLarge(ScoreRejected):
    code = "metadata_too_large"
    message = f"metadata must be a JSON object of at most {MAX_METADATA_BYTES} bytes."


class ScoreRateLimited(DomainError):
    code = "throttled"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    message = "Too many scores for this game; slow down."


class ApiKeyRateLimited(ScoreRateLimited):
    message = "Too many scores from this API key; slow down."


class PlayerGone(DomainError):
    """The player a token names is gone or deactivated: the full authentication answers with its 401."""

    code = "not_authenticated"
    status_code = 401


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This idempotency key was already used for a different score."


class ScoreAlreadyVoid(Conflict):
    code = "score_already_void"
    message = "This score is already void."
