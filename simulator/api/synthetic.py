"""What load runs wrote (staff only): ``GET /simulator/synthetic`` counts it, ``DELETE`` removes all of it."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.schema import ErrorSerializer

from ..services.clear import synthetic_delete
from ..services.synthetic import synthetic_summary
from .runs import IsStaff


class SyntheticSummarySerializer(serializers.Serializer):
    players = serializers.IntegerField(help_text="synthetic players (made by the simulator, stress tests, locust)")
    games = serializers.IntegerField(help_text="synthetic games, which only synthetic players play")
    scores = serializers.IntegerField()
    tournaments = serializers.IntegerField(help_text="tournaments of synthetic games or organizers")


class SyntheticRemovedSerializer(serializers.Serializer):
    removed = SyntheticSummarySerializer()


class SyntheticApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses={200: SyntheticSummarySerializer}, tags=["simulator"])
    def get(self, request: Request) -> Response:
        """What load runs wrote and a clean-up would remove."""
        return Response(SyntheticSummarySerializer(asdict(synthetic_summary())).data)

    @extend_schema(
        responses={
            200: SyntheticRemovedSerializer,
            409: OpenApiResponse(ErrorSerializer, description="A simulation or stress test runs (`load_running`)."),
        },
        tags=["simulator"],
    )
    def delete(self, request: Request) -> Response:
        """Remove every synthetic player and game with their scores, standings and tournaments (run reports stay)."""
        removed = synthetic_delete()
        return Response(SyntheticRemovedSerializer({"removed": asdict(removed)}).data)


urlpatterns = [path("simulator/synthetic", SyntheticApi.as_view(), name="synthetic-data")]
