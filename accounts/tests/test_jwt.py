"""Bearer tokens the API must refuse: forged, expired, meant for someone else, or of a user who is gone.

``FORGERIES`` is shared with the WebSocket tests (realtime/tests/test_protocol.py), which pass the same tokens
the way /ws/main takes them.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import jwt
import pytest
from django.conf import settings

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
GAMES = "/api/v1/games"


def genuine_claims(user) -> dict:
    """The claims of an access token Podium issued to ``user``."""
    return jwt.decode(user_tokens(user=user)["access"], options={"verify_signature": False})


def sign(claims: dict, *, key: str | None = None, algorithm: str | None = None) -> str:
    return jwt.encode(
        claims,
        settings.SIMPLE_JWT["SIGNING_KEY"] if key is None else key,
        algorithm=algorithm or settings.SIMPLE_JWT["ALGORITHM"],
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload_changed_after_signing(user) -> str:
    header, _, signature = user_tokens(user=user)["access"].split(".")
    return f"{header}.{_b64({**genuine_claims(user), 'user_id': str(UserFactory().pk)})}.{signature}"


def _alg_none(user) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(genuine_claims(user))}."


def _claims_without(user, claim: str) -> dict:
    claims = genuine_claims(user)
    del claims[claim]
    return claims


# The key earlier releases fell back to without SECRET_KEY: it is in the source, so anyone can sign with it.
PUBLISHED_DEVELOPMENT_KEY = "django-insecure-podium-development-key-never-use-in-production"

FORGERIES: dict[str, Callable[[object], str]] = {
    "signed-with-the-published-development-key": lambda user: sign(genuine_claims(user), key=PUBLISHED_DEVELOPMENT_KEY),
    "signed-with-another-key": lambda user: sign(genuine_claims(user), key="another-key-" + "x" * 40),
    "payload-changed-after-signing": _payload_changed_after_signing,
    "expired": lambda user: sign({**genuine_claims(user), "exp": int(time.time()) - 60}),
    "wrong-audience": lambda user: sign({**genuine_claims(user), "aud": "another-service"}),
    "no-audience": lambda user: sign(_claims_without(user, "aud")),
    "wrong-issuer": lambda user: sign({**genuine_claims(user), "iss": "another-service"}),
    "no-issuer": lambda user: sign(_claims_without(user, "iss")),
    "refresh-token-as-access": lambda user: user_tokens(user=user)["refresh"],
    "alg-none": _alg_none,
    "another-algorithm-same-key": lambda user: sign(genuine_claims(user), algorithm="HS384"),
}


def assert_refused(response, code: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_signed_here_with_the_genuine_claims_is_accepted(api_client, user):
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {sign(genuine_claims(user))}")

    assert response.status_code == 200
    assert response.json()["username"] == user.username


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_or_foreign_token_is_401_token_not_valid(api_client, user, forgery):
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {FORGERIES[forgery](user)}")

    assert_refused(response, "token_not_valid")


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_token_is_refused_on_public_reads_too_not_taken_as_anonymous(api_client, user, forgery):
    response = api_client.get(GAMES, HTTP_AUTHORIZATION=f"Bearer {FORGERIES[forgery](user)}")

    assert_refused(response, "token_not_valid")


def test_the_token_of_a_deleted_user_is_401(api_client):
    user = UserFactory()
    token = user_tokens(user=user)["access"]
    user.delete()

    assert_refused(api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}"), "user_not_found")


def test_the_token_of_a_deactivated_user_is_401(api_client):
    user = UserFactory()
    token = user_tokens(user=user)["access"]
    type(user).objects.filter(pk=user.pk).update(is_active=False)

    assert_refused(api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}"), "user_inactive")
