from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def rankings_heal() -> int:
    """Periodic: rebuild what the ranking index missed while it was unreachable or after it restarted empty."""
    return services.index_heal()
