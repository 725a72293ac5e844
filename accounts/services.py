"""Writes for accounts: registration, sign-in, tokens, profiles, API keys, the credit ledger."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from common.errors import Conflict, DomainError
from games.models import INT64_MAX, INT64_MIN

from .models import ApiKey, CreditEntry, User, api_key_hash

if TYPE_CHECKING:
    from games.models import Game

API_KEY_PREFIX = "pod"


class AccountInvalid(DomainError):
    code = "invalid"
    message = "Some fields are invalid."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status_code = status.HTTP_401_UNAUTHORIZED
    message = "No active account matches that username and password."


class TokenInvalid(DomainError):
    code = "token_not_valid"
    status_code = status.HTTP_401_UNAUTHORIZED
    message = "The token is invalid or expired."


class CreditInvalid(DomainError):
    code = "invalid"
    message = "The credit entry is invalid."


class CreditsInsufficient(Conflict):
    code = "insufficient_credits"
    message = "Your credit balance cannot fund this."


class CreditAdjustForbidden(DomainError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    message = "Only staff may adjust credits."


def _taken_fields(*, username: str | None, email: str | None, exclude: User | None = None) -> dict[str, list[str]]:
    others = User.objects.exclude(pk=exclude.pk) if exclude else User.objects.all()
    fields: dict[str, list[str]] = {}
    if username is not None and others.filter(username__iexact=username).exists():
        fields["username"] = ["This username is already taken."]
    if email is not None and others.filter(email__iexact=email).exists():
        fields["email"] = ["An account with this email already exists."]
    return fields


def user_register(*, username: str, email: str, password: str, display_name: str = "", country: str = "") -> User:
    """Create a player account. Usernames and emails are unique regardless of case."""
    email = User.objects.normalize_email(email)
    candidate = User(username=username, email=email, display_name=display_name, country=country)
    fields = _taken_fields(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        fields["password"] = list(exc.messages)
    if fields:
        raise AccountInvalid(fields=fields)
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name or email.
        raise AccountInvalid(fields=_taken_fields(username=username, email=email) or None) from None
    return candidate


def user_tokens(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_login(*, request: HttpRequest | None, username: str, password: str) -> User:
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    return user


def user_logout(*, refresh: str) -> None:
    """Blacklist a refresh token so it can no longer mint access tokens."""
    try:
        RefreshToken(refresh).blacklist()
    except TokenError as exc:
        raise TokenInvalid(str(exc)) from None


@transaction.atomic
def user_update(
    *, user: User, email: str | None = None, display_name: str | None = None, country: str | None = None
) -> User:
    if email is not None:
        email = User.objects.normalize_email(email)
        fields = _taken_fields(username=None, email=email, exclude=user)
        if fields:
            raise AccountInvalid(fields=fields)
        user.email = email
    if display_name is not None:
        user.display_name = display_name
    if country is not None:
        user.country = country
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise AccountInvalid(fields={"email": ["An account with this email already exists."]}) from None
    return user


def demo_admin_ensure(*, username: str, password: str) -> tuple[User, bool]:
    """Create or update the staff account of the demo. Returns (user, created)."""
    with transaction.atomic():
        user = User.objects.filter(username__iexact=username).first()
        created = user is None
        if user is None:
            user = User(username=username, email=f"{username.lower()}@podium.local")
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(password)
        user.save()
    return user, created


def api_key_issue_secret(*, api_key: ApiKey) -> str:
    """Give an unsaved key its prefix and hashed secret. Returns the secret, which is never stored."""
    while True:
        prefix = secrets.token_hex(4)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key.prefix = prefix
    api_key.secret_hash = api_key_hash(raw_key)
    return raw_key


@transaction.atomic
def api_key_create(*, name: str, games: Iterable[Game], created_by: User | None = None) -> tuple[ApiKey, str]:
    """Create an API key for some games. Returns the key and its secret, shown this once."""
    api_key = ApiKey(name=name, created_by=created_by)
    raw_key = api_key_issue_secret(api_key=api_key)
    api_key.save()
    api_key.games.set(games)
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """Find the key a client presented, or None. Records its use at most once a minute."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.filter(prefix=parts[1]).first()
    if api_key is None or not secrets.compare_digest(api_key.secret_hash, api_key_hash(raw_key)):
        return None
    now = timezone.now()
    stale = now - settings.API_KEY_LAST_USED_RESOLUTION
    if api_key.revoked_at is None and (api_key.last_used_at is None or api_key.last_used_at < stale):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


@dataclass(frozen=True)
class CreditGrant:
    """Credits to write to one user's ledger, once: ``reference`` makes the grant idempotent."""

    user_id: uuid.UUID
    amount: int
    reference: str
    description: str = ""
    kind: str = CreditEntry.Kind.PRIZE


