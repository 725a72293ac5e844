"""Board responses kept as bytes per board version (the Redis index), never shown once the board has changed."""

import pytest

from accounts.tests.factories import UserFactory
from rankings.boards import game_board_at
from rankings.engine.redis import RedisEngine
from rankings.index import index_version
from rankings.pagecache import pages
from rankings.periods import Period
from rankings.services import board_rebuild
from scores.services import score_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

BOARD = "/api/v1/leaderboard/game/arena"


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


@pytest.fixture
def players(game):
    users = [UserFactory(username=f"p{i}") for i in range(3)]
    for user, value in zip(users, [300, 200, 100], strict=True):
        score_submit(user=user, game=game, value=value)
    return users


def rows(response) -> list[tuple[str, int, int]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return [(entry["username"], entry["rank"], entry["value"]) for entry in response.json()["entries"]]


def test_every_change_to_a_board_gives_it_a_new_version_never_an_old_one(game, players):
    board = game_board_at(game, Period.ALL, players[0].created_at)
    first = index_version(board)

    score_submit(user=players[2], game=game, value=250)
    second = index_version(board)
    score_submit(user=players[2], game=game, value=50)  # no better: the board does not change
    third = index_version(board)
    board_rebuild(board=board)
    rebuilt = index_version(board)

    assert first is not None and second > first
    assert third == second
    assert rebuilt > second


def test_a_board_that_disappeared_starts_over_above_every_version_it_had(game, players, ranking_index):
    board = game_board_at(game, Period.ALL, players[0].created_at)
    before = index_version(board)
    assert isinstance(ranking_index, RedisEngine)
    ranking_index.client.delete(f"podium:rank:{{{board.key}}}:v")

    score_submit(user=players[1], game=game, value=999)

    assert index_version(board) > before


def test_a_top_page_is_served_from_the_cache_until_the_board_changes(api_client, game, players):
    first = api_client.get(BOARD, {"limit": 10})
    assert rows(first) == [("p0", 1, 300), ("p1", 2, 200), ("p2", 3, 100)]
    assert len(pages.entries) == 1
    assert api_client.get(BOARD, {"limit": 10}).content == first.content

    score_submit(user=players[2], game=game, value=400)

    assert rows(api_client.get(BOARD, {"limit": 10})) == [("p2", 1, 400), ("p0", 2, 300), ("p1", 3, 200)]


def test_a_page_around_a_player_follows_the_board(api_client, game, players):
    around = {"around": str(players[1].pk), "limit": 3}
    assert rows(api_client.get(BOARD, around)) == [("p0", 1, 300), ("p1", 2, 200), ("p2", 3, 100)]

    score_submit(user=players[2], game=game, value=250)

    assert rows(api_client.get(BOARD, around)) == [("p2", 2, 250), ("p1", 3, 200)]


def test_pages_of_other_offsets_limits_and_periods_are_kept_apart(api_client, players):
    assert rows(api_client.get(BOARD, {"limit": 1})) == [("p0", 1, 300)]
    assert rows(api_client.get(BOARD, {"limit": 1, "offset": 1})) == [("p1", 2, 200)]
    assert rows(api_client.get(BOARD, {"limit": 2})) == [("p0", 1, 300), ("p1", 2, 200)]
    assert rows(api_client.get(BOARD, {"limit": 1, "period": "daily"})) == [("p0", 1, 300)]
    assert len(pages.entries) == 4


def test_a_rename_is_shown_at_once_by_the_process_that_saved_it(api_client, players):
    assert rows(api_client.get(BOARD))[0][0] == "p0"
    players[0].username = "ace"
    players[0].save()

    assert rows(api_client.get(BOARD))[0][0] == "ace"


def test_nothing_is_kept_when_names_are_not_cached(api_client, players, settings):
    settings.PLAYER_NAME_CACHE_SECONDS = 0

    api_client.get(BOARD)

    assert pages.entries == {}


def test_the_browsable_api_still_renders_its_page(api_client, players):
    response = api_client.get(BOARD, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "p0" in response.content.decode()
