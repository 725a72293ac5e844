"""Celery task for stress tests (without a broker a daemon thread of the server runs them instead)."""

from celery import shared_task

from ..services import stress


# acks_late off: a redelivered run would find its row already claimed and do nothing, and a run cut short by a
# dead worker is ended by the liveness check, so there is nothing to gain from redelivery.
@shared_task(ignore_result=True, acks_late=False)
def stress_test_run_task(stress_test_id: int) -> None:
    """Run a pending stress test to its end (its duration, ten minutes at most, plus locust's start and stop)."""
    stress.stress_test_run(stress_test_id=stress_test_id)
