"""Background simulations (staff only): start one, follow its counters, list them, stop one.

``POST /simulator/simulations`` answers 202 at once; the run goes on in a
Celery worker (or a thread of the server in embedded mode). Its serializers
live here: they serve only these views.
"""

from __future__ import annotations

import math

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.schema import ErrorSerializer

from ..models import Simulation
from ..services import simulate as engine
from ..services import simulations as services
from .runs import RunDetailApi, RunListApi


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
TAGS = ["simulator"]


class _Simulations:
    model = Simulation
    serializer_class = SimulationSerializer
    lookup_url_kwarg = "simulation_id"
    not_found = "No such simulation."
    reap = staticmethod(services.simulations_reap)
    stop = staticmethod(lambda run: services.simulation_stop(simulation=run))


@extend_schema_view(get=extend_schema(responses={200: SimulationSerializer(many=True)}, tags=TAGS))
class SimulationListApi(_Simulations, RunListApi):
    @extend_schema(
        request=SimulationCreateSerializer,
        responses={202: SimulationSerializer, 409: CONFLICT},
        tags=TAGS,
        description="Start a background simulation; one at a time. The rate must fit the per-player-per-game "
        "score limit (`rate_too_high` otherwise).",
    )
    def post(self, request: Request) -> Response:
        serializer = SimulationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.accepted(services.simulation_start(started_by=request.user, **serializer.validated_data))


@extend_schema_view(
    get=extend_schema(responses={200: SimulationSerializer}, tags=TAGS),
    delete=extend_schema(
        responses={
            202: OpenApiResponse(
                SimulationSerializer, description="Stop asked; the run ends `stopped` within a second."
            ),
            200: OpenApiResponse(SimulationSerializer, description="The run is over (or was stopped before it began)."),
        },
        tags=TAGS,
    ),
)
class SimulationDetailApi(_Simulations, RunDetailApi):
    pass


urlpatterns = [
    path("simulator/simulations", SimulationListApi.as_view(), name="simulation-list"),
    path("simulator/simulations/<int:simulation_id>", SimulationDetailApi.as_view(), name="simulation-detail"),
]
