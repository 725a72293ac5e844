"""The ranking index in production: written after commit, survived when Redis goes away, rebuilt exactly.

Each test runs against the one Redis server of REDIS_URL and against the Redis Cluster of REDIS_CLUSTER_URL.
"""

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from rankings import index
from rankings.boards import game_board_at, global_board_at
from rankings.engine import get_engine
from rankings.models import StaleBoard
from rankings.periods import Period
from rankings.selectors import board_drift, board_top
from rankings.services import index_heal
from scores.models import Score
from scores.services import score_submit

pytestmark = pytest.mark.django_db(transaction=True)

# Nothing listens on port 1 of the loopback: connecting is refused at once.
UNREACHABLE = "redis://127.0.0.1:1/0"


def boards(game):
    now = timezone.now()
    return [game_board_at(game, period, now) for period in Period.values] + [
        global_board_at(period, now) for period in Period.values
    ]


def test_a_committed_score_reaches_the_redis_index(redis_index, game, user):
    score_submit(user=user, game=game, value=77)

    for board in boards(game):
        entry = redis_index.entry(board, user.pk)
        assert (entry.rank, entry.value) == (1, 77), board.key


def test_a_rolled_back_score_never_reaches_the_index(redis_index, game, user):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        score_submit(user=user, game=game, value=77)
        raise RuntimeError("the caller's transaction fails after the score")

    assert redis_index.size(boards(game)[0]) == 0
    assert not Score.objects.exists()


def test_redis_outage_loses_nothing_and_rebuild_restores_identical_boards(redis_index, game, settings):
    players = [UserFactory() for _ in range(6)]
    for i, player in enumerate(players[:3]):
        score_submit(user=player, game=game, value=100 + i)

    reachable = settings.RANKING_REDIS_URL
    settings.RANKING_REDIS_URL = UNREACHABLE  # Redis stops being reachable mid-run
    index.health.forget()
    for i, player in enumerate(players[3:]):
        score_submit(user=player, game=game, value=200 + i)
    during = board_top(board=boards(game)[0], offset=0, limit=10)

    assert Score.objects.count() == 6
    assert [e.value for e in during.entries] == [202, 201, 200, 102, 101, 100]  # read from the database
    assert StaleBoard.objects.count() == len(boards(game))

    settings.RANKING_REDIS_URL = reachable  # Redis is back
    index.health.forget()
    assert index_heal() == len(boards(game))

    assert not StaleBoard.objects.exists()
    for board in boards(game):
        assert board_drift(board=board) == "", board.key
    assert [e.value for e in get_engine().top(boards(game)[0], offset=0, limit=10)] == [202, 201, 200, 102, 101, 100]


def test_an_index_that_restarted_empty_is_read_around_then_rebuilt(redis_index, game, user):
    score_submit(user=user, game=game, value=5)
    redis_index.client.flushdb()  # what a Redis restart without persistence leaves
    index.health.forget()

    assert board_top(board=boards(game)[0], offset=0, limit=5).size == 1
    assert index_heal() == len(boards(game))
    assert redis_index.size(boards(game)[0]) == 1


def test_rebuild_and_check_commands(redis_index, game, user, capsys):
    score_submit(user=user, game=game, value=5)
    for key in redis_index.client.scan_iter(match="podium:rank:{game.*"):
        redis_index.client.delete(key)

    with pytest.raises(Exception, match="differs"):
        call_command("check_rankings")
    call_command("rebuild_rankings", "--game", game.slug)
    call_command("check_rankings")

    out = capsys.readouterr().out
    assert "DRIFT" in out and "Rebuilt 4 boards" in out and "0 drifted" in out


def test_boards_that_outgrow_their_sorted_set_are_cut_into_ranges_by_the_heal_task(redis_index, game, settings):
    settings.RANKING_REDIS_RANGE_SIZE = 2  # a board of more than 4 players asks to be cut
    players = [UserFactory() for _ in range(7)]
    for i, player in enumerate(players[:5]):
        score_submit(user=player, game=game, value=100 + i % 3)
    engine = get_engine()
    assert engine.range_size == 2

    assert index_heal() == len(boards(game))  # each of the game's and the global boards, once

    for board in boards(game):
        layout = engine._layout(board)
        assert layout is not None and layout.ranges >= 2, board.key
        assert board_drift(board=board) == "", board.key
    # Scores keep arriving on the boards cut into ranges.
    score_submit(user=players[0], game=game, value=500)
    score_submit(user=players[5], game=game, value=101)
    score_submit(user=players[6], game=game, value=1)
    for board in boards(game):
        assert board_drift(board=board) == "", board.key
    top = board_top(board=boards(game)[0], offset=0, limit=10)
    assert [e.value for e in top.entries] == [500, 102, 101, 101, 101, 100, 1]
    assert [e.rank for e in top.entries] == [1, 2, 3, 3, 3, 6, 7]
