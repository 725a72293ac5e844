"""Score submission over HTTP. Transactions really commit, so the ranking index is written as in production."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score

pytestmark = pytest.mark.django_db(transaction=True)

SCORES = "/api/v1/scores"


def submit(client, game, score, **extra):
    return client.post(SCORES, {"game_id": str(game.pk), "score": score, **extra}, format="json")


def test_a_player_submits_and_learns_rank_and_personal_best(client_for, user, game):
    response = submit(client_for(user), game, 1500)

    assert response.status_code == 201
    body = response.json()
    assert body["score"]["score"] == 1500
    assert body["score"]["user_id"] == str(user.pk)
    assert body["score"]["source"] == "client"
    assert body["personal_best"] is True
    assert body["replayed"] is False
    assert body["game_board"]["rank"] == 1
    assert body["game_board"]["value"] == 1500
    assert body["global_board"] == {**body["global_board"], "rank": 1, "value": 1500, "size": 1}


def test_a_worse_score_is_stored_but_is_no_personal_best(client_for, user, game):
    client = client_for(user)
    submit(client, game, 1500)

    response = submit(client, game, 900)

    assert response.status_code == 201
    assert response.json()["personal_best"] is False
    assert response.json()["game_board"]["value"] == 1500
    assert Score.objects.filter(user=user).count() == 2


def test_ranks_follow_other_players(client_for, game):
    ace, bob, cid = UserFactory(), UserFactory(), UserFactory()
    submit(client_for(ace), game, 300)
    submit(client_for(bob), game, 500)

    response = submit(client_for(cid), game, 300)

    assert response.json()["game_board"]["rank"] == 2
    assert response.json()["game_board"]["size"] == 3


def test_the_game_may_be_named_by_slug(client_for, user, game):
    response = client_for(user).post(SCORES, {"game_id": "arena", "score": 5}, format="json")

    assert response.status_code == 201


def test_an_anonymous_submission_is_401(api_client, game):
    assert submit(api_client, game, 10).status_code == 401


def test_a_player_may_not_submit_for_someone_else(client_for, user, game):
    other = UserFactory()

    response = submit(client_for(user), game, 10, user_id=str(other.pk))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_your_account"
    assert not Score.objects.exists()


def test_a_player_may_name_themselves(client_for, user, game):
    assert submit(client_for(user), game, 10, user_id=str(user.pk)).status_code == 201


@pytest.mark.parametrize("bad", ["12", 12.5, 12.0, True, None, [1], 2**63, -(2**63) - 1])
def test_a_non_integer_or_out_of_range_score_is_400(client_for, user, game, bad):
    response = submit(client_for(user), game, bad)

    assert response.status_code == 400
    assert "score" in response.json()["error"]["fields"]


def test_a_score_outside_the_games_bounds_is_400(client_for, user):
    bounded = GameFactory(min_score=0, max_score=100)

    response = submit(client_for(user), bounded, 101)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "score_out_of_bounds"


def test_the_extremes_of_int64_are_accepted_when_the_game_allows(client_for, user, game):
    assert submit(client_for(user), game, 2**63 - 1).status_code == 201
    assert submit(client_for(UserFactory()), game, -(2**63)).status_code == 201


def test_an_unknown_game_is_400(client_for, user):
    response = client_for(user).post(SCORES, {"game_id": "nope", "score": 1}, format="json")

    assert response.status_code == 400
    assert "game_id" in response.json()["error"]["fields"]


def test_an_inactive_game_refuses_scores(client_for, user):
    closed = GameFactory(is_active=False)

    response = submit(client_for(user), closed, 1)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "game_inactive"


def test_metadata_over_2_kb_is_refused(client_for, user, game):
    response = submit(client_for(user), game, 1, metadata={"blob": "x" * 2100})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "metadata_too_large"


def test_metadata_must_be_an_object(client_for, user, game):
    response = submit(client_for(user), game, 1, metadata=["x"])

    assert response.status_code == 400
    assert not Score.objects.exists()


def test_metadata_is_stored(client_for, user, game):
    submit(client_for(user), game, 1, metadata={"map": "dust", "kills": 3})

    assert Score.objects.get().metadata == {"map": "dust", "kills": 3}


def test_an_unknown_field_is_refused(client_for, user, game):
    response = submit(client_for(user), game, 1, scroe=2)

    assert response.status_code == 400
    assert "scroe" in response.json()["error"]["fields"]


def test_scores_above_the_per_player_per_game_rate_are_429(client_for, user, game, settings):
    settings.SCORE_RATE_PER_USER_GAME = "2/min"
    client = client_for(user)

    statuses = [submit(client, game, value).status_code for value in (1, 2, 3)]
    other_game = submit(client, GameFactory(), 4)

    assert statuses == [201, 201, 429]
    assert other_game.status_code == 201
    assert Score.objects.filter(game=game).count() == 2


@pytest.mark.redis
def test_the_rate_is_counted_in_redis_shared_by_every_process(client_for, user, game, settings):
    import redis

    settings.SCORE_RATE_PER_USER_GAME = "2/min"
    client = client_for(user)
    submit(client, game, 1)

    counters = redis.Redis.from_url(settings.REDIS_URL).keys(f"podium:rate:score:{user.pk}:{game.pk}:*")
    assert len(counters) == 1
    redis.Redis.from_url(settings.REDIS_URL).incr(counters[0])  # another server counted one meanwhile
    assert submit(client, game, 2).status_code == 429


@pytest.mark.redis
def test_scores_are_accepted_while_the_rate_counters_are_unreachable(client_for, user, game, settings):
    settings.SCORE_RATE_PER_USER_GAME = "1/min"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    client = client_for(user)

    statuses = [submit(client, game, value).status_code for value in (1, 2)]

    assert statuses == [201, 201]
    assert Score.objects.filter(game=game).count() == 2


def test_the_submission_body_is_what_its_documented_serializer_renders(client_for, user, game):
    from scores.serializers import SubmitResponseSerializer

    body = submit(client_for(user), game, 7, metadata={"map": "dust"}).json()
    score = Score.objects.get()

    documented = SubmitResponseSerializer(
        {
            "score": score,
            "personal_best": score.is_personal_best,
            "replayed": False,
            "game_board": body["game_board"],
            "global_board": body["global_board"],
        }
    ).data
    assert body == documented
    assert set(body["game_board"]) == {"board", "rank", "value", "tiebreak", "size", "percentile"}


def test_a_throttled_score_says_when_to_retry(client_for, user, game, settings):
    settings.SCORE_RATE_PER_USER_GAME = "1/min"
    client = client_for(user)
    submit(client, game, 1)

    response = submit(client, game, 2)

    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_a_repeated_idempotency_key_returns_the_original_and_changes_nothing(client_for, user, game):
    client = client_for(user)
    first = submit(client, game, 70, idempotency_key="match-42")

    again = submit(client, game, 70, idempotency_key="match-42")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["score"]["id"] == first.json()["score"]["id"]
    assert Score.objects.count() == 1


def test_an_idempotency_key_reused_for_another_score_is_409(client_for, user, game):
    client = client_for(user)
    submit(client, game, 70, idempotency_key="match-42")

    response = submit(client, game, 71, idempotency_key="match-42")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_idempotency_keys_belong_to_their_player(client_for, game):
    first = submit(client_for(UserFactory()), game, 1, idempotency_key="k1")
    second = submit(client_for(UserFactory()), game, 1, idempotency_key="k1")

    assert (first.status_code, second.status_code) == (201, 201)


def test_a_game_server_submits_for_a_player_of_its_game(api_client, server_key, user, game):
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")

    response = submit(api_client, game, 42, user_id=str(user.pk))

    assert response.status_code == 201
    assert response.json()["score"]["source"] == "server"
    assert Score.objects.get().api_key == server_key[0]


def test_a_game_server_must_name_the_player(api_client, server_key, game):
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")

    response = submit(api_client, game, 42)

    assert response.status_code == 400
    assert "user_id" in response.json()["error"]["fields"]


def test_a_game_server_may_not_write_for_another_game(api_client, server_key, user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")

    response = submit(api_client, GameFactory(), 42, user_id=str(user.pk))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "game_not_allowed"


def test_a_revoked_key_cannot_submit(api_client, server_key, user, game):
    from accounts.services import api_key_revoke

    api_key_revoke(api_key=server_key[0])
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")

    assert submit(api_client, game, 42, user_id=str(user.pk)).status_code == 401


def test_history_lists_newest_first_filtered_and_paged(api_client, client_for, game):
    ace, bob = UserFactory(), UserFactory()
    for value in range(5):
        submit(client_for(ace), game, value)
    submit(client_for(bob), game, 99)

    first = api_client.get(SCORES, {"user_id": str(ace.pk), "game_id": "arena", "limit": 3})
    second = api_client.get(first.json()["next"])

    assert [s["score"] for s in first.json()["results"]] == [4, 3, 2]
    assert [s["score"] for s in second.json()["results"]] == [1, 0]
    assert second.json()["next"] is None


def test_history_of_an_unknown_game_is_404(api_client):
    assert api_client.get(SCORES, {"game_id": "nope"}).status_code == 404


def test_history_rejects_a_malformed_user_id(api_client):
    assert api_client.get(SCORES, {"user_id": "x"}).status_code == 400


def test_staff_void_a_score_and_the_boards_are_recomputed(client_for, staff, game):
    cheater, honest = UserFactory(), UserFactory()
    submit(client_for(honest), game, 500)
    submit(client_for(cheater), game, 400)
    cheat = submit(client_for(cheater), game, 10**9).json()["score"]["id"]

    response = client_for(staff).post(reverse("score-void", args=[cheat]), {"reason": "impossible score"})

    assert response.status_code == 200
    assert response.json()["is_void"] is True
    top = client_for(staff).get("/api/v1/leaderboard/game/arena").json()["entries"]
    assert [(e["username"], e["value"]) for e in top] == [(honest.username, 500), (cheater.username, 400)]
    audit = Score.objects.get(pk=cheat).audits.get()
    assert audit.actor == staff and audit.reason == "impossible score"
    assert f"game.{game.pk}.all" in audit.boards and "global.all" in audit.boards


def test_voiding_a_players_only_score_removes_them_from_the_boards(client_for, staff, user, game):
    score_id = submit(client_for(user), game, 50).json()["score"]["id"]

    client_for(staff).post(reverse("score-void", args=[score_id]), {"reason": "bot"})

    board = client_for(staff).get("/api/v1/leaderboard/global").json()
    assert board["size"] == 0 and board["entries"] == []


def test_voiding_twice_is_409(client_for, staff, user, game):
    score_id = submit(client_for(user), game, 50).json()["score"]["id"]
    client_for(staff).post(reverse("score-void", args=[score_id]), {"reason": "bot"})

    response = client_for(staff).post(reverse("score-void", args=[score_id]), {"reason": "bot"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "score_already_void"


def test_only_staff_void(client_for, user, game):
    score_id = submit(client_for(user), game, 50).json()["score"]["id"]

    response = client_for(user).post(reverse("score-void", args=[score_id]), {"reason": "mine"})

    assert response.status_code == 403
    assert not Score.objects.get(pk=score_id).is_void


def test_void_needs_a_reason(client_for, staff, user, game):
    score_id = submit(client_for(user), game, 50).json()["score"]["id"]

    response = client_for(staff).post(reverse("score-void", args=[score_id]), {})

    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_voiding_an_unknown_score_is_404(client_for, staff):
    assert client_for(staff).post(reverse("score-void", args=[999999]), {"reason": "x"}).status_code == 404


def test_a_game_with_scores_keeps_its_ranking_rules(client_for, staff, user, game):
    submit(client_for(user), game, 50)

    response = client_for(staff).patch(f"/api/v1/games/{game.slug}", {"sort_order": "asc"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "game_has_scores"


def test_a_game_with_scores_cannot_be_deleted(client_for, staff, user, game):
    submit(client_for(user), game, 50)

    response = client_for(staff).delete(f"/api/v1/games/{game.slug}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "game_in_use"


def test_the_public_profile_shows_per_game_ranks(api_client, client_for, user, game):
    submit(client_for(UserFactory()), game, 900)
    submit(client_for(user), game, 100)

    profile = api_client.get(f"/api/v1/users/{user.pk}").json()

    assert profile["games"] == [
        {
            "game_id": str(game.pk),
            "slug": "arena",
            "name": game.name,
            "rank": 2,
            "value": 100,
            "tiebreak": None,
            "size": 2,
            "percentile": 50.0,
        }
    ]


def test_a_game_servers_scores_above_its_per_key_rate_are_429(api_client, server_key, game, settings):
    settings.SCORE_RATE_PER_API_KEY = "2/min"
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")
    players = [UserFactory() for _ in range(3)]

    responses = [submit(api_client, game, 10, user_id=str(player.pk)) for player in players]

    assert [r.status_code for r in responses] == [201, 201, 429]
    assert responses[2].json() == {
        "error": {"code": "throttled", "message": "Too many scores from this API key; slow down."}
    }
    assert 1 <= int(responses[2]["Retry-After"]) <= 60
    assert Score.objects.count() == 2


def test_the_per_key_rate_counts_each_key_apart_and_leaves_players_alone(
    api_client, client_for, server_key, user, game, settings
):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    settings.SCORE_RATE_PER_API_KEY = "1/min"
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")
    submit(api_client, game, 1, user_id=str(user.pk))
    throttled = submit(api_client, game, 2, user_id=str(user.pk))
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(name='second', games=[game])[1]}")

    assert throttled.status_code == 429
    assert submit(other, game, 3, user_id=str(user.pk)).status_code == 201
    assert submit(client_for(user), game, 4).status_code == 201


@pytest.mark.redis
def test_the_per_key_rate_is_counted_in_redis_shared_by_every_process(api_client, server_key, user, game, settings):
    import redis

    settings.SCORE_RATE_PER_API_KEY = "2/min"
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")
    submit(api_client, game, 1, user_id=str(user.pk))

    counters = redis.Redis.from_url(settings.REDIS_URL).keys(f"podium:rate:api-key:{server_key[0].pk}:*")
    assert len(counters) == 1
    redis.Redis.from_url(settings.REDIS_URL).incr(counters[0])  # another server counted one meanwhile
    assert submit(api_client, game, 2, user_id=str(user.pk)).status_code == 429


@pytest.mark.redis
def test_a_game_servers_scores_are_accepted_while_the_rate_counters_are_unreachable(
    api_client, server_key, user, game, settings
):
    settings.SCORE_RATE_PER_API_KEY = "1/min"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")

    statuses = [submit(api_client, game, value, user_id=str(user.pk)).status_code for value in (1, 2)]

    assert statuses == [201, 201]
