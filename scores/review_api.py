"""The review queue's API (staff): list the flagged scores, read one, resolve it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import is_player
from common.schema import ErrorSerializer
from games.selectors import game_get

from . import selectors, services
from .models import ScoreFlag
from .serializers import FlagQuerySerializer, FlagResolvedSerializer, FlagResolveSerializer, ScoreFlagSerializer

NO_FLAG = OpenApiResponse(ErrorSerializer, description="No such flag.")
FLAG_RESOLVED = OpenApiResponse(ErrorSerializer, description="The flag is resolved already (`flag_resolved`).")


def _flag(flag_id: int) -> ScoreFlag:
    flag = selectors.flags_list().filter(pk=flag_id).first()
    if flag is None:
        raise NotFound("No such flag.")
    return flag


class FlagListApi(GenericAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = ScoreFlagSerializer

    @extend_schema(
        parameters=[FlagQuerySerializer], responses={200: ScoreFlagSerializer(many=True)}, tags=["moderation"]
    )
    def get(self, request: Request) -> Response:
        """Staff: the review queue, newest first: scores flagged as outliers, too fast or too frequent."""
        query = FlagQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        status = query.validated_data["status"]
        game = None
        if "game" in query.validated_data:
            game = game_get(id_or_slug=query.validated_data["game"])
            if game is None:
                raise ValidationError({"game": ["No such game."]})
        flags = selectors.flags_list(
            status=None if status == "all" else status,
            game=game,
            reason=query.validated_data.get("reason"),
            user_id=query.validated_data.get("user_id"),
        )
        page = self.paginate_queryset(flags)
        return self.get_paginated_response(ScoreFlagSerializer(page, many=True).data)


class FlagDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: ScoreFlagSerializer, 404: NO_FLAG}, tags=["moderation"])
    def get(self, request: Request, flag_id: int) -> Response:
        """Staff: one flag of the review queue, open or resolved."""
        return Response(ScoreFlagSerializer(_flag(flag_id)).data)


class FlagResolveApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=FlagResolveSerializer,
        responses={200: FlagResolvedSerializer, 404: NO_FLAG, 409: FLAG_RESOLVED},
        tags=["moderation"],
    )
    def post(self, request: Request, flag_id: int) -> Response:
        """Staff: resolve a flag. ``dismiss``: the score stands. ``void``: the score is voided and its boards
        recomputed. ``ban``: the player is shadow-banned, and every open flag of theirs is resolved with this one.
        Each resolution keeps who, when and why."""
        if not is_player(request):
            raise PermissionDenied()  # a staff member signed in, not a game server's key
        body = FlagResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resolved = services.flag_resolve(
            flag=_flag(flag_id),
            actor=request.user,
            action=body.validated_data["action"],
            reason=body.validated_data["reason"],
        )
        flag = _flag(flag_id)
        return Response({"flag": ScoreFlagSerializer(flag).data, "resolved": [each.pk for each in resolved]})
