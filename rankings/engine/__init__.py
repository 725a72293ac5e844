"""Loads the configured ranking engine (``RANKING_ENGINE``), once per process, like Django's own backends."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import Entry, RankingEngine, StandingChange, StandingRow
from .sql import SqlEngine

__all__ = ["Entry", "RankingEngine", "StandingChange", "StandingRow", "get_engine", "sql_engine"]


@cache
def get_engine() -> RankingEngine:
    return import_string(settings.RANKING_ENGINE)()


@cache
def sql_engine() -> SqlEngine:
    """The standings table itself: the fallback for reads and the source of every rebuild."""
    return SqlEngine()


@receiver(setting_changed)
def _reset_engine(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("RANKING_"):
        get_engine.cache_clear()
