import pytest

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from leagues.services import TierSpec, league_create


@pytest.fixture(autouse=True)
def _index(ranking_index):
    """Cohort boards are read from the configured engine: the SQL table embedded, Redis in the production pass."""
    return ranking_index


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """Payouts run in the test's process, whether or not a broker is configured."""


@pytest.fixture
def game(db):
    return GameFactory(slug="arena", name="Arena", sort_order="desc", score_operator="best")


@pytest.fixture
def house(db):
    return UserFactory(username="house", is_staff=True)


@pytest.fixture
def make_league(game, house):
    """A weekly league on ``game``: bronze, silver and gold; gold's cohorts share 100 credits."""

    def make(**fields):
        fields.setdefault("organizer", house)
        fields.setdefault("game", game)
        fields.setdefault("name", "Arena League")
        fields.setdefault("slug", "arena-league")
        fields.setdefault(
            "tiers", [TierSpec("Bronze"), TierSpec("Silver", reward_pool=60), TierSpec("Gold", reward_pool=100)]
        )
        return league_create(**fields)

    return make
