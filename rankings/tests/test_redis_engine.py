"""What only the Redis backend has to get right: its scripts and round trips."""

import pytest
from redis.connection import Connection

from conftest import REDIS_INDEXES
from rankings.engine import StandingChange, get_engine
from rankings.engine.redis import ReplicasBehind
from rankings.index import index_apply
from rankings.models import StaleBoard

from .conftest import T0, make_board, redis_engine_of


@pytest.fixture(params=REDIS_INDEXES)
def redis_engine(request, db):
    engine = redis_engine_of(request.param)
    yield engine
    engine.client.flushdb()


def test_a_script_redis_no_longer_knows_is_loaded_again(redis_engine, user):
    board = make_board()
    redis_engine.apply([StandingChange(board, user.pk, 10, T0, 1)])
    redis_engine.client.script_flush()  # what a Redis restart leaves

    redis_engine.apply([StandingChange(board, user.pk, 50, T0, 2)])

    ((entry, size),) = redis_engine.standings([board], user.pk)
    assert (entry.rank, entry.value, size) == (1, 50, 1)


def test_standings_on_several_boards_are_one_round_trip_per_node(redis_engine, user, monkeypatch):
    boards = [make_board(f"test.{n}") for n in range(6)]
    redis_engine.apply([StandingChange(board, user.pk, 10, T0, 1) for board in boards])
    sent = []
    original = Connection.send_packed_command

    def record(connection, command, *args, **kwargs):
        sent.append((connection.host, connection.port))
        return original(connection, command, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", record)
    found = redis_engine.standings(boards, user.pk)
    monkeypatch.undo()

    assert [size for _, size in found] == [1] * len(boards)
    servers = set()
    for board in boards:
        kwargs = redis_engine._node(f"podium:rank:{{{board.key}}}:z").connection_pool.connection_kwargs
        servers.add((kwargs["host"], kwargs["port"]))
    assert len(servers) == (3 if redis_engine.cluster else 1)  # the boards spread over every primary
    assert sorted(sent) == sorted(servers)


@pytest.mark.redis_cluster
def test_a_cluster_node_that_lost_its_keys_leaves_the_index_incomplete(db):
    engine = redis_engine_of("redis_cluster")
    engine.mark_complete(at=T0)
    assert engine.is_complete()

    for primary in engine.client.get_primaries():
        engine.mark_complete(at=T0)
        engine.client.get_redis_connection(primary).flushdb()  # one shard restarted empty, the others intact

        assert not engine.is_complete(), primary.name


@pytest.mark.redis
def test_a_write_no_replica_holds_is_refused_and_its_board_marked_stale(db, settings, user):
    settings.RANKING_ENGINE = "rankings.engine.redis.RedisEngine"
    settings.RANKING_REDIS_URL = settings.REDIS_URL  # one server, no replica
    settings.RANKING_REDIS_WAIT_REPLICAS = 1
    settings.RANKING_REDIS_TIMEOUT = 0.1
    engine = get_engine()
    board = make_board()

    with pytest.raises(ReplicasBehind, match="0 of 1 replicas"):
        engine.apply([StandingChange(board, user.pk, 10, T0, 1)])
    index_apply([StandingChange(board, user.pk, 20, T0, 2)])

    assert StaleBoard.objects.filter(board=board.key).exists()
