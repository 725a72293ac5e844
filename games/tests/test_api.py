import uuid

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from games.models import INT64_MAX, INT64_MIN, Game
from games.serializers import MAX_RULES_BYTES
from games.tests.factories import GameFactory

pytestmark = pytest.mark.django_db

GAMES = "/api/v1/games"


def detail(id_or_slug: object) -> str:
    return f"{GAMES}/{id_or_slug}"


def snapshot() -> list[dict]:
    return list(Game.objects.order_by("id").values())


@pytest.fixture
def staff_client(client_for, staff):
    return client_for(staff)


@pytest.fixture
def client_as(client_for):
    """A client for one of the callers of the permission matrix."""

    def make(who: str, game: Game) -> APIClient:
        if who == "anonymous":
            return APIClient()
        if who == "player":
            return client_for(UserFactory())
        if who == "staff":
            return client_for(UserFactory(is_staff=True))
        _, raw_key = api_key_create(name="game server", games=[game])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        return client

    return make


def _request(client: APIClient, action: str, game: Game):
    if action == "list":
        return client.get(GAMES)
    if action == "detail":
        return client.get(detail(game.slug))
    if action == "create":
        return client.post(GAMES, {"name": "Brand New"}, format="json")
    if action == "update":
        return client.patch(detail(game.slug), {"name": "Renamed"}, format="json")
    return client.delete(detail(game.slug))


# Permission matrix


@pytest.mark.parametrize("who", ["anonymous", "player", "staff", "api_key"])
@pytest.mark.parametrize("action", ["list", "detail"])
def test_anyone_may_read_the_catalogue(client_as, who, action):
    game = GameFactory()

    response = _request(client_as(who, game), action, game)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("player", 403, "permission_denied"),
        ("api_key", 403, "permission_denied"),
    ],
)
@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_only_staff_may_write_the_catalogue(client_as, who, status, code, action):
    game = GameFactory()
    client = client_as(who, game)
    before = snapshot()

    response = _request(client, action, game)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert snapshot() == before


@pytest.mark.parametrize(("action", "status"), [("create", 201), ("update", 200), ("delete", 204)])
def test_staff_writes_succeed(client_as, action, status):
    game = GameFactory()

    response = _request(client_as("staff", game), action, game)

    assert response.status_code == status


def test_anonymous_write_is_401_with_a_www_authenticate_header(api_client):
    response = api_client.post(GAMES, {"name": "Nope"}, format="json")

    assert response.status_code == 401
    assert "WWW-Authenticate" in response


# Create


def test_create_returns_the_game_with_every_field(staff_client):
    response = staff_client.post(
        GAMES,
        {
            "name": "Space Race",
            "description": "Fly fast.",
            "rules": {"lives": 3},
            "sort_order": "asc",
            "score_operator": "latest",
            "min_score": 0,
            "max_score": 1000,
            "is_active": False,
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "slug",
        "name",
        "description",
        "rules",
        "sort_order",
        "score_operator",
        "min_score",
        "max_score",
        "counts_toward_global",
        "tiebreak_order",
        "tiebreak_max",
        "tiebreak_label",
        "score_authority",
        "session_min_seconds",
        "session_max_seconds",
        "session_max_score_per_second",
        "is_active",
        "is_synthetic",
        "created_at",
        "updated_at",
    }
    game = Game.objects.get(pk=body["id"])
    assert (game.name, game.rules, game.sort_order, game.score_operator) == (
        "Space Race",
        {"lives": 3},
        "asc",
        "latest",
    )
    assert (game.min_score, game.max_score, game.is_active) == (0, 1000, False)


def test_create_without_a_slug_makes_one_from_the_name(staff_client):
    response = staff_client.post(GAMES, {"name": "Space Invaders!"}, format="json")

    assert response.status_code == 201
    assert response.json()["slug"] == "space-invaders"


def test_create_without_a_slug_adds_a_suffix_when_the_slug_is_taken(staff_client):
    GameFactory(slug="tetris")

    response = staff_client.post(GAMES, {"name": "Tetris"}, format="json")

    assert response.status_code == 201
    assert response.json()["slug"] == "tetris-2"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"sort_order": "desc"}, True),
        ({"sort_order": "asc"}, False),
        ({}, True),
        ({"sort_order": "asc", "counts_toward_global": True}, True),
        ({"sort_order": "desc", "counts_toward_global": False}, False),
    ],
)
def test_create_defaults_counts_toward_global_from_the_sort_order(staff_client, payload, expected):
    response = staff_client.post(GAMES, {"name": "Race", **payload}, format="json")

    assert response.status_code == 201
    assert response.json()["counts_toward_global"] is expected


