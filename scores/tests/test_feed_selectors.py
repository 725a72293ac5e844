"""The reads behind the dashboard: the latest scores, and how many were made today and per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score
from scores.selectors import score_feed, scores_per_minute, scores_today

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 30, 20, tzinfo=UTC)


@pytest.fixture
def add():
    user, game = UserFactory(), GameFactory()

    def score(at: datetime, value: int = 1, **fields) -> Score:
        return Score.objects.create(user=user, game=game, value=value, created_at=at, **fields)

    return score


def test_scores_per_minute_counts_each_of_the_last_minutes_oldest_first(add):
    for moment in ("12:30:05", "12:30:10", "12:29:59", "12:01:00", "12:00:59", "12:30:21"):
        add(datetime.combine(NOW.date(), datetime.strptime(moment, "%H:%M:%S").time(), tzinfo=UTC))

    counts = scores_per_minute(now=NOW, minutes=30)

    assert len(counts) == 30
    assert counts[-1] == 2  # 12:30, still running: not the score after now
    assert counts[-2] == 1  # 12:29
    assert counts[0] == 1  # 12:01; 12:00:59 is before the window
    assert sum(counts) == 4


def test_scores_today_counts_from_midnight_utc(add):
    midnight = NOW.replace(hour=0, minute=0, second=0)
    add(midnight - timedelta(seconds=1))
    add(midnight)
    add(NOW - timedelta(hours=1))

    assert scores_today(now=NOW) == 2


def test_score_feed_lists_the_latest_scores_that_count(add):
    first = add(NOW - timedelta(minutes=3), value=10)
    add(NOW - timedelta(minutes=2), value=20, voided_at=timezone.now(), void_reason="cheat")
    last = add(NOW - timedelta(minutes=1), value=30)

    assert score_feed(limit=5) == [last, first]
    assert score_feed(limit=1) == [last]
