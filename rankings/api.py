"""Leaderboard API: the global board and each game's board, by period, paged, around a player, friends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import hidden_viewer, is_player
from games.models import Game
from games.selectors import game_get_cached

from . import selectors
from .boards import Board, game_board_at, global_board_at
from .index import index_version
from .pagecache import pages
from .selectors import BoardPage
from .serializers import (
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    PlayerQuerySerializer,
    PlayerStandingSerializer,
    leaderboard_body,
)


def _game(game_id: str) -> Game:
    game = game_get_cached(id_or_slug=game_id)
    if game is None:
        raise NotFound("No such game.")
    return game


def _query(serializer_class: type, request: Request) -> dict:
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


def _leaderboard(request: Request, board_for: Callable[[str, datetime], Board]) -> HttpResponseBase:
    query = _query(LeaderboardQuerySerializer, request)
    board: Board = board_for(query["period"], query.get("at") or timezone.now())
    viewer = hidden_viewer(request.user)
    if "user_ids" in query:
        return Response(
            leaderboard_body(selectors.board_friends(board=board, user_ids=query["user_ids"], hidden_viewer=viewer))
        )
    if "around" in query:
        around = query["around"]
        if around == "me":
            if not is_player(request):
                raise NotAuthenticated("around=me needs a signed-in player.")
            around = request.user.pk
        key = ("around", board.key, around, query["limit"])

        def read() -> BoardPage:
            return selectors.board_around(board=board, user_id=around, limit=query["limit"], hidden_viewer=viewer)
    else:
        key = ("top", board.key, query["offset"], query["limit"])

        def read() -> BoardPage:
            return selectors.board_top(board=board, offset=query["offset"], limit=query["limit"], hidden_viewer=viewer)

    if viewer is not None or request.accepted_renderer.format != "json":
        return Response(leaderboard_body(read()))
    # The same bytes for every caller until the board changes (rankings.pagecache).
    body = pages.get_or_make(key, index_version(board), lambda: JSONRenderer().render(leaderboard_body(read())))
    return HttpResponse(body, content_type="application/json")


def _player(request: Request, board_for: Callable[[str, datetime], Board], user_id: uuid.UUID) -> Response:
    query = _query(PlayerQuerySerializer, request)
    board = board_for(query["period"], query.get("at") or timezone.now())
    standing = selectors.board_player(board=board, user_id=user_id, hidden_viewer=hidden_viewer(request.user))
    if standing is None:
        raise NotFound("This player has no value on this board.")
    return Response(PlayerStandingSerializer(standing).data)


class GlobalLeaderboardApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[LeaderboardQuerySerializer], responses={200: LeaderboardSerializer}, tags=["leaderboard"]
    )
    def get(self, request: Request) -> Response:
        return _leaderboard(request, global_board_at)


class GameLeaderboardApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[LeaderboardQuerySerializer], responses={200: LeaderboardSerializer}, tags=["leaderboard"]
    )
    def get(self, request: Request, game_id: str) -> Response:
        game = _game(game_id)
        return _leaderboard(request, lambda period, at: game_board_at(game, period, at))


class GlobalPlayerApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[PlayerQuerySerializer], responses={200: PlayerStandingSerializer}, tags=["leaderboard"])
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        return _player(request, global_board_at, user_id)


class GamePlayerApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[PlayerQuerySerializer], responses={200: PlayerStandingSerializer}, tags=["leaderboard"])
    def get(self, request: Request, game_id: str, user_id: uuid.UUID) -> Response:
        game = _game(game_id)
        return _player(request, lambda period, at: game_board_at(game, period, at), user_id)
