"""Reads for accounts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet, Sum

from .models import CreditEntry, User


def user_get_public(*, user_id: uuid.UUID) -> User | None:
    """An active user by id, as anyone may see them."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_get_by_username(*, username: str) -> User | None:
    """An active user by username, ignoring case as sign-in does."""
    return User.objects.filter(username__iexact=username, is_active=True).first()


def credit_balance(*, user_id: uuid.UUID) -> int:
    """The sum of the user's ledger entries; 0 when there are none."""
    total = CreditEntry.objects.filter(user_id=user_id).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def credit_entries(*, user_id: uuid.UUID) -> QuerySet[CreditEntry]:
    """The user's ledger entries, newest first."""
    return CreditEntry.objects.filter(user_id=user_id).order_by("-created_at", "-id")


def credit_prize_count(*, user_id: uuid.UUID) -> int:
    return credit_entries(user_id=user_id).filter(kind=CreditEntry.Kind.PRIZE).count()


class _NameCache:
    """(username, display_name) by user id, kept per process for ``PLAYER_NAME_CACHE_SECONDS``.

    Boards attach 100 to 200 names per response and the same players lead a
    board for hours, so most pages need no query. A rename is seen at once in
    the process that saved it (the cache forgets the user on save and delete),
    and within that many seconds in every other. Bounded: it starts over when full.
    """

    MAX_ENTRIES = 100_000

    def __init__(self) -> None:
        self.entries: dict[uuid.UUID, tuple[float, str, str]] = {}
        self.generation = 0  # counts forgotten names: what caches of rendered names compare

    def get_many(self, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
        ttl = settings.PLAYER_NAME_CACHE_SECONDS
        now = time.monotonic()
        found: dict[uuid.UUID, tuple[str, str]] = {}
        missing: list[uuid.UUID] = []
        for user_id in user_ids:
            cached = self.entries.get(user_id)
            if cached is not None and now - cached[0] < ttl:
                found[user_id] = cached[1:]
            else:
                missing.append(user_id)
        if missing:
            if len(self.entries) + len(missing) > self.MAX_ENTRIES:
                self.entries.clear()
            for pk, username, display_name in User.objects.filter(pk__in=missing).values_list(
                "pk", "username", "display_name"
            ):
                found[pk] = (username, display_name)
                if ttl > 0:
                    self.entries[pk] = (now, username, display_name)
        return found

    def forget(self, user_id: uuid.UUID) -> None:
        self.entries.pop(user_id, None)
        self.generation += 1


player_names = _NameCache()


def user_names(*, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """(username, display_name) of each listed user that exists."""
    return player_names.get_many(user_ids)
