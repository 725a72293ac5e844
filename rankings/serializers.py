from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import PublicUserSerializer
from common.serializers import timestamp

from .boards import Board
from .engine.base import MAX_FRIENDS, MAX_PAGE
from .periods import Period, period_window, window_kept
from .selectors import BoardPage

DEFAULT_LIMIT = 10
# The moments a board may be asked about.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@extend_schema_field(OpenApiTypes.STR)
class MomentField(serializers.Field):
    """An ISO date ("2026-11-23", midnight UTC) or datetime: a moment inside the wanted period."""

    def to_internal_value(self, data: Any) -> datetime:
        moment = None
        if isinstance(data, str) and len(data) <= 40:
            try:
                moment = parse_datetime(data)
                if moment is None and (day := parse_date(data)) is not None:
                    moment = datetime.combine(day, time.min, tzinfo=UTC)
            except ValueError:
                moment = None
        if moment is None:
            raise serializers.ValidationError("Must be an ISO 8601 date or date-time.")
        moment = moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
        try:
            in_range = EARLIEST <= moment.astimezone(UTC) < LATEST
        except OverflowError:  # a moment a few hours from the calendar's edge, in UTC
            in_range = False
        if not in_range:
            # Every period window around the moment (and the one before it) stays inside the calendar.
            raise serializers.ValidationError(f"Must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC).")
        return moment

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class UserIdListField(serializers.CharField):
    """Comma-separated user ids, at most MAX_FRIENDS."""

    def to_internal_value(self, data: Any) -> list[uuid.UUID]:
        text = super().to_internal_value(data)
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise serializers.ValidationError("List at least one user id.")
        if len(parts) > MAX_FRIENDS:
            raise serializers.ValidationError(f"At most {MAX_FRIENDS} user ids.")
        try:
            return list(dict.fromkeys(uuid.UUID(part) for part in parts))
        except ValueError:
            raise serializers.ValidationError("Each user id must be a UUID.") from None


class LeaderboardQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=Period.choices, default=Period.ALL)
    at = MomentField(required=False, help_text="A moment in the wanted period (default: now).")
    offset = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=DEFAULT_LIMIT)
    around = serializers.CharField(
        required=False, max_length=36, help_text="A user id, or `me`: the page around that player."
    )
    user_ids = UserIdListField(required=False, max_length=4000, help_text="Comma-separated user ids: a friends board.")

    def validate_around(self, value: str) -> str | uuid.UUID:
        if value == "me":
            return value
        try:
            return uuid.UUID(value)
        except ValueError:
            raise serializers.ValidationError("Must be a user id or `me`.") from None

    def validate(self, attrs: dict) -> dict:
        if "around" in attrs and "user_ids" in attrs:
            raise serializers.ValidationError("Use either around or user_ids, not both.")
        return _kept(attrs)


class PlayerQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=Period.choices, default=Period.ALL)
    at = MomentField(required=False)

    def validate(self, attrs: dict) -> dict:
        return _kept(attrs)


def _kept(attrs: dict) -> dict:
    """Refuse a past period whose board is no longer kept (RANKING_ARCHIVE_DAYS), rather than answer it empty."""
    at = attrs.get("at")
    if at is not None and not window_kept(period_window(attrs["period"], at)):
        raise serializers.ValidationError(
            {"at": f"Boards of periods that ended more than {settings.RANKING_ARCHIVE_DAYS} days ago are not kept."}
        )
    return attrs


class BoardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    user_id = serializers.UUIDField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    value = serializers.IntegerField()
    tiebreak = serializers.IntegerField(
        allow_null=True, help_text="The secondary score that orders equal values (null when the game has none)."
    )
    reached_at = serializers.DateTimeField()


class BoardSerializer(serializers.Serializer):
    key = serializers.CharField()
    period = serializers.CharField(source="window.period")
    period_start = serializers.DateTimeField(source="window.start", allow_null=True)
    period_end = serializers.DateTimeField(source="window.end", allow_null=True)
    sort_order = serializers.SerializerMethodField()

    def get_sort_order(self, board: Any) -> str:
        return "desc" if board.descending else "asc"


class LeaderboardSerializer(serializers.Serializer):
    board = BoardSerializer()
    size = serializers.IntegerField()
    entries = BoardEntrySerializer(many=True)


class PlayerStandingSerializer(serializers.Serializer):
    board = BoardSerializer()
    size = serializers.IntegerField()
    rank = serializers.IntegerField(source="entry.rank")
    value = serializers.IntegerField(source="entry.value")
    tiebreak = serializers.IntegerField(source="entry.tiebreak", allow_null=True)
    reached_at = serializers.DateTimeField(source="entry.reached_at")
    user_id = serializers.UUIDField(source="entry.user_id")
    username = serializers.CharField(source="entry.username")
    display_name = serializers.CharField(source="entry.display_name")
    percentile = serializers.FloatField()


def _board_body(board: Board) -> dict[str, Any]:
    window = board.window
    return {
        "key": board.key,
        "period": window.period,
        "period_start": timestamp(window.start),
        "period_end": timestamp(window.end),
        "sort_order": "desc" if board.descending else "asc",
    }


def leaderboard_body(page: BoardPage) -> dict[str, Any]:
    """What LeaderboardSerializer renders, built directly: nested serializers cost more than
    the ranking itself on a 200-entry page. The schema still comes from LeaderboardSerializer."""
    return {
        "board": _board_body(page.board),
        "size": page.size,
        "entries": [
            {
                "rank": entry.rank,
                "user_id": str(entry.user_id),
                "username": entry.username,
                "display_name": entry.display_name,
                "value": entry.value,
                "tiebreak": entry.tiebreak,
                "reached_at": timestamp(entry.reached_at),
            }
            for entry in page.entries
        ],
    }


class GameStandingSerializer(serializers.Serializer):
    game_id = serializers.UUIDField(source="game.pk")
    slug = serializers.CharField(source="game.slug")
    name = serializers.CharField(source="game.name")
    rank = serializers.IntegerField(source="standing.entry.rank")
    value = serializers.IntegerField(source="standing.entry.value")
    tiebreak = serializers.IntegerField(source="standing.entry.tiebreak", allow_null=True)
    size = serializers.IntegerField(source="standing.size")
    percentile = serializers.FloatField(source="standing.percentile")


class ProfileSerializer(PublicUserSerializer):
    """A public profile: who they are, their credits and where they stand on each game's all-time board."""

    # Public like the boards: credits are prize winnings (and staff corrections to them).
    credits = serializers.IntegerField(read_only=True, help_text="Credit balance: the sum of the ledger.")
    games = GameStandingSerializer(many=True, read_only=True)

    class Meta(PublicUserSerializer.Meta):
        fields = [*PublicUserSerializer.Meta.fields, "credits", "games"]
        read_only_fields = fields
