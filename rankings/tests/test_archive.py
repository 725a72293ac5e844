"""Ended periods: their final boards stay readable as they were, for RANKING_ARCHIVE_DAYS, then archive_prune
deletes them (all-time and tournament boards stay)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.tests.factories import UserFactory
from rankings.boards import HIDDEN_PREFIX, board_key, game_scope
from rankings.models import StaleBoard, Standing
from rankings.periods import Period, period_window
from rankings.services import archive_prune
from rankings.services.storage import board_keys
from scores.services import score_submit

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def key(game, period, day, scope=None):
    return board_key(scope or game_scope(game.pk), period_window(period, datetime(*day, 12, tzinfo=UTC)))


def stand(board, users, *, values=(300, 200, 100), at=NOW):
    for user, value in zip(users, values, strict=False):
        Standing.objects.create(board=board, user=user, value=value, reached_at=at, version=1)


@pytest.fixture
def users(db):
    return [UserFactory(username=f"a{i}") for i in range(3)]


def test_boards_of_periods_ended_before_the_retention_are_deleted_and_the_rest_kept(settings, game, users):
    settings.RANKING_ARCHIVE_DAYS = 30  # horizon: 2026-11-07 12:00
    gone = [
        key(game, Period.DAILY, (2026, 10, 1)),
        key(game, Period.DAILY, (2026, 10, 1), scope="global"),
        HIDDEN_PREFIX + key(game, Period.DAILY, (2026, 10, 1)),
        key(game, Period.WEEKLY, (2026, 10, 15)),  # ended 2026-10-19
        key(game, Period.MONTHLY, (2026, 10, 15)),  # ended 2026-11-01
    ]
    kept = [
        key(game, Period.MONTHLY, (2026, 11, 15)),  # ended 2026-12-01: within 30 days
        key(game, Period.DAILY, (2026, 11, 7)),  # ended 2026-11-08 00:00, after the horizon
        key(game, Period.DAILY, (2026, 12, 7)),  # the current day
        board_key(game_scope(game.pk), period_window(Period.ALL, NOW)),
        "tournament.00000000-0000-0000-0000-000000000007",
    ]
    long_ago = datetime(2026, 9, 1, tzinfo=UTC)  # every row old: a board goes by its period, not its rows
    for board in gone + kept:
        stand(board, users, at=long_ago)
    StaleBoard.objects.create(board=gone[0])
    StaleBoard.objects.create(board=kept[0])

    deleted = archive_prune(now=NOW)

    assert deleted == 3 * len(gone)
    assert set(Standing.objects.values_list("board", flat=True)) == set(kept)
    assert list(StaleBoard.objects.values_list("board", flat=True)) == [kept[0]]
    assert archive_prune(now=NOW) == 0  # nothing left to do


def test_without_a_retention_every_period_is_kept(settings, game, users):
    settings.RANKING_ARCHIVE_DAYS = 0
    stand(key(game, Period.DAILY, (2020, 1, 1)), users, at=datetime(2020, 1, 1, tzinfo=UTC))

    assert archive_prune(now=NOW) == 0
    assert Standing.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_ended_period_answers_its_final_board_paged_and_around_a_player(api_client, settings, game, users):
    settings.RANKING_ARCHIVE_DAYS = 30
    past = timezone.now().astimezone(UTC) - timedelta(days=10)
    board = board_key(game_scope(game.pk), period_window(Period.WEEKLY, past))
    stand(board, users, at=past)
    score_submit(user=users[2], game=game, value=999)  # this week: not on the past board

    response = api_client.get(
        "/api/v1/leaderboard/game/arena",
        {"period": "weekly", "at": past.isoformat(), "around": str(users[1].pk), "limit": 1},
    )
    player = api_client.get(
        f"/api/v1/leaderboard/game/arena/players/{users[2].pk}", {"period": "weekly", "at": past.isoformat()}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(e["rank"], e["username"], e["value"]) for e in body["entries"]] == [(2, "a1", 200)]
    assert body["size"] == 3 and body["board"]["period"] == "weekly"
    assert player.status_code == 200 and (player.json()["rank"], player.json()["value"]) == (3, 100)


@pytest.mark.parametrize("path", ["/api/v1/leaderboard/game/arena", "/api/v1/leaderboard/global"])
def test_a_period_past_the_retention_is_refused_with_a_clear_error(api_client, settings, game, path):
    settings.RANKING_ARCHIVE_DAYS = 30
    old = (timezone.now() - timedelta(days=45)).date().isoformat()

    response = api_client.get(path, {"period": "daily", "at": old})
    all_time = api_client.get(path, {"at": old})  # the all-time board is one board, always kept

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "30 days" in error["fields"]["at"][0]
    assert all_time.status_code == 200


def test_the_prune_runs_periodically():
    assert django_settings.CELERY_BEAT_SCHEDULE["archive-prune"]["task"] == "rankings.tasks.archive_prune"


def test_board_keys_lists_each_board_once(game, users):
    boards = [key(game, Period.DAILY, (2026, 10, day)) for day in (3, 1, 2)] + ["global.all"]
    for board in boards:
        stand(board, users)

    found = board_keys()

    assert sorted(found) == sorted(boards) and len(found) == len(boards)
