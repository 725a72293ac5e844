"""Limits the server enforces on tournaments: how many a player may create."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tournaments.models import Tournament

pytestmark = pytest.mark.django_db


def body(game, n):
    start = timezone.now() + timedelta(hours=1)
    return {
        "name": f"Cup {n}",
        "game_id": game.slug,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=1)).isoformat(),
    }


def test_a_player_creating_too_many_tournaments_is_throttled(game, user, client_for, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "tournament_create": "2/hour"},
    }
    client = client_for(user)

    statuses = [client.post("/api/v1/tournaments", body(game, n), format="json").status_code for n in range(3)]
    refused = client.post("/api/v1/tournaments", body(game, 4), format="json")

    assert statuses == [201, 201, 429]
    assert refused.json()["error"]["code"] == "throttled" and int(refused["Retry-After"]) > 0
    assert Tournament.objects.count() == 2
    assert client.get("/api/v1/tournaments").status_code == 200  # reading is not limited


def test_staff_are_not_limited(game, staff, client_for, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "tournament_create": "1/hour"},
    }
    client = client_for(staff)

    statuses = [client.post("/api/v1/tournaments", body(game, n), format="json").status_code for n in range(3)]

    assert statuses == [201, 201, 201]
