"""The hot submission route (common.hotpath): a player's plain score with an access token answered
without DRF, with the full route's answer, and everything else left to the full route."""

import dataclasses
import json

import pytest
from rest_framework.test import APIClient

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from common.hotpath import routes
from games.tests.factories import GameFactory
from scores import api
from scores.models import Score
from scores.services import player_shadow_ban

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(user):
    return user_tokens(user=user)["access"]


def post(body, *, token=None, raw=False, **extra):
    client = APIClient()
    if token is not None:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    data = body if raw else json.dumps(body)
    extra.setdefault("content_type", "application/json")
    return client.post("/api/v1/scores", data, **extra)


@pytest.fixture
def served(monkeypatch):
    """Records which way each submission went: 'hot', or 'full' when the hot route left it to DRF's view."""
    ways = []
    hot = api.score_submit_hot
    full = api.ScoreListApi.post

    def hot_spy(request):
        response = hot(request)
        if response is not None:
            ways.append("hot")
        return response

    def full_spy(self, request):
        ways.append("full")
        return full(self, request)

    spied = [dataclasses.replace(route, handler=hot_spy) for route in routes.by_method["POST"]]
    monkeypatch.setattr(routes, "by_method", {"POST": spied})
    monkeypatch.setattr(api.ScoreListApi, "post", full_spy)
    return ways


@pytest.fixture
def full_only(monkeypatch):
    def take() -> None:
        monkeypatch.setattr(routes, "by_method", {})

    return take


def answer(response, *, volatile=()):
    body = response.json()
    for path in volatile:
        node = body
        *parents, leaf = path
        for name in parents:
            node = node[name]
        node[leaf] = "*"
    headers = {
        name: value for name, value in response.items() if name not in ("Content-Security-Policy", "Content-Length")
    }
    return response.status_code, body, headers


SCORE_FIELDS = (("score", "id"), ("score", "created_at"))


def test_a_plain_submission_goes_the_hot_way_and_answers_as_the_full_route(user, token, game, served, full_only):
    hot = post({"game_id": str(game.pk), "score": 10, "metadata": {"map": "dust"}}, token=token)
    full_only()
    full = post({"game_id": "arena", "score": 20, "metadata": {"map": "dust"}}, token=token)

    assert served == ["hot", "full"]
    assert hot.status_code == full.status_code == 201
    hot_body, full_body = hot.json(), full.json()
    assert hot_body["game_board"]["rank"] == 1 and full_body["game_board"]["value"] == 20
    assert set(hot_body) == set(full_body) and set(hot_body["score"]) == set(full_body["score"])
    assert answer(hot)[2] == answer(full)[2]
    assert list(Score.objects.order_by("id").values_list("value", "source", "metadata")) == [
        (10, "client", {"map": "dust"}),
        (20, "client", {"map": "dust"}),
    ]


def test_a_replay_by_idempotency_key_is_the_same_either_way(user, token, game, served, full_only):
    first = post({"game_id": "arena", "score": 5, "idempotency_key": "match-1"}, token=token)
    hot = post({"game_id": "arena", "score": 5, "idempotency_key": "match-1"}, token=token)
    full_only()
    full = post({"game_id": "arena", "score": 5, "idempotency_key": "match-1"}, token=token)

    assert first.status_code == 201 and hot.status_code == 200
    assert answer(hot) == answer(full)
    assert hot.json()["score"]["id"] == first.json()["score"]["id"]
    assert served == ["hot", "hot", "full"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"game_id": "arena", "score": 5, "idempotency_key": "k"}, 409, "idempotency_key_reused"),
        ({"game_id": "closed", "score": 5}, 400, "game_inactive"),
        ({"game_id": "bounded", "score": 500}, 400, "score_out_of_bounds"),
        ({"game_id": "arena", "score": 5, "metadata": {"blob": "x" * 3000}}, 400, "metadata_too_large"),
        ({"game_id": "arena", "score": 5, "metadata": {"a\u0000": 1}}, 400, "invalid"),
    ],
)
def test_a_refused_plain_submission_gets_the_full_routes_error(
    user, token, game, served, full_only, body, status, code
):
    GameFactory(slug="closed", is_active=False)
    GameFactory(slug="bounded", max_score=100)
    post({"game_id": "arena", "score": 1, "idempotency_key": "k"}, token=token)
    hot = post(body, token=token)
    full_only()
    full = post(body, token=token)

    assert hot.status_code == status and hot.json()["error"]["code"] == code
    assert answer(hot) == answer(full)
    assert served == ["hot", "hot", "full"]
    assert Score.objects.count() == 1


def test_a_throttled_plain_submission_says_when_to_retry_either_way(user, token, game, served, full_only, settings):
    settings.SCORE_RATE_PER_USER_GAME = "1/min"
    post({"game_id": "arena", "score": 1}, token=token)
    hot = post({"game_id": "arena", "score": 2}, token=token)
    full_only()
    full = post({"game_id": "arena", "score": 3}, token=token)

    assert hot.status_code == full.status_code == 429
    assert hot.json() == full.json()
    assert 1 <= int(hot["Retry-After"]) <= 60 and 1 <= int(full["Retry-After"]) <= 60
    assert served == ["hot", "hot", "full"]


