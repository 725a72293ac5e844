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


@pytest.fixture(params=["statements", "copy"])
def write_path(request, monkeypatch):
    """Run a test twice: large sets written as plain statements, and every set written as large ones are
    (binary COPY, staged merges; PostgreSQL only, SQLite has one path)."""
    if request.param == "copy":
        from leaderboard_project import bulk

        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
        monkeypatch.setattr(bulk, "STAGED_MIN_ROWS", 1)
    return request.param
