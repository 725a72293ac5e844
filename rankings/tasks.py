from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def rankings_heal() -> int:
    """Periodic: rebuild what the ranking index missed while it was unreachable or after it restarted empty."""
    return services.index_heal()


@shared_task(ignore_result=True)
def archive_prune() -> int:
    """Periodic: delete the boards of periods that ended longer ago than RANKING_ARCHIVE_DAYS."""
    return services.archive_prune()
