from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from common.serializers import StrictSerializer
from games.models import INT64_MAX
from rankings.serializers import BoardEntrySerializer

from .models import MAX_ATTEMPTS, MAX_PARTICIPANTS, MIN_PARTICIPANTS, Format, Participant, Status, Tournament


class TournamentSerializer(serializers.ModelSerializer):
    game_id = serializers.UUIDField(read_only=True)
    game_name = serializers.CharField(source="game.name", read_only=True)
    organizer_id = serializers.UUIDField(read_only=True)
    organizer = serializers.CharField(source="organizer.username", read_only=True)
    recurrence_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Tournament
        fields = [
            "id",
            "name",
            "description",
            "game_id",
            "game_name",
            "format",
            "max_attempts",
            "max_participants",
            "participant_count",
            "prize_pool",
            "prize_split",
            "start_time",
            "end_time",
            "status",
            "organizer_id",
            "organizer",
            "recurrence_id",
            "created_at",
            "started_at",
            "finished_at",
            "paid_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class TournamentDetailSerializer(TournamentSerializer):
    """One tournament as the caller sees it: whether they are in, whether they could join, the time left."""

    joined = serializers.SerializerMethodField()
    can_join = serializers.SerializerMethodField()
    starts_in_seconds = serializers.SerializerMethodField()
    time_left_seconds = serializers.SerializerMethodField()

    class Meta(TournamentSerializer.Meta):
        fields = [*TournamentSerializer.Meta.fields, "joined", "can_join", "starts_in_seconds", "time_left_seconds"]
        read_only_fields = fields

    def get_joined(self, tournament: Tournament) -> bool:
        return bool(self.context.get("joined"))

    def get_can_join(self, tournament: Tournament) -> bool:
        return bool(self.context.get("can_join"))

    def get_starts_in_seconds(self, tournament: Tournament) -> int | None:
        """Seconds until the start, while scheduled; None after."""
        if tournament.status != Status.SCHEDULED:
            return None
        return max(0, int((tournament.start_time - timezone.now()).total_seconds()))

    def get_time_left_seconds(self, tournament: Tournament) -> int | None:
        """Seconds until the end, while scheduled or running; None once over."""
        if tournament.status not in (Status.SCHEDULED, Status.RUNNING):
            return None
        return max(0, int((tournament.end_time - timezone.now()).total_seconds()))


class TournamentCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    game_id = serializers.CharField(max_length=64, help_text="The game's id or slug.")
    format = serializers.ChoiceField(choices=Format.choices, default=Format.BEST_SCORE)
    max_attempts = serializers.IntegerField(min_value=1, max_value=MAX_ATTEMPTS, required=False, allow_null=True)
    max_participants = serializers.IntegerField(min_value=MIN_PARTICIPANTS, max_value=MAX_PARTICIPANTS, default=100)
    prize_pool = serializers.IntegerField(min_value=0, max_value=INT64_MAX, default=0)
    prize_split = serializers.ListField(
        child=serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100),
        max_length=100,
        required=False,
        help_text="Per cent of the pool for places 1, 2, 3...; default 50, 30, 20; at most 100 in all.",
    )
    start_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField()

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["end_time"] <= data["start_time"]:
            raise serializers.ValidationError({"end_time": ["Must be after start_time."]})
        return data


class TournamentListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    game_id = serializers.UUIDField(required=False)


class TournamentRegisterSerializer(StrictSerializer):
    tournament_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    user_id = serializers.UUIDField(required=False, help_text="Defaults to the signed-in user; another user is 403.")


class ParticipantSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Participant
        fields = ["user_id", "username", "display_name", "joined_at", "attempts_used"]
        read_only_fields = fields


class StandingSerializer(BoardEntrySerializer):
    attempts_used = serializers.IntegerField()
    prize = serializers.IntegerField(allow_null=True)


class StandingsSerializer(serializers.Serializer):
    tournament_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    frozen = serializers.BooleanField(help_text="True once finished: the final results.")
    size = serializers.IntegerField()
    entries = StandingSerializer(many=True)
