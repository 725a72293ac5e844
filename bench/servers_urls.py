"""Podium's URLs plus ``GET /bench/ping``: the minimal DRF endpoint bench.servers serves on every server.

``PingApi`` is a plain ``APIView`` with the project's default DRF classes
(JWT, API-key and session authentication, which find no credentials and touch
neither the database nor Redis; ``IsAuthenticatedOrReadOnly``; the JSON
renderer) answering a small constant JSON: what a DRF request costs on a
server before any work of Podium's own.
"""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard_project.urls import urlpatterns as podium_urlpatterns


class PingApi(APIView):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok", "server": "podium"})


urlpatterns = [*podium_urlpatterns, path("bench/ping", PingApi.as_view())]
