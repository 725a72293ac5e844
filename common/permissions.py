"""Permissions that need nothing of the accounts app: any principal carries ``is_active`` and ``is_staff``."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsStaffOrReadOnly(BasePermission):
    """Reads for anyone; writes for active staff (a game server's principal and the anonymous user are neither)."""

    message = "Only staff may change this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        return bool(user is not None and user.is_active and user.is_staff)
