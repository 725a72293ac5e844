"""Reads for accounts."""

from __future__ import annotations

import uuid

from .models import User


def user_get_public(*, user_id: uuid.UUID) -> User | None:
    """An active user by id, as anyone may see them."""
    return User.objects.filter(pk=user_id, is_active=True).first()
