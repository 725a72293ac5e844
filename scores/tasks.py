from celery import shared_task

from . import sessions
from .services import review


@shared_task(ignore_result=True)
def sessions_prune() -> int:
    """Periodic: delete the match sessions that expired a day ago or more, used or not."""
    return sessions.sessions_prune()


@shared_task(ignore_result=True)
def review_scan() -> int:
    """Periodic: flag the suspicious scores stored since the last scan. Returns how many were flagged."""
    return len(review.review_scan())
