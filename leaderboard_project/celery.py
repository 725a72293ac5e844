"""The Celery application. Settings come from Django settings (``CELERY_*``).

Also here, since every worker and beat process loads this module first: the task outcome counter
(``podium_celery_tasks``) and tracing in the worker's pool processes and in beat (see ``tracing``).
"""

import os
from typing import Any

from celery import Celery, Task, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leaderboard_project.settings")

app = Celery("leaderboard_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _count(task: Task | None, outcome: str) -> None:
    # Imported here, not with this module: every import of the leaderboard_project package loads this module,
    # and prometheus_client must not start writing to PROMETHEUS_MULTIPROC_DIR in a process that only
    # prepares it (leaderboard_project.serve empties it before starting the servers).
    from common.metrics import CELERY_TASKS

    CELERY_TASKS.labels(getattr(task, "name", None) or "unknown", outcome).inc()


@signals.task_success.connect(weak=False, dispatch_uid="podium.metrics.task_success")
def _task_succeeded(sender: Task | None = None, **_signal: Any) -> None:
    _count(sender, "success")


@signals.task_failure.connect(weak=False, dispatch_uid="podium.metrics.task_failure")
def _task_failed(sender: Task | None = None, **_signal: Any) -> None:
    _count(sender, "failure")


@signals.task_retry.connect(weak=False, dispatch_uid="podium.metrics.task_retry")
def _task_retried(sender: Task | None = None, **_signal: Any) -> None:
    _count(sender, "retry")


@signals.worker_process_init.connect(weak=False, dispatch_uid="podium.tracing.worker_process_init")
@signals.beat_init.connect(weak=False, dispatch_uid="podium.tracing.beat_init")
def _configure_tracing(**_signal: Any) -> None:
    # Imported here: tracing reads Django settings, which this module must not load while Celery starts.
    from common.tracing import configure_celery_process

    configure_celery_process()


@signals.worker_init.connect(weak=False, dispatch_uid="podium.metrics.worker_http")
def _serve_worker_metrics(**_signal: Any) -> None:
    """``CELERY_METRICS_PORT``: the worker serves its processes' metrics itself, for a Prometheus that cannot
    read them through a web process (a container of its own). Same registry as ``/metrics``."""
    from django.conf import settings

    if not settings.CELERY_METRICS_PORT:
        return
    from prometheus_client import start_http_server

    from .metrics_view import metrics_registry

    start_http_server(settings.CELERY_METRICS_PORT, addr=settings.CELERY_METRICS_ADDR, registry=metrics_registry())
