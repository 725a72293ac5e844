"""Recurring tournaments and the lifecycle's clock (``tournaments_tick``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterError, croniter
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ..models import RecurringTournament, Status, Tournament
from .errors import IllegalTransition
from .lifecycle import tournament_finish, tournament_pay, tournament_start
from .registration import _invalid, tournament_create

logger = logging.getLogger(__name__)


def recurring_validate(*, schedule: str, duration: timedelta) -> None:
    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise _invalid("schedule", "Must be a cron expression of five fields, e.g. '0 18 * * 5'.")
    try:
        recurring_next_start(schedule=schedule, after=timezone.now())
    except CroniterError:
        raise _invalid("schedule", "This schedule never names a time (e.g. 30 February).") from None
    if not timedelta(minutes=1) <= duration <= timedelta(days=settings.TOURNAMENT_MAX_DAYS):
        raise _invalid("duration", f"Must be from one minute to {settings.TOURNAMENT_MAX_DAYS} days.")


def recurring_next_start(*, schedule: str, after: datetime) -> datetime:
    """The first time the schedule names strictly after ``after`` (UTC)."""
    return croniter(schedule, after.astimezone(UTC)).get_next(datetime)


# An instance is named after its template and start, "<name> YYYY-MM-DD HH:MM", within Tournament.name's 100.
NAME_ROOM = 100 - len(" YYYY-MM-DD HH:MM")


def recurring_create_due(*, now: datetime | None = None) -> list[Tournament]:
    """Keep one upcoming tournament per active template: create the next occurrence when none is scheduled."""
    now = now or timezone.now()
    created: list[Tournament] = []
    for template in RecurringTournament.objects.filter(is_active=True).select_related("game", "organizer"):
        if template.instances.filter(start_time__gt=now).exists():
            continue
        last = template.instances.order_by("-start_time").values_list("start_time", flat=True).first()
        try:
            start = recurring_next_start(schedule=template.schedule, after=max(now, last) if last else now)
            created.append(
                tournament_create(
                    organizer=template.organizer,
                    game=template.game,
                    name=f"{template.name[:NAME_ROOM]} {start:%Y-%m-%d %H:%M}",
                    description=template.description,
                    format=template.format,
                    max_attempts=template.max_attempts,
                    max_participants=template.max_participants,
                    prize_pool=template.prize_pool,
                    prize_split=template.prize_split,
                    start_time=start,
                    end_time=start + template.duration,
                    recurrence=template,
                )
            )
        except IntegrityError:
            continue  # another scheduler created this occurrence first
        except Exception:  # noqa: BLE001  one broken template must not stop the others, nor the clock
            logger.warning("recurring tournament %s cannot create an instance", template.pk, exc_info=True)
    return created


@dataclass
class TickReport:
    created: int = 0
    started: int = 0
    finished: int = 0
    paid: int = 0
    failed: int = 0


def tournaments_tick(*, now: datetime | None = None) -> TickReport:
    """The lifecycle's clock: create recurring instances, then start, finish and pay what is due.

    Each tournament moves in its own transaction; one that fails is logged and
    retried at the next tick (a finished tournament left unpaid by a crash is paid here).
    """
    now = now or timezone.now()
    report = TickReport(created=len(recurring_create_due(now=now)))
    steps = [
        ("started", tournament_start, Tournament.objects.filter(status=Status.SCHEDULED, start_time__lte=now)),
        ("finished", tournament_finish, Tournament.objects.filter(status=Status.RUNNING, end_time__lte=now)),
        ("paid", tournament_pay, Tournament.objects.filter(status=Status.FINISHED)),
    ]
    for counter, step, due in steps:
        for tournament in list(due.order_by("pk")[: settings.TOURNAMENT_TICK_BATCH]):
            try:
                step(tournament=tournament)
            except IllegalTransition:
                continue  # another worker moved it first
            except Exception:  # noqa: BLE001  one broken tournament must not stop the others
                logger.exception("tournament %s: %s failed", tournament.pk, step.__name__)
                report.failed += 1
            else:
                setattr(report, counter, getattr(report, counter) + 1)
    return report
