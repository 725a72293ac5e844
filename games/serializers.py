from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers
from rest_framework.utils import html

from common.serializers import StrictSerializer

from .models import INT64_MAX, INT64_MIN, Game, ScoreAuthority, ScoreOperator, SortOrder, TieBreakOrder

MAX_RULES_BYTES = 8 * 1024
MAX_SESSION_SECONDS = 7 * 24 * 3600  # a match session lasts at most a week


class GameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Game
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "rules",
            "sort_order",
            "score_operator",
            "min_score",
            "max_score",
            "counts_toward_global",
            "tiebreak_order",
            "tiebreak_max",
            "tiebreak_label",
            "score_authority",
            "session_min_seconds",
            "session_max_seconds",
            "session_max_score_per_second",
            "is_active",
            "is_synthetic",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _validate_rules(value: Any) -> dict:
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    if len(json.dumps(value, separators=(",", ":"))) > MAX_RULES_BYTES:
        raise serializers.ValidationError(f"Must be at most {MAX_RULES_BYTES} bytes of JSON.")
    return value


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean: 0, 1.0, "yes" and null are refused rather than coerced. A form (the browsable API) sends
    text, read as DRF reads it ("true", "on", ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool) and not html.is_html_input(getattr(self.parent, "initial_data", None)):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class GameWriteSerializer(StrictSerializer):
    """Fields staff may set. On update every field is optional."""

    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=64, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    rules = serializers.JSONField(required=False, validators=[_validate_rules])
    sort_order = serializers.ChoiceField(choices=SortOrder.choices, required=False)
    score_operator = serializers.ChoiceField(choices=ScoreOperator.choices, required=False)
    min_score = serializers.IntegerField(min_value=INT64_MIN, max_value=INT64_MAX, required=False, allow_null=True)
    max_score = serializers.IntegerField(min_value=INT64_MIN, max_value=INT64_MAX, required=False, allow_null=True)
    counts_toward_global = StrictBooleanField(required=False)
    tiebreak_order = serializers.ChoiceField(
        choices=TieBreakOrder.choices,
        required=False,
        allow_blank=True,
        help_text="A secondary score ordering equal scores before the earliest-first rule: asc (lower wins, e.g. "
        "time taken) or desc; empty for none. Needs min_score, max_score, tiebreak_max, operator best or latest "
        "and counts_toward_global false.",
    )
    tiebreak_max = serializers.IntegerField(
        min_value=0, max_value=INT64_MAX, required=False, allow_null=True, help_text="Tie-breaks run from 0 to this."
    )
    tiebreak_label = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="What the tie-break measures, e.g. time (ms)."
    )
    score_authority = serializers.ChoiceField(
        choices=ScoreAuthority.choices,
        required=False,
        help_text="client: players and game servers; session: players within a match session; server: servers only",
    )
    session_min_seconds = serializers.IntegerField(min_value=0, max_value=MAX_SESSION_SECONDS - 1, required=False)
    session_max_seconds = serializers.IntegerField(min_value=1, max_value=MAX_SESSION_SECONDS, required=False)
    session_max_score_per_second = serializers.IntegerField(
        min_value=1, max_value=INT64_MAX, required=False, allow_null=True
    )
    is_active = StrictBooleanField(required=False)


class GameListQuerySerializer(serializers.Serializer):
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    synthetic = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only the synthetic games load tools play; false: only real games",
    )
    search = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
