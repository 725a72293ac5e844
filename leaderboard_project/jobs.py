"""Periodic jobs without Celery: in the embedded demo a thread of the server process runs the beat schedule.

With a broker configured, Celery beat and workers run ``CELERY_BEAT_SCHEDULE``
instead and this thread never starts. The thread starts with the first request
(``JOBS_IN_PROCESS``), so management commands and imports start nothing.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_started = False


def start_in_process_beat(**_signal: object) -> None:
    """Start the beat thread once per process, when jobs run in-process."""
    global _started
    if not settings.JOBS_IN_PROCESS:
        return
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_run, name="podium-beat", daemon=True).start()
    logger.info("background jobs run in this process: %s", ", ".join(settings.CELERY_BEAT_SCHEDULE))


def run_due(last_run: dict[str, float], now: float) -> list[str]:
    """Run each scheduled task whose interval has passed since ``last_run``; returns the names run."""
    ran = []
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        if now - last_run.get(name, float("-inf")) < float(entry["schedule"]):
            continue
        last_run[name] = now
        ran.append(name)
        try:
            import_string(entry["task"]).apply(throw=True)
        except Exception:  # noqa: BLE001  a failing job is logged and tried again at its next time
            logger.exception("background job %s failed", name)
        finally:
            close_old_connections()
    return ran


def _run() -> None:
    last_run: dict[str, float] = {}
    while True:
        run_due(last_run, time.monotonic())
        time.sleep(1.0)
