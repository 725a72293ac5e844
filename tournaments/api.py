"""Tournament API: anyone reads; signed-in players create, join and leave; organizers and staff cancel."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import IsPlayer, is_player
from common.pagination import OffsetPagination, parse_bounded_int
from common.schema import ErrorSerializer
from common.serializers import timestamp
from games.selectors import game_get
from rankings.engine.base import MAX_PAGE

from . import selectors, services
from .models import Tournament
from .serializers import (
    ParticipantSerializer,
    StandingsSerializer,
    TournamentCreateSerializer,
    TournamentDetailSerializer,
    TournamentListQuerySerializer,
    TournamentRegisterSerializer,
    TournamentSerializer,
)

STANDINGS_PAGE = 50
MAX_STANDINGS_OFFSET = 10**9
JOIN_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="Already registered (`already_joined`), no free seat (`tournament_full`), registration is over "
    "(`registration_closed`), or a league's cohort, whose players the league places (`placed_only`).",
)
LEAVE_CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Not registered (`not_joined`), or the tournament has started (`tournament_started`)."
)
CANCEL_CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Only a scheduled or running tournament can be cancelled (`invalid_transition`)."
)


class IsPlayerOrReadOnly(BasePermission):
    message = "This needs a signed-in user."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or is_player(request)


def _around(request: Request) -> uuid.UUID | None:
    """``?around=``: a player's id, or ``me`` for the signed-in player."""
    raw = request.query_params.get("around")
    if raw in (None, ""):
        return None
    if raw == "me":
        if not is_player(request):
            raise NotAuthenticated("around=me needs a signed-in player.")
        return request.user.pk
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationError({"around": ["Must be a player's id or me."]}) from None


def _tournament(tournament_id: int) -> Tournament:
    tournament = selectors.tournament_get(tournament_id=tournament_id)
    if tournament is None:
        raise NotFound("No such tournament.")
    return tournament


def _detail(request: Request, tournament: Tournament) -> dict:
    user = request.user if is_player(request) else None
    joined = selectors.tournament_is_participant(tournament=tournament, user=user)
    can_join = user is not None and selectors.tournament_can_join(tournament=tournament, joined=joined)
    return TournamentDetailSerializer(tournament, context={"joined": joined, "can_join": can_join}).data


class CreateThrottle(ScopedRateThrottle):
    """``THROTTLE_TOURNAMENT_CREATE`` tournaments per player; staff are not limited."""

    scope_attr = "create_throttle_scope"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST" or (is_player(request) and request.user.is_staff):
            return True
        return super().allow_request(request, view)

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # read per request: a changed setting applies


