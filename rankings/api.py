"""Leaderboard API: the global board and each game's board, by period, paged, around a player, friends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts.permissions import hidden_viewer, is_player
from games.models import Game
from games.selectors import game_get_cached

from . import selectors
from .boards import Board, game_board_at, global_board_at
from .engine.base import MAX_PAGE
from .index import index_version
from .pagecache import pages
from .periods import Period
from .selectors import BoardPage
from .serializers import (
    DEFAULT_LIMIT,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    PlayerQuerySerializer,
    PlayerStandingSerializer,
    ProfileSerializer,
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


def _page_read(board: Board, around: uuid.UUID | None, offset: int, limit: int, viewer: uuid.UUID | None):
    """The cache key of a top page or a page around a player, and how to read it."""
    if around is not None:
        key: tuple = ("around", board.key, around, limit)

        def read() -> BoardPage:
            return selectors.board_around(board=board, user_id=around, limit=limit, hidden_viewer=viewer)
    else:
        key = ("top", board.key, offset, limit)

        def read() -> BoardPage:
            return selectors.board_top(board=board, offset=offset, limit=limit, hidden_viewer=viewer)

    return key, read


def _page_bytes(board: Board, around: uuid.UUID | None, offset: int, limit: int, version: int | None) -> bytes:
    """The JSON of a public page: the same bytes for every caller until the board changes (rankings.pagecache)."""
    key, read = _page_read(board, around, offset, limit, None)
    return pages.get_or_make(key, version, lambda: JSONRenderer().render(leaderboard_body(read())))


def _leaderboard(request: Request, board_for: Callable[[str, datetime], Board]) -> HttpResponseBase:
    query = _query(LeaderboardQuerySerializer, request)
    board: Board = board_for(query["period"], query.get("at") or timezone.now())
    viewer = hidden_viewer(request.user)
    if "user_ids" in query:
        return Response(
            leaderboard_body(selectors.board_friends(board=board, user_ids=query["user_ids"], hidden_viewer=viewer))
        )
    around = query.get("around")
    if around == "me":
        if not is_player(request):
            raise NotAuthenticated("around=me needs a signed-in player.")
        around = request.user.pk
    if viewer is not None or request.accepted_renderer.format != "json":
        _, read = _page_read(board, around, query["offset"], query["limit"], viewer)
        return Response(leaderboard_body(read()))
    body = _page_bytes(board, around, query["offset"], query["limit"], index_version(board))
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


# --- the hot route (common.hotpath) ----------------------------------------------------------------

_PERIODS = frozenset(Period.values)
_HOT_QUERY = frozenset({"period", "offset", "limit", "around"})
_JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})


def _plain_int(text: str, low: int, high: int) -> int | None:
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    value = int(text)
    return value if low <= value <= high else None


def leaderboard_hot(request: HttpRequest, game_id: str | None = None) -> HttpResponse | None:
    """A public top page or page around a player, kept as bytes: the plain form of the board read, for anybody
    not signed in. Anything else (credentials, a session, another format, a past period, friends, a query
    out of bounds) is None: the full route answers it."""
    if "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None  # the viewer may be shadow-banned, or the credentials bad (401): the full route knows
    if request.META.get("HTTP_ACCEPT", "") not in _JSON_ACCEPTS:
        return None
    query = request.GET
    if not _HOT_QUERY.issuperset(query) or any(len(values) > 1 for _, values in query.lists()):
        return None
    period = query.get("period", Period.ALL)
    limit = _plain_int(query.get("limit", str(DEFAULT_LIMIT)), 1, MAX_PAGE)
    offset = _plain_int(query.get("offset", "0"), 0, 10**9)
    if period not in _PERIODS or limit is None or offset is None:
        return None
    around = None
    if "around" in query:
        text = query["around"]
        if len(text) != 36:
            return None
        try:
            around = uuid.UUID(text)
        except ValueError:
            return None
    if game_id is None:
        board = global_board_at(period, timezone.now())
    else:
        game = game_get_cached(id_or_slug=game_id)
        if game is None:
            return None
        board = game_board_at(game, period, timezone.now())
    version = index_version(board)
    if version is None:  # read from the table: the full route
        return None
    response = HttpResponse(_page_bytes(board, around, offset, limit, version), content_type="application/json")
    response["Vary"] = "Accept, Cookie"
    response["Allow"] = "GET, HEAD, OPTIONS"
    return response


class UserDetailApi(APIView):
    """A public profile, `GET /users/{id}`: served here, not by accounts, as it reads the player's standings."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: ProfileSerializer}, tags=["users"])
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        user = account_selectors.user_get_public(user_id=user_id)
        if user is None:
            raise NotFound("No such user.")
        user.credits = account_selectors.credit_balance(user_id=user.pk)
        user.games = [
            {"game": game, "standing": standing}
            for game, standing in selectors.player_game_standings(user_id=user.pk, at=timezone.now())
        ]
        return Response(ProfileSerializer(user).data)
