"""Celery tasks for background simulations (in embedded mode a thread of the server runs them instead)."""

from celery import shared_task

from ..services import simulations


# acks_late off: a redelivered run would find its row already claimed and do nothing, and a run cut short by a
# dead worker is ended by the liveness check, so there is nothing to gain from redelivery.
@shared_task(ignore_result=True, acks_late=False)
def simulation_run_task(simulation_id: int) -> None:
    """Run a pending simulation to its end (up to its duration, about an hour at most)."""
    simulations.simulation_run(simulation_id=simulation_id)
