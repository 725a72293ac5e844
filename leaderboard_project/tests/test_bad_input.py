"""Bad input answers a clear error with the right status, never a 500, and loses nothing already stored."""

import pytest

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score
from scores.services import score_submit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "at",
    ["9999-12-31", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "0001-01-01", "9999-12-27"],
)
@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_a_moment_at_the_edge_of_the_calendar_is_a_400_on_every_period(api_client, period, at):
    response = api_client.get("/api/v1/leaderboard/global", {"period": period, "at": at})

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["at"]


def test_a_moment_at_the_edge_of_the_calendar_is_a_400_on_a_players_standing(api_client, user):
    response = api_client.get(
        f"/api/v1/leaderboard/global/players/{user.pk}", {"period": "monthly", "at": "9999-12-31"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["at"]


@pytest.mark.parametrize("cursor", ["cD14", "cD0yMDI2", "bm9wZQ", "cj0xJnA9eA", "bz0tMQ"])
def test_a_forged_history_cursor_is_a_400(api_client, cursor):
    score_submit(user=UserFactory(), game=GameFactory(), value=1)

    response = api_client.get("/api/v1/scores", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["cursor"]


@pytest.mark.parametrize("page", ["99999999999999999999999", "1000001"])
def test_a_page_number_past_any_page_is_a_404(client, page):
    game = GameFactory(slug="arena")

    assert client.get(f"/games/{game.slug}/", {"page": page}).status_code == 404


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "DELETE", "PUT", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/games/arena/", "/tournaments/", "/accounts/login/"])
def test_pages_answer_only_their_own_methods(client, method, path):
    GameFactory(slug="arena")

    response = client.generic(method, path)

    assert response.status_code == 405
    assert "GET" in response["Allow"]


@pytest.mark.parametrize("metadata", [{"note": "a\x00b"}, {"a\x00": 1}, {"nested": ["x", {"y": "\x00"}]}])
def test_a_nul_character_in_metadata_is_a_400(client_for, metadata):
    player = UserFactory()
    game = GameFactory()

    response = client_for(player).post(
        "/api/v1/scores", {"game_id": str(game.pk), "score": 5, "metadata": metadata}, format="json"
    )

    assert response.status_code == 400
    assert "metadata" in response.json()["error"]["fields"]
    assert not Score.objects.exists()


def test_a_nul_character_in_one_batch_item_rejects_that_item_alone(api_client):
    from accounts.services import api_key_create

    game = GameFactory()
    player = UserFactory()
    _, key = api_key_create(name="server", games=[game])
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    items = [
        {"user_id": str(player.pk), "game_id": str(game.pk), "score": 1, "metadata": {"n": "\x00"}},
        {"user_id": str(player.pk), "game_id": str(game.pk), "score": 2},
    ]

    response = api_client.post("/api/v1/scores/batch", {"scores": items}, format="json")

    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["rejected", "created"]
    assert list(Score.objects.values_list("value", flat=True)) == [2]


@pytest.mark.parametrize(
    "name",
    ["Ada\u202eLovelace", "Ad\u200ba", "Ada\u0007", "Ada\u2066x\u2069", "\u200d", "Ada\ufeff", "Ada\u0000"],
)
def test_a_display_name_with_invisible_or_control_characters_is_refused(client_for, api_client, name):
    player = UserFactory()

    changed = client_for(player).patch("/api/v1/users/me", {"display_name": name}, format="json")
    registered = api_client.post(
        "/api/v1/users/register",
        {"username": "newbie", "email": "newbie@example.com", "password": "a-long-passphrase", "display_name": name},
        format="json",
    )

    assert changed.status_code == 400 and "display_name" in changed.json()["error"]["fields"]
    assert registered.status_code == 400 and "display_name" in registered.json()["error"]["fields"]


@pytest.mark.parametrize("name", ["Zoë Ångström", "山田 太郎", "José-María O'Neil", "Ada L."])
def test_a_display_name_in_any_script_is_kept(client_for, name):
    player = UserFactory()

    response = client_for(player).patch("/api/v1/users/me", {"display_name": name}, format="json")

    assert response.status_code == 200
    assert response.json()["display_name"] == name


def test_a_body_nested_past_the_parsers_depth_is_a_400(client_for):
    response = client_for(UserFactory()).generic("POST", "/api/v1/scores", "[" * 4000, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
