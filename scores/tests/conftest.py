import pytest

from accounts.services import api_key_create
from games.tests.factories import GameFactory


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


@pytest.fixture
def game(db):
    return GameFactory(slug="arena", sort_order="desc", score_operator="best")


@pytest.fixture
def server_key(game):
    """A game server's API key for ``game``: (ApiKey, raw key)."""
    return api_key_create(name="arena server", games=[game])
