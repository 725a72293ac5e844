"""The project's URLs plus one view that writes for a game, as a score endpoint would."""

from django.urls import path
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import GameServer
from games.selectors import game_get
from leaderboard_project.urls import urlpatterns as project_urlpatterns


class GameWriteProbe(APIView):
    def post(self, request, slug):
        game = game_get(id_or_slug=slug)
        if not isinstance(request.user, GameServer) or not request.user.may_write(game):
            raise PermissionDenied("This key may not write for that game.", code="game_not_allowed")
        return Response({"key": request.user.api_key.name, "game": game.slug})


urlpatterns = [path("api/test/games/<slug:slug>/write", GameWriteProbe.as_view()), *project_urlpatterns]
