"""The Redis backend: one sorted set per board, ranked in O(log N).

Redis sorted-set scores are doubles, exact only up to 2^53, so values are not
stored as scores. Every member has score 0 and is a 32-byte string whose byte
order *is* the board order:

    order key (8 bytes: the value mapped to an unsigned int, inverted for
    descending boards) | reached_at in µs (8) | user id (16)

ZRANK / ZRANGE then list players exactly, and the competition rank of a value
is 1 + ZLEXCOUNT of the members below its 8-byte prefix: O(log N), exact for
every signed 64-bit value. A hash per board maps user id -> (version, member);
a change is applied only if its version is newer, so late or replayed writes
never undo newer ones. Both keys of a board share a hash tag, so a board
lives on one Redis Cluster slot.

The index may be one Redis server or a Redis Cluster (``RANKING_REDIS_CLUSTER``).
Writes go in one round trip per node; with ``RANKING_REDIS_WAIT_REPLICAS`` each
ends with ``WAIT``, so a write counts as done only once that many replicas hold
it, and a failover keeps it. A write that fails or is not held is an
unavailable index to the caller, which marks the board stale and reads the
table until the board is rebuilt.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import groupby, islice
from typing import Any, NamedTuple

import redis
from django.conf import settings
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.crc import key_slot
from redis.exceptions import NoScriptError, RedisClusterException

from rankings.boards import Board

from .base import Entry, RankingEngine, StandingChange, StandingRow, ranked

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIGN = 1 << 63
_MASK = (1 << 64) - 1
_MICRO = timedelta(microseconds=1)
_ORDER = struct.Struct(">QQ")
# Set by a full rebuild: an index that restarted empty lacks it, and is rebuilt before it is read. On a cluster,
# each primary holds one (READY_KEY:{n}, for the first n whose slot it serves): losing one node's keys shows too.
READY_KEY = "podium:rank:ready"
VERSION_WIDTH = 16  # hex digits before the member in the hash value
REBUILD_CHUNK = 5_000

_APPLY = """
local z, h = KEYS[1], KEYS[2]
local applied = 0
for i = 2, #ARGV, 3 do
  local user, version, member = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('HGET', h, user)
  if (not current) or tonumber(string.sub(current, 1, 16), 16) < tonumber(version, 16) then
    if current and #current > 16 then redis.call('ZREM', z, string.sub(current, 17)) end
    if #member > 0 then redis.call('ZADD', z, 0, member) end
    redis.call('HSET', h, user, version .. member)
    applied = applied + 1
  end
end
if applied > 0 then
  -- The board's version: what cached reads of it are keyed by (RedisEngine.version). It starts from the
  -- clock in microseconds, so a board that disappeared (an index restarted empty) never repeats a version.
  if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('INCR', KEYS[3])
  else
    local now = redis.call('TIME')
    redis.call('SET', KEYS[3], now[1] .. string.format('%06d', now[2]))
  end
end
if tonumber(ARGV[1]) > 0 then
  redis.call('EXPIREAT', z, ARGV[1])
  redis.call('EXPIREAT', h, ARGV[1])
  redis.call('EXPIREAT', KEYS[3], ARGV[1])
