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


@pytest.fixture(params=["statements", "staged"])
def write_path(request, monkeypatch):
    """Run a test twice: standings merged as small sets are (one statement), and every set merged as large
    ones are (binary COPY into a staging table; PostgreSQL only, SQLite has one path)."""
    if request.param == "staged":
        from common import bulk

        monkeypatch.setattr(bulk, "STAGED_MIN_ROWS", 1)
    return request.param
