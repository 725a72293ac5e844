"""The credit ledger: grants are written once per (user, reference); the balance is their sum."""

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.selectors import credit_balance, credit_entries
from accounts.services import (
    CreditAdjustForbidden,
    CreditGrant,
    CreditInvalid,
    credit_adjust,
    credits_grant,
)
from accounts.tests.factories import CreditEntryFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def players():
    return UserFactory(), UserFactory()


@pytest.fixture
def prizes(players):
    first, second = players
    return [
        CreditGrant(user_id=first.pk, amount=500, reference="tournament:42:prize", description="1st in Cup 42"),
        CreditGrant(user_id=second.pk, amount=200, reference="tournament:42:prize", description="2nd in Cup 42"),
    ]


def entries_of(user):
    return list(CreditEntry.objects.filter(user=user).values_list("amount", "kind", "reference", "description"))


def test_grant_writes_one_prize_entry_per_grant_and_returns_them(players, prizes):
    written = credits_grant(grants=prizes)

    assert written == prizes
    assert entries_of(players[0]) == [(500, "prize", "tournament:42:prize", "1st in Cup 42")]
    assert entries_of(players[1]) == [(200, "prize", "tournament:42:prize", "2nd in Cup 42")]


def test_granting_the_same_grants_twice_writes_once_and_the_second_call_returns_nothing(prizes):
    credits_grant(grants=prizes)

    again = credits_grant(grants=prizes)

    assert again == []
    assert CreditEntry.objects.count() == 2


def test_a_grant_whose_reference_the_user_already_has_is_skipped_and_the_others_are_written(players, prizes):
    credits_grant(grants=prizes[:1])
    changed_amount = CreditGrant(user_id=players[0].pk, amount=999, reference="tournament:42:prize")

    written = credits_grant(grants=[changed_amount, prizes[1]])

    assert written == [prizes[1]]
    assert credit_balance(user_id=players[0].pk) == 500


def test_one_user_may_receive_many_references(players):
    user = players[0]

    credits_grant(grants=[CreditGrant(user_id=user.pk, amount=10, reference=f"tournament:{n}:prize") for n in range(3)])

    assert credit_balance(user_id=user.pk) == 30


def test_grant_of_nothing_writes_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert credits_grant(grants=[]) == []


def test_grant_to_many_players_takes_the_same_few_queries(django_assert_num_queries):
    users = UserFactory.create_batch(20)
    grants = [CreditGrant(user_id=user.pk, amount=1, reference="tournament:7:prize") for user in users]

    # Savepoint, lock the players, read the references they have, insert, release.
    with django_assert_num_queries(5):
        credits_grant(grants=grants)

    assert CreditEntry.objects.count() == 20


def test_grant_writes_the_adjustment_kind_when_asked(players):
    credits_grant(grants=[CreditGrant(user_id=players[0].pk, amount=-5, reference="refund:1", kind="adjustment")])

    assert entries_of(players[0]) == [(-5, "adjustment", "refund:1", "")]


@pytest.mark.parametrize("amount", [0, 2**63, -(2**63) - 1, 1.5, "10", None, True])
def test_grant_rejects_an_amount_that_is_not_a_non_zero_int64(players, amount):
    with pytest.raises(CreditInvalid) as raised:
        credits_grant(grants=[CreditGrant(user_id=players[0].pk, amount=amount, reference="tournament:1:prize")])

    assert raised.value.code == "invalid"
    assert list(raised.value.fields) == ["amount"]
    assert not CreditEntry.objects.exists()


def test_grant_accepts_the_int64_extremes(players):
    credits_grant(
        grants=[
            CreditGrant(user_id=players[0].pk, amount=2**63 - 1, reference="max"),
            CreditGrant(user_id=players[1].pk, amount=-(2**63), reference="min"),
        ]
    )

    assert credit_balance(user_id=players[0].pk) == 2**63 - 1
    assert credit_balance(user_id=players[1].pk) == -(2**63)


@pytest.mark.parametrize("reference", ["", "   ", "x" * 121])
def test_grant_rejects_an_empty_or_too_long_reference(players, reference):
    with pytest.raises(CreditInvalid) as raised:
        credits_grant(grants=[CreditGrant(user_id=players[0].pk, amount=1, reference=reference)])

    assert list(raised.value.fields) == ["reference"]


