import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import services
from accounts.auth import GameServer
from accounts.models import ApiKey
from accounts.services import api_key_authenticate, api_key_create, api_key_revoke
from games.tests.factories import GameFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def games():
    return GameFactory(slug="chess"), GameFactory(slug="golf")


@pytest.fixture
def chess_key(games):
    return api_key_create(name="chess server", games=[games[0]])


def write(api_client, raw_key, slug):
    return api_client.post(f"/api/test/games/{slug}/write", HTTP_AUTHORIZATION=f"Api-Key {raw_key}")


def test_create_returns_the_secret_once_and_stores_only_its_hash(chess_key):
    api_key, raw_key = chess_key

    assert re.fullmatch(r"pod_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}", raw_key)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw_key not in (stored.secret_hash, stored.prefix)
    assert stored.secret_hash == services.api_key_hash(raw_key)


def test_authenticate_finds_the_key_and_records_its_use(chess_key):
    api_key, raw_key = chess_key

    found = api_key_authenticate(raw_key=raw_key)

    assert found.pk == api_key.pk
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


def test_authenticate_writes_last_used_at_most_once_a_minute(chess_key, django_assert_num_queries):
    _, raw_key = chess_key
    api_key_authenticate(raw_key=raw_key)

    with django_assert_num_queries(1):
        api_key_authenticate(raw_key=raw_key)


def test_authenticate_refreshes_a_stale_last_used(chess_key):
    api_key, raw_key = chess_key
    long_ago = timezone.now() - timedelta(hours=1)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=long_ago)

    api_key_authenticate(raw_key=raw_key)

    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > long_ago


@pytest.mark.parametrize("raw_key", ["", "pod_", "pod_deadbeef_wrong", "xyz_deadbeef_secret", "pod_deadbeef"])
def test_authenticate_rejects_unknown_keys(chess_key, raw_key):
    assert api_key_authenticate(raw_key=raw_key) is None


def test_authenticate_rejects_a_right_prefix_with_a_wrong_secret(chess_key):
    api_key, raw_key = chess_key
    forged = f"pod_{api_key.prefix}_{'A' * 43}"

    assert api_key_authenticate(raw_key=forged) is None


@pytest.mark.urls("accounts.tests.urls_for_api_keys")
def test_a_valid_key_writes_for_its_game(api_client, chess_key):
    response = write(api_client, chess_key[1], "chess")

    assert response.status_code == 200
    assert response.json() == {"key": "chess server", "game": "chess"}


@pytest.mark.urls("accounts.tests.urls_for_api_keys")
def test_a_key_may_not_write_for_a_game_it_does_not_list(api_client, chess_key):
    response = write(api_client, chess_key[1], "golf")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "game_not_allowed"


@pytest.mark.urls("accounts.tests.urls_for_api_keys")
def test_a_revoked_key_is_401(api_client, chess_key):
    api_key_revoke(api_key=chess_key[0])

    response = write(api_client, chess_key[1], "chess")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


@pytest.mark.urls("accounts.tests.urls_for_api_keys")
@pytest.mark.parametrize("header", ["Api-Key pod_00000000_nope", "Api-Key", "Api-Key a b", "api-key pod_00000000_nope"])
def test_an_unknown_or_malformed_key_is_401(api_client, chess_key, header):
    response = api_client.post("/api/test/games/chess/write", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_invalid"


def test_a_game_server_is_no_player(api_client, chess_key):
    response = api_client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Api-Key {chess_key[1]}")

    assert response.status_code == 403


def test_game_server_identity_is_authenticated_but_not_staff(chess_key, games):
    server = GameServer(api_key=chess_key[0])

    assert server.is_authenticated and not server.is_staff
    assert server.may_write(games[0]) and not server.may_write(games[1])


def test_create_api_key_command_prints_a_working_key(games, capsys):
    call_command("create_api_key", "--name", "both", "--game", "chess", "--game", "golf")

    raw_key = capsys.readouterr().out.strip()
    api_key = api_key_authenticate(raw_key=raw_key)
    assert api_key.name == "both"
    assert {g.slug for g in api_key.games.all()} == {"chess", "golf"}


def test_create_api_key_command_refuses_an_unknown_game(games):
    with pytest.raises(CommandError, match="nope"):
        call_command("create_api_key", "--name", "x", "--game", "nope")


def test_admin_creates_a_key_and_shows_the_secret_once(client, games):
    from accounts.tests.factories import UserFactory

    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)

    response = client.post(
        "/admin/accounts/apikey/add/", {"name": "from admin", "games": [str(games[1].pk)]}, follow=True
    )

    shown = re.search(r"pod_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}", response.content.decode())
    assert shown, "the new key is shown on the page"
    api_key = api_key_authenticate(raw_key=shown.group(0))
    assert api_key.name == "from admin"
    assert api_key.created_by == admin_user
    assert list(api_key.games.all()) == [games[1]]


def test_admin_revoke_action_revokes(client, chess_key):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    client.post(
        "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [str(chess_key[0].pk)]}, follow=True
    )

    assert ApiKey.objects.get(pk=chess_key[0].pk).is_revoked
