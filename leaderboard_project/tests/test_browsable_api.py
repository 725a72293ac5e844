"""The DRF browsable API renders every endpoint for a browser, signed in or not."""

import pytest
from django.urls import reverse

from games.tests.factories import GameFactory

pytestmark = pytest.mark.django_db


def endpoints(user, game):
    return [
        reverse("api-root"),
        reverse("game-list"),
        reverse("game-list") + "?is_active=maybe",
        reverse("game-detail", args=[game.slug]),
        reverse("user-detail", args=[user.id]),
        reverse("user-me"),
        reverse("user-register"),
        reverse("user-login"),
        reverse("user-logout"),
        reverse("token-refresh"),
        reverse("score-list"),
        reverse("score-list") + "?user_id=bad",
        reverse("score-batch"),
        reverse("leaderboard-global"),
        reverse("leaderboard-game", args=[game.slug]) + "?period=weekly",
        reverse("leaderboard-game-player", args=[game.slug, user.id]),
    ]


@pytest.mark.parametrize("signed_in", ["anonymous", "player", "staff"])
def test_every_endpoint_renders_as_html(client, user, staff, signed_in):
    game = GameFactory()
    if signed_in != "anonymous":
        client.force_login(user if signed_in == "player" else staff)

    for url in endpoints(user, game):
        response = client.get(url, HTTP_ACCEPT="text/html")

        assert response.status_code < 500, url
        assert response["Content-Type"].startswith("text/html"), url
