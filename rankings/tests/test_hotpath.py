"""The hot board route (common.hotpath): the plain public read answered without DRF, with the very
answer of the full route, and everything else left to the full route."""

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from accounts.tests.factories import UserFactory
from common.hotpath import routes
from rankings import api
from scores.services import player_shadow_ban, score_submit

BOARD = "/api/v1/leaderboard/game/arena"
GLOBAL = "/api/v1/leaderboard/global"


@pytest.fixture
def players(game):
    users = [UserFactory(username=f"p{i}") for i in range(4)]
    for user, value in zip(users, [400, 300, 300, 100], strict=True):
        score_submit(user=user, game=game, value=value)
    return users


@pytest.fixture
def full_route(monkeypatch):
    """Answer the next requests the long way only: no hot route (and the views of the board back, if refused)."""

    def take() -> None:
        monkeypatch.undo()
        monkeypatch.setattr(routes, "by_method", {})

    return take


@pytest.fixture
def hot_only(monkeypatch):
    """Fail any request that reaches the DRF views of the board."""

    def refuse(*args, **kwargs):
        raise AssertionError("the full route answered a request the hot route should have")

    def take() -> None:
        monkeypatch.setattr(api.GameLeaderboardApi, "get", refuse)
        monkeypatch.setattr(api.GlobalLeaderboardApi, "get", refuse)

    return take


def answer(response) -> tuple[int, bytes, dict[str, str]]:
    headers = {name: value for name, value in response.items() if name != "Content-Security-Policy"}
    policy = sorted(response.get("Content-Security-Policy", "").split("; "))
    return response.status_code, response.content, headers | {"policy": policy}


HOT_QUERIES = [
    (BOARD, {}),
    (BOARD, {"limit": "100"}),
    (BOARD, {"limit": "2", "offset": "1"}),
    (BOARD, {"period": "daily", "limit": "3"}),
    (BOARD, {"period": "weekly"}),
    (GLOBAL, {"period": "monthly", "limit": "200"}),
    (GLOBAL, {"offset": "1000000000"}),
]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
@pytest.mark.parametrize(("path", "query"), HOT_QUERIES)
def test_the_hot_route_answers_the_plain_read_exactly_as_the_full_route(path, query, players, hot_only, full_route):
    client = Client()
    hot_only()
    hot = answer(client.get(path, query))
    full_route()
    assert answer(client.get(path, query)) == answer(client.get(path, query))  # the full route, twice: stable
    assert hot[0] == 200
    assert hot == answer(client.get(path, query))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
def test_a_page_around_a_player_is_hot_and_follows_the_board(game, players, hot_only, full_route):
    client = Client()
    query = {"around": str(players[3].pk), "limit": "3"}
    hot_only()
    before = client.get(BOARD, query).json()
    score_submit(user=players[3], game=game, value=350)
    after = client.get(BOARD, query)

    assert [(e["username"], e["rank"]) for e in before["entries"]] == [("p2", 2), ("p3", 4)]
    assert [(e["username"], e["rank"]) for e in after.json()["entries"]] == [("p0", 1), ("p3", 2), ("p1", 3)]
    hot = answer(after)
    full_route()
    assert hot == answer(client.get(BOARD, query))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"limit": "0"}, 400, "invalid"),
        ({"limit": "201"}, 400, "invalid"),
        ({"limit": ""}, 400, "invalid"),
        ({"limit": "5.0"}, 200, None),  # DRF's integer field takes it: the full route answers
        ({"offset": "-1"}, 400, "invalid"),
        ({"period": "yearly"}, 400, "invalid"),
        ({"around": "nobody"}, 400, "invalid"),
        ({"around": "me"}, 401, "not_authenticated"),
        ({"at": "2026-01-01"}, 200, None),
        ({"user_ids": "00000000-0000-0000-0000-000000000000"}, 200, None),
        ({"format": "json"}, 200, None),
        ({"limit": ["1", "2"]}, 200, None),
        ({"bogus": "1"}, 200, None),
    ],
)
def test_any_other_query_goes_the_full_way_and_gets_its_answer(query, status, code, players, full_route):
    client = Client()
    response = client.get(BOARD, query)
    hot = answer(response)
    full_route()

    assert response.status_code == status
    if code is not None:
        assert response.json()["error"]["code"] == code
    assert hot == answer(client.get(BOARD, query))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
def test_credentials_a_session_or_another_format_go_the_full_way(game, players, client_for, staff):
    player_shadow_ban(user=players[3], actor=staff, reason="aimbot")
    score_submit(user=players[3], game=game, value=1000)

    banned = client_for(players[3]).get(BOARD)
    forged = Client(HTTP_AUTHORIZATION="Bearer not.a.token").get(BOARD)
    browser = Client()
    browser.force_login(players[3])
    session = browser.get(BOARD, HTTP_ACCEPT="application/json")
    html = Client().get(BOARD, HTTP_ACCEPT="text/html")
    public = Client().get(BOARD)

    assert banned.json()["entries"][0]["username"] == "p3"  # where they would stand, as only they see it
    assert session.json()["entries"][0]["username"] == "p3"
    assert forged.status_code == 401
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert [e["username"] for e in public.json()["entries"]] == ["p0", "p1", "p2"]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
def test_an_unknown_game_or_host_is_refused_as_on_every_route(players, hot_only):
    client = Client()
    unknown = client.get("/api/v1/leaderboard/game/nope")
    hot_only()
    wrong_host = client.get(BOARD, HTTP_HOST="evil.example")

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert wrong_host.status_code == 400


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
def test_a_hot_answer_is_counted_under_its_view(players, hot_only):
    labels = {"status": "200", "view": "leaderboard-game", "method": "GET"}
    name = "django_http_responses_total_by_status_view_method_total"
    before = REGISTRY.get_sample_value(name, labels) or 0
    hot_only()

    Client().get(BOARD)

    assert REGISTRY.get_sample_value(name, labels) == before + 1


def http_series() -> dict[tuple[str, tuple], float]:
    """django-prometheus's request and response series (latencies by their count only; no creation times)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in REGISTRY.collect()
        if metric.name.startswith("django_http_")
        for sample in metric.samples
        if not sample.name.endswith("_created") and ("latency" not in sample.name or sample.name.endswith("_count"))
    }


def moved_by(request) -> dict[tuple[str, tuple], float]:
    before = http_series()
    request()
    return {key: value - before.get(key, 0) for key, value in http_series().items() if value != before.get(key, 0)}


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ranking_index")
def test_a_hot_answer_moves_the_same_series_as_the_full_routes(players, hot_only, full_route):
    client = Client()
    client.get(BOARD)  # every series exists from here on
    hot_only()
    hot = moved_by(lambda: client.get(BOARD, {"limit": "2"}))
    full_route()
    full = moved_by(lambda: client.get(BOARD, {"limit": "2"}))

    assert hot == full
    view = ("view", "leaderboard-game")
    assert any(view in labels for _, labels in hot), hot


@pytest.mark.django_db
def test_without_a_versioned_index_every_read_goes_the_full_way(players, monkeypatch):
    """Boards read from the table have no version to keep bytes under: the full route reads them each time."""
    monkeypatch.setattr(api, "index_version", lambda board: None)
    calls = []
    full = api.GameLeaderboardApi.get

    def counted(self, request, game_id):
        calls.append(game_id)
        return full(self, request, game_id)

    monkeypatch.setattr(api.GameLeaderboardApi, "get", counted)

    response = Client().get(BOARD, {"limit": "3"})

    assert [e["rank"] for e in response.json()["entries"]] == [1, 2, 2]
    assert calls == ["arena"]
