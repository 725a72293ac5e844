from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from tournaments import services


@pytest.fixture(autouse=True)
def _index(ranking_index):
    """Boards are read from the configured engine: the SQL table embedded, Redis in the production pass."""
    return ranking_index


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """Tasks run in the test's process (as embedded), whether or not a broker is configured;
    test_celery.py runs them through a real broker and worker."""


@pytest.fixture
def game(db):
    return GameFactory(slug="arena", sort_order="desc", score_operator="best")


@pytest.fixture
def organizer(db):
    # Staff: the house funds their prize pools, so the ledger holds prizes only (players fund their own:
    # test_prize_pools.py).
    return UserFactory(username="organizer", is_staff=True)


@pytest.fixture
def make_tournament(game, organizer):
    """A tournament through the service; ``running=True`` creates it already started (start a second ago)."""

    def make(*, running: bool = False, **fields):
        now = timezone.now()
        fields.setdefault("name", "Weekend Cup")
        fields.setdefault("game", game)
        fields.setdefault("organizer", organizer)
        fields.setdefault("start_time", now - timedelta(seconds=1) if running else now + timedelta(hours=1))
        fields.setdefault("end_time", fields["start_time"] + timedelta(hours=2))
        tournament = services.tournament_create(**fields)
        if running:
            tournament = services.tournament_start(tournament=tournament)
        return tournament

    return make


@pytest.fixture
def players(db):
    return UserFactory.create_batch(5)
