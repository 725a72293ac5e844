"""What only the Redis backend has to get right: its scripts and round trips."""

import pytest

from rankings.engine import StandingChange

from .conftest import T0, make_board

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_engine(settings, db):
    from rankings.engine.redis import RedisEngine

    engine = RedisEngine(settings.REDIS_URL)
    engine.client.flushdb()
    yield engine
    engine.client.flushdb()


def test_a_script_redis_no_longer_knows_is_loaded_again(redis_engine, user):
    board = make_board()
    redis_engine.apply([StandingChange(board, user.pk, 10, T0, 1)])
    redis_engine.client.script_flush()  # what a Redis restart leaves

    redis_engine.apply([StandingChange(board, user.pk, 50, T0, 2)])

    ((entry, size),) = redis_engine.standings([board], user.pk)
    assert (entry.rank, entry.value, size) == (1, 50, 1)


def test_standings_on_several_boards_are_one_round_trip(redis_engine, user):
    boards = [make_board("test.one"), make_board("test.two")]
    redis_engine.apply([StandingChange(board, user.pk, 10, T0, 1) for board in boards])
    sent = []
    connection = redis_engine.client.connection_pool.get_connection()
    redis_engine.client.connection_pool.release(connection)
    original = connection.send_packed_command

    def record(command, *args, **kwargs):
        sent.append(command)
        return original(command, *args, **kwargs)

    connection.send_packed_command = record
    try:
        found = redis_engine.standings(boards, user.pk)
    finally:
        connection.send_packed_command = original

    assert [size for _, size in found] == [1, 1]
    assert len(sent) == 1
