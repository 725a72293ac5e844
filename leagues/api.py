"""League API: anyone reads leagues and their cohorts; a player reads where they stand; staff create leagues.

A cohort's board is its tournament's: ``GET /tournaments/{tournament_id}/standings`` (paged, ``around``), live on
``tournament.{tournament_id}``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPlayer, is_player
from common.schema import ErrorSerializer
from games.selectors import game_get

from . import selectors, services
from .models import League
from .serializers import (
    CohortQuerySerializer,
    CohortSerializer,
    LeagueCreateSerializer,
    LeagueDetailSerializer,
    LeagueSerializer,
    LeagueStandingSerializer,
)

NO_LEAGUE = OpenApiResponse(ErrorSerializer, description="No such league.")


class IsStaffOrReadOnly(BasePermission):
    message = "Only staff create leagues."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)


def _league(id_or_slug: str) -> League:
    league = selectors.league_get(id_or_slug=id_or_slug)
    if league is None:
        raise NotFound("No such league.")
    return league


def _fields(league: League) -> dict:
    window = selectors.league_window(league=league)
    data = LeagueSerializer(league).data
    return {**data, "current_period": {"key": window.key, "start": window.start, "end": window.end}}


class LeagueListApi(GenericAPIView):
    permission_classes = [IsStaffOrReadOnly]
    serializer_class = LeagueSerializer

    @extend_schema(responses={200: LeagueSerializer(many=True)}, tags=["leagues"])
    def get(self, request: Request) -> Response:
        """The active leagues, with their tiers from the lowest up."""
        page = self.paginate_queryset(selectors.league_list())
        return self.get_paginated_response(LeagueSerializer(page, many=True).data)

    @extend_schema(request=LeagueCreateSerializer, responses={201: LeagueDetailSerializer}, tags=["leagues"])
    def post(self, request: Request) -> Response:
        """Staff: create a league on a game. Players are placed in a cohort of their tier (new players: the
        lowest) with their first score of each period; at its end the top ``promote`` of each cohort go up a
        tier and the bottom ``relegate`` down, and each cohort's ``reward_pool`` is paid to its best."""
        if not is_player(request):
            raise PermissionDenied()
        body = LeagueCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        game = game_get(id_or_slug=data["game_id"])
        if game is None:
            raise services.LeagueInvalid("No such game.", fields={"game_id": ["No such game."]})
        league = services.league_create(
            organizer=request.user,
            game=game,
            name=data["name"],
            slug=data["slug"],
            period=data["period"],
            cohort_size=data["cohort_size"],
            promote=data["promote"],
            relegate=data["relegate"],
            tiers=[
                services.TierSpec(tier["name"], tier["reward_pool"], tier.get("reward_split") or ())
                for tier in data["tiers"]
            ],
        )
        return Response(_fields(selectors.league_get(id_or_slug=str(league.pk))), status=status.HTTP_201_CREATED)


class LeagueDetailApi(APIView):
    @extend_schema(responses={200: LeagueDetailSerializer, 404: NO_LEAGUE}, tags=["leagues"])
    def get(self, request: Request, league: str) -> Response:
        """A league, its tiers and its current period."""
        return Response(_fields(_league(league)))


class LeagueCohortsApi(GenericAPIView):
    serializer_class = CohortSerializer

    @extend_schema(
        parameters=[CohortQuerySerializer],
        responses={200: CohortSerializer(many=True), 404: NO_LEAGUE},
        tags=["leagues"],
    )
    def get(self, request: Request, league: str) -> Response:
        """A period's cohorts, highest tier first (default: the current period; past ones are kept, settled). Each
        names the tournament that is its board."""
        league = _league(league)
        query = CohortQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        period = query.validated_data.get("period") or selectors.league_window(league=league).key
        cohorts = selectors.league_cohorts(
            league=league, period_key=period, tier_level=query.validated_data.get("tier")
        )
        page = self.paginate_queryset(cohorts)
        return self.get_paginated_response(CohortSerializer(page, many=True).data)


class LeagueMeApi(APIView):
    permission_classes = [IsPlayer]

    @extend_schema(responses={200: LeagueStandingSerializer, 404: NO_LEAGUE}, tags=["leagues"])
    def get(self, request: Request, league: str) -> Response:
        """The signed-in player in a league: the tier they play in next, their cohort this period (null until
        their first score of it), and their last periods with how each ended."""
        league = _league(league)
        return Response(
            LeagueStandingSerializer(selectors.league_standing(league=league, user_id=request.user.pk)).data
        )