class TournamentListApi(GenericAPIView):
    permission_classes = [IsPlayerOrReadOnly]
    pagination_class = OffsetPagination
    serializer_class = TournamentSerializer
    throttle_classes = [CreateThrottle]
    create_throttle_scope = "tournament_create"
    blank_query_parameters = ("status", "game_id")

    def get_queryset(self) -> QuerySet[Tournament]:
        # An empty filter (?game_id=) means no filter.
        params = {key: value for key, value in self.request.query_params.dict().items() if value != ""}
        query = TournamentListQuerySerializer(data=params)
        query.is_valid(raise_exception=True)
        return selectors.tournament_list(**query.validated_data)

    @extend_schema(parameters=[TournamentListQuerySerializer], responses={200: TournamentSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TournamentSerializer(page, many=True).data)

    @extend_schema(
        request=TournamentCreateSerializer,
        responses={
            201: TournamentDetailSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="A player pays the prize pool from their credit balance, which is smaller "
                "(`insufficient_credits`); staff pools are funded by the house.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        """Create a tournament; the caller organizes it. A player's prize pool comes out of their credits."""
        serializer = TournamentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        game = game_get(id_or_slug=data.pop("game_id"))
        if game is None:
            raise NotFound("No such game.")
        tournament = services.tournament_create(organizer=request.user, game=game, **data)
        return Response(_detail(request, tournament), status=status.HTTP_201_CREATED)


class TournamentDetailApi(APIView):
    permission_classes = [IsPlayerOrReadOnly]

    @extend_schema(responses={200: TournamentDetailSerializer})
    def get(self, request: Request, tournament_id: int) -> Response:
        return Response(_detail(request, _tournament(tournament_id)))


def _join(request: Request, tournament: Tournament, player: User) -> Response:
    services.tournament_join(tournament=tournament, user=player)
    tournament.refresh_from_db()
    return Response(_detail(request, tournament), status=status.HTTP_201_CREATED)


class TournamentRegisterApi(APIView):
    """``{tournament_id, user_id}``: register a player; a player registers only themself (staff: anyone)."""

    permission_classes = [IsPlayer]

    @extend_schema(
        request=TournamentRegisterSerializer, responses={201: TournamentDetailSerializer, 409: JOIN_CONFLICT}
    )
    def post(self, request: Request) -> Response:
        serializer = TournamentRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_id = serializer.validated_data.get("user_id", request.user.pk)
        player = request.user
        if user_id != request.user.pk:
            if not request.user.is_staff:
                raise PermissionDenied("You may register only yourself.")
            player = User.objects.filter(pk=user_id, is_active=True).first()
            if player is None:
                raise NotFound("No such active user.")
        return _join(request, _tournament(serializer.validated_data["tournament_id"]), player)


class TournamentJoinApi(APIView):
    permission_classes = [IsPlayer]

    @extend_schema(request=None, responses={201: TournamentDetailSerializer, 409: JOIN_CONFLICT})
    def post(self, request: Request, tournament_id: int) -> Response:
        return _join(request, _tournament(tournament_id), request.user)


class TournamentLeaveApi(APIView):
    permission_classes = [IsPlayer]

    @extend_schema(responses={204: None, 409: LEAVE_CONFLICT})
    def delete(self, request: Request, tournament_id: int) -> Response:
        services.tournament_leave(tournament=_tournament(tournament_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TournamentCancelApi(APIView):
    permission_classes = [IsPlayer]

    @extend_schema(request=None, responses={200: TournamentDetailSerializer, 409: CANCEL_CONFLICT})
    def post(self, request: Request, tournament_id: int) -> Response:
        tournament = services.tournament_cancel(tournament=_tournament(tournament_id), actor=request.user)
        return Response(_detail(request, tournament))


class TournamentParticipantsApi(GenericAPIView):
    pagination_class = OffsetPagination
    serializer_class = ParticipantSerializer

    @extend_schema(responses={200: ParticipantSerializer(many=True)})
    def get(self, request: Request, tournament_id: int) -> Response:
        participants = selectors.tournament_participants(tournament=_tournament(tournament_id))
        page = self.paginate_queryset(participants)
        return self.get_paginated_response(ParticipantSerializer(page, many=True).data)


class TournamentStandingsApi(APIView):
    """Ranks, players, values and attempts: live while the tournament runs, frozen (with prizes) once finished."""

    blank_query_parameters = ("offset", "limit", "around")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "offset",
                {"type": "integer", "minimum": 0, "maximum": MAX_STANDINGS_OFFSET},
                description="Ranks to skip.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                description=f"Entries per page, 1 to {MAX_PAGE} (default {STANDINGS_PAGE}).",
            ),
            OpenApiParameter(
                "around",
                {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "enum": ["me"]}]},
                description="A player's id, or `me` (signed in): `limit` rows with them in the middle, instead of "
                "the page at `offset`; no rows when they have no place.",
            ),
        ],
        responses={200: StandingsSerializer},
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        tournament = _tournament(tournament_id)
        offset = parse_bounded_int(request, "offset", default=0, minimum=0, maximum=MAX_STANDINGS_OFFSET)
        limit = parse_bounded_int(request, "limit", default=STANDINGS_PAGE, minimum=1, maximum=MAX_PAGE)
        around = _around(request)
        standings = selectors.tournament_standings(tournament=tournament, offset=offset, limit=limit, around=around)
        return Response(
            {
                "tournament_id": tournament.pk,
                "status": tournament.status,
                "frozen": standings.frozen,
                "size": standings.size,
                "entries": [
                    {
                        "rank": row.rank,
                        "user_id": str(row.user_id),
                        "username": row.username,
                        "display_name": row.display_name,
                        "value": row.value,
                        "tiebreak": row.tiebreak,
                        "reached_at": timestamp(row.reached_at),
                        "attempts_used": row.attempts_used,
                        "prize": row.prize,
                    }
                    for row in standings.rows
                ],
            }
        )
