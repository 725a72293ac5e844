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
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from typing import Any

import redis
from django.conf import settings
from redis.client import Pipeline
from redis.exceptions import NoScriptError

from rankings.boards import Board

from .base import Entry, RankingEngine, StandingChange, StandingRow, ranked

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIGN = 1 << 63
_MASK = (1 << 64) - 1
_MICRO = timedelta(microseconds=1)
_ORDER = struct.Struct(">QQ")
# Set by a full rebuild: an index that restarted empty lacks it, and is rebuilt before it is read.
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
    unavailable = (redis.RedisError, OSError)

    def __init__(self, url: str | None = None) -> None:
        self.client = redis.Redis.from_url(
            url or settings.RANKING_REDIS_URL,
            socket_timeout=settings.RANKING_REDIS_TIMEOUT,
            socket_connect_timeout=settings.RANKING_REDIS_TIMEOUT,
        )
        self._apply = self.client.register_script(_APPLY)
        self._top = self.client.register_script(_TOP)
        self._around = self.client.register_script(_AROUND)
        self._entries = self.client.register_script(_ENTRIES)
        self._scripts = (self._apply, self._top, self._around, self._entries)

    def _decode(self, board: Board, members: Sequence[bytes]) -> list[tuple[uuid.UUID, int, datetime]]:
        return [decode_member(member, descending=board.descending) for member in members]

    def _pipelined(self, fill: Callable[[Pipeline], None]) -> list[Any]:
        """Run the commands ``fill`` queues in one round trip, scripts by their SHA.

        redis-py's own script support in pipelines asks ``SCRIPT EXISTS`` before
        every execution, a second round trip. Here a script Redis does not know
        (it restarted, or the cache was flushed) is loaded and the pipeline run
        again; every script here is safe to repeat (reads, and versioned writes).
        """
        for attempt in range(2):
            with self.client.pipeline(transaction=False) as pipe:
                fill(pipe)
                try:
                    return pipe.execute()
                except NoScriptError:
                    if attempt:
                        raise
                    for script in self._scripts:
                        script.sha = self.client.script_load(script.script)
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

        def fill(pipe: Pipeline) -> None:
            for board, args in calls:
                pipe.evalsha(self._apply.sha, 3, *_keys(board), _version_key(board), *args)

        self._pipelined(fill)

    def top(self, board: Board, *, offset: int = 0, limit: int = 10) -> list[Entry]:
        reply = self._top(keys=[_keys(board)[0]], args=[offset, offset + limit - 1])
        if not reply:
            return []
        better, members = reply
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=offset)

    def entry(self, board: Board, user_id: uuid.UUID) -> Entry | None:
        found = self.entries(board, [user_id])
        return found[0] if found else None

    def around(self, board: Board, user_id: uuid.UUID, *, before: int, after: int) -> list[Entry]:
        reply = self._around(keys=_keys(board), args=[user_id.bytes, before, after])
        if not reply:
            return []
        start, better, members = reply
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=start)

    def entries(self, board: Board, user_ids: Sequence[uuid.UUID]) -> list[Entry]:
        if not user_ids:
            return []
        unique = dict.fromkeys(user_ids)  # a player listed twice is one entry, as in SQL
        reply = self._entries(keys=_keys(board), args=[user_id.bytes for user_id in unique])
        found = sorted(zip(reply[1::2], reply[0::2], strict=True))
        return [Entry(better + 1, *decode_member(member, descending=board.descending)) for member, better in found]

    def place(self, board: Board, *, value: int, reached_at: datetime, user_id: uuid.UUID) -> tuple[int, int]:
        member = encode_member(descending=board.descending, value=value, reached_at=reached_at, user_id=user_id)
        zset = _keys(board)[0]
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zlexcount(zset, b"-", b"(" + member)
            pipe.zlexcount(zset, b"-", b"(" + member[:8])
            position, better = pipe.execute()
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

        def fill(pipe: Pipeline) -> None:
            # One round trip for every board (each board's keys stay on their own cluster slot).
            for board in boards:
                zset, hashed = _keys(board)
                pipe.evalsha(self._entries.sha, 2, zset, hashed, *unique)
                pipe.zcard(zset)

        replies = self._pipelined(fill)
        found: list[tuple[dict[uuid.UUID, Entry], int]] = []
        for board, reply, size in zip(boards, replies[0::2], replies[1::2], strict=True):
            entries = [
                Entry(better + 1, *decode_member(member, descending=board.descending))
                for better, member in zip(reply[0::2], reply[1::2], strict=True)
            ]
            found.append(({entry.user_id: entry for entry in entries}, size))
        return found

    def is_complete(self) -> bool:
        return bool(self.client.exists(READY_KEY))

    def mark_complete(self, *, at: datetime) -> None:
        self.client.set(READY_KEY, at.isoformat())

    def rebuild(self, board: Board, rows: Iterable[StandingRow]) -> int:
        """Load ``rows`` into fresh keys, then swap them in atomically: readers never see half a board."""
        zset, hashed = _keys(board)
        temp_zset, temp_hash = f"{zset}:rebuild", f"{hashed}:rebuild"
        self.client.delete(temp_zset, temp_hash)
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
            with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(temp_zset, members)
                pipe.hset(temp_hash, mapping=hashes)
                pipe.execute()
            loaded += len(chunk)
        with self.client.pipeline(transaction=True) as pipe:
            if loaded:
                pipe.rename(temp_zset, zset)
                pipe.rename(temp_hash, hashed)
            else:
                pipe.delete(zset, hashed)
            # A new version, above any the board had (the apply script starts them from the clock too).
            pipe.set(_version_key(board), time.time_ns() // 1_000)
            expire_at = _expire_at(board)
            if expire_at:
                if loaded:
                    pipe.expireat(zset, expire_at)
                    pipe.expireat(hashed, expire_at)
                pipe.expireat(_version_key(board), expire_at)
            pipe.execute()
        return loaded
