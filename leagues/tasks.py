from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def leagues_tick() -> int:
    """Periodic: settle the cohorts whose period is over (promotions, relegations; rewards through their
    tournaments). Returns how many were settled."""
    return services.leagues_tick()
