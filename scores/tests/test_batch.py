import uuid

import pytest

from accounts.models import ApiKey
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = "/api/v1/scores/batch"


@pytest.fixture
def server(api_client, server_key):
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")
    return api_client


def item(user, game, score, **extra):
    return {"user_id": str(user.pk), "game_id": str(game.pk), "score": score, **extra}


def test_a_batch_is_stored_and_ranked(server, game, write_path):
    players = [UserFactory() for _ in range(3)]

    response = server.post(BATCH, {"scores": [item(p, game, 10 * (i + 1)) for i, p in enumerate(players)]})

    assert response.status_code == 200
    assert response.json()["created"] == 3
    assert [r["status"] for r in response.json()["results"]] == ["created"] * 3
    top = server.get("/api/v1/leaderboard/game/arena").json()
    assert [e["value"] for e in top["entries"]] == [30, 20, 10]
    assert Score.objects.filter(source="server").count() == 3


def test_invalid_items_are_reported_by_index_and_the_valid_ones_stored(server, game, user):
    other_game = GameFactory()
    bounded = GameFactory(min_score=0, max_score=10)
    from accounts.models import ApiKey

    ApiKey.objects.get().games.add(bounded)
    scores = [
        item(user, game, 5),
        {"user_id": "not-a-uuid", "game_id": str(game.pk), "score": 1},
        item(user, game, "7"),
        item(user, other_game, 1),
        {"user_id": str(uuid.uuid4()), "game_id": str(game.pk), "score": 1},
        item(user, bounded, 11),
        item(user, game, 1, metadata={"x": "y" * 3000}),
        "not an object",
        item(user, game, 6, colour="red"),
        item(user, game, 9),
    ]

    response = server.post(BATCH, {"scores": scores})

    body = response.json()
    assert response.status_code == 200
    assert (body["created"], body["rejected"]) == (2, 8)
    codes = [r.get("error", {}).get("code") for r in body["results"]]
    assert codes == [
        None,
        "invalid",
        "invalid",
        "game_not_allowed",
        "user_not_found",
        "score_out_of_bounds",
        "metadata_too_large",
        "invalid",
        "invalid",
        None,
    ]
    assert sorted(Score.objects.values_list("value", flat=True)) == [5, 9]


def rejection(response) -> dict:
    """The error of the batch's only item."""
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["status"] == "rejected"
    return result["error"]


@pytest.mark.parametrize(
    "game_id",
    ["arena", "no-such-game", "", "{not a uuid}", 42, None, ["arena"], {"slug": "arena"}],
    ids=["slug-of-its-game", "unknown-slug", "empty", "garbage", "number", "null", "list", "object"],
)
def test_an_item_whose_game_id_is_not_an_id_is_rejected_on_game_id(server, user, game, game_id):
    body = {"scores": [{"user_id": str(user.pk), "game_id": game_id, "score": 1}]}

    error = rejection(server.post(BATCH, body))

    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["game_id"]
    assert not Score.objects.exists()


def test_an_item_without_a_game_id_is_rejected_on_game_id(server, user, game):
    error = rejection(server.post(BATCH, {"scores": [{"user_id": str(user.pk), "score": 1}]}))

    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["game_id"]


@pytest.mark.parametrize("field", ["game", "game_slug", "slug"])
def test_an_item_naming_its_game_in_another_field_is_rejected_on_that_field(server, user, game, field):
    error = rejection(server.post(BATCH, {"scores": [{"user_id": str(user.pk), field: "arena", "score": 1}]}))

    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]


def test_an_item_naming_an_unknown_game_id_is_rejected_as_game_not_found_on_game_id(server, user, game):
    body = {"scores": [{"user_id": str(user.pk), "game_id": str(uuid.uuid4()), "score": 1}]}

    error = rejection(server.post(BATCH, body))

    assert error["code"] == "game_not_found"
    assert list(error["fields"]) == ["game_id"]


def test_an_item_naming_a_game_the_key_may_not_write_is_rejected_on_game_id(server, user, game):
    error = rejection(server.post(BATCH, {"scores": [item(user, GameFactory(), 1)]}))

    assert error["code"] == "game_not_allowed"
    assert list(error["fields"]) == ["game_id"]


@pytest.mark.parametrize("user_id", ["not-a-uuid", 7, None], ids=["garbage", "number", "null"])
def test_an_item_whose_user_id_is_not_an_id_is_rejected_on_user_id(server, game, user_id):
    error = rejection(server.post(BATCH, {"scores": [{"user_id": user_id, "game_id": str(game.pk), "score": 1}]}))

    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["user_id"]


def test_an_item_naming_an_unknown_player_is_rejected_as_user_not_found_on_user_id(server, game):
    body = {"scores": [{"user_id": str(uuid.uuid4()), "game_id": str(game.pk), "score": 1}]}

    error = rejection(server.post(BATCH, body))

    assert error["code"] == "user_not_found"
    assert list(error["fields"]) == ["user_id"]


def test_a_score_outside_the_games_bounds_is_rejected_on_score(server, user):
    bounded = GameFactory(min_score=0, max_score=10)
    ApiKey.objects.get().games.add(bounded)

    error = rejection(server.post(BATCH, {"scores": [item(user, bounded, 11)]}))

    assert error["code"] == "score_out_of_bounds"
    assert list(error["fields"]) == ["score"]


def test_repeated_idempotency_keys_are_duplicates_not_new_scores(server, game, user, write_path):
    first = server.post(BATCH, {"scores": [item(user, game, 5, idempotency_key="m-1")]}).json()

    again = server.post(
        BATCH,
        {
            "scores": [
                item(user, game, 5, idempotency_key="m-1"),
                item(user, game, 6, idempotency_key="m-2"),
                item(user, game, 7, idempotency_key="m-2"),
            ]
        },
    ).json()

    assert again["results"][0] == {"index": 0, "status": "duplicate", "score_id": first["results"][0]["score_id"]}
    assert again["results"][1]["status"] == "created"
    assert again["results"][2]["error"]["code"] == "idempotency_key_repeated"
    assert Score.objects.count() == 2


