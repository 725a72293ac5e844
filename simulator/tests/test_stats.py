"""GET /api/v1/stats: the totals, counted from the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score
from scores.services import score_submit
from tournaments.models import Status
from tournaments.tests.factories import TournamentFactory

pytestmark = pytest.mark.django_db


def test_the_totals_count_what_is_stored(api_client):
    game = GameFactory()
    GameFactory(is_active=False)
    players = UserFactory.create_batch(3)
    UserFactory(is_active=False)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value)
    old = score_submit(user=players[0], game=game, value=99).score
    Score.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    TournamentFactory(game=game)
    TournamentFactory(game=game, status=Status.CANCELLED)

    body = api_client.get("/api/v1/stats").json()

    assert body["games"] == 1
    assert body["players"] == 3 + 2  # and the two tournaments' organizers
    assert (body["scores"], body["scores_estimated"], body["scores_last_minute"]) == (4, False, 3)
    assert body["tournaments"] == {"scheduled": 1, "running": 0, "finished": 0, "paid": 0, "cancelled": 1}
    assert body["open_websockets"] == 0
    assert body["at"].endswith("Z")
