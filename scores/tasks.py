from celery import shared_task

from . import sessions


@shared_task(ignore_result=True)
def sessions_prune() -> int:
    """Periodic: delete the match sessions that expired a day ago or more, used or not."""
    return sessions.sessions_prune()
