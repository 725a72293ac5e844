from __future__ import annotations

from typing import Any

from rest_framework import serializers

from common.schema import ErrorDetailSerializer
from common.serializers import StrictSerializer, timestamp
from games.models import INT64_MAX, INT64_MIN

from .models import MatchSession, Score, ScoreFlag, Suspicion

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "12", 12.0, 12.5 and true are refused rather than coerced."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class ScoreSubmitSerializer(StrictSerializer):
    game_id = serializers.CharField(max_length=64, help_text="The game's id or slug.")
    score = StrictIntegerField(min_value=INT64_MIN, max_value=INT64_MAX)
    tiebreak = StrictIntegerField(
        min_value=0,
        max_value=INT64_MAX,
        required=False,
        allow_null=True,
        help_text="The secondary score, required by a game that declares one (`tiebreak_order`), refused by others.",
    )
    user_id = serializers.UUIDField(required=False, help_text="Whose score; a player may only name themselves.")
    metadata = serializers.JSONField(required=False, help_text="A JSON object of at most 2 KB.")
    idempotency_key = serializers.RegexField(IDEMPOTENCY_KEY_PATTERN, required=False, max_length=64)
    session_id = serializers.UUIDField(
        required=False, help_text="The match session this score ends, for a game whose scores need one."
    )


class MatchSessionSerializer(serializers.ModelSerializer):
    game_id = serializers.UUIDField()
    min_seconds = serializers.IntegerField(source="game.session_min_seconds")

    class Meta:
        model = MatchSession
        fields = ["id", "game_id", "started_at", "expires_at", "min_seconds"]
        read_only_fields = fields


class ScoreSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField()
    game_id = serializers.UUIDField()
    score = serializers.IntegerField(source="value")
    is_void = serializers.BooleanField()

    class Meta:
        model = Score
        fields = [
            "id",
            "user_id",
            "game_id",
            "score",
            "tiebreak",
            "metadata",
            "source",
            "is_personal_best",
            "created_at",
            "is_void",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = fields


class BoardStandingSerializer(serializers.Serializer):
    board = serializers.CharField()
    rank = serializers.IntegerField()
    value = serializers.IntegerField()
    tiebreak = serializers.IntegerField(allow_null=True, help_text="Null when the game has no tie-break score.")
    size = serializers.IntegerField()
    percentile = serializers.FloatField()


class SubmitResponseSerializer(serializers.Serializer):
    score = ScoreSerializer()
    personal_best = serializers.BooleanField()
    replayed = serializers.BooleanField(help_text="True when the idempotency key was seen before.")
    game_board = BoardStandingSerializer(allow_null=True)
    global_board = BoardStandingSerializer(allow_null=True)


class BatchRequestSerializer(serializers.Serializer):
    # Items are checked one by one (each bad one is reported by index and the rest stored), so the schema
    # takes any JSON value as an item: an item that is no object is refused alone, as one with a bad field.
    scores = serializers.ListField(
        child=serializers.JSONField(
            help_text="A score: an object of `user_id`, `game_id`, `score` and optional `metadata` and "
            "`idempotency_key`. An item that is not such an object is rejected alone, by its index."
        ),
        max_length=1000,
        min_length=1,
    )


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "rejected"])
    score_id = serializers.IntegerField(required=False)
    error = ErrorDetailSerializer(
        required=False, help_text="Why the item was rejected; `fields` names the item's field at fault, when one is."
    )


class BatchResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = BatchItemResultSerializer(many=True)


class VoidSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class ModerationReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the moderation audit.")


class ShadowBanSerializer(serializers.Serializer):
    user_id = serializers.UUIDField(source="user.pk")
    shadow_banned_at = serializers.DateTimeField(source="user.shadow_banned_at", allow_null=True)
    action = serializers.CharField()
    reason = serializers.CharField()
    standings = serializers.IntegerField(help_text="How many standings moved between public and hidden boards.")
    created_at = serializers.DateTimeField()


class HistoryQuerySerializer(serializers.Serializer):
    user_id = serializers.UUIDField(required=False)
    game_id = serializers.CharField(required=False, max_length=64)


def score_body(score: Score) -> dict[str, Any]:
    """What ScoreSerializer renders, built directly for the submission hot path."""
    return {
        "id": score.pk,
        "user_id": str(score.user_id),
        "game_id": str(score.game_id),
        "score": score.value,
        "tiebreak": score.tiebreak,
        "metadata": score.metadata,
        "source": score.source,
        "is_personal_best": score.is_personal_best,
        "created_at": timestamp(score.created_at),
        "is_void": score.is_void,
        "voided_at": timestamp(score.voided_at),
        "void_reason": score.void_reason,
    }


def submit_response_body(
    *, score: Score, replayed: bool, game_board: dict | None, global_board: dict | None
) -> dict[str, Any]:
    """What SubmitResponseSerializer renders (the schema still comes from it), without nested serializers."""
    return {
        "score": score_body(score),
        "personal_best": score.is_personal_best,
        "replayed": replayed,
        "game_board": game_board,
        "global_board": global_board,
    }


class ScoreFlagSerializer(serializers.Serializer):
    """A flag of the review queue: rendered by ``scores.services.flag_body``, as the ``moderation`` channel
    shows it; the fields are declared for the schema."""

    id = serializers.IntegerField()
    score_id = serializers.IntegerField()
    score = serializers.IntegerField(help_text="The flagged score's value.")
    scored_at = serializers.DateTimeField()
    score_void = serializers.BooleanField()
    user_id = serializers.UUIDField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    game_id = serializers.UUIDField()
    game_slug = serializers.CharField()
    game_name = serializers.CharField()
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=Suspicion.choices), help_text="Why the score waits for review."
    )
    detail = serializers.DictField(
        child=serializers.DictField(),
        help_text="Per reason, what was measured and the bound it crossed: outlier {sigmas, limit, mean, stddev}, "
        "too_fast {seconds, limit}, too_frequent {in_hour, limit}.",
    )
    status = serializers.ChoiceField(choices=ScoreFlag.Status.choices)
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_by = serializers.CharField(allow_null=True, help_text="The staff member's username.")
    note = serializers.CharField(help_text="The reason staff gave when resolving it.")

    def to_representation(self, instance: ScoreFlag) -> dict[str, Any]:
        from .services import flag_body

        return flag_body(instance)


class FlagQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*ScoreFlag.Status.values, "all"], default=ScoreFlag.Status.OPEN, help_text="Default: open."
    )
    game = serializers.CharField(required=False, max_length=64, help_text="A game's id or slug.")
    reason = serializers.ChoiceField(choices=Suspicion.choices, required=False)
    user_id = serializers.UUIDField(required=False)


class FlagResolveSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=[
            ("dismiss", "Dismiss: the score stands"),
            ("void", "Void the score; its boards are recomputed"),
            ("ban", "Shadow-ban the player; each open flag of theirs is resolved"),
        ]
    )
    reason = serializers.CharField(max_length=500, help_text="Why: kept with the flag and in the moderation audit.")


class FlagResolvedSerializer(serializers.Serializer):
    flag = ScoreFlagSerializer()
    resolved = serializers.ListField(child=serializers.IntegerField(), help_text="The ids of every flag resolved.")
