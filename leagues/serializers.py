from __future__ import annotations

from rest_framework import serializers

from common.serializers import StrictSerializer
from rankings.periods import Period

from .models import PERIODS, Cohort, League, Placement, Tier


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["level", "name", "reward_pool", "reward_split"]
        read_only_fields = fields


class LeagueSerializer(serializers.ModelSerializer):
    game_id = serializers.UUIDField(read_only=True)
    game_name = serializers.CharField(source="game.name", read_only=True)
    tiers = TierSerializer(many=True, read_only=True)

    class Meta:
        model = League
        fields = [
            "id",
            "name",
            "slug",
            "game_id",
            "game_name",
            "period",
            "cohort_size",
            "promote",
            "relegate",
            "is_active",
            "tiers",
            "created_at",
        ]
        read_only_fields = fields


class WindowSerializer(serializers.Serializer):
    key = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class LeagueDetailSerializer(LeagueSerializer):
    current_period = WindowSerializer(read_only=True)

    class Meta(LeagueSerializer.Meta):
        fields = [*LeagueSerializer.Meta.fields, "current_period"]
        read_only_fields = fields


class TierCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=50)
    reward_pool = serializers.IntegerField(min_value=0, default=0)
    reward_split = serializers.ListField(
        child=serializers.DecimalField(max_digits=7, decimal_places=4, coerce_to_string=False),
        required=False,
        max_length=100,
        help_text="Percent of the pool per place, best first; default [50, 30, 20].",
    )


class LeagueCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=100)
    game_id = serializers.CharField(max_length=64, help_text="The game's id or slug.")
    period = serializers.ChoiceField(choices=PERIODS, default=Period.WEEKLY)
    cohort_size = serializers.IntegerField(min_value=2, max_value=100_000, default=30)
    promote = serializers.IntegerField(min_value=0, max_value=100_000, default=5)
    relegate = serializers.IntegerField(min_value=0, max_value=100_000, default=5)
    tiers = TierCreateSerializer(many=True, help_text="From the lowest up: new players start in the first.")


class CohortSerializer(serializers.ModelSerializer):
    tier = serializers.CharField(source="tier.name", read_only=True)
    tier_level = serializers.IntegerField(source="tier.level", read_only=True)
    period = serializers.CharField(source="period_key", read_only=True)
    tournament_id = serializers.IntegerField(read_only=True)
    status = serializers.CharField(source="tournament.status", read_only=True)

    class Meta:
        model = Cohort
        fields = [
            "id",
            "tier",
            "tier_level",
            "period",
            "period_start",
            "period_end",
            "number",
            "size",
            "tournament_id",
            "status",
            "settled_at",
        ]
        read_only_fields = fields


class CohortQuerySerializer(serializers.Serializer):
    period = serializers.RegexField(
        r"^[0-9]{4}(-W[0-9]{2}|-[0-9]{2}(-[0-9]{2})?)$",
        max_length=10,
        required=False,
        help_text="A period's key: 2026-W49 (weekly), 2026-12-07 (daily), 2026-12 (monthly); default the current one.",
    )
    tier = serializers.IntegerField(min_value=1, max_value=1000, required=False, help_text="A tier's level.")


class PlacementSerializer(serializers.ModelSerializer):
    cohort = CohortSerializer(read_only=True)
    next_tier = serializers.CharField(source="next_tier.name", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Placement
        fields = ["period_key", "cohort", "placed_at", "position", "rank", "outcome", "next_tier"]
        read_only_fields = fields


class LeagueStandingSerializer(serializers.Serializer):
    tier = TierSerializer(source="membership.tier", allow_null=True, read_only=True, default=None)
    current = PlacementSerializer(allow_null=True, read_only=True)
    history = PlacementSerializer(many=True, read_only=True)
