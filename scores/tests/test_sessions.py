"""Whose word a game's scores are: server-authoritative games, and match sessions with plausibility bounds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from rankings.models import Standing
from scores.models import MatchSession, Score

pytestmark = pytest.mark.django_db

SCORES = "/api/v1/scores"


def sessions_url(game) -> str:
    return f"/api/v1/games/{game.slug}/sessions"


@pytest.fixture
def player(db):
    return UserFactory()


def test_a_player_cannot_post_a_score_to_a_server_authoritative_game(client_for, player):
    game = GameFactory(score_authority="server", max_score=10_000_000)

    response = client_for(player).post(SCORES, {"game_id": game.slug, "score": 10_000_000}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "server_authoritative"
    assert not Score.objects.exists() and not Standing.objects.exists()


def test_its_game_server_still_posts_for_the_player(api_client, player):
    game = GameFactory(score_authority="server")
    _, key = api_key_create(name="server", games=[game])
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    response = api_client.post(SCORES, {"game_id": game.slug, "score": 40, "user_id": str(player.pk)}, format="json")

    assert response.status_code == 201


def test_a_session_game_refuses_a_score_without_a_session(client_for, player):
    game = GameFactory(score_authority="session")

    response = client_for(player).post(SCORES, {"game_id": game.slug, "score": 5}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "session_required"
    assert "session_id" in response.json()["error"]["fields"]


def test_a_session_takes_one_score_and_only_its_players(client_for, player):
    game = GameFactory(score_authority="session")
    me = client_for(player)
    opened = me.post(sessions_url(game))
    session_id = opened.json()["id"]

    first = me.post(SCORES, {"game_id": game.slug, "score": 5, "session_id": session_id}, format="json")
    again = me.post(SCORES, {"game_id": game.slug, "score": 6, "session_id": session_id}, format="json")
    other = client_for(UserFactory()).post(
        SCORES, {"game_id": game.slug, "score": 7, "session_id": str(me.post(sessions_url(game)).json()["id"])}
    )

    assert opened.status_code == 201 and opened.json()["game_id"] == str(game.pk)
    assert first.status_code == 201
    assert again.status_code == 409 and again.json()["error"]["code"] == "session_invalid"
    assert other.status_code == 409 and other.json()["error"]["code"] == "session_invalid"
    assert list(Score.objects.values_list("value", flat=True)) == [5]


def test_a_session_of_another_game_is_refused(client_for, player):
    game, other_game = GameFactory(score_authority="session"), GameFactory(score_authority="session")
    me = client_for(player)
    session_id = me.post(sessions_url(other_game)).json()["id"]

    response = me.post(SCORES, {"game_id": game.slug, "score": 5, "session_id": session_id}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "session_invalid"


def test_a_score_too_soon_after_the_session_opened_is_refused_and_the_session_kept(client_for, player):
    game = GameFactory(score_authority="session", session_min_seconds=60)
    me = client_for(player)
    session_id = me.post(sessions_url(game)).json()["id"]

    early = me.post(SCORES, {"game_id": game.slug, "score": 5, "session_id": session_id}, format="json")
    MatchSession.objects.filter(pk=session_id).update(started_at=timezone.now() - timedelta(seconds=61))
    later = me.post(SCORES, {"game_id": game.slug, "score": 5, "session_id": session_id}, format="json")

    assert early.status_code == 409 and early.json()["error"]["code"] == "session_too_short"
    assert later.status_code == 201


def test_a_score_after_the_session_ended_is_refused(client_for, player):
    game = GameFactory(score_authority="session", session_max_seconds=600)
    me = client_for(player)
    session_id = me.post(sessions_url(game)).json()["id"]
    MatchSession.objects.filter(pk=session_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = me.post(SCORES, {"game_id": game.slug, "score": 5, "session_id": session_id}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "session_expired"


def test_a_score_beyond_what_the_time_played_allows_is_implausible(client_for, player):
    game = GameFactory(score_authority="session", session_max_score_per_second=100)
    me = client_for(player)
    session_id = me.post(sessions_url(game)).json()["id"]
    MatchSession.objects.filter(pk=session_id).update(started_at=timezone.now() - timedelta(seconds=30))

    too_much = me.post(SCORES, {"game_id": game.slug, "score": 10_000_000, "session_id": session_id}, format="json")
    fair = me.post(SCORES, {"game_id": game.slug, "score": 2_900, "session_id": session_id}, format="json")

    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "score_implausible"
    assert fair.status_code == 201


def test_only_players_open_sessions(api_client, player):
    game = GameFactory(score_authority="session")
    _, key = api_key_create(name="server", games=[game])

    anonymous = api_client.post(sessions_url(game))
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    server = api_client.post(sessions_url(game))

    assert anonymous.status_code == 401 and server.status_code == 403
    assert not MatchSession.objects.exists()


def test_opening_sessions_is_limited_like_scores(client_for, player, settings):
    settings.SCORE_RATE_PER_USER_GAME = "2/min"
    game = GameFactory(score_authority="session")
    me = client_for(player)

    statuses = [me.post(sessions_url(game)).status_code for _ in range(3)]

    assert statuses == [201, 201, 429]


def test_staff_set_a_games_authority_and_its_session_window_through_the_api(client_for, staff):
    game = GameFactory()

    changed = client_for(staff).patch(
        f"/api/v1/games/{game.pk}",
        {"score_authority": "session", "session_min_seconds": 30, "session_max_seconds": 900},
        format="json",
    )
    refused = client_for(staff).patch(
        f"/api/v1/games/{game.pk}", {"session_min_seconds": 900, "session_max_seconds": 60}, format="json"
    )

    assert changed.status_code == 200
    assert (changed.json()["score_authority"], changed.json()["session_min_seconds"]) == ("session", 30)
    assert refused.status_code == 400 and "session_max_seconds" in refused.json()["error"]["fields"]


def test_the_periodic_prune_deletes_sessions_a_day_past_their_end_only(client_for, player):
    from scores.tasks import sessions_prune

    game = GameFactory(score_authority="session")
    me = client_for(player)
    old, recent, open_ = (me.post(sessions_url(game)).json()["id"] for _ in range(3))
    MatchSession.objects.filter(pk=old).update(expires_at=timezone.now() - timedelta(days=1, minutes=1))
    MatchSession.objects.filter(pk=recent).update(expires_at=timezone.now() - timedelta(hours=23))

    assert sessions_prune() == 1
    assert {str(pk) for pk in MatchSession.objects.values_list("pk", flat=True)} == {recent, open_}
