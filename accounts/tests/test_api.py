import uuid

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import user_tokens
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/users/register"
LOGIN = "/api/v1/users/login"
REFRESH = "/api/v1/users/token/refresh"
LOGOUT = "/api/v1/users/logout"
ME = "/api/v1/users/me"


def test_register_with_the_documented_example_returns_201_user_and_tokens(api_client):
    response = api_client.post(
        REGISTER, {"username": "player1", "email": "player1@demo.com", "password": "demo123"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "player1"
    assert body["user"]["email"] == "player1@demo.com"
    assert set(body) == {"access", "refresh", "user"}
    assert User.objects.get(username="player1").check_password("demo123")


def test_register_then_login_with_the_documented_example(api_client):
    api_client.post(REGISTER, {"username": "player1", "email": "player1@demo.com", "password": "demo123"})

    response = api_client.post(LOGIN, {"username": "player1", "password": "demo123"})

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "player1"
    me = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert me.json()["username"] == "player1"


def test_register_refuses_a_username_taken_in_another_case(api_client):
    UserFactory(username="Ace")

    response = api_client.post(REGISTER, {"username": "ace", "email": "new@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "username" in response.json()["error"]["fields"]


def test_register_refuses_an_email_taken_in_another_case(api_client):
    UserFactory(email="ace@example.com")

    response = api_client.post(
        REGISTER, {"username": "newbie", "email": "ACE@example.com", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["email"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "ab", "email": "a@example.com", "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "x" * 33, "email": "a@example.com", "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "bad name!", "email": "a@example.com", "password": DEFAULT_PASSWORD}, "username"),
        ({"username": "good", "email": "not-an-email", "password": DEFAULT_PASSWORD}, "email"),
        ({"username": "good", "email": "a@example.com"}, "password"),
        ({"username": "good", "email": "a@example.com", "password": DEFAULT_PASSWORD, "country": "XX"}, "country"),
        ({"username": "good", "email": "a@example.com", "password": DEFAULT_PASSWORD, "is_staff": True}, "is_staff"),
        ({"username": 12, "email": "a@example.com", "password": ["x"]}, "password"),
    ],
)
def test_register_reports_the_invalid_field(api_client, payload, field):
    response = api_client.post(REGISTER, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["12345678", "password", "abc", "good-name-1"])
def test_register_applies_django_password_validators_with_per_field_messages(api_client, password):
    response = api_client.post(REGISTER, {"username": "good-name-1", "email": "a@example.com", "password": password})

    assert response.status_code == 400
    messages = response.json()["error"]["fields"]["password"]
    assert messages and all(isinstance(message, str) for message in messages)


def test_register_stores_profile_fields_and_normalises_country(api_client):
    response = api_client.post(
        REGISTER,
        {
            "username": "zed",
            "email": "zed@example.com",
            "password": DEFAULT_PASSWORD,
            "display_name": "Zed",
            "country": "fr",
        },
    )

    assert response.status_code == 201
    assert response.json()["user"]["country"] == "FR"
    assert response.json()["user"]["display_name"] == "Zed"


def test_login_ignores_the_case_of_the_username(api_client):
    UserFactory(username="MixedCase")

    response = api_client.post(LOGIN, {"username": "mixedcase", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "MixedCase"


def test_login_with_a_wrong_password_is_401_invalid_credentials(api_client, user):
    response = api_client.post(LOGIN, {"username": user.username, "password": "nope-nope"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_login_of_an_inactive_user_is_refused(api_client):
    inactive = UserFactory(is_active=False)

    response = api_client.post(LOGIN, {"username": inactive.username, "password": DEFAULT_PASSWORD})

    assert response.status_code == 401


def test_login_ignores_a_stale_bearer_token(api_client, user):
    response = api_client.post(
        LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD}, HTTP_AUTHORIZATION="Bearer garbage"
    )

    assert response.status_code == 200


def test_refresh_returns_a_new_pair_and_blacklists_the_old_refresh_token(api_client, user):
    tokens = user_tokens(user=user)

    first = api_client.post(REFRESH, {"refresh": tokens["refresh"]})
    replay = api_client.post(REFRESH, {"refresh": tokens["refresh"]})

    assert first.status_code == 200
    assert {"access", "refresh"} <= set(first.json())
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "token_not_valid"


def test_refresh_with_garbage_is_401(api_client):
    response = api_client.post(REFRESH, {"refresh": "not.a.token"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_refresh_without_a_token_is_400_with_the_field(api_client):
    response = api_client.post(REFRESH, {})

    assert response.status_code == 400
    assert "refresh" in response.json()["error"]["fields"]


def test_logout_blacklists_the_refresh_token(api_client, user):
    tokens = user_tokens(user=user)

    logout = api_client.post(LOGOUT, {"refresh": tokens["refresh"]})
    refresh = api_client.post(REFRESH, {"refresh": tokens["refresh"]})

    assert logout.status_code == 204
    assert refresh.status_code == 401


def test_logout_with_an_access_token_instead_of_a_refresh_token_is_401(api_client, user):
    response = api_client.post(LOGOUT, {"refresh": user_tokens(user=user)["access"]})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_me_returns_the_signed_in_user(client_for, user):
    response = client_for(user).get(ME)

    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)
    assert response.json()["email"] == user.email


def test_me_without_credentials_is_401(api_client):
    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_patch_me_updates_profile_fields(client_for, user):
    response = client_for(user).patch(ME, {"display_name": "The Ace", "country": "jp"})

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "The Ace"
    assert user.country == "JP"


@pytest.mark.parametrize("field", ["is_staff", "username", "id", "password"])
def test_patch_me_refuses_fields_a_player_cannot_set(client_for, user, field):
    response = client_for(user).patch(ME, {field: "x"})

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert not user.is_staff


def test_patch_me_refuses_an_email_used_by_someone_else(client_for, user):
    other = UserFactory()

    response = client_for(user).patch(ME, {"email": other.email.upper()})

    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]


def test_public_profile_shows_no_email(api_client, user):
    response = api_client.get(reverse("user-detail", args=[user.id]))

    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert "email" not in response.json()


def test_public_profile_of_an_unknown_user_is_404(api_client):
    response = api_client.get(reverse("user-detail", args=[uuid.uuid4()]))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
