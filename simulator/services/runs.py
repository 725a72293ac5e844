"""What simulations and stress tests share: running one in the background, wherever this deployment runs them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from django.utils.module_loading import import_string

from ..models import RunStatus

logger = logging.getLogger(__name__)

DEAD_MESSAGE = "The run stopped reporting (its worker or server went away)."


def run_in_background(*, model: type[Model], run_id: int, body: Callable[[int], object], task: str) -> None:
    """Run ``body(run_id)`` in a thread of this server (``SIMULATION_IN_PROCESS``: no broker, where an eager task
    would hold the request for the whole run), else queue the Celery ``task``. A run that cannot be queued
    (the broker is down) ends ``failed`` rather than staying pending."""
    if settings.SIMULATION_IN_PROCESS:
        name = f"podium-{model._meta.model_name}-{run_id}"
        threading.Thread(target=_in_thread, args=(body, run_id), name=name, daemon=True).start()
        return
    try:
        import_string(task).delay(run_id)
    except Exception as exc:  # noqa: BLE001  the broker is unreachable: the run must not stay pending
        logger.exception("could not queue %s %s", model._meta.verbose_name, run_id)
        model.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
            status=RunStatus.FAILED, active=None, finished_at=timezone.now(), error=f"Could not queue the run: {exc}"
        )


def _in_thread(body: Callable[[int], object], run_id: int) -> None:
    try:
        body(run_id)
    finally:
        connection.close()  # the thread's own connection; nobody else would close it


def reap_dead(*, model: type[Model], alive: Callable[[Model], bool], message: str) -> int:
    """End the active runs that stopped reporting: ``failed`` (``stopped`` when a stop was asked). Returns how many."""
    reaped = 0
    for run in model.objects.filter(active=True):
        if alive(run):
            continue
        final = RunStatus.STOPPED if run.status == RunStatus.STOPPING else RunStatus.FAILED
        reaped += model.objects.filter(pk=run.pk, active=True).update(
            status=final, active=None, finished_at=timezone.now(), error=message
        )
        logger.warning("%s %s stopped reporting; marked %s", model._meta.verbose_name, run.pk, final)
    return reaped
