"""``GET /api/v1/stats``: the service's totals, for dashboards and the demo pages."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors import service_stats


class TournamentCountsSerializer(serializers.Serializer):
    scheduled = serializers.IntegerField()
    running = serializers.IntegerField()
    finished = serializers.IntegerField()
    paid = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    players = serializers.IntegerField(help_text="active accounts")
    games = serializers.IntegerField(help_text="active games")
    scores = serializers.IntegerField(help_text="stored scores (PostgreSQL's estimate above a million)")
    scores_estimated = serializers.BooleanField()
    scores_last_minute = serializers.IntegerField()
    tournaments = TournamentCountsSerializer(help_text="tournaments by status")
    open_websockets = serializers.IntegerField(help_text="clients connected to /ws/main, on every server")
    at = serializers.DateTimeField()


class StatsApi(APIView):
    """Totals anyone may read: players, games, scores (and in the last minute), tournaments, open WebSockets."""

    @extend_schema(responses={200: StatsSerializer}, tags=["stats"])
    def get(self, request: Request) -> Response:
        return Response(StatsSerializer(service_stats()).data)


urlpatterns = [path("stats", StatsApi.as_view(), name="stats")]
