"""Throttles for sign-in and registration: per client address, per username from one address, per account.

A view names its scope with ``throttle_scope``; the rate of each key comes from
``DEFAULT_THROTTLE_RATES["<scope>.ip"]``, ``["<scope>.username"]`` and
``["<scope>.account"]`` (a key without a rate is not limited), read at request
time so a changed setting applies at once.

The username key counts one account's attempts from one address: wrong
passwords sent from one place cannot lock the player out everywhere else. The
account key, with a looser rate, counts them from every address, against a
guess spread over many.

``throttle_wait`` counts a form's attempt (the sign-in and registration pages,
the admin's and the browsable API's sign-in) against the same counters as the
API's, so every door to an account shares one limit.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

from django.http import HttpRequest
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView


class _ScopedKeyThrottle(SimpleRateThrottle):
    key_kind = ""

    def __init__(self) -> None:
        # The rate depends on the view's scope, known only in allow_request.
        pass

    def allow_request(self, request: Request, view: APIView) -> bool:
        view_scope = getattr(view, "throttle_scope", None)
        if not view_scope:
            return True
        self.scope = f"{view_scope}.{self.key_kind}"
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        ident = self.ident(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ClientAddressThrottle(_ScopedKeyThrottle):
    key_kind = "ip"

    def ident(self, request: Request) -> str | None:
        return self.get_ident(request)


def _username(request: Request) -> str | None:
    data = request.data
    username = data.get("username") if hasattr(data, "get") else None
    if not isinstance(username, str) or not username:
        return None
    return username.strip().lower()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class UsernameThrottle(_ScopedKeyThrottle):
    """Keyed by the username in the body; for sign-in, also by the client address (one account from one place),
    so that one address cannot lock the player out everywhere. A registration claims a name from anywhere."""

    key_kind = "username"

    def ident(self, request: Request) -> str | None:
        username = _username(request)
        if username is None:
            return None
        return _digest(f"{username}\n{self.get_ident(request)}" if self.scope == "login.username" else username)


class AccountThrottle(_ScopedKeyThrottle):
    """Keyed by the username in the body alone: one account from every address together."""

    key_kind = "account"

    def ident(self, request: Request) -> str | None:
        username = _username(request)
        return None if username is None else _digest(username)


# In this order, and a request refused by one is not counted by the next (``first_refusal``): attempts an
# address makes past its own limit do not use up the account's.
THROTTLES = (ClientAddressThrottle, UsernameThrottle, AccountThrottle)


def first_refusal(request: Request, view: APIView) -> float | None:
    """The wait of the first of the view's throttles that refuses the request, the later ones left uncounted
    (DRF's own check asks every throttle, and each one asked counts the request); None when all allow it."""
    for throttle in view.get_throttles():
        if not throttle.allow_request(request, view):
            return throttle.wait() or 1.0
    return None


def throttle_wait(request: HttpRequest, scope: str) -> float | None:
    """Count a form's attempt in ``scope`` (``login``, ``register``) against the API's own counters; seconds to
    wait when over a limit, else None."""
    # The throttles read the client address from the headers and the username from the posted data, as they
    # would from DRF's request.
    attempt = SimpleNamespace(META=request.META, headers=request.headers, data=request.POST)
    view = SimpleNamespace(throttle_scope=scope, get_throttles=lambda: [throttle() for throttle in THROTTLES])
    return first_refusal(attempt, view)


class ProfileChangeThrottle(UserRateThrottle):
    """Changes of one's own profile, per account (``DEFAULT_THROTTLE_RATES["profile"]``): a taken email is
    refused by name, so without a limit the form would list which addresses are registered. Reads are free."""

    scope = "profile"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # read now: a changed setting applies
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
