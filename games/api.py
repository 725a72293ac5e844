"""Game catalogue API: anyone reads, staff write."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.pagination import OffsetPagination
from common.permissions import IsStaffOrReadOnly
from common.schema import ErrorSerializer

from . import selectors, services
from .models import Game
from .serializers import GameListQuerySerializer, GameSerializer, GameWriteSerializer

RULES_LOCKED = OpenApiResponse(
    ErrorSerializer, description="The game has scores: its ranking fields cannot change (`game_has_scores`)."
)
IN_USE = OpenApiResponse(
    ErrorSerializer, description="Records depend on the game; deactivate it instead (`game_in_use`)."
)


class GameListApi(GenericAPIView):
    permission_classes = [IsStaffOrReadOnly]
    pagination_class = OffsetPagination
    serializer_class = GameSerializer
    blank_query_parameters = ("is_active", "synthetic")

    def get_queryset(self) -> QuerySet[Game]:
        # Also called by the browsable API's renderer.
        query = GameListQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.game_list(**query.validated_data)

    @extend_schema(parameters=[GameListQuerySerializer], responses={200: GameSerializer(many=True)}, tags=["games"])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(GameSerializer(page, many=True).data)

    @extend_schema(request=GameWriteSerializer, responses={201: GameSerializer}, tags=["games"])
    def post(self, request: Request) -> Response:
        serializer = GameWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        game = services.game_create(**serializer.validated_data)
        return Response(GameSerializer(game).data, status=status.HTTP_201_CREATED)


class GameDetailApi(APIView):
    permission_classes = [IsStaffOrReadOnly]

    def _game(self, id_or_slug: str) -> Game:
        game = selectors.game_get(id_or_slug=id_or_slug)
        if game is None:
            raise NotFound("No such game.")
        return game

    @extend_schema(responses={200: GameSerializer}, tags=["games"])
    def get(self, request: Request, id_or_slug: str) -> Response:
        return Response(GameSerializer(self._game(id_or_slug)).data)

    @extend_schema(request=GameWriteSerializer, responses={200: GameSerializer, 409: RULES_LOCKED}, tags=["games"])
    def patch(self, request: Request, id_or_slug: str) -> Response:
        game = self._game(id_or_slug)
        serializer = GameWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        game = services.game_update(game=game, **serializer.validated_data)
        return Response(GameSerializer(game).data)

    @extend_schema(responses={204: None, 409: IN_USE}, tags=["games"])
    def delete(self, request: Request, id_or_slug: str) -> Response:
        services.game_delete(game=self._game(id_or_slug))
        return Response(status=status.HTTP_204_NO_CONTENT)