def test_one_player_several_times_in_a_batch_is_applied_in_order(server, user, write_path):
    summed = GameFactory(score_operator="sum")
    from accounts.models import ApiKey

    ApiKey.objects.get().games.add(summed)

    server.post(BATCH, {"scores": [item(user, summed, 5), item(user, summed, 7), item(user, summed, -2)]})

    standing = server.get(f"/api/v1/leaderboard/game/{summed.slug}/players/{user.pk}").json()
    assert standing["value"] == 10


@pytest.mark.parametrize(
    "body",
    [{}, {"scores": []}, {"scores": "x"}, [{"score": 1}], {"scores": [{}] * 1001}],
    ids=["missing", "empty", "not-a-list", "bare-list", "too-many"],
)
def test_a_malformed_batch_is_400_and_stores_nothing(server, body):
    response = server.post(BATCH, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Score.objects.exists()


def test_a_batch_of_1000_is_accepted(server, game, write_path):
    players = [UserFactory() for _ in range(20)]

    response = server.post(BATCH, {"scores": [item(players[i % 20], game, i) for i in range(1000)]})

    assert response.json()["created"] == 1000
    assert server.get("/api/v1/leaderboard/game/arena").json()["size"] == 20


def test_players_cannot_use_the_batch(client_for, user, game):
    response = client_for(user).post(BATCH, {"scores": [item(user, game, 1)]}, format="json")

    assert response.status_code == 403
    assert not Score.objects.exists()


def test_a_batch_counts_each_score_against_the_keys_rate_shared_with_single_submissions(server, game, settings):
    settings.SCORE_RATE_PER_API_KEY = "5/min"
    players = [UserFactory() for _ in range(3)]

    first = server.post(BATCH, {"scores": [item(p, game, 1) for p in players]})
    single = server.post("/api/v1/scores", item(players[0], game, 2), format="json")
    over = server.post(BATCH, {"scores": [item(p, game, 3) for p in players[:2]]})

    assert (first.status_code, single.status_code) == (200, 201)
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "throttled"
    assert 1 <= int(over["Retry-After"]) <= 60
    assert Score.objects.count() == 4


def test_a_batch_larger_than_the_keys_whole_rate_is_refused_and_stores_nothing(server, game, user, settings):
    settings.SCORE_RATE_PER_API_KEY = "2/min"

    response = server.post(BATCH, {"scores": [item(user, game, value) for value in range(3)]})

    assert response.status_code == 429
    assert not Score.objects.exists()


@pytest.mark.redis
def test_a_batch_is_accepted_while_the_rate_counters_are_unreachable(server, game, user, settings):
    settings.SCORE_RATE_PER_API_KEY = "1/min"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    response = server.post(BATCH, {"scores": [item(user, game, value) for value in range(3)]})

    assert response.json()["created"] == 3


def test_a_key_already_used_for_another_score_is_refused_for_that_item_as_a_single_submit_is(server, game, user):
    other_game = GameFactory()
    ApiKey.objects.get().games.add(other_game)
    first = server.post(BATCH, {"scores": [item(user, game, 5, idempotency_key="m-1")]}).json()

    again = server.post(
        BATCH,
        {
            "scores": [
                item(user, game, 5, idempotency_key="m-1"),  # the same score: replayed
                item(user, game, 6, idempotency_key="m-1"),  # another value
                item(user, other_game, 5, idempotency_key="m-1"),  # another game
            ]
        },
    ).json()
    single = server.post("/api/v1/scores", item(user, game, 6, idempotency_key="m-1"))

    assert again["results"][0] == {"index": 0, "status": "duplicate", "score_id": first["results"][0]["score_id"]}
    assert [r["status"] for r in again["results"][1:]] == ["rejected", "rejected"]
    assert {r["error"]["code"] for r in again["results"][1:]} == {"idempotency_key_reused"}
    assert single.status_code == 409 and single.json()["error"]["code"] == "idempotency_key_reused"
    assert Score.objects.count() == 1


def test_a_batch_stores_every_field_of_its_scores_with_ids_in_item_order(server, game, write_path):
    players = UserFactory.create_batch(3)
    key = ApiKey.objects.get()

    results = server.post(
        BATCH,
        {
            "scores": [
                item(players[0], game, 30, metadata={"map": "dune", "kills": [1, 2]}),
                item(players[1], game, 20, idempotency_key="k-1"),
                item(players[2], game, 10),
                item(players[0], game, 40),
            ]
        },
    ).json()["results"]

    ids = [r["score_id"] for r in results]
    assert ids == sorted(ids)
    stored = {s.pk: s for s in Score.objects.filter(pk__in=ids)}
    first, keyed, _, better = (stored[pk] for pk in ids)
    assert first.metadata == {"map": "dune", "kills": [1, 2]} and keyed.metadata == {}
    assert (keyed.idempotency_key, first.idempotency_key) == ("k-1", None)
    assert {(s.source, s.api_key_id, s.void_reason, s.voided_at) for s in stored.values()} == {
        ("server", key.pk, "", None)
    }
    assert [stored[pk].is_personal_best for pk in ids] == [True, True, True, True]
    top = server.get("/api/v1/leaderboard/game/arena").json()
    assert [(e["user_id"], e["value"]) for e in top["entries"]] == [
        (str(players[0].pk), 40),
        (str(players[1].pk), 20),
        (str(players[2].pk), 10),
    ]
