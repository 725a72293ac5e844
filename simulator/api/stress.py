"""Stress tests (staff only): start one, follow it, list past runs, stop one early.

``POST /simulator/stress-tests`` answers 202 at once; locust runs in a Celery
worker (or a daemon thread of the server in embedded mode) against this
server's own URL (``STRESS_TARGET_URL`` overrides it) and streams its figures
on the ``stress`` WebSocket channel. The serializers live here: they serve
only these views.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.schema import ErrorSerializer
from common.serializers import StrictSerializer

from ..models import RunStatus, StressTest
from ..services import stress as services
from .runs import RunDetailApi, RunListApi

TAGS = ["simulator"]


class StressTestCreateSerializer(StrictSerializer):
    concurrent_users = serializers.IntegerField(
        min_value=services.MIN_USERS, max_value=services.MAX_USERS, help_text="simulated users (players, spectators)"
    )
    actions_per_second = serializers.IntegerField(
        min_value=services.MIN_ACTIONS, max_value=services.MAX_ACTIONS, help_text="requests per second, all players"
    )
    duration = serializers.IntegerField(
        min_value=services.MIN_DURATION, max_value=services.MAX_DURATION, help_text="seconds"
    )


# Inline in the schema: simulations share these choices, and one enum component used by two serializers
# would need a name in the shared ENUM_NAME_OVERRIDES (drf-spectacular warns about the collision otherwise).
@extend_schema_field({"type": "string", "enum": list(RunStatus.values)})
class RunStatusField(serializers.ChoiceField):
    pass


class StressTestSerializer(serializers.ModelSerializer):
    status = RunStatusField(choices=RunStatus.choices, read_only=True)
    report = serializers.JSONField(
        read_only=True,
        help_text="While running: `live` (users, requests, failures, rps, p50_ms, p95_ms, elapsed) and "
        "`updated_at`. Once over: totals (requests, failures, rps, avg_ms, p50_ms, p95_ms, p99_ms, max_ms), "
        "`endpoints` (the same per request name), `errors`, `partial` (stopped early) and `plan` "
        "(players, spectators, throughput per player).",
    )

    class Meta:
        model = StressTest
        fields = [
            "id",
            "status",
            "concurrent_users",
            "actions_per_second",
            "duration",
            "target",
            "report",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


CONFLICT = OpenApiResponse(ErrorSerializer, description="Another stress test is running (`stress_test_running`).")


class _StressTests:
    model = StressTest
    serializer_class = StressTestSerializer
    lookup_url_kwarg = "stress_test_id"
    not_found = "No such stress test."
    reap = staticmethod(services.stress_tests_reap)
    stop = staticmethod(lambda run: services.stress_test_stop(stress_test=run))


@extend_schema_view(get=extend_schema(responses={200: StressTestSerializer(many=True)}, tags=TAGS))
class StressTestListApi(_StressTests, RunListApi):
    @extend_schema(
        request=StressTestCreateSerializer,
        responses={202: StressTestSerializer, 409: CONFLICT},
        tags=TAGS,
        description="Start a stress test: locust runs `locustfile.py` headless against this server; live figures "
        "go out as `stress.progress` on the `stress` WebSocket channel. One at a time.",
    )
    def post(self, request: Request) -> Response:
        serializer = StressTestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.accepted(
            services.stress_test_start(
                started_by=request.user,
                target=services.stress_target(own_url=request.build_absolute_uri("/")),
                **serializer.validated_data,
            )
        )


@extend_schema_view(
    get=extend_schema(responses={200: StressTestSerializer}, tags=TAGS),
    delete=extend_schema(
        responses={
            200: OpenApiResponse(
                StressTestSerializer, description="Stopped (locust terminated, partial report kept), or already over."
            ),
            202: OpenApiResponse(StressTestSerializer, description="Stop asked; the run ends `stopped` shortly."),
        },
        tags=TAGS,
    ),
)
class StressTestDetailApi(_StressTests, RunDetailApi):
    pass


urlpatterns = [
    path("simulator/stress-tests", StressTestListApi.as_view(), name="stress-test-list"),
    path("simulator/stress-tests/<int:stress_test_id>", StressTestDetailApi.as_view(), name="stress-test-detail"),
]
