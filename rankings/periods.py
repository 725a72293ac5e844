"""Board periods, in UTC: all-time, daily, weekly (ISO week, Monday first) and monthly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Period(models.TextChoices):
    ALL = "all", "All time"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


@dataclass(frozen=True)
class PeriodWindow:
    """One concrete period: ``key`` names it in board keys; ``start``/``end`` bound it (end exclusive)."""

    period: str
    key: str
    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return self.start is None or self.start <= moment < self.end


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def period_window(period: str, at: datetime) -> PeriodWindow:
    """The window of ``period`` that contains the moment ``at``."""
    at = at.astimezone(UTC)
    day = at.date()
    if period == Period.ALL:
        return PeriodWindow(period, "", None, None)
    if period == Period.DAILY:
        return PeriodWindow(period, day.isoformat(), _midnight(day), _midnight(day + timedelta(days=1)))
    if period == Period.WEEKLY:
        iso = day.isocalendar()
        monday = day - timedelta(days=iso.weekday - 1)
        return PeriodWindow(
            period, f"{iso.year}-W{iso.week:02d}", _midnight(monday), _midnight(monday + timedelta(days=7))
        )
    if period == Period.MONTHLY:
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return PeriodWindow(period, f"{first:%Y-%m}", _midnight(first), _midnight(following))
    raise ValueError(f"unknown period {period!r}")


def previous_window(window: PeriodWindow) -> PeriodWindow:
    """The period just before ``window`` (all-time has none: it is its own)."""
    if window.start is None:
        return window
    return period_window(window.period, window.start - timedelta(microseconds=1))


def windows_containing(at: datetime) -> list[PeriodWindow]:
    """Every window a score made at ``at`` counts in."""
    return [period_window(period, at) for period in Period.values]


def archive_horizon(now: datetime | None = None) -> datetime | None:
    """Periods that ended before this moment are no longer kept (``RANKING_ARCHIVE_DAYS``); None: all are kept."""
    days = settings.RANKING_ARCHIVE_DAYS
    if days <= 0:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def window_kept(window: PeriodWindow, now: datetime | None = None) -> bool:
    """Whether the board of ``window`` is still kept: all-time always, a period until the retention has passed."""
    horizon = archive_horizon(now)
    return horizon is None or window.end is None or window.end > horizon