def test_create_with_a_taken_slug_is_400_naming_slug(staff_client):
    GameFactory(slug="chess")

    response = staff_client.post(GAMES, {"name": "Chess", "slug": "chess"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "slug" in response.json()["error"]["fields"]
    assert Game.objects.count() == 1


@pytest.mark.parametrize("slug", [str(uuid.uuid4()), uuid.uuid4().hex])
def test_create_refuses_a_slug_that_looks_like_a_game_id(staff_client, slug):
    response = staff_client.post(GAMES, {"name": "Sneaky", "slug": slug}, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()["error"]["fields"]
    assert not Game.objects.exists()


@pytest.mark.parametrize("slug", ["has space", "ünïcode", "x" * 65, ""])
def test_create_refuses_a_malformed_slug(staff_client, slug):
    response = staff_client.post(GAMES, {"name": "Game", "slug": slug}, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()["error"]["fields"]


def test_create_with_min_score_above_max_score_is_400_naming_max_score(staff_client):
    response = staff_client.post(GAMES, {"name": "Golf", "min_score": 10, "max_score": 5}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "max_score" in response.json()["error"]["fields"]
    assert not Game.objects.exists()


def test_create_accepts_equal_score_bounds(staff_client):
    response = staff_client.post(GAMES, {"name": "Exact", "min_score": 7, "max_score": 7}, format="json")

    assert response.status_code == 201


def test_create_accepts_the_int64_extremes_as_bounds(staff_client):
    response = staff_client.post(GAMES, {"name": "Huge", "min_score": INT64_MIN, "max_score": INT64_MAX}, format="json")

    assert response.status_code == 201
    assert Game.objects.get().max_score == INT64_MAX


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_score", INT64_MIN - 1),
        ("min_score", INT64_MAX + 1),
        ("max_score", INT64_MAX + 1),
        ("max_score", INT64_MIN - 1),
        ("max_score", 10**30),
    ],
)
def test_create_refuses_score_bounds_outside_int64(staff_client, field, value):
    response = staff_client.post(GAMES, {"name": "Overflow", field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Game.objects.exists()


@pytest.mark.parametrize("rules", [[1, 2], "lives=3", 3, True])
def test_create_refuses_rules_that_are_not_an_object(staff_client, rules):
    response = staff_client.post(GAMES, {"name": "Odd", "rules": rules}, format="json")

    assert response.status_code == 400
    assert "rules" in response.json()["error"]["fields"]


def test_create_refuses_rules_larger_than_8_kb(staff_client):
    rules = {"text": "x" * MAX_RULES_BYTES}

    response = staff_client.post(GAMES, {"name": "Verbose", "rules": rules}, format="json")

    assert response.status_code == 400
    assert "rules" in response.json()["error"]["fields"]
    assert not Game.objects.exists()


def test_create_accepts_rules_just_under_8_kb(staff_client):
    rules = {"t": "x" * (MAX_RULES_BYTES - len('{"t":""}'))}

    response = staff_client.post(GAMES, {"name": "Wordy", "rules": rules}, format="json")

    assert response.status_code == 201


def test_create_with_deeply_nested_rules_is_never_500(staff_client):
    # Whatever depth the parser lets through must still be stored and rendered; deeper is a 400.
    staff_client.raise_request_exception = False
    for depth in range(600, 1500, 10):
        body = f'{{"name": "Deep {depth}", "rules": {{"a": ' + "[" * depth + "]" * depth + "}}"

        response = staff_client.generic("POST", GAMES, body, content_type="application/json")

        assert response.status_code != 500, f"rules nested {depth} deep gave a 500"
        if response.status_code == 400:
            break


@pytest.mark.parametrize("field", ["colour", "id", "created_at"])
def test_create_refuses_an_unknown_or_read_only_field_naming_it(staff_client, field):
    response = staff_client.post(GAMES, {"name": "Game", field: "x"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not Game.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("sort_order", "sideways"), ("score_operator", "max")])
def test_create_refuses_an_invalid_choice(staff_client, field, value):
    response = staff_client.post(GAMES, {"name": "Game", field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_create_without_a_name_is_400_naming_name(staff_client):
    response = staff_client.post(GAMES, {"slug": "nameless"}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]


# Detail


def test_detail_by_uuid_returns_the_game(api_client):
    game = GameFactory()

    response = api_client.get(detail(game.id))

    assert response.status_code == 200
    assert response.json()["slug"] == game.slug


def test_detail_by_slug_returns_the_game(api_client):
    game = GameFactory()

    response = api_client.get(detail(game.slug))

    assert response.status_code == 200
    assert response.json()["id"] == str(game.id)


@pytest.mark.parametrize("id_or_slug", ["no-such-game", str(uuid.uuid4()), uuid.uuid4().hex])
def test_detail_of_an_unknown_game_is_404_not_found(api_client, id_or_slug):
    GameFactory()

    response = api_client.get(detail(id_or_slug))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# Update


def test_patch_changes_only_the_given_fields(staff_client):
    game = GameFactory(name="Old", description="Kept", min_score=0, max_score=10)

    response = staff_client.patch(detail(game.slug), {"name": "New"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "New"
    game.refresh_from_db()
    assert (game.name, game.description, game.min_score, game.max_score) == ("New", "Kept", 0, 10)


def test_patch_by_uuid_works(staff_client):
    game = GameFactory()

    response = staff_client.patch(detail(game.id), {"is_active": False}, format="json")

    assert response.status_code == 200
    game.refresh_from_db()
    assert game.is_active is False


def test_patch_min_score_above_the_existing_max_score_is_400(staff_client):
    game = GameFactory(min_score=0, max_score=100)

    response = staff_client.patch(detail(game.slug), {"min_score": 101}, format="json")

    assert response.status_code == 400
    assert "max_score" in response.json()["error"]["fields"]
    game.refresh_from_db()
    assert game.min_score == 0


def test_patch_max_score_below_the_existing_min_score_is_400(staff_client):
    game = GameFactory(min_score=50, max_score=100)

    response = staff_client.patch(detail(game.slug), {"max_score": 49}, format="json")

    assert response.status_code == 400
    assert "max_score" in response.json()["error"]["fields"]


def test_patch_may_clear_a_bound(staff_client):
    game = GameFactory(min_score=50, max_score=100)

    response = staff_client.patch(detail(game.slug), {"max_score": None, "min_score": 500}, format="json")

    assert response.status_code == 200
    game.refresh_from_db()
    assert (game.min_score, game.max_score) == (500, None)


def test_patch_slug_to_one_taken_is_400_naming_slug(staff_client):
    GameFactory(slug="taken")
    game = GameFactory(slug="mine")

    response = staff_client.patch(detail(game.slug), {"slug": "taken"}, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()["error"]["fields"]
    game.refresh_from_db()
    assert game.slug == "mine"


def test_patch_slug_to_its_own_value_is_allowed(staff_client):
    game = GameFactory(slug="mine")

    response = staff_client.patch(detail(game.slug), {"slug": "mine", "name": "Mine"}, format="json")

    assert response.status_code == 200


def test_patch_slug_moves_the_game_to_the_new_slug(staff_client, api_client):
    game = GameFactory(slug="old-slug")

    staff_client.patch(detail(game.slug), {"slug": "new-slug"}, format="json")

    assert api_client.get(detail("new-slug")).status_code == 200
    assert api_client.get(detail("old-slug")).status_code == 404


@pytest.mark.parametrize("payload", [{"name": ""}, {"name": None}, {"rules": None}, {"unknown": 1}])
def test_patch_refuses_invalid_values(staff_client, payload):
    game = GameFactory()
    before = snapshot()

    response = staff_client.patch(detail(game.slug), payload, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(payload)
    assert snapshot() == before


def test_patch_of_an_unknown_game_is_404(staff_client):
    response = staff_client.patch(detail("ghost"), {"name": "Boo"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# Delete


def test_delete_removes_the_game_and_then_get_is_404(staff_client):
    game = GameFactory()

    response = staff_client.delete(detail(game.slug))

    assert response.status_code == 204
    assert not Game.objects.filter(pk=game.pk).exists()
    assert staff_client.get(detail(game.slug)).status_code == 404


def test_delete_of_a_game_with_an_api_key_removes_only_the_game(staff_client):
    game = GameFactory()
    api_key, _ = api_key_create(name="server", games=[game])

    response = staff_client.delete(detail(game.id))

    assert response.status_code == 204
    api_key.refresh_from_db()
    assert list(api_key.games.all()) == []


def test_delete_of_an_unknown_game_is_404(staff_client):
    response = staff_client.delete(detail(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# List


def test_list_is_paginated_with_count_next_previous_results(api_client):
    GameFactory.create_batch(3)

    response = api_client.get(GAMES, {"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "offset=2" in body["next"]


def test_list_of_an_empty_catalogue_is_an_empty_page(api_client):
    response = api_client.get(GAMES)

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_pages_with_limit_and_offset(api_client):
    for name in ["A", "B", "C", "D", "E"]:
        GameFactory(name=name)

    response = api_client.get(GAMES, {"limit": 2, "offset": 2})

    body = response.json()
    assert [game["name"] for game in body["results"]] == ["C", "D"]
    assert body["previous"] is not None
    assert body["next"] is not None


def test_list_defaults_to_20_per_page(api_client):
    GameFactory.create_batch(21)

    response = api_client.get(GAMES)

    assert len(response.json()["results"]) == 20


def test_list_accepts_the_maximum_limit(api_client):
    response = api_client.get(GAMES, {"limit": 100})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": -5}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "abc"}, "offset"),
    ],
)
def test_list_refuses_bad_paging_parameters_naming_them(api_client, params, field):
    response = api_client.get(GAMES, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(("value", "expected"), [("true", ["On"]), ("false", ["Off"])])
def test_list_filters_on_is_active(api_client, value, expected):
    GameFactory(name="On", is_active=True)
    GameFactory(name="Off", is_active=False)

    response = api_client.get(GAMES, {"is_active": value})

    assert [game["name"] for game in response.json()["results"]] == expected


def test_list_without_is_active_includes_inactive_games(api_client):
    GameFactory(name="On", is_active=True)
    GameFactory(name="Off", is_active=False)

    response = api_client.get(GAMES)

    assert response.json()["count"] == 2


def test_list_with_an_invalid_is_active_is_400_naming_it(api_client):
    response = api_client.get(GAMES, {"is_active": "maybe"})

    assert response.status_code == 400
    assert "is_active" in response.json()["error"]["fields"]


def test_list_search_matches_names_case_insensitively(api_client):
    GameFactory(name="Super Mario")
    GameFactory(name="Mario Kart")
    GameFactory(name="Zelda")

    response = api_client.get(GAMES, {"search": "MARIO"})

    assert [game["name"] for game in response.json()["results"]] == ["Mario Kart", "Super Mario"]


def test_list_with_a_search_longer_than_100_characters_is_400(api_client):
    response = api_client.get(GAMES, {"search": "x" * 101})

    assert response.status_code == 400
    assert "search" in response.json()["error"]["fields"]


def test_list_is_ordered_by_name(api_client):
    for name in ["Pong", "Asteroids", "Galaga"]:
        GameFactory(name=name)

    response = api_client.get(GAMES)

    assert [game["name"] for game in response.json()["results"]] == ["Asteroids", "Galaga", "Pong"]


def test_list_runs_a_constant_number_of_queries(api_client, django_assert_max_num_queries):
    GameFactory.create_batch(25)

    with django_assert_max_num_queries(3):
        response = api_client.get(GAMES, {"limit": 25})

    assert len(response.json()["results"]) == 25
