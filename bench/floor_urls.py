"""Podium's URLs plus ``POST /bench/floor``: the floor bench.batch measures a batch against.

The floor view is authenticated and permitted exactly like
``POST /api/v1/scores/batch`` (an API key, ``IsGameServer``) and parses the
same request body with the same parser, then answers ``{"items": n}`` without
looking at the items: what a batch costs before Podium does any work of its own.
"""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard_project.urls import urlpatterns as podium_urlpatterns
from scores.api import IsGameServer


class ParseFloorApi(APIView):
    permission_classes = [IsGameServer]

    def post(self, request: Request) -> Response:
        scores = request.data.get("scores") if isinstance(request.data, dict) else None
        return Response({"items": len(scores) if isinstance(scores, list) else 0})


urlpatterns = [*podium_urlpatterns, path("bench/floor", ParseFloorApi.as_view())]
