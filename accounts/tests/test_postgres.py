"""Uniqueness under real concurrency, on PostgreSQL."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD

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
