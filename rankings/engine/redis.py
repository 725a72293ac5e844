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
from collections.abc import Callable, Iterable, Sequence, Sized
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import accumulate, groupby, islice
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
from .ranges import Layout, board_keys

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIGN = 1 << 63
_MASK = (1 << 64) - 1
_MICRO = timedelta(microseconds=1)
_ORDER = struct.Struct(">QQ")
# Set by a full rebuild: an index that restarted empty lacks it, and is rebuilt before it is read. On a cluster,
# each primary holds one (READY_KEY:{n}, for the first n whose slot it serves): losing one node's keys shows too.
READY_KEY = "podium:rank:ready"
VERSION_WIDTH = 16  # hex digits before the member in the hash value
# Boards one of whose sorted sets outgrew twice RANKING_REDIS_RANGE_SIZE: the heal task cuts them again.
RECUT_KEY = "podium:rank:recut"
# How long the ranges of a board's previous layout outlive a rebuild, for reads that began before it.
RETIRED_SECONDS = 60
REBUILD_CHUNK = 5_000

# A board's keys, as the scripts take them: KEYS[1] its sorted set, KEYS[2] its hash, KEYS[3] its version, KEYS[4]
# its layout (set while the board is split by value range, rankings/engine/ranges.py). A range of a split board
# has the same four keys, its layout never set.

# The board's version from the clock in microseconds: a board that disappeared (an index restarted empty) never
# repeats a version, and a rebuilt one starts above any it had.
_CLOCK_VERSION = """
local now = redis.call('TIME')
redis.call('SET', KEYS[3], now[1] .. string.format('%06d', now[2]))
"""

# Moves the board's version: what cached reads of it are keyed by (RedisEngine.version).
_BUMP_VERSION = f"""
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('INCR', KEYS[3])
else
{_CLOCK_VERSION}
end
"""

# ARGV: the expiry (0: none), then (user, version, member) triples; an empty member takes the player off. Returns
# how many players the sorted set holds afterwards, or -1, writing nothing, when the board is split.
_APPLY = f"""
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
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
{_BUMP_VERSION}
end
if tonumber(ARGV[1]) > 0 then
  redis.call('EXPIREAT', z, ARGV[1])
  redis.call('EXPIREAT', h, ARGV[1])
  redis.call('EXPIREAT', KEYS[3], ARGV[1])
end
return redis.call('ZCARD', z)
"""

# A split board's own version, moved by a change to any of its ranges. ARGV[1]: the expiry.
_BUMP = f"""
{_BUMP_VERSION}
if tonumber(ARGV[1]) > 0 then redis.call('EXPIREAT', KEYS[3], ARGV[1]) end
return 1
"""

# The reads return -1 when the board is split. ARGV: the first and last place.
_TOP = """
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])
if #members == 0 then return {} end
local better = redis.call('ZLEXCOUNT', KEYS[1], '-', '(' .. string.sub(members[1], 1, 8))
return {better, members}
"""

# ARGV: the user, how many places before and after.
_AROUND = """
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if (not current) or #current <= 16 then return {} end
local position = redis.call('ZRANK', KEYS[1], string.sub(current, 17))
local start = position - tonumber(ARGV[2])
if start < 0 then start = 0 end
local members = redis.call('ZRANGE', KEYS[1], start, position + tonumber(ARGV[3]))
local better = redis.call('ZLEXCOUNT', KEYS[1], '-', '(' .. string.sub(members[1], 1, 8))
return {start, better, members}
"""

# ARGV: users. Returns (players strictly better, member) pairs of those on the board.
_ENTRIES = """
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
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

# A rebuilt board goes live. KEYS[5], KEYS[6]: the sorted set and hash loaded for an unsplit board. ARGV: rows
# loaded, the expiry, the new layout ('' for an unsplit board). Returns the layout the board had ('' if none),
# whose ranges the caller then retires.
_SWAP = f"""
local old = redis.call('GET', KEYS[4]) or ''
if #ARGV[3] > 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[5], KEYS[6])
  redis.call('SET', KEYS[4], ARGV[3])
else
  redis.call('DEL', KEYS[4])
  if tonumber(ARGV[1]) > 0 then
    redis.call('RENAME', KEYS[5], KEYS[1])
    redis.call('RENAME', KEYS[6], KEYS[2])
  else
    redis.call('DEL', KEYS[1], KEYS[2])
  end