def _credit_check(*, amount: object, reference: str, description: str, kind: str) -> None:
    """Raise a CreditInvalid naming the first field the ledger would refuse."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or not INT64_MIN <= amount <= INT64_MAX:
        raise CreditInvalid(fields={"amount": ["Must be a non-zero signed 64-bit integer."]})
    max_reference = CreditEntry._meta.get_field("reference").max_length
    if not isinstance(reference, str) or not reference.strip() or len(reference) > max_reference:
        raise CreditInvalid(fields={"reference": [f"Must be 1 to {max_reference} characters."]})
    max_description = CreditEntry._meta.get_field("description").max_length
    if not isinstance(description, str) or len(description) > max_description:
        raise CreditInvalid(fields={"description": [f"Must be at most {max_description} characters."]})
    if kind not in CreditEntry.Kind.values:
        raise CreditInvalid(fields={"kind": [f"Must be one of: {', '.join(CreditEntry.Kind.values)}."]})


def credits_grant(*, grants: Sequence[CreditGrant]) -> list[CreditGrant]:
    """Write ledger entries; one whose (user, reference) already exists is skipped. Returns the grants newly written.

    Safe to call again with the same grants (after a crash or a retried task):
    nothing is paid twice. A skipped grant is not compared with the entry that
    exists, so a different amount under a used reference is ignored too.
    Raises CreditInvalid, writing nothing, when any grant is invalid, names an
    unknown user or repeats another grant's (user, reference).
    """
    pairs: list[tuple[uuid.UUID, str]] = []
    for grant in grants:
        _credit_check(amount=grant.amount, reference=grant.reference, description=grant.description, kind=grant.kind)
        if not isinstance(grant.user_id, uuid.UUID):
            raise CreditInvalid(fields={"user_id": ["Must be a UUID."]})
        pairs.append((grant.user_id, grant.reference))
    if len(set(pairs)) != len(pairs):
        raise CreditInvalid(fields={"reference": ["Two grants name the same user and reference."]})
    if not grants:
        return []
    user_ids = sorted({user_id for user_id, _ in pairs})
    with transaction.atomic():
        # Two callers granting to the same players take turns here (always in id order, so they
        # cannot deadlock), which makes the returned list exact: the second one sees the first
        # one's entries. NO KEY UPDATE still lets other rows that point at these users be written.
        locked = set(
            User.objects.select_for_update(no_key=True)
            .filter(pk__in=user_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if len(locked) != len(user_ids):
            unknown = sorted(str(user_id) for user_id in set(user_ids) - locked)
            raise CreditInvalid(fields={"user_id": [f"No such user: {', '.join(unknown)}."]})
        existing = set(
            CreditEntry.objects.filter(user_id__in=user_ids, reference__in={reference for _, reference in pairs})
            .order_by()
            .values_list("user_id", "reference")
        )
        new = [grant for grant, pair in zip(grants, pairs, strict=True) if pair not in existing]
        now = timezone.now()
        # The unique constraint stays the last guard, should a writer ever skip the lock above.
        CreditEntry.objects.bulk_create(
            [
                CreditEntry(
                    user_id=grant.user_id,
                    amount=grant.amount,
                    kind=grant.kind,
                    reference=grant.reference,
                    description=grant.description,
                    created_at=now,
                )
                for grant in new
            ],
            ignore_conflicts=True,
        )
    return new


@transaction.atomic
def credits_spend(*, user: User, amount: int, reference: str, description: str) -> CreditEntry:
    """Take ``amount`` credits from a player's balance (an entry of kind ``prize_pool``), never below zero.

    409 ``insufficient_credits`` when the balance is smaller. The player's row lock makes two spends of one
    balance take turns, so both cannot pass the check; a used reference is refused by the ledger's constraint.
    """
    kind = CreditEntry.Kind.PRIZE_POOL
    _credit_check(amount=amount, reference=reference, description=description, kind=kind)
    if amount < 0:
        raise CreditInvalid(fields={"amount": ["Must be positive: the credits to take."]})
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk").get()
    balance = CreditEntry.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0
    if balance < amount:
        raise CreditsInsufficient(
            f"This needs {amount:,} credits and your balance is {balance:,}.",
            fields={"prize_pool": [f"At most your balance, {balance:,} credits."]},
        )
    return CreditEntry.objects.create(
        user=user, amount=-amount, kind=kind, reference=reference, description=description
    )


@transaction.atomic
def credit_adjust(*, user: User, amount: int, description: str, actor: User) -> CreditEntry:
    """A staff member's manual correction of a player's credits (negative to take some away)."""
    if not (actor.is_active and actor.is_staff):
        raise CreditAdjustForbidden()
    kind = CreditEntry.Kind.ADJUSTMENT
    # A fresh reference each time: two equal corrections are two entries, on purpose.
    reference = f"adjustment:{uuid.uuid4()}"
    _credit_check(amount=amount, reference=reference, description=description, kind=kind)
    if not description.strip():
        raise CreditInvalid(fields={"description": ["Say why the credits are adjusted."]})
    return CreditEntry.objects.create(
        user=user, amount=amount, kind=kind, reference=reference, description=description, created_by=actor
    )
