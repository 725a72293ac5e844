"""Uniqueness under real concurrency, on PostgreSQL."""

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.models import CreditEntry, User
from accounts.services import CreditGrant, credits_grant
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_registrations_of_one_name_in_different_cases_admit_exactly_one():
    names = ["Racer", "racer", "RACER", "rAcEr", "raceR", "RaCeR"]
    barrier = threading.Barrier(len(names))
    statuses: list[int] = []

    def register(name: str, index: int) -> None:
        try:
            barrier.wait()
            response = APIClient().post(
                "/api/v1/users/register",
                {"username": name, "email": f"racer{index}@example.com", "password": DEFAULT_PASSWORD},
                format="json",
                REMOTE_ADDR=f"10.0.0.{index}",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(name, i)) for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [400] * (len(names) - 1)
    assert User.objects.filter(username__iexact="racer").count() == 1


def test_the_database_enforces_case_insensitive_unique_usernames():
    from django.db import IntegrityError

    User.objects.create_user("Unique", "a@example.com", DEFAULT_PASSWORD)

    with pytest.raises(IntegrityError):
        User.objects.create_user("UNIQUE", "b@example.com", DEFAULT_PASSWORD)
    assert connection.vendor == "postgresql"


def test_concurrent_grants_of_the_same_prizes_pay_each_once():
    players = UserFactory.create_batch(5)
    grants = [
        CreditGrant(user_id=player.pk, amount=100 * (rank + 1), reference="tournament:42:prize")
        for rank, player in enumerate(players)
    ]
    grants.append(CreditGrant(user_id=players[0].pk, amount=7, reference="tournament:42:bonus"))
    # The same grants in opposite orders: the service's lock order, not the caller's, prevents a deadlock.
    orders = [grants, grants[::-1]]
    barrier = threading.Barrier(len(orders))
    written: list[int] = []
    errors: list[BaseException] = []

    def grant(ordered: list[CreditGrant]) -> None:
        try:
            barrier.wait()
            written.append(len(credits_grant(grants=ordered)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=grant, args=(ordered,)) for ordered in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(written) == [0, len(grants)]
    stored = sorted(CreditEntry.objects.values_list("user_id", "reference"))
    assert stored == sorted((grant.user_id, grant.reference) for grant in grants)


def test_a_grant_racing_a_writer_that_skips_the_lock_is_stopped_by_the_unique_constraint():
    player = UserFactory()
    inserted = threading.Event()
    errors: list[BaseException] = []

    def direct_writer() -> None:
        try:
            with transaction.atomic():
                CreditEntry.objects.create(user=player, amount=1, kind="prize", reference="tournament:9:prize")
                inserted.set()
                time.sleep(0.5)  # the grant below is now waiting on this row's index entry
        except BaseException as exc:
            errors.append(exc)
            inserted.set()
        finally:
            connection.close()

    writer = threading.Thread(target=direct_writer)
    writer.start()
    inserted.wait()
    try:
        credits_grant(grants=[CreditGrant(user_id=player.pk, amount=1, reference="tournament:9:prize")])
    finally:
        writer.join()

    assert errors == []
    assert CreditEntry.objects.filter(user=player).count() == 1