def test_grant_accepts_a_reference_of_120_characters(players):
    assert credits_grant(grants=[CreditGrant(user_id=players[0].pk, amount=1, reference="x" * 120)])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"description": "x" * 201}, "description"),
        ({"kind": "bonus"}, "kind"),
        ({"user_id": "not-a-uuid"}, "user_id"),
    ],
)
def test_grant_rejects_other_invalid_fields(players, changes, field):
    grant = CreditGrant(**{"user_id": players[0].pk, "amount": 1, "reference": "r", **changes})

    with pytest.raises(CreditInvalid) as raised:
        credits_grant(grants=[grant])

    assert list(raised.value.fields) == [field]


def test_grant_to_an_unknown_user_writes_nothing(players):
    grants = [
        CreditGrant(user_id=players[0].pk, amount=1, reference="r"),
        CreditGrant(user_id=uuid.uuid4(), amount=1, reference="r"),
    ]

    with pytest.raises(CreditInvalid) as raised:
        credits_grant(grants=grants)

    assert list(raised.value.fields) == ["user_id"]
    assert not CreditEntry.objects.exists()


def test_grant_rejects_two_grants_of_one_reference_to_one_user(players):
    grant = CreditGrant(user_id=players[0].pk, amount=1, reference="r")

    with pytest.raises(CreditInvalid) as raised:
        credits_grant(grants=[grant, CreditGrant(user_id=players[0].pk, amount=2, reference="r")])

    assert list(raised.value.fields) == ["reference"]
    assert not CreditEntry.objects.exists()


def test_adjust_writes_an_adjustment_with_a_fresh_reference_and_the_actor(players, staff):
    first = credit_adjust(user=players[0], amount=-50, description="Chargeback", actor=staff)
    second = credit_adjust(user=players[0], amount=-50, description="Chargeback", actor=staff)

    assert first.kind == second.kind == "adjustment"
    assert first.reference.startswith("adjustment:")
    assert first.reference != second.reference
    assert first.created_by == staff
    assert credit_balance(user_id=players[0].pk) == -100


def test_adjust_by_a_player_is_forbidden(players):
    with pytest.raises(CreditAdjustForbidden) as raised:
        credit_adjust(user=players[0], amount=10, description="Gift to a friend", actor=players[1])

    assert raised.value.status_code == 403
    assert not CreditEntry.objects.exists()


@pytest.mark.parametrize(("amount", "description", "field"), [(0, "Why", "amount"), (10, "  ", "description")])
def test_adjust_needs_a_non_zero_amount_and_a_reason(players, staff, amount, description, field):
    with pytest.raises(CreditInvalid) as raised:
        credit_adjust(user=players[0], amount=amount, description=description, actor=staff)

    assert list(raised.value.fields) == [field]


def test_the_database_refuses_a_zero_amount(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(user=user, amount=0, kind="prize", reference="r")


def test_the_database_refuses_a_second_entry_with_the_same_user_and_reference(user):
    CreditEntryFactory(user=user, reference="tournament:42:prize")

    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntryFactory(user=user, reference="tournament:42:prize")


def test_a_user_with_credit_entries_cannot_be_deleted(user):
    CreditEntryFactory(user=user)

    with pytest.raises(ProtectedError):
        user.delete()


def test_balance_sums_the_users_entries_of_either_sign(players):
    user, other = players
    CreditEntryFactory(user=user, amount=500)
    CreditEntryFactory(user=user, amount=-120, kind="adjustment")
    CreditEntryFactory(user=other, amount=7)

    assert credit_balance(user_id=user.pk) == 380


def test_balance_is_zero_without_entries(user):
    assert credit_balance(user_id=user.pk) == 0


def test_entries_are_the_users_own_newest_first(players):
    user, other = players
    now = timezone.now()
    old = CreditEntryFactory(user=user, created_at=now - timedelta(days=2))
    new = CreditEntryFactory(user=user, created_at=now)
    middle = CreditEntryFactory(user=user, created_at=now - timedelta(days=1))
    CreditEntryFactory(user=other)

    assert list(credit_entries(user_id=user.pk)) == [new, middle, old]
