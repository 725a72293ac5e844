import uuid
from datetime import UTC, datetime, timedelta

import pytest

from conftest import REDIS_INDEXES, redis_index_settings
from rankings.boards import Board
from rankings.engine import StandingChange, StandingRow
from rankings.engine.redis import RedisEngine
from rankings.engine.sql import SqlEngine
from rankings.models import Standing
from rankings.periods import Period, period_window

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_board(key: str = "test.board", *, descending: bool = True) -> Board:
    return Board(key, descending, period_window(Period.ALL, T0))


# Players per range of the split boards under test: 2, so that every listing of a few players crosses borders.
RANGE_SIZE = 2


def redis_engine_of(kind: str) -> RedisEngine:
    """A Redis engine, empty: on the one server of REDIS_URL, or on the cluster of REDIS_CLUSTER_URL (``redis_ranges``:
    with boards cut into ranges of RANGE_SIZE players)."""
    options = redis_index_settings("redis_cluster" if kind == "redis_ranges" else kind)
    engine = RedisEngine(
        options["RANKING_REDIS_URL"],
        cluster=options["RANKING_REDIS_CLUSTER"],
        wait_replicas=options["RANKING_REDIS_WAIT_REPLICAS"],
        range_size=RANGE_SIZE if kind == "redis_ranges" else 0,
    )
    engine.client.flushdb()
    return engine


@pytest.fixture(params=["sql", *REDIS_INDEXES, pytest.param("redis_ranges", marks=pytest.mark.redis_cluster)])
def engine(request, db):
    """Each backend of the contract; the Redis one against the real Redis of REDIS_URL and a real cluster, where
    ``redis_ranges`` cuts every board loaded into ranges of RANGE_SIZE players on several nodes."""
    if request.param == "sql":
        yield SqlEngine()
        return
    engine = redis_engine_of(request.param)
    yield engine
    engine.client.flushdb()


@pytest.fixture
def load(engine):
    """Put players on a board: standings rows in the database, and the same changes applied to the engine."""
    from accounts.tests.factories import UserFactory

    def put(board: Board, values: list[int], *, spacing: timedelta = timedelta(seconds=1)) -> list[uuid.UUID]:
        users = [UserFactory() for _ in values]
        rows = [
            Standing(board=board.key, user=user, value=value, reached_at=T0 + i * spacing, version=1)
            for i, (user, value) in enumerate(zip(users, values, strict=True))
        ]
        Standing.objects.bulk_create(rows)
        engine.apply([StandingChange(board, row.user_id, row.value, row.reached_at, row.version) for row in rows])
        if getattr(engine, "range_size", 0):
            engine.rebuild(board, [StandingRow(row.user_id, row.value, row.reached_at, row.version) for row in rows])
        return [user.pk for user in users]

    return put


@pytest.fixture
def game(db):
    """The board the API tests read: /api/v1/leaderboard/game/arena."""
    from games.tests.factories import GameFactory

    return GameFactory(slug="arena")
