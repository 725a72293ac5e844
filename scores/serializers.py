from __future__ import annotations

from typing import Any

from rest_framework import serializers

from games.models import INT64_MAX, INT64_MIN
from leaderboard_project.serializers import StrictSerializer

from .models import Score

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
    user_id = serializers.UUIDField(required=False, help_text="Whose score; a player may only name themselves.")
    metadata = serializers.JSONField(required=False, help_text="A JSON object of at most 2 KB.")
    idempotency_key = serializers.RegexField(IDEMPOTENCY_KEY_PATTERN, required=False, max_length=64)


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
    size = serializers.IntegerField()
    percentile = serializers.FloatField()


class SubmitResponseSerializer(serializers.Serializer):
    score = ScoreSerializer()
    personal_best = serializers.BooleanField()
    replayed = serializers.BooleanField(help_text="True when the idempotency key was seen before.")
    game_board = BoardStandingSerializer(allow_null=True)
    global_board = BoardStandingSerializer(allow_null=True)


class BatchRequestSerializer(serializers.Serializer):
    scores = serializers.ListField(child=serializers.DictField(), max_length=1000, min_length=1)


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "rejected"])
    score_id = serializers.IntegerField(required=False)
    error = serializers.DictField(required=False)


class BatchResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = BatchItemResultSerializer(many=True)


class VoidSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class HistoryQuerySerializer(serializers.Serializer):
    user_id = serializers.UUIDField(required=False)
    game_id = serializers.CharField(required=False, max_length=64)
