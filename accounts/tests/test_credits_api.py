"""Credits in the API: the balance on profiles, and the signed-in user's ledger."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import api_key_create
from accounts.tests.factories import CreditEntryFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
MY_CREDITS = "/api/v1/users/me/credits"


@pytest.fixture
def ledger(user):
    """Three entries of ``user``, oldest first, and one of another player."""
    now = timezone.now()
    entries = [
        CreditEntryFactory(user=user, amount=500, reference="tournament:1:prize", created_at=now - timedelta(days=2)),
        CreditEntryFactory(user=user, amount=-20, kind="adjustment", reference="adjustment:x", created_at=now),
        CreditEntryFactory(user=user, amount=75, reference="tournament:2:prize", created_at=now - timedelta(days=1)),
    ]
    CreditEntryFactory(amount=1_000)
    return entries


def test_me_shows_the_credit_balance(client_for, user, ledger):
    response = client_for(user).get(ME)

    assert response.status_code == 200
    assert response.json()["credits"] == 555


def test_me_shows_zero_credits_without_entries(client_for, user):
    assert client_for(user).get(ME).json()["credits"] == 0


def test_updating_me_answers_with_the_credit_balance(client_for, user, ledger):
    response = client_for(user).patch(ME, {"display_name": "Rich"}, format="json")

    assert response.status_code == 200
    assert response.json()["credits"] == 555


def test_the_public_profile_shows_the_credit_balance(api_client, user, ledger):
    response = api_client.get(f"/api/v1/users/{user.pk}")

    assert response.status_code == 200
    assert response.json()["credits"] == 555


def test_my_credits_lists_my_entries_newest_first_with_the_balance(client_for, user, ledger):
    response = client_for(user).get(MY_CREDITS)

    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == 555
    assert body["count"] == 3
    assert [entry["reference"] for entry in body["results"]] == [
        "adjustment:x",
        "tournament:2:prize",
        "tournament:1:prize",
    ]
    assert set(body["results"][0]) == {"id", "amount", "kind", "reference", "description", "created_at"}
    assert body["results"][0]["amount"] == -20
    assert body["results"][0]["kind"] == "adjustment"


def test_my_credits_are_paged_and_the_balance_covers_every_page(client_for, user, ledger):
    response = client_for(user).get(MY_CREDITS, {"limit": 1, "offset": 1})

    body = response.json()
    assert [entry["reference"] for entry in body["results"]] == ["tournament:2:prize"]
    assert body["count"] == 3
    assert body["next"] and body["previous"]
    assert body["balance"] == 555


def test_my_credits_without_entries_is_an_empty_page(client_for):
    body = client_for(UserFactory()).get(MY_CREDITS).json()

    assert body == {"balance": 0, "count": 0, "next": None, "previous": None, "results": []}


def test_my_credits_with_a_bad_limit_is_400_naming_it(client_for, user):
    response = client_for(user).get(MY_CREDITS, {"limit": 0})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "limit" in response.json()["error"]["fields"]


def test_my_credits_without_credentials_is_401(api_client):
    response = api_client.get(MY_CREDITS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_my_credits_are_not_for_a_game_server(api_client):
    _, raw_key = api_key_create(name="server", games=[])

    response = api_client.get(MY_CREDITS, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_my_credits_cannot_be_written(client_for, user):
    response = client_for(user).post(MY_CREDITS, {"amount": 1_000_000}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("signed_in", [False, True])
def test_my_credits_render_in_the_browsable_api(client, user, ledger, signed_in):
    if signed_in:
        client.force_login(user)

    response = client.get(MY_CREDITS, HTTP_ACCEPT="text/html")

    assert response.status_code == (200 if signed_in else 401)
    assert ("tournament:1:prize" in response.content.decode()) is signed_in
