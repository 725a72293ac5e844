"""``GET /api/v1/``: the index of the API, as DRF's API root view answers, for clients and for browsers."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# Each top-level resource, by the name of its route. Resources under an id (a game's board, one tournament)
# are reached from these and described in the schema.
RESOURCES = {
    "users_register": "user-register",
    "users_login": "user-login",
    "users_token_refresh": "token-refresh",
    "users_me": "user-me",
    "games": "game-list",
    "scores": "score-list",
    "scores_batch": "score-batch",
    "leaderboard_global": "leaderboard-global",
    "tournaments": "tournament-list",
    "leagues": "league-list",
    "moderation_flags": "flag-list",
    "stats": "stats",
    "simulations": "simulation-list",
    "stress_tests": "stress-test-list",
    "synthetic_data": "synthetic-data",
    "schema": "schema",
    "docs": "api-docs",
}


class ApiRootSerializer(serializers.Serializer):
    """Absolute URLs, one per resource."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: serializers.URLField() for name in RESOURCES}


class ApiRootApi(APIView):
    """The resources of the Podium API, each with its address. `schema` is the OpenAPI description of them
    all, `docs` the same as a page."""

    name = "Podium API"
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ApiRootSerializer}, tags=["index"], summary="The index of the API")
    def get(self, request: Request) -> Response:
        return Response({name: request.build_absolute_uri(reverse(route)) for name, route in RESOURCES.items()})
