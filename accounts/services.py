"""Writes for accounts: registration, sign-in, tokens, profiles, API keys."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from leaderboard_project.errors import DomainError

from .models import ApiKey, User, api_key_hash

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
