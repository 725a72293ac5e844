"""Game-server authentication: API keys sent as ``Authorization: Api-Key <key>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from .models import ApiKey

if TYPE_CHECKING:
    from games.models import Game

API_KEY_KEYWORD = "Api-Key"


@dataclass(frozen=True)
class GameServer:
    """``request.user`` for a request signed with an API key.

    It is authenticated but is no player and no staff: views that need a user
    check ``isinstance(request.user, User)``; score writes check ``may_write``.
    """

    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    pk: None = None
    id: None = None

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def may_write(self, game: Game) -> bool:
        return self.api_key.games.filter(pk=game.pk).exists()


class ApiKeyInvalid(exceptions.AuthenticationFailed):
    default_detail = "The API key is not valid."
    default_code = "api_key_invalid"


class ApiKeyRevoked(exceptions.AuthenticationFailed):
    default_detail = "The API key has been revoked."
    default_code = "api_key_revoked"


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``, for game servers."""

    def authenticate(self, request: Request) -> tuple[GameServer, ApiKey] | None:
        from .services import api_key_authenticate

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != API_KEY_KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise ApiKeyInvalid("The Api-Key header must carry exactly one key.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise ApiKeyInvalid() from None
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise ApiKeyInvalid()
        if api_key.is_revoked:
            raise ApiKeyRevoked()
        return GameServer(api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_KEYWORD