end
return applied
"""

_TOP = """
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])
if #members == 0 then return {} end
local better = redis.call('ZLEXCOUNT', KEYS[1], '-', '(' .. string.sub(members[1], 1, 8))
return {better, members}
"""

_AROUND = """
local current = redis.call('HGET', KEYS[2], ARGV[1])
if (not current) or #current <= 16 then return {} end
local position = redis.call('ZRANK', KEYS[1], string.sub(current, 17))
local start = position - tonumber(ARGV[2])
if start < 0 then start = 0 end
local members = redis.call('ZRANGE', KEYS[1], start, position + tonumber(ARGV[3]))
local better = redis.call('ZLEXCOUNT', KEYS[1], '-', '(' .. string.sub(members[1], 1, 8))
return {start, better, members}
"""

_ENTRIES = """
local found = {}
for i = 1, #ARGV do
  local current = redis.call('HGET', KEYS[2], ARGV[i])
  if current and #current > 16 then
    local member = string.sub(current, 17)
    found[#found + 1] = redis.call('ZLEXCOUNT', KEYS[1], '-', '(' .. string.sub(member, 1, 8))
    found[#found + 1] = member
  end
end
return found
"""


_SWAP = """
-- KEYS: the rebuilt sorted set and hash, the board's sorted set, hash and version. ARGV: rows loaded, expiry.
if tonumber(ARGV[1]) > 0 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('RENAME', KEYS[2], KEYS[4])
else
  redis.call('DEL', KEYS[3], KEYS[4])
end
-- A new version, above any the board had (the apply script starts them from the clock too).
local now = redis.call('TIME')
redis.call('SET', KEYS[5], now[1] .. string.format('%06d', now[2]))
if tonumber(ARGV[2]) > 0 then
  if tonumber(ARGV[1]) > 0 then
    redis.call('EXPIREAT', KEYS[3], ARGV[2])
    redis.call('EXPIREAT', KEYS[4], ARGV[2])
  end
  redis.call('EXPIREAT', KEYS[5], ARGV[2])
end
return 1
"""


class _Scripts(NamedTuple):
    apply: Script
    top: Script
    around: Script
    entries: Script
    swap: Script


# A command for RedisEngine._pipelined: the key that routes it to its node, and what queues it on a pipeline.
Command = tuple[str, Callable[[Pipeline], object]]


class ReplicasBehind(redis.RedisError):
    """Fewer replicas acknowledged a write than ``RANKING_REDIS_WAIT_REPLICAS`` asks: a failover could lose it."""


def encode_member(*, descending: bool, value: int, reached_at: datetime, user_id: uuid.UUID) -> bytes:
    order = (value + _SIGN) & _MASK
    if descending:
        order = _MASK - order
    micros = (reached_at - _EPOCH) // _MICRO + _SIGN
    return _ORDER.pack(order, micros) + user_id.bytes


def decode_member(member: bytes, *, descending: bool) -> tuple[uuid.UUID, int, datetime]:
    order, micros = _ORDER.unpack_from(member)
    if descending:
        order = _MASK - order
    value = order - _SIGN
    reached_at = _EPOCH + (micros - _SIGN) * _MICRO
    return uuid.UUID(bytes=member[16:32]), value, reached_at


def _keys(board: Board) -> tuple[str, str]:
    # The {hash tag} keeps both keys of a board on one cluster slot.
    return f"podium:rank:{{{board.key}}}:z", f"podium:rank:{{{board.key}}}:h"


def _version_key(board: Board) -> str:
    return f"podium:rank:{{{board.key}}}:v"


def _expire_at(board: Board) -> int:
    expires = board.expires_at
    return int(expires.timestamp()) if expires else 0


def _hash_value(version: int, member: bytes) -> bytes:
    return f"{version:0{VERSION_WIDTH}x}".encode() + member


class RedisEngine(RankingEngine):
    name = "redis"
    unavailable = (redis.RedisError, RedisClusterException, OSError)

    def __init__(
        self, url: str | None = None, *, cluster: bool | None = None, wait_replicas: int | None = None
    ) -> None:
        self.url = url or settings.RANKING_REDIS_URL
        self.cluster = settings.RANKING_REDIS_CLUSTER if cluster is None else cluster
        self.wait_replicas = settings.RANKING_REDIS_WAIT_REPLICAS if wait_replicas is None else wait_replicas

    @cached_property
    def client(self) -> redis.Redis | RedisCluster:
        """Made on first use: a cluster client asks the cluster for its layout as it is made, and an index that
        cannot be reached must fail the call, which falls back to the table, not the making of the engine."""
        timeouts = {
            "socket_timeout": settings.RANKING_REDIS_TIMEOUT,
            "socket_connect_timeout": settings.RANKING_REDIS_TIMEOUT,
        }
        if self.cluster:
            return RedisCluster.from_url(self.url, **timeouts)
        return redis.Redis.from_url(self.url, **timeouts)

    @cached_property
    def _scripts(self) -> _Scripts:
        client = self.client
        return _Scripts(*(client.register_script(text) for text in (_APPLY, _TOP, _AROUND, _ENTRIES, _SWAP)))

    def _decode(self, board: Board, members: Sequence[bytes]) -> list[tuple[uuid.UUID, int, datetime]]:
        return [decode_member(member, descending=board.descending) for member in members]

    def _node(self, key: str) -> redis.Redis:
        """The client of the server that holds ``key``: the one server, or the cluster's primary for its slot."""
        if isinstance(self.client, RedisCluster):
            return self.client.get_redis_connection(self.client.get_node_from_key(key))
        return self.client

    def _pipelined(self, commands: Sequence[Command], *, write: bool = False) -> list[Any]:
        """Run commands, each queued by a callable under the key that routes it, in one round trip per node
        (redis-py's cluster pipelines refuse scripts); the replies come back in the commands' order. Writes end
        each node's round trip with ``WAIT`` when they must reach replicas.

        Scripts go by their SHA: redis-py's own script support in pipelines asks
        ``SCRIPT EXISTS`` before every execution, a second round trip. A script
        Redis does not know (it restarted, failed over, or the cache was flushed)
        is loaded and the round trip made again; every command here is safe to
        repeat (reads, and versioned writes).
        """
        by_node: dict[int, tuple[redis.Redis, list[int]]] = {}
        for position, (key, _) in enumerate(commands):
            node = self._node(key)
            by_node.setdefault(id(node), (node, []))[1].append(position)
        replies: list[Any] = [None] * len(commands)
        try:
            for node, positions in by_node.values():
                queued = [commands[position][1] for position in positions]
                for position, reply in zip(positions, self._round_trip(node, queued, write=write), strict=True):
                    replies[position] = reply
        except (redis.RedisError, OSError):
            if isinstance(self.client, RedisCluster):
                # A node failed or its slots moved (a failover): learn the cluster's layout again for what follows.
                self.client.nodes_manager.initialize()
            raise
        return replies

    def _round_trip(
        self, node: redis.Redis, queued: Sequence[Callable[[Pipeline], object]], *, write: bool
    ) -> list[Any]:
        wait = self.wait_replicas if write else 0
        for attempt in range(2):
            with node.pipeline(transaction=False) as pipe:
                for queue in queued:
                    queue(pipe)
                if wait:
                    # Half the time-out: the answer must come back before the socket gives up on it.
                    pipe.execute_command("WAIT", wait, int(settings.RANKING_REDIS_TIMEOUT * 500))
                try:
                    replies = pipe.execute()
                except NoScriptError:
                    if attempt:
                        raise
                    for script in self._scripts:
                        script.sha = self.client.script_load(script.script)
                    continue
            if wait:
                if replies[-1] < wait:
                    raise ReplicasBehind(f"{replies[-1]} of {wait} replicas acknowledged the write")
                replies.pop()
            return replies
        raise AssertionError("unreachable")

    def apply(self, changes: Sequence[StandingChange]) -> None:
        ordered = sorted(changes, key=lambda change: change.board.key)
        calls: list[tuple[Board, list[object]]] = []
        for _, group in groupby(ordered, key=lambda change: change.board.key):
            group = list(group)
            board = group[0].board
            args: list[object] = [_expire_at(board)]
            for change in group:
                member = (
                    b""
                    if change.value is None
                    else encode_member(
                        descending=board.descending,
                        value=change.value,
                        reached_at=change.reached_at,
                        user_id=change.user_id,
                    )
                )
                args += [change.user_id.bytes, f"{change.version:0{VERSION_WIDTH}x}", member]
            calls.append((board, args))

        def queue(board: Board, args: list[object]) -> Command:
            zset, hashed = _keys(board)
            return zset, lambda pipe: pipe.evalsha(self._scripts.apply.sha, 3, zset, hashed, _version_key(board), *args)

        self._pipelined([queue(board, args) for board, args in calls], write=True)

    def top(self, board: Board, *, offset: int = 0, limit: int = 10) -> list[Entry]:
        reply = self._scripts.top(keys=[_keys(board)[0]], args=[offset, offset + limit - 1])
        if not reply:
            return []
        better, members = reply
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=offset)

    def entry(self, board: Board, user_id: uuid.UUID) -> Entry | None:
        found = self.entries(board, [user_id])
        return found[0] if found else None

    def around(self, board: Board, user_id: uuid.UUID, *, before: int, after: int) -> list[Entry]:
        reply = self._scripts.around(keys=_keys(board), args=[user_id.bytes, before, after])
        if not reply:
            return []
        start, better, members = reply
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=start)

    def entries(self, board: Board, user_ids: Sequence[uuid.UUID]) -> list[Entry]:
        if not user_ids:
            return []
        unique = dict.fromkeys(user_ids)  # a player listed twice is one entry, as in SQL
        reply = self._scripts.entries(keys=_keys(board), args=[user_id.bytes for user_id in unique])
        found = sorted(zip(reply[1::2], reply[0::2], strict=True))
        return [Entry(better + 1, *decode_member(member, descending=board.descending)) for member, better in found]

    def place(self, board: Board, *, value: int, reached_at: datetime, user_id: uuid.UUID) -> tuple[int, int]:
        member = encode_member(descending=board.descending, value=value, reached_at=reached_at, user_id=user_id)
        zset = _keys(board)[0]
        position, better = self._pipelined(
            [
                (zset, lambda pipe: pipe.zlexcount(zset, b"-", b"(" + member)),
                (zset, lambda pipe: pipe.zlexcount(zset, b"-", b"(" + member[:8])),
            ]
        )
        return position, better + 1

    def size(self, board: Board) -> int:
        return self.client.zcard(_keys(board)[0])

    def version(self, board: Board) -> int | None:
        found = self.client.get(_version_key(board))
        return int(found) if found is not None else 0

    def players_standings(
        self, boards: Sequence[Board], user_ids: Sequence[uuid.UUID]
    ) -> list[tuple[dict[uuid.UUID, Entry], int]]:
        unique = [user_id.bytes for user_id in dict.fromkeys(user_ids)]

        sha = self._scripts.entries.sha
        commands: list[Command] = []
        for board in boards:  # one round trip for every board (on a cluster, one per node)
            zset, hashed = _keys(board)
            commands.append((zset, lambda pipe, zset=zset, hashed=hashed: pipe.evalsha(sha, 2, zset, hashed, *unique)))
            commands.append((zset, lambda pipe, zset=zset: pipe.zcard(zset)))
        replies = self._pipelined(commands)
        found: list[tuple[dict[uuid.UUID, Entry], int]] = []
        for board, reply, size in zip(boards, replies[0::2], replies[1::2], strict=True):
            entries = [
                Entry(better + 1, *decode_member(member, descending=board.descending))
                for better, member in zip(reply[0::2], reply[1::2], strict=True)
            ]
            found.append(({entry.user_id: entry for entry in entries}, size))
        return found

    def _ready_keys(self) -> list[str]:
        if not isinstance(self.client, RedisCluster):
            return [READY_KEY]
        owners = {slot: nodes[0].name for slot, nodes in self.client.nodes_manager.slots_cache.items() if nodes}
        primaries = len(set(owners.values()))
        keys: dict[str, str] = {}
        for n in range(1 << 16):  # the first few n reach every primary; 16384 slots, a few per key on average
            key = f"{READY_KEY}:{{{n}}}"
            owner = owners.get(key_slot(key.encode()))
            if owner is not None:
                keys.setdefault(owner, key)
                if len(keys) == primaries:
                    break
        return sorted(keys.values())

    def is_complete(self) -> bool:
        return all(self._pipelined([(key, lambda pipe, key=key: pipe.exists(key)) for key in self._ready_keys()]))

    def mark_complete(self, *, at: datetime) -> None:
        marks = [(key, lambda pipe, key=key: pipe.set(key, at.isoformat())) for key in self._ready_keys()]
        self._pipelined(marks, write=True)

    def rebuild(self, board: Board, rows: Iterable[StandingRow]) -> int:
        """Load ``rows`` into fresh keys, then swap them in atomically: readers never see half a board."""
        zset, hashed = _keys(board)
        temp_zset, temp_hash = f"{zset}:rebuild", f"{hashed}:rebuild"
        self._pipelined([(zset, lambda pipe: pipe.delete(temp_zset, temp_hash))])
        loaded = 0
        rows = iter(rows)
        while chunk := list(islice(rows, REBUILD_CHUNK)):
            members: dict[bytes, int] = {}
            hashes: dict[bytes, bytes] = {}
            for row in chunk:
                member = encode_member(
                    descending=board.descending, value=row.value, reached_at=row.reached_at, user_id=row.user_id
                )
                members[member] = 0
                hashes[row.user_id.bytes] = _hash_value(row.version, member)
            self._pipelined(
                [
                    (zset, lambda pipe, members=members: pipe.zadd(temp_zset, members)),
                    (zset, lambda pipe, hashes=hashes: pipe.hset(temp_hash, mapping=hashes)),
                ]
            )
            loaded += len(chunk)
        keys = (temp_zset, temp_hash, zset, hashed, _version_key(board))
        swap = (zset, lambda pipe: pipe.evalsha(self._scripts.swap.sha, len(keys), *keys, loaded, _expire_at(board)))
        self._pipelined([swap], write=True)
        return loaded
