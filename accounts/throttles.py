"""Throttles for sign-in and registration: per client address and per username.

A view names its scope with ``throttle_scope``; the rate of each key comes from
``DEFAULT_THROTTLE_RATES["<scope>.ip"]`` and ``["<scope>.username"]``, read at
request time so a changed setting applies at once.
"""

from __future__ import annotations

import hashlib

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
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


class UsernameThrottle(_ScopedKeyThrottle):
    """Keyed by the username in the body, so one account cannot be hammered from many addresses."""

    key_kind = "username"

    def ident(self, request: Request) -> str | None:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
