"""Who may do what. A game server (API key) is authenticated but is neither a player nor staff."""

from __future__ import annotations

import uuid

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import User


def is_player(request: Request) -> bool:
    return isinstance(request.user, User) and request.user.is_active


def hidden_viewer(user: object) -> uuid.UUID | None:
    """The user's id when they are a shadow-banned player: their own reads show them their hidden standings."""
    return user.pk if isinstance(user, User) and user.shadow_banned_at is not None else None


class IsPlayer(BasePermission):
    """A signed-in user (JWT or session), not a game server."""

    message = "This needs a signed-in user."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_player(request)
