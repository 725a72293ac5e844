"""The leaderboard API over real commits (the ranking index is written as in production)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from rankings.services import ScoreInput, StandingsWrites, standings_record_scores
from scores.services import score_submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


@pytest.fixture
def players(game):
    """Five players on the arena board: 500, 400, 400, 300, 100."""
    users = [UserFactory(username=f"p{i}") for i in range(5)]
    for user, value in zip(users, [500, 400, 400, 300, 100], strict=True):
        score_submit(user=user, game=game, value=value)
    return users


def board(api_client, path="/api/v1/leaderboard/game/arena", **params):
    response = api_client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_top_of_a_game_board_with_competition_ranks(api_client, players):
    body = board(api_client)

    assert [(e["rank"], e["username"], e["value"]) for e in body["entries"]] == [
        (1, "p0", 500),
        (2, "p1", 400),
        (2, "p2", 400),
        (4, "p3", 300),
        (5, "p4", 100),
    ]
    assert body["size"] == 5
    assert body["board"]["period"] == "all" and body["board"]["sort_order"] == "desc"
    assert body["board"]["period_start"] is None
    entry = body["entries"][0]
    assert set(entry) == {"rank", "user_id", "username", "display_name", "value", "tiebreak", "reached_at"}


def test_offset_and_limit_page_the_board(api_client, players):
    body = board(api_client, offset=2, limit=2)

    assert [(e["rank"], e["value"]) for e in body["entries"]] == [(2, 400), (4, 300)]


def test_around_a_player(api_client, players):
    body = board(api_client, around=str(players[3].pk), limit=3)

    assert [e["username"] for e in body["entries"]] == ["p2", "p3", "p4"]


def test_around_me_needs_a_signed_in_player(api_client, client_for, players):
    assert api_client.get("/api/v1/leaderboard/game/arena", {"around": "me"}).status_code == 401

    body = client_for(players[0]).get("/api/v1/leaderboard/game/arena", {"around": "me", "limit": 2}).json()

    assert [e["username"] for e in body["entries"]] == ["p0", "p1"]


def test_a_friends_board_keeps_full_board_ranks(api_client, players):
    ids = ",".join(str(players[i].pk) for i in (4, 2))

    body = board(api_client, user_ids=ids)

    assert [(e["rank"], e["username"]) for e in body["entries"]] == [(2, "p2"), (5, "p4")]


def test_the_global_board_sums_games_that_count(api_client, players, game):
    other = GameFactory(slug="race")
    practice = GameFactory(slug="practice", counts_toward_global=False)
    score_submit(user=players[4], game=other, value=1000)
    score_submit(user=players[4], game=practice, value=10**6)

    body = board(api_client, "/api/v1/leaderboard/global", limit=2)

    assert [(e["username"], e["value"]) for e in body["entries"]] == [("p4", 1100), ("p0", 500)]


def test_one_players_standing(api_client, players):
    response = api_client.get(f"/api/v1/leaderboard/game/arena/players/{players[3].pk}")

    assert response.json() | {"board": None, "reached_at": None} == {
        "board": None,
        "size": 5,
        "rank": 4,
        "value": 300,
        "tiebreak": None,
        "reached_at": None,
        "user_id": str(players[3].pk),
        "username": "p3",
        "display_name": players[3].display_name,
        "percentile": 40.0,
    }


def test_a_player_not_on_the_board_is_404(api_client, players):
    response = api_client.get(f"/api/v1/leaderboard/game/arena/players/{UserFactory().pk}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_period_boards_only_count_their_window(api_client, game):
    old_timer, newcomer = UserFactory(username="old"), UserFactory(username="new")
    with transaction.atomic(), StandingsWrites() as writes:
        standings_record_scores(
            game=game, scores=[ScoreInput(old_timer.pk, 900, timezone.now() - timedelta(days=40))], writes=writes
        )
    score_submit(user=newcomer, game=game, value=100)

    daily = board(api_client, period="daily")
    all_time = board(api_client)

    assert [e["username"] for e in daily["entries"]] == ["new"]
    assert [e["username"] for e in all_time["entries"]] == ["old", "new"]
    assert daily["board"]["period_start"] is not None


def test_the_previous_period_stays_readable(api_client, game):
    user = UserFactory()
    score_submit(user=user, game=game, value=10)
    today = timezone.now().astimezone(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()

    assert board(api_client, period="daily", at=yesterday)["entries"] == []
    assert board(api_client, period="daily", at=today.isoformat())["size"] == 1
    assert board(api_client, period="weekly")["board"]["period"] == "weekly"
    assert board(api_client, period="monthly")["size"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"period": "yearly"},
        {"at": "yesterday"},
        {"around": "someone"},
        {"user_ids": "a,b"},
        {"user_ids": ",".join(["00000000-0000-0000-0000-000000000000"] * 101)},
        {"around": "me", "user_ids": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_bad_parameters_are_400(api_client, game, params):
    response = api_client.get("/api/v1/leaderboard/game/arena", params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_an_unknown_game_board_is_404(api_client):
    assert api_client.get("/api/v1/leaderboard/game/nope").status_code == 404


def test_an_ascending_game_ranks_lowest_first(api_client):
    laps = GameFactory(slug="laps", sort_order="asc")
    for name, value in [("slow", 9000), ("fast", 7000)]:
        score_submit(user=UserFactory(username=name), game=laps, value=value)

    body = board(api_client, "/api/v1/leaderboard/game/laps")

    assert [e["username"] for e in body["entries"]] == ["fast", "slow"]
    assert body["board"]["sort_order"] == "asc"


def test_limit_up_to_200(api_client, game):
    assert board(api_client, limit=200)["entries"] == []


def test_at_in_the_future_is_an_empty_period(api_client, players):
    future = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()

    assert board(api_client, period="daily", at=future)["size"] == 0


def test_the_rendered_board_matches_its_documented_serializer(players, game):
    from rankings.boards import game_board_at
    from rankings.selectors import board_top
    from rankings.serializers import LeaderboardSerializer, leaderboard_body

    for period in ("all", "daily"):
        page = board_top(board=game_board_at(game, period, timezone.now()), offset=0, limit=10)
        assert leaderboard_body(page) == LeaderboardSerializer(page).data