@pytest.mark.parametrize(
    ("body", "extra", "status"),
    [
        ({"game_id": "nope", "score": 5}, {}, 400),  # no such game: the serializer's field error
        ({"game_id": "arena", "score": True}, {}, 400),
        ({"game_id": "arena", "score": "5"}, {}, 400),
        ({"game_id": "arena", "score": 2**63}, {}, 400),
        ({"game_id": " arena", "score": 5}, {}, 201),  # DRF trims it
        ({"game_id": "arena", "score": 5, "metadata": None}, {}, 400),
        ({"game_id": "arena", "score": 5, "metadata": [1]}, {}, 400),
        ({"game_id": "arena", "score": 5, "idempotency_key": ""}, {}, 400),
        ({"game_id": "arena", "score": 5, "idempotency_key": "has space"}, {}, 400),
        ({"game_id": "arena", "score": 5, "scroe": 2}, {}, 400),
        ({"game_id": "arena", "score": 5, "session_id": "00000000-0000-0000-0000-000000000000"}, {}, 201),
        ([1, 2], {}, 400),
        ({"game_id": "arena", "score": 5}, {"content_type": "application/json; charset=latin-1"}, 201),
    ],
)
def test_any_other_body_goes_the_full_way(user, token, game, served, body, extra, status):
    response = post(body, token=token, **extra)

    assert response.status_code == status, response.content
    assert served == ["full"]


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + json.dumps({"game_id": "arena", "score": 5}).encode(),
        b'{"game_id": "arena", "score": NaN}',
        b"{",
    ],
)
def test_a_body_the_json_parser_refuses_goes_the_full_way(user, token, game, served, raw):
    response = post(raw, token=token, raw=True)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert served == ["full"]


def test_other_credentials_go_the_full_way(user, game, served, server_key):
    _, key = server_key
    inactive = UserFactory()
    stale = user_tokens(user=inactive)["access"]
    inactive.is_active = False
    inactive.save()

    anonymous = post({"game_id": "arena", "score": 5})
    forged = post({"game_id": "arena", "score": 5}, token="not.a.token")
    deactivated = post({"game_id": "arena", "score": 5}, token=stale)
    server = post({"game_id": "arena", "score": 5, "user_id": str(user.pk)}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    session = APIClient()
    session.force_login(user)
    browser = session.post("/api/v1/scores", {"game_id": "arena", "score": 6}, format="json")

    assert [anonymous.status_code, forged.status_code, deactivated.status_code] == [401, 401, 401]
    assert server.status_code == 201 and server.json()["score"]["source"] == "server"
    assert browser.status_code == 201
    assert served == ["full", "full"]  # the first three never reach the view: DRF refuses them first
    assert Score.objects.filter(user=inactive).count() == 0


def test_a_shadow_banned_player_goes_the_hot_way_and_is_told_where_they_would_stand(token, user, game, served, staff):
    leader = UserFactory()
    post({"game_id": "arena", "score": 100}, token=user_tokens(user=leader)["access"])
    player_shadow_ban(user=user, actor=staff, reason="aimbot")

    response = post({"game_id": "arena", "score": 500}, token=token)

    assert response.status_code == 201
    assert response.json()["game_board"]["rank"] == 1
    assert served == ["hot", "hot"]
    public = APIClient().get("/api/v1/leaderboard/game/arena").json()
    assert [entry["user_id"] for entry in public["entries"]] == [str(leader.pk)]


def test_a_token_the_hot_route_verified_is_refused_once_it_expires(user, game, served, monkeypatch):
    from datetime import timedelta
    from types import SimpleNamespace

    from django.utils import timezone
    from rest_framework_simplejwt import tokens

    token = tokens.AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=60))
    first = post({"game_id": "arena", "score": 5}, token=str(token))
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(tokens, "aware_utcnow", lambda: later)
    monkeypatch.setattr(api, "time", SimpleNamespace(time=later.timestamp))
    expired = post({"game_id": "arena", "score": 6}, token=str(token))

    assert first.status_code == 201
    assert expired.status_code == 401
    assert served == ["hot"]
    assert list(Score.objects.values_list("value", flat=True)) == [5]


def test_a_forged_signature_is_refused_while_the_real_token_is_known(user, token, game, served):
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, signature[::-1]])

    real = post({"game_id": "arena", "score": 5}, token=token)
    refused = post({"game_id": "arena", "score": 6}, token=forged)

    assert (real.status_code, refused.status_code) == (201, 401)
    assert served == ["hot"]


def test_a_known_token_of_a_player_made_inactive_stores_nothing(user, token, game, served):
    first = post({"game_id": "arena", "score": 5}, token=token)
    user.is_active = False
    user.save()
    after = post({"game_id": "arena", "score": 6}, token=token)

    assert (first.status_code, after.status_code) == (201, 401)
    assert list(Score.objects.filter(user=user).values_list("value", flat=True)) == [5]
