"""Celery tasks of the tournament lifecycle (beat runs the tick; in embedded mode a thread of the server does)."""

from celery import shared_task

from . import services
from .models import Tournament


@shared_task(ignore_result=True)
def tournaments_tick() -> dict[str, int]:
    """Periodic: create recurring instances, start, finish and pay the tournaments that are due."""
    return vars(services.tournaments_tick())


@shared_task(ignore_result=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=10)
def tournament_pay_task(tournament_id: int) -> int:
    """Pay a finished tournament's prizes. Idempotent: a repeat or a retry after a crash pays nobody twice."""
    tournament = Tournament.objects.filter(pk=tournament_id).first()
    if tournament is None:
        return 0
    try:
        return len(services.tournament_pay(tournament=tournament))
    except services.IllegalTransition:
        return 0  # cancelled, or not finished: nothing to pay


def tournament_pay_later(tournament_id: int) -> None:
    """Queue the payout of a finished tournament (the services call this after the finish commits)."""
    tournament_pay_task.delay(tournament_id)
