"""Reads for accounts."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

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


# The inverse of tournaments.services.prize_reference.
_TOURNAMENT_PRIZE = re.compile(r"^tournament:(\d+):prize$")


def credit_prize_count(*, user_id: uuid.UUID) -> int:
    return credit_entries(user_id=user_id).filter(kind=CreditEntry.Kind.PRIZE).count()


@dataclass(frozen=True)
class Prize:
    """A prize in a player's ledger, with the tournament it paid for when that still exists."""

    amount: int
    description: str
    created_at: datetime
    tournament_id: int | None
    tournament_name: str | None
    rank: int | None


def credit_prizes(*, user_id: uuid.UUID, limit: int = 50) -> list[Prize]:
    """The user's latest prize entries, newest first, each joined to its tournament and final rank."""
    # Tournaments build on accounts, not the other way round: import at call time.
    from tournaments.models import Tournament, TournamentResult

    entries = list(credit_entries(user_id=user_id).filter(kind=CreditEntry.Kind.PRIZE)[:limit])
    ids = {int(m[1]) for e in entries if (m := _TOURNAMENT_PRIZE.match(e.reference))}
    names = dict(Tournament.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    ranks = (
        dict(
            TournamentResult.objects.filter(tournament_id__in=names, user_id=user_id).values_list(
                "tournament_id", "rank"
            )
        )
        if names
        else {}
    )
    prizes = []
    for entry in entries:
        match = _TOURNAMENT_PRIZE.match(entry.reference)
        tournament_id = int(match[1]) if match and int(match[1]) in names else None
        prizes.append(
            Prize(
                amount=entry.amount,
                description=entry.description,
                created_at=entry.created_at,
                tournament_id=tournament_id,
                tournament_name=names.get(tournament_id) if tournament_id else None,
                rank=ranks.get(tournament_id) if tournament_id else None,
            )
        )
    return prizes


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