end
{_CLOCK_VERSION}
if tonumber(ARGV[2]) > 0 then
  for i = 1, 4 do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIREAT', KEYS[i], ARGV[2]) end
  end
end
return old
"""

# A split board's directory: user -> version (16 hex digits) and range (4), or the version alone once the player
# left the board. KEYS[1]: one of its hashes. ARGV: the expiry, then (user, version, range) triples, range '' for
# a player leaving. Returns per triple the range the player was in (-1: none), or -2 when the directory already
# has this version or a newer one (the change is late, and written nowhere).
_DIRECT = """
local found = {}
for i = 2, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current and tonumber(string.sub(current, 1, 16), 16) >= tonumber(ARGV[i + 1], 16) then
    found[#found + 1] = -2
  else
    if current and #current > 16 then
      found[#found + 1] = tonumber(string.sub(current, 17), 16)
    else
      found[#found + 1] = -1
    end
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ARGV[i + 2])
  end
end
if tonumber(ARGV[1]) > 0 then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end
return found
"""


class _Scripts(NamedTuple):
    apply: Script
    bump: Script
    top: Script
    around: Script
    entries: Script
    swap: Script
    direct: Script


# A command for RedisEngine._pipelined: the key that routes it to its node, and what queues it on a pipeline.
Command = tuple[str, Callable[[Pipeline], object]]


class ReplicasBehind(redis.RedisError):
    """Fewer replicas acknowledged a write than ``RANKING_REDIS_WAIT_REPLICAS`` asks: a failover could lose it."""


class LayoutChanged(redis.RedisError):
    """A board was cut again between two calls of one read: the caller reads the table this time."""


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


def _keys(board: Board) -> tuple[str, str, str, str]:
    """The board's sorted set, hash, version and layout: the {hash tag} keeps them on one cluster slot."""
    return board_keys(board.key)


def _expire_at(board: Board) -> int:
    expires = board.expires_at
    return int(expires.timestamp()) if expires else 0


def _hash_value(version: int, member: bytes) -> bytes:
    return f"{version:0{VERSION_WIDTH}x}".encode() + member


class RedisEngine(RankingEngine):
    name = "redis"
    unavailable = (redis.RedisError, RedisClusterException, OSError)

    def __init__(
        self,
        url: str | None = None,
        *,
        cluster: bool | None = None,
        wait_replicas: int | None = None,
        range_size: int | None = None,
    ) -> None:
        self.url = url or settings.RANKING_REDIS_URL
        self.cluster = settings.RANKING_REDIS_CLUSTER if cluster is None else cluster
        self.wait_replicas = settings.RANKING_REDIS_WAIT_REPLICAS if wait_replicas is None else wait_replicas
        self.range_size = settings.RANKING_REDIS_RANGE_SIZE if range_size is None else range_size

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
        texts = (_APPLY, _BUMP, _TOP, _AROUND, _ENTRIES, _SWAP, _DIRECT)
        return _Scripts(*(client.register_script(text) for text in texts))

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
        if not isinstance(self.client, RedisCluster):  # one server: one round trip, nothing to route
            return self._round_trip(self.client, [queue for _, queue in commands], write=write)
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

    def _member(self, change: StandingChange) -> bytes:
        """The change's member on its board; empty when it takes the player off."""
        if change.value is None:
            return b""
        return encode_member(
            descending=change.board.descending,
            value=change.value,
            reached_at=change.reached_at,
            user_id=change.user_id,
        )

    def _row_member(self, board: Board, row: StandingRow) -> bytes:
        return encode_member(
            descending=board.descending, value=row.value, reached_at=row.reached_at, user_id=row.user_id
        )

    def apply(self, changes: Sequence[StandingChange]) -> None:
        ordered = sorted(changes, key=lambda change: change.board.key)
        groups = [list(group) for _, group in groupby(ordered, key=lambda change: change.board.key)]

        def queue(group: list[StandingChange]) -> Command:
            keys = _keys(group[0].board)
            args: list[object] = [_expire_at(group[0].board)]
            for change in group:
                args += [
                    change.user_id.bytes,
                    f"{change.version:0{VERSION_WIDTH}x}",
                    self._member(change),
                ]
            return keys[0], lambda pipe: pipe.evalsha(self._scripts.apply.sha, 4, *keys, *args)

        sizes: list[tuple[str, int]] = []
        for group, size in zip(groups, self._pipelined([queue(group) for group in groups], write=True), strict=True):
            board = group[0].board
            if size == -1:
                sizes += [(board.key, card) for card in self._split_apply(board, self._split(board), group)]
            else:
                sizes.append((board.key, size))
        self._note_oversized(sizes)

    def _note_oversized(self, sizes: Sequence[tuple[str, int]]) -> None:
        """Boards one of whose sorted sets holds more than twice ``RANKING_REDIS_RANGE_SIZE`` players: the heal
        task cuts them again (``boards_to_recut``)."""
        if not self.range_size:
            return
        oversized = sorted({key for key, size in sizes if size > 2 * self.range_size})
        if oversized:
            self._pipelined([(RECUT_KEY, lambda pipe: pipe.sadd(RECUT_KEY, *oversized))], write=True)

    def boards_to_recut(self) -> list[str]:
        if not self.range_size:
            return []
        return sorted(key.decode() for key in self.client.spop(RECUT_KEY, 1000) or [])

    def top(self, board: Board, *, offset: int = 0, limit: int = 10) -> list[Entry]:
        last = offset + limit - 1
        reply = self._scripts.top(keys=_keys(board), args=[offset, last])
        if reply == -1:
            layout = self._split(board)
            better, members = self._split_listing(board, layout, self._cards(board, layout), offset, last)
        elif reply:
            better, members = reply
        else:
            return []
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=offset)

    def entry(self, board: Board, user_id: uuid.UUID) -> Entry | None:
        found = self.entries(board, [user_id])
        return found[0] if found else None

    def around(self, board: Board, user_id: uuid.UUID, *, before: int, after: int) -> list[Entry]:
        reply = self._scripts.around(keys=_keys(board), args=[user_id.bytes, before, after])
        if reply == -1:
            return self._split_around(board, self._split(board), user_id, before=before, after=after)
        if not reply:
            return []
        start, better, members = reply
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=start)

    def entries(self, board: Board, user_ids: Sequence[uuid.UUID]) -> list[Entry]:
        if not user_ids:
            return []
        unique = dict.fromkeys(user_ids)  # a player listed twice is one entry, as in SQL
        reply = self._scripts.entries(keys=_keys(board), args=[user_id.bytes for user_id in unique])
        if reply == -1:
            return self._split_entries(board, self._split(board), list(unique))
        return self._entries_of(board, reply, ahead=0)

    def _entries_of(self, board: Board, reply: Sequence[Any], *, ahead: int) -> list[Entry]:
        """Entries from the entries script's (better, member) pairs, ``ahead`` players in earlier ranges."""
        found = sorted(zip(reply[1::2], reply[0::2], strict=True))
        return [
            Entry(ahead + better + 1, *decode_member(member, descending=board.descending)) for member, better in found
        ]

    def place(self, board: Board, *, value: int, reached_at: datetime, user_id: uuid.UUID) -> tuple[int, int]:
        member = encode_member(descending=board.descending, value=value, reached_at=reached_at, user_id=user_id)
        zset, _, _, layout_key = _keys(board)
        split, position, better = self._place_in(zset, member, layout_key)
        if split:
            layout = self._split(board)
            index = layout.range_of(member)
            ahead = sum(self._cards(board, layout)[:index])
            _, position, better = self._place_in(_keys(layout.range_board(board, index))[0], member)
            position, better = ahead + position, ahead + better
        return position, better + 1

    def _place_in(self, zset: str, member: bytes, layout_key: str | None = None) -> tuple[bool, int, int]:
        commands: list[Command] = [
            (zset, lambda pipe: pipe.zlexcount(zset, b"-", b"(" + member)),
            (zset, lambda pipe: pipe.zlexcount(zset, b"-", b"(" + member[:8])),
        ]
        if layout_key:
            commands.append((zset, lambda pipe: pipe.exists(layout_key)))
        position, better, *split = self._pipelined(commands)
        return bool(split and split[0]), position, better

    def size(self, board: Board) -> int:
        zset, _, _, layout_key = _keys(board)
        size, split = self._pipelined(
            [(zset, lambda pipe: pipe.zcard(zset)), (zset, lambda pipe: pipe.exists(layout_key))]
        )
        return sum(self._cards(board, self._split(board))) if split else size

    def version(self, board: Board) -> int | None:
        found = self.client.get(_keys(board)[2])
        return int(found) if found is not None else 0

    def players_standings(
        self, boards: Sequence[Board], user_ids: Sequence[uuid.UUID]
    ) -> list[tuple[dict[uuid.UUID, Entry], int]]:
        unique = [user_id.bytes for user_id in dict.fromkeys(user_ids)]
        sha = self._scripts.entries.sha
        commands: list[Command] = []
        for board in boards:  # one round trip for every board (on a cluster, one per node)
            keys = _keys(board)
            commands.append((keys[0], lambda pipe, keys=keys: pipe.evalsha(sha, 4, *keys, *unique)))
            commands.append((keys[0], lambda pipe, keys=keys: pipe.zcard(keys[0])))
        replies = self._pipelined(commands)
        found: list[tuple[dict[uuid.UUID, Entry], int]] = []
        for board, reply, size in zip(boards, replies[0::2], replies[1::2], strict=True):
            if reply == -1:
                layout = self._split(board)
                entries = self._split_entries(board, layout, list(dict.fromkeys(user_ids)))
                size = sum(self._cards(board, layout))
            else:
                entries = self._entries_of(board, reply, ahead=0)
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

    def rebuild(self, board: Board, rows: Iterable[StandingRow], *, size: int | None = None) -> int:
        """Load ``rows`` into fresh keys, then swap them in atomically: readers never see half a board.

        With ``RANKING_REDIS_RANGE_SIZE`` set and more rows than that (``size``, or the length of a list), the
        board is cut into ranges of about that many players by value; the rows must then come in board order
        (a list is sorted here).
        """
        if isinstance(rows, Sized):
            size = len(rows)
        if self.range_size and size and size > self.range_size:
            if isinstance(rows, Sized):
                rows = sorted(rows, key=lambda row: self._row_member(board, row))
            return self._rebuild_split(board, rows, size)
        zset, hashed, _, _ = _keys(board)
        temp_zset, temp_hash = f"{zset}:rebuild", f"{hashed}:rebuild"
        self._pipelined([(zset, lambda pipe: pipe.delete(temp_zset, temp_hash))])
        loaded = 0
        rows = iter(rows)
        while chunk := list(islice(rows, REBUILD_CHUNK)):
            members: dict[bytes, int] = {}
            hashes: dict[bytes, bytes] = {}
            for row in chunk:
                member = self._row_member(board, row)
                members[member] = 0
                hashes[row.user_id.bytes] = _hash_value(row.version, member)
            self._pipelined(
                [
                    (zset, lambda pipe, members=members: pipe.zadd(temp_zset, members)),
                    (zset, lambda pipe, hashes=hashes: pipe.hset(temp_hash, mapping=hashes)),
                ]
            )
            loaded += len(chunk)
        self._swap(board, temp_zset, temp_hash, loaded, "")
        return loaded

    def _rebuild_split(self, board: Board, rows: Iterable[StandingRow], size: int) -> int:
        old = self._layout(board)
        # A new generation of keys, loaded beside the live one; its bounds are found while loading.
        cut = Layout(old.generation + 1 if old else 1, max(1, -(-size // self.range_size)), ())
        directory = cut.directory_keys(board)
        self._pipelined([(key, lambda pipe, key=key: pipe.delete(key)) for key in directory])
        bounds: list[bytes] = []
        index, in_range, loaded = 0, 0, 0
        previous = b""
        members: dict[bytes, int] = {}
        hashes: dict[bytes, bytes] = {}
        placed: dict[str, dict[bytes, str]] = {}

        def flush() -> None:
            commands: list[Command] = []
            if members:
                zset, hashed, _, _ = _keys(cut.range_board(board, index))
                commands += [
                    (zset, lambda pipe, zset=zset, chunk=dict(members): pipe.zadd(zset, chunk)),
                    (zset, lambda pipe, hashed=hashed, chunk=dict(hashes): pipe.hset(hashed, mapping=chunk)),
                ]
            for key, chunk in placed.items():
                commands.append((key, lambda pipe, key=key, chunk=dict(chunk): pipe.hset(key, mapping=chunk)))
            # Held by replicas like any write: the swap's WAIT covers the board's own node only.
            self._pipelined(commands, write=True)
            members.clear()
            hashes.clear()
            placed.clear()

        def start_range() -> None:
            zset, hashed, version, _ = _keys(cut.range_board(board, index))
            self._pipelined([(zset, lambda pipe: pipe.delete(zset, hashed, version))])

        start_range()
        for row in rows:
            member = self._row_member(board, row)
            if member <= previous:
                raise ValueError("a board's rows must come in board order to be cut into ranges")
            if in_range >= self.range_size and member[:8] != previous[:8]:
                flush()
                index += 1
                bounds.append(member[:8])
                in_range = 0
                start_range()
            members[member] = 0
            hashes[row.user_id.bytes] = _hash_value(row.version, member)
            placed.setdefault(cut.directory_key(board, row.user_id), {})[row.user_id.bytes] = (
                f"{row.version:0{VERSION_WIDTH}x}{index:04x}"
            )
            previous = member
            in_range += 1
            loaded += 1
            if len(members) >= REBUILD_CHUNK:
                flush()
        flush()
        layout = Layout(cut.generation, cut.partitions, tuple(bounds))
        expire_at = _expire_at(board)
        if expire_at:
            keys = [key for n in range(layout.ranges) for key in _keys(layout.range_board(board, n))[:2]] + directory
            self._pipelined([(key, lambda pipe, key=key: pipe.expireat(key, expire_at)) for key in keys])
        zset, hashed, _, _ = _keys(board)
        self._swap(board, f"{zset}:rebuild", f"{hashed}:rebuild", loaded, layout.dump())
        return loaded

    def _swap(self, board: Board, temp_zset: str, temp_hash: str, loaded: int, layout: str) -> None:
        """Put a rebuilt board live, then let the ranges of the layout it had, if it was split, expire: a read
        that fetched the old layout just before the swap still finds its ranges for ``RETIRED_SECONDS``."""
        keys = (*_keys(board), temp_zset, temp_hash)
        (old,) = self._pipelined(
            [(keys[0], lambda pipe: pipe.evalsha(self._scripts.swap.sha, 6, *keys, loaded, _expire_at(board), layout))],
            write=True,
        )
        if old:
            before = Layout.parse(old)
            stale = [key for n in range(before.ranges) for key in _keys(before.range_board(board, n))[:3]]
            stale += before.directory_keys(board)
            self._pipelined([(key, lambda pipe, key=key: pipe.expire(key, RETIRED_SECONDS)) for key in stale])

    # --- boards split by value range (rankings/engine/ranges.py) ---

    def _layout(self, board: Board) -> Layout | None:
        raw = self.client.get(_keys(board)[3])
        return Layout.parse(raw) if raw else None

    def _split(self, board: Board) -> Layout:
        """The layout of a board a script found split."""
        layout = self._layout(board)
        if layout is None:  # cut again into one sorted set between the two calls
            raise LayoutChanged(board.key)
        return layout

    def _cards(self, board: Board, layout: Layout) -> list[int]:
        """How many players each range of a split board holds."""
        keys = [_keys(layout.range_board(board, index))[0] for index in range(layout.ranges)]
        return self._pipelined([(key, lambda pipe, key=key: pipe.zcard(key)) for key in keys])

    def _split_listing(
        self, board: Board, layout: Layout, cards: Sequence[int], first: int, last: int
    ) -> tuple[int, list[bytes]]:
        """The members at places ``first`` to ``last`` of a split board, read on across range borders, and how
        many players are strictly better than the first of them."""
        commands: list[Command] = []
        before: list[int] = []
        start = 0
        for index, card in enumerate(cards):
            end = start + card - 1
            if card and end >= first and start <= last:
                keys = _keys(layout.range_board(board, index))
                span = (max(first, start) - start, min(last, end) - start)
                commands.append(
                    (keys[0], lambda pipe, keys=keys, span=span: pipe.evalsha(self._scripts.top.sha, 4, *keys, *span))
                )
                before.append(start)
            start += card
        better: int | None = None
        members: list[bytes] = []
        for offset, reply in zip(before, self._pipelined(commands), strict=True):
            if reply:
                if better is None:
                    better = offset + reply[0]
                members += reply[1]
        return better or 0, members

    def _split_entries(self, board: Board, layout: Layout, user_ids: Sequence[uuid.UUID]) -> list[Entry]:
        unique = list(dict.fromkeys(user_ids))
        found = self._pipelined(
            [
                (key, lambda pipe, key=key, user=user: pipe.hget(key, user.bytes))
                for user in unique
                for key in [layout.directory_key(board, user)]
            ]
        )
        by_range: dict[int, list[bytes]] = {}
        for user, placed in zip(unique, found, strict=True):
            if placed and len(placed) > VERSION_WIDTH:
                by_range.setdefault(int(placed[VERSION_WIDTH:], 16), []).append(user.bytes)
        if not by_range:
            return []
        ahead = list(accumulate(self._cards(board, layout), initial=0))
        commands: list[Command] = []
        ranges = sorted(by_range)  # the ranges in order, and each one's entries in order: the board's order
        for index in ranges:
            keys, users = _keys(layout.range_board(board, index)), by_range[index]
            commands.append(
                (
                    keys[0],
                    lambda pipe, keys=keys, users=users: pipe.evalsha(self._scripts.entries.sha, 4, *keys, *users),
                )
            )
        return [
            entry
            for index, reply in zip(ranges, self._pipelined(commands), strict=True)
            for entry in self._entries_of(board, reply, ahead=ahead[index])
        ]

    def _split_around(
        self, board: Board, layout: Layout, user_id: uuid.UUID, *, before: int, after: int
    ) -> list[Entry]:
        key = layout.directory_key(board, user_id)
        (placed,) = self._pipelined([(key, lambda pipe: pipe.hget(key, user_id.bytes))])
        if not placed or len(placed) <= VERSION_WIDTH:
            return []
        index = int(placed[VERSION_WIDTH:], 16)
        keys = _keys(layout.range_board(board, index))
        (reply,) = self._pipelined(
            [(keys[0], lambda pipe: pipe.evalsha(self._scripts.around.sha, 4, *keys, user_id.bytes, 0, 0))]
        )
        if not reply:
            return []
        cards = self._cards(board, layout)
        position = sum(cards[:index]) + reply[0]
        first = max(0, position - before)
        better, members = self._split_listing(board, layout, cards, first, position + after)
        return ranked(self._decode(board, members), first_rank=better + 1, first_position=first)

    def _split_apply(self, board: Board, layout: Layout, changes: Sequence[StandingChange]) -> list[int]:
        """Write changes to a split board: the directory first (which range each player leaves, and whether the
        change is the newest), then the ranges and the board's version. Returns the ranges' sizes afterwards."""
        expire_at = _expire_at(board)
        members = [self._member(change) for change in changes]
        by_partition: dict[str, list[int]] = {}
        for position, change in enumerate(changes):
            by_partition.setdefault(layout.directory_key(board, change.user_id), []).append(position)
        directory: list[Command] = []
        for key, positions in by_partition.items():
            args: list[object] = [expire_at]
            for position in positions:
                member = members[position]
                args += [
                    changes[position].user_id.bytes,
                    f"{changes[position].version:0{VERSION_WIDTH}x}",
                    f"{layout.range_of(member):04x}" if member else "",
                ]
            directory.append(
                (key, lambda pipe, key=key, args=args: pipe.evalsha(self._scripts.direct.sha, 1, key, *args))
            )
        per_range: dict[int, list[object]] = {}
        for positions, reply in zip(by_partition.values(), self._pipelined(directory, write=True), strict=True):
            for position, left in zip(positions, reply, strict=True):
                if left == -2:
                    continue
                change, member = changes[position], members[position]
                version = f"{change.version:0{VERSION_WIDTH}x}"
                joined = layout.range_of(member) if member else None
                if left >= 0 and left != joined:
                    per_range.setdefault(left, []).extend([change.user_id.bytes, version, b""])
                if joined is not None:
                    per_range.setdefault(joined, []).extend([change.user_id.bytes, version, member])
        if not per_range:
            return []
        writes: list[Command] = []
        for index, args in per_range.items():
            keys = _keys(layout.range_board(board, index))
            writes.append(
                (
                    keys[0],
                    lambda pipe, keys=keys, args=args: pipe.evalsha(
                        self._scripts.apply.sha, 4, *keys, expire_at, *args
                    ),
                )
            )
        own = _keys(board)
        writes.append((own[0], lambda pipe: pipe.evalsha(self._scripts.bump.sha, 4, *own, expire_at)))
        return self._pipelined(writes, write=True)[:-1]
