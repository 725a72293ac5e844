"""What only the Redis backend has to get right: its scripts and round trips."""

import random
import uuid
from datetime import timedelta

import pytest
from redis.connection import Connection

from accounts.tests.factories import UserFactory
from conftest import REDIS_INDEXES
from rankings.engine import StandingChange, StandingRow, get_engine
from rankings.engine.redis import ReplicasBehind, _keys
from rankings.engine.sql import SqlEngine
from rankings.index import index_apply
from rankings.models import StaleBoard, Standing

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
    settings.RANKING_REDIS_TIMEOUT = 1.0  # WAIT gives up after half of it, well before the socket does
    engine = get_engine()
    board = make_board()

    with pytest.raises(ReplicasBehind, match="0 of 1 replicas"):
        engine.apply([StandingChange(board, user.pk, 10, T0, 1)])
    index_apply([StandingChange(board, user.pk, 20, T0, 2)])

    assert StaleBoard.objects.filter(board=board.key).exists()


@pytest.mark.redis_cluster
def test_a_board_cut_into_ranges_answers_exactly_as_the_table_while_players_move_across_them(db):
    """Ranges of 3 players on the cluster's nodes, many ties, players moving up, down and off the board: every
    listing, rank and place equals the standings table's."""
    engine, table = redis_engine_of("redis_ranges"), SqlEngine()
    engine.range_size = 3
    rng = random.Random(7)
    board = make_board(descending=rng.random() < 0.5)
    users = UserFactory.create_batch(40)
    rows = {
        user.pk: Standing.objects.create(
            board=board.key, user=user, value=rng.randrange(12), reached_at=T0 + timedelta(seconds=n), version=1
        )
        for n, user in enumerate(users)
    }
    engine.rebuild(board, [StandingRow(r.user_id, r.value, r.reached_at, r.version) for r in rows.values()])
    layout = engine._layout(board)
    assert layout is not None and layout.ranges >= 8
    nodes = {id(engine._node(_keys(layout.range_board(board, n))[0])) for n in range(layout.ranges)}
    assert len(nodes) == 3

    def same_answers() -> None:
        size = table.size(board)
        assert engine.size(board) == size
        for offset in range(0, size + 2, 3):
            assert engine.top(board, offset=offset, limit=7) == table.top(board, offset=offset, limit=7)
        for user in users:
            assert engine.around(board, user.pk, before=4, after=5) == table.around(board, user.pk, before=4, after=5)
        picked = rng.sample([user.pk for user in users], 9)
        assert engine.entries(board, picked) == table.entries(board, picked)
        for value in range(-1, 14):
            at = T0 + timedelta(seconds=rng.randrange(-5, 45))
            stranger = uuid.uuid4()
            assert engine.place(board, value=value, reached_at=at, user_id=stranger) == table.place(
                board, value=value, reached_at=at, user_id=stranger
            )

    same_answers()
    for round_ in range(4):
        changes = []
        for user in rng.sample(users, 12):
            row = rows[user.pk]
            row.version += 1
            if row.pk is not None and rng.random() < 0.15:
                row.delete()  # off the board
                changes.append(StandingChange(board, user.pk, None, None, row.version))
                continue
            row.value, row.reached_at = rng.randrange(-3, 16), T0 + timedelta(minutes=round_ + 1, seconds=rng.random())
            row.save()  # back on the board, when it was off
            changes.append(StandingChange(board, user.pk, row.value, row.reached_at, row.version))
        late = [StandingChange(c.board, c.user_id, 99, T0, c.version - 1) for c in changes[:3]]
        engine.apply(changes)
        engine.apply(late)  # older versions, arriving after: they change nothing
        same_answers()
