"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; checks nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    from leaderboard_project.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)


def _checks() -> dict:
    checks = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = _check_broker
    return checks


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency this configuration uses is reachable; 503 naming what is down."""
    results: dict[str, str] = {}
    for name, check in _checks().items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready", whatever its type
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"down: {type(exc).__name__}"
        else:
            results[name] = "ok"
    down = sorted(name for name, result in results.items() if result != "ok")
    if not down:
        # A degraded ranking index is not "down": reads fall back to the database.
        from rankings.index import index_status

        ranking = index_status()
        results["rankings"] = "ok" if ranking["status"] == "ok" else f"degraded: {ranking['reason']}"
        if ranking["status"] != "ok":
            return JsonResponse({"status": "degraded", "checks": results, "rankings": ranking})
    if down:
        return JsonResponse(
            {
                "status": "unavailable",
                "checks": results,
                "error": {"code": "dependency_down", "message": f"Not ready: {', '.join(down)} unreachable."},
            },
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results})


class ProbesMiddleware:
    """Answer the probes and the metrics scrape before Django's host check.

    Health checks, load balancers and Prometheus call each process by its address (``10.0.3.7:8000``), a
    host no ``ALLOWED_HOSTS`` of a public site lists. These views build no URL from the host, and
    ``/metrics`` keeps its own access rules, so the host they were called by does not matter.
    """

    def __init__(self, get_response):
        from . import metrics_view

        self.get_response = get_response
        self.views = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view.metrics}

    def __call__(self, request: HttpRequest):
        view = self.views.get(request.path_info)
        return view(request) if view is not None else self.get_response(request)
