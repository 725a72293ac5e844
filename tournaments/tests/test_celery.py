"""The lifecycle through a real Celery broker (Redis) and worker: the clock's task finishes, the payout task pays."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.tests.factories import UserFactory
from scores.services import score_submit
from tournaments import services
from tournaments.models import Status, Tournament
from tournaments.tasks import tournaments_tick

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def _tasks_in_process():
    """Not here: this module sends every task through the broker."""
    yield


@pytest.fixture
def worker():
    from leaderboard_project.celery import app

    assert not app.conf.task_always_eager
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


def test_the_clock_task_finishes_and_the_worker_pays_exactly_once(make_tournament, game, worker):
    cup = make_tournament(running=True, prize_pool=100)
    first, second = UserFactory.create_batch(2)
    for value, player in ((20, first), (10, second)):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=game, value=value)
    Tournament.objects.filter(pk=cup.pk).update(end_time=timezone.now())

    tournaments_tick.delay()
    tournaments_tick.delay()  # the clock firing twice changes nothing
    deadline = time.monotonic() + 30
    while Tournament.objects.get(pk=cup.pk).status != Status.PAID and time.monotonic() < deadline:
        time.sleep(0.1)

    cup.refresh_from_db()
    assert cup.status == Status.PAID
    paid = dict(CreditEntry.objects.filter(reference=f"tournament:{cup.pk}:prize").values_list("user_id", "amount"))
    assert paid == {first.pk: 50, second.pk: 30}
    assert cup.finished_at is not None and cup.finished_at - cup.end_time < timedelta(minutes=1)
