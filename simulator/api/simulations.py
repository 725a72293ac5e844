"""Background simulations (staff only): start one, follow its counters, list them, stop one.

``POST /simulator/simulations`` answers 202 at once; the run goes on in a
Celery worker (or a thread of the server in embedded mode). Its serializers
live here: they serve only these views.
"""

from __future__ import annotations

import math

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import is_player
from leaderboard_project.pagination import OffsetPagination
from leaderboard_project.schema import ErrorSerializer

from ..models import RunStatus, Simulation
from ..services import simulate as engine
from ..services import simulations as services


class IsStaff(BasePermission):
    message = "Only staff may run simulations."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_player(request) and request.user.is_staff


class SimulationCreateSerializer(serializers.Serializer):
    players = serializers.IntegerField(
        min_value=engine.MIN_PLAYERS, max_value=engine.MAX_PLAYERS, default=100, help_text="simulated players"
    )
    rate = serializers.FloatField(
        min_value=engine.MIN_RATE, max_value=engine.MAX_RATE, default=20.0, help_text="scores per second"
    )
    duration = serializers.IntegerField(
        min_value=engine.MIN_DURATION, max_value=engine.MAX_DURATION, default=60, help_text="seconds"
    )

    def validate_rate(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("Must be a finite number.")
        return value


class SimulationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Simulation
        fields = [
            "id",
            "status",
            "players",
            "rate",
            "duration",
            "scores_submitted",
            "tournaments_joined",
            "records",
            "errors",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


CONFLICT = OpenApiResponse(ErrorSerializer, description="Another simulation is running (`simulation_running`).")


def _simulation(simulation_id: int) -> Simulation:
    simulation = Simulation.objects.filter(pk=simulation_id).first()
    if simulation is None:
        raise NotFound("No such simulation.")
    return simulation


class SimulationListApi(GenericAPIView):
    permission_classes = [IsStaff]
    pagination_class = OffsetPagination
    serializer_class = SimulationSerializer

    def get_queryset(self) -> QuerySet[Simulation]:
        return Simulation.objects.all()

    @extend_schema(responses={200: SimulationSerializer(many=True)}, tags=["simulator"])
    def get(self, request: Request) -> Response:
        services.simulations_reap()  # a run whose server died shows as over, not running forever
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SimulationSerializer(page, many=True).data)

    @extend_schema(
        request=SimulationCreateSerializer,
        responses={202: SimulationSerializer, 409: CONFLICT},
        tags=["simulator"],
        description="Start a background simulation; one at a time. The rate must fit the per-player-per-game "
        "score limit (`rate_too_high` otherwise).",
    )
    def post(self, request: Request) -> Response:
        serializer = SimulationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        simulation = services.simulation_start(started_by=request.user, **serializer.validated_data)
        return Response(SimulationSerializer(simulation).data, status=status.HTTP_202_ACCEPTED)


class SimulationDetailApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses={200: SimulationSerializer}, tags=["simulator"])
    def get(self, request: Request, simulation_id: int) -> Response:
        services.simulations_reap()
        return Response(SimulationSerializer(_simulation(simulation_id)).data)

    @extend_schema(
        responses={
            202: OpenApiResponse(
                SimulationSerializer, description="Stop asked; the run ends `stopped` within a second."
            ),
            200: OpenApiResponse(SimulationSerializer, description="The run is over (or was stopped before it began)."),
        },
        tags=["simulator"],
    )
    def delete(self, request: Request, simulation_id: int) -> Response:
        simulation = services.simulation_stop(simulation=_simulation(simulation_id))
        code = status.HTTP_202_ACCEPTED if simulation.status == RunStatus.STOPPING else status.HTTP_200_OK
        return Response(SimulationSerializer(simulation).data, status=code)


urlpatterns = [
    path("simulator/simulations", SimulationListApi.as_view(), name="simulation-list"),
    path("simulator/simulations/<int:simulation_id>", SimulationDetailApi.as_view(), name="simulation-detail"),
]
