"""Score writes: one submission and players' submissions stored together (``submit``), a batch from a game
server (``batch``), historical imports (``imports``), voids and shadow-bans (``moderation``), the review
queue of suspicious scores (``review``).

Every submission takes the player's row lock first (``players``), so one player's scores
are applied one at a time (idempotency keys and running totals stay exact
under concurrent requests), then writes the score and its standings in one
transaction. Ranking indexes are written after commit. What a score must pass is
in ``checks``, how it is stored in ``storage``, and the errors it is refused with in ``errors``.
"""

from .batch import MAX_BATCH, BatchItem, BatchOutcome, score_submit_batch
from .checks import api_key_rate_check, score_validate
from .errors import (
    MAX_METADATA_BYTES,
    ApiKeyRateLimited,
    GameInactive,
    IdempotencyKeyReused,
    MetadataTooLarge,
    PlayerGone,
    ScoreAlreadyVoid,
    ScoreOutOfBounds,
    ScoreRateLimited,
    ScoreRejected,
)
from .imports import IMPORT_CHUNK, ImportItem, ScoreImportInvalid, score_import
from .moderation import (
    AlreadyShadowBanned,
    NotShadowBanned,
    player_shadow_ban,
    player_shadow_ban_lift,
    score_void,
)
from .players import LockedPlayer, lock_active_players, lock_players
from .review import FlagResolved, flag_body, flag_resolve, review_scan, score_stats_refresh
from .submit import PlayerScore, SubmitResult, score_submit, score_submit_group

__all__ = [
    "IMPORT_CHUNK",
    "MAX_BATCH",
    "MAX_METADATA_BYTES",
    "AlreadyShadowBanned",
    "ApiKeyRateLimited",
    "BatchItem",
    "BatchOutcome",
    "FlagResolved",
    "GameInactive",
    "IdempotencyKeyReused",
    "ImportItem",
    "LockedPlayer",
    "MetadataTooLarge",
    "NotShadowBanned",
    "PlayerGone",
    "PlayerScore",
    "ScoreAlreadyVoid",
    "ScoreImportInvalid",
    "ScoreOutOfBounds",
    "ScoreRateLimited",
    "ScoreRejected",
    "SubmitResult",
    "api_key_rate_check",
    "flag_body",
    "flag_resolve",
    "lock_active_players",
    "lock_players",
    "player_shadow_ban",
    "player_shadow_ban_lift",
    "review_scan",
    "score_import",
    "score_submit",
    "score_submit_batch",
    "score_stats_refresh",
    "score_submit_group",
    "score_validate",
    "score_void",
]
