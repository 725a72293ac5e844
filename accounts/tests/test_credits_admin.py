"""The ledger in the admin: read-only rows, and staff adjustments written by the service."""

import pytest

from accounts.models import CreditEntry
from accounts.tests.factories import CreditEntryFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/creditentry/"
ADD = "/admin/accounts/creditentry/add/"


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


def test_the_changelist_renders_entries(admin_client):
    CreditEntryFactory(reference="tournament:42:prize")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert "tournament:42:prize" in response.content.decode()


def test_the_changelist_searches_by_username_and_filters_by_kind(admin_client):
    CreditEntryFactory(user=UserFactory(username="winner"), reference="tournament:1:prize")
    CreditEntryFactory(user=UserFactory(username="loser"), reference="tournament:2:prize")

    by_name = admin_client.get(CHANGELIST, {"q": "winner"})
    by_kind = admin_client.get(CHANGELIST, {"kind__exact": "adjustment"})

    assert by_name.status_code == by_kind.status_code == 200
    assert "tournament:1:prize" in by_name.content.decode()
    assert "tournament:2:prize" not in by_name.content.decode()
    assert "tournament:1:prize" not in by_kind.content.decode()


def test_adding_an_entry_in_the_admin_writes_an_adjustment_by_the_staff_member(admin_client, user):
    response = admin_client.post(ADD, {"user": str(user.pk), "amount": "-30", "description": "Duplicate payout"})

    assert response.status_code == 302
    entry = CreditEntry.objects.get()
    assert (entry.user, entry.amount, entry.kind) == (user, -30, "adjustment")
    assert entry.reference.startswith("adjustment:")
    assert entry.created_by == admin_client.admin


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"amount": "0", "description": "Nothing"}, "must not be zero"),
        ({"amount": "10", "description": ""}, "This field is required"),
        ({"amount": str(2**63), "description": "Too much"}, "less than or equal to"),
    ],
)
def test_the_add_form_refuses_an_invalid_amount_or_a_missing_reason(admin_client, user, form, error):
    response = admin_client.post(ADD, {"user": str(user.pk), **form})

    assert response.status_code == 200  # the form again, with the error
    assert error in response.content.decode()
    assert not CreditEntry.objects.exists()


def test_an_entry_can_be_viewed_but_not_changed_or_deleted(admin_client):
    entry = CreditEntryFactory(amount=100)

    view = admin_client.get(f"{CHANGELIST}{entry.pk}/change/")
    change = admin_client.post(f"{CHANGELIST}{entry.pk}/change/", {"user": str(entry.user_id), "amount": "999"})
    delete = admin_client.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"})

    assert view.status_code == 200
    assert change.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 100


def test_the_user_page_shows_the_balance_and_links_to_the_entries(admin_client, user):
    CreditEntryFactory(user=user, amount=1234)
    CreditEntryFactory(amount=5)

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    entries = admin_client.get(CHANGELIST, {"user__id__exact": str(user.pk)})

    assert page.status_code == 200
    assert "1234" in page.content.decode()
    assert f"{CHANGELIST}?user__id__exact={user.pk}" in page.content.decode()
    assert entries.status_code == 200
    assert entries.context["cl"].result_count == 1
