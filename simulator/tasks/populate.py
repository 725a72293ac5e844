"""Celery task for demo data started from the demo controls (in embedded mode a thread of the server runs it)."""

from celery import shared_task

from ..services import populations


# acks_late off: a redelivered run would find its row already claimed and do nothing, and a run cut short by a
# dead worker is ended by the liveness check, so there is nothing to gain from redelivery.
@shared_task(ignore_result=True, acks_late=False)
def population_run_task(population_id: int) -> None:
    """Create the demo data of a pending run (about ten seconds with the defaults)."""
    populations.population_run(population_id=population_id)
