"""One board of 10M players cut into ranges on a Redis Cluster: rank, around, top and a write, and the memory.

The goal it reports on: one board of 100M players on a Redis Cluster, rank
(``entry``) and ``around`` p99 under 5 ms in the engine. It measures at 10M
players on a private 6-node cluster (3 primaries, 3 replicas, on loopback,
started with ``deploy/redis-cluster.sh``) and projects 100M from what it
measured: the bytes a player takes on the primaries, and the nodes that many
players need.

The board is loaded with ``RedisEngine.rebuild()`` from rows in board order,
with ``range_size`` set, so it is cut into ranges of about that many players
by value, each range a sorted set on a slot of its own, plus a directory (user
-> range) split over slots. Then, one caller, no HTTP, each engine call timed
against its floor, interleaved sample by sample, on the engine's own clients:

* ``entry``  -- ``engine.entry(board, user_id)``; floor ``ZRANK`` of the
  player's member in the range that holds it, on that range's node;
* ``around`` -- ``engine.around(board, user_id, before=10, after=9)``; floor
  ``ZRANGE`` of the 20 places around the player in their range;
* ``top``    -- ``engine.top(board, offset=0, limit=100)``; floor ``ZRANGE 0
  99`` of the first range;
* ``apply``  -- ``engine.apply()`` of one change (a player moved to another
  value, version increasing, ``WAIT`` for ``--wait-replicas``); floor a plain
  ``ZADD`` on the node of the range the player moves to, and, as a second row,
  ``ZADD`` then ``WAIT`` in one round trip.

Untimed checks compare the engine with the sorted list of every member: ranks,
``around`` and ``top`` listings (also across a range border), the size, and the
moved players afterwards.

Then (``--goal-ranges``, on by default) the cluster is emptied and the same
players loaded again, cut into as many ranges as 100M players make at
``--range-size`` (100 at 1M), and the three reads timed again: what a read on
a split board costs beyond its floor grows with the number of ranges (it
reads the size of every range), not with the players.

Run (from the project root)::

    .venv/bin/python -m bench.cluster_scale [--players 10000000] [--range-size 1000000] [--samples 2000]
                                            [--cluster-port 7200] [--node-memory-gib 16] [--wait-replicas 1]
                                            [--no-goal-ranges] [--json bench/results/cluster_scale.json]

The cluster is the bench's own (ports ``--cluster-port`` to +5, files under
``bench/work/cluster_scale``), stopped and removed at the end. See
bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.lib import cli, machine, procs, report
from bench.lib.paths import PROJECT_DIR, RESULTS_DIR, remove_work_dir, work_dir
from bench.lib.profile import Profile, setup_django
from bench.lib.seed import T0, VALUE_RANGE, Player, make_player, make_players
from bench.lib.timing import Query, QueryResult, time_query

logger = logging.getLogger("bench.cluster_scale")

DEFAULT_JSON = RESULTS_DIR / "cluster_scale.json"
DEFAULT_SEED = 20260301  # bench.rank_scale's: player i is the same player in both benches
CLUSTER_SCRIPT = PROJECT_DIR / "deploy" / "redis-cluster.sh"
CLUSTER_NODES = 6  # the script's: 3 primaries, one replica each
# Milliseconds a node may not answer before the others fail it over: well above the script's 2,000, so that a 2-core
# machine busy loading 10M players never sees a failover the bench did not ask for.
CLUSTER_NODE_TIMEOUT_MS = 15_000
UNUSED_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_bench"  # Django's settings want one; never opened

AROUND_BEFORE, AROUND_AFTER = 10, 9
TOP_LIMIT = 100
GOAL_P99_MS = 5.0
GOAL_PLAYERS = 100_000_000
MIN_PRIMARIES = 3  # the fewest a Redis Cluster is made of (redis-cli --cluster create)
CLUSTER_SLOTS = 16384
CHECKED = 20

# Redis memory one player takes on the primaries (range sorted set, range hash, directory), with headroom. The
# cluster holds it twice (primaries and replicas) and the bench keeps every member in a list: the run is refused
# unless three times this much is free.
BYTES_PER_PLAYER_ESTIMATE = 450
FREE_FACTOR = 3
ENGINE_FILES = ("rankings/engine/base.py", "rankings/engine/redis.py", "rankings/engine/ranges.py")


# --- the cluster ----------------------------------------------------------------


def cluster_environ(port: int, directory: Path) -> dict[str, str]:
    return os.environ | {
        "REDIS_CLUSTER_PORT": str(port),
        "REDIS_CLUSTER_DIR": str(directory),
        "REDIS_CLUSTER_NODE_TIMEOUT": str(CLUSTER_NODE_TIMEOUT_MS),
    }


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def check_ports_free(port: int) -> None:
    """Refuse ports in use (the nodes' and their cluster bus ports): what listens there is not the bench's own,
    and the bench stops the nodes on its ports at the end."""
    busy = [p for base in (port, port + 10_000) for p in range(base, base + CLUSTER_NODES) if port_in_use(p)]
    if busy:
        raise SystemExit(
            f"ports {busy} are in use: stop what listens there (a cluster left by an earlier run: "
            f"REDIS_CLUSTER_PORT={port} REDIS_CLUSTER_DIR=... {CLUSTER_SCRIPT.relative_to(PROJECT_DIR)} stop) "
            "or choose another --cluster-port"
        )


def start_cluster(port: int, directory: Path) -> str:
    """Start the bench's own cluster; returns its URL."""
    logger.info("starting a Redis Cluster of %d nodes on ports %d-%d", CLUSTER_NODES, port, port + CLUSTER_NODES - 1)
    done = subprocess.run(
        [str(CLUSTER_SCRIPT), "start"],
        env=cluster_environ(port, directory),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{CLUSTER_SCRIPT.name} start failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def stop_cluster(port: int, directory: Path) -> None:
    logger.info("stopping the cluster")
    subprocess.run(
        [str(CLUSTER_SCRIPT), "stop"], env=cluster_environ(port, directory), capture_output=True, check=False
    )


@dataclass(frozen=True)
class Nodes:
    """Clients of the cluster's nodes of the bench's own, for what the engine does not do (INFO, MEMORY USAGE);
    without the engine's time-out, as ``MEMORY USAGE`` of a large key takes a while."""

    primaries: dict[str, Any]
    replicas: dict[str, Any]

    @classmethod
    def of(cls, cluster: Any) -> Nodes:
        """The primaries as the cluster client knows them, their replicas as each primary lists them (``INFO
        replication``): ``CLUSTER SLOTS``, which the client reads, leaves out replicas whose offset the others have
        not heard of yet, as on a fresh cluster."""
        import redis

        def client(host: str, port: int) -> Any:
            return redis.Redis(host=host, port=port, socket_timeout=120)

        primaries = {
            node.name: client(node.host, node.port)
            for node in sorted(cluster.get_primaries(), key=lambda node: node.port)
        }
        replicas = {}
        for primary in primaries.values():
            info = primary.info("replication")
            for key in sorted(info):
                if key.startswith("slave") and key[5:].isdigit():
                    found = info[key]
                    replicas[f"{found['ip']}:{found['port']}"] = client(found["ip"], int(found["port"]))
        return cls(primaries, dict(sorted(replicas.items())))

    def used_memory(self) -> dict[str, dict[str, int]]:
        return {
            role: {name: int(client.info("memory")["used_memory"]) for name, client in clients.items()}
            for role, clients in (("primaries", self.primaries), ("replicas", self.replicas))
        }

    def roles(self) -> dict[str, str]:
        """Each node's role as it says itself: a failover during the run shows here."""
        return {
            name: client.info("replication")["role"] for name, client in {**self.primaries, **self.replicas}.items()
        }

    def wait_for_replicas(self, *, timeout: float = 900.0) -> float:
        """Wait until every primary's replicas have received everything it wrote so far; returns the seconds."""
        started = time.monotonic()
        targets = {
            name: int(client.info("replication")["master_repl_offset"]) for name, client in self.primaries.items()
        }
        while True:
            behind = []
            for name, client in self.primaries.items():
                info = client.info("replication")
                offsets = [int(info[key]["offset"]) for key in info if key.startswith("slave") and key[5:].isdigit()]
                if not offsets or min(offsets) < targets[name]:
                    behind.append(name)
            if not behind:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the replicas of {behind} did not catch up within {timeout:g} s")
            time.sleep(0.2)


# --- data -----------------------------------------------------------------------


def board_member(board: Any, player: Player) -> bytes:
    from rankings.engine.redis import encode_member

    return encode_member(
        descending=board.descending, value=player.value, reached_at=player.reached_at, user_id=player.user_id
    )


def sorted_members(board: Any, players: int, seed: int) -> list[bytes]:
    """Every player's member, in board order (a member's byte order is the board's order)."""
    members = [board_member(board, player) for player in make_players(seed, 0, players)]
    members.sort()
    return members


def better_than(members: Sequence[bytes], member: bytes) -> int:
    """Players strictly better than ``member``'s value: those whose 8-byte order prefix sorts before its own."""
    return bisect_left(members, member[:8])


@dataclass(frozen=True)
class Target:
    """A player the queries are timed on, where its member is: range, that range's sorted set, node and place."""

    player: Player
    member: bytes
    range_index: int
    zset: str
    node: Any  # the engine's own client of the primary holding zset
    position: int  # in the range


@dataclass(frozen=True)
class Move:
    """One change ``apply`` writes: the target's player at a new value, and where the floor's ZADD goes."""

    target: Target
    value: int
    version: int
    member: bytes
    node: Any
    floor_key: str  # a sorted set of the bench's own on the slot of the range the player moves to


def locate(engine: Any, board: Any, layout: Any, player: Player) -> Target:
    from rankings.engine.redis import _keys

    member = board_member(board, player)
    index = layout.range_of(member)
    zset = _keys(layout.range_board(board, index))[0]
    node = engine._node(zset)
    position = node.zrank(zset, member)
    if position is None:
        raise RuntimeError(f"player {player.index} is not in range {index}, where its value belongs")
    return Target(player, member, index, zset, node, position)


# --- checks ---------------------------------------------------------------------


def expect_listing(what: str, entries: Sequence[Any], members: Sequence[bytes], first: int, count: int) -> None:
    """``entries`` must be ``members[first:first + count]`` with their competition ranks."""
    from rankings.engine.redis import decode_member

    wanted = members[first : first + count]
    got = [(entry.rank, entry.user_id, entry.value, entry.reached_at) for entry in entries]
    expected = [(better_than(members, m) + 1, *decode_member(m, descending=True)) for m in wanted]
    if got != expected:
        padded = max(len(got), len(expected))
        got_all, expected_all = got + [None] * (padded - len(got)), expected + [None] * (padded - len(expected))
        diff = next((i, g, e) for i, (g, e) in enumerate(zip(got_all, expected_all, strict=True)) if g != e)
        raise RuntimeError(f"{what}: {len(got)} entries, expected {len(expected)}; first difference {diff}")


def check_board(engine: Any, board: Any, members: Sequence[bytes], targets: Sequence[Target], cards: Sequence[int]):
    """Untimed: ranks and listings of the engine against the sorted members (targets, a range border), and size."""
    players = len(members)
    ranks = {}
    for target in targets[:CHECKED]:
        player = target.player
        entry = engine.entry(board, player.user_id)
        expected = better_than(members, target.member) + 1
        if entry is None or (entry.user_id, entry.value, entry.rank) != (player.user_id, player.value, expected):
            raise RuntimeError(f"entry of player {player.index}: {entry!r}, expected rank {expected}")
        position = bisect_left(members, target.member)
        around = engine.around(board, player.user_id, before=AROUND_BEFORE, after=AROUND_AFTER)
        first = max(0, position - AROUND_BEFORE)
        expect_listing(f"around player {player.index}", around, members, first, position + AROUND_AFTER + 1 - first)
        ranks[player.index] = entry.rank
    top = engine.top(board, offset=0, limit=TOP_LIMIT)
    if len(top) != TOP_LIMIT or top[0].rank != 1:
        raise RuntimeError(f"top returned {len(top)} entries, the first ranked {top[0].rank if top else None}")
    expect_listing("top", top, members, 0, TOP_LIMIT)
    border = cards[0]  # the first player of range 1, and the listings that reach over the border
    if len(cards) > 1:
        from rankings.engine.redis import decode_member

        user_id = decode_member(members[border], descending=True)[0]
        around = engine.around(board, user_id, before=AROUND_BEFORE, after=AROUND_AFTER)
        first = max(0, border - AROUND_BEFORE)
        expect_listing("around the first player of range 1", around, members, first, border + AROUND_AFTER + 1 - first)
        offset = max(0, border - TOP_LIMIT // 2)
        page = engine.top(board, offset=offset, limit=TOP_LIMIT)
        expect_listing("top across the border of ranges 0 and 1", page, members, offset, TOP_LIMIT)
    size = engine.size(board)
    if size != players:
        raise RuntimeError(f"size {size}, expected {players}")
    return {"checked_targets": len(ranks), "ranks": ranks, "range_border_checked": len(cards) > 1, "size": size}


def check_moves(engine: Any, board: Any, members: Sequence[bytes], moves: Sequence[Move], others: Sequence[Player]):
    """Untimed, after the timed writes: the moved players are where their last change put them, with the rank
    the sorted members give once every move is counted; players not moved (``others``) have their rank so
    changed."""
    last: dict[uuid.UUID, Move] = {}
    for move in moves:
        last[move.target.player.user_id] = move
    left = sorted(move.target.member[:8] for move in last.values())
    joined = sorted(move.member[:8] for move in last.values())

    def rank(member: bytes) -> int:
        prefix = member[:8]
        return better_than(members, member) - bisect_left(left, prefix) + bisect_left(joined, prefix) + 1

    checked = 0
    for move in list(last.values())[-CHECKED:]:
        player = move.target.player
        entry = engine.entry(board, player.user_id)
        if entry is None or (entry.value, entry.rank) != (move.value, rank(move.member)):
            raise RuntimeError(f"player {player.index} moved to {move.value}: {entry!r}, expected {rank(move.member)}")
        around = engine.around(board, player.user_id, before=AROUND_BEFORE, after=AROUND_AFTER)
        if player.user_id not in {row.user_id for row in around}:
            raise RuntimeError(f"around player {player.index} after its move does not list the player")
        checked += 1
    unmoved = [player for player in others if player.user_id not in last][:CHECKED]
    for player in unmoved:
        entry, expected = engine.entry(board, player.user_id), rank(board_member(board, player))
        if entry is None or (entry.value, entry.rank) != (player.value, expected):
            raise RuntimeError(f"player {player.index} (not moved): {entry!r}, expected rank {expected}")
    size = engine.size(board)
    if size != len(members):
        raise RuntimeError(f"size {size} after the moves, expected {len(members)}")
    return {"moved_players": len(last), "moved_checked": checked, "unmoved_checked": len(unmoved), "size": size}


@contextlib.contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Counts what redis-py sends to any node: one packed send per command or pipeline, a round trip each."""
    from redis.connection import AbstractConnection

    sent = [0]
    original = AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def round_trips(calls: dict[str, Callable[[], object]]) -> dict[str, int]:
    found = {}
    for name, call in calls.items():
        call()  # scripts loaded, connections made
        with counting_round_trips() as sent:
            call()
        found[name] = sent[0]
    return found


# --- layout, memory, projection ---------------------------------------------------


def describe_layout(engine: Any, nodes: Nodes, board: Any, layout: Any) -> dict[str, Any]:
    from rankings.engine.redis import _keys

    cluster = engine.client
    ranges = []
    for index in range(layout.ranges):
        zset, hashed, _, _ = _keys(layout.range_board(board, index))
        ranges.append(
            {
                "index": index,
                "players": engine._node(zset).zcard(zset),
                "node": cluster.get_node_from_key(zset).name,
                "zset": zset,
                "hash": hashed,
            }
        )
    directory = [
        {"key": key, "players": engine._node(key).hlen(key), "node": cluster.get_node_from_key(key).name}
        for key in layout.directory_keys(board)
    ]
    cards = [r["players"] for r in ranges]
    per_node = {
        name: {
            "ranges": sum(1 for r in ranges if r["node"] == name),
            "range_players": sum(r["players"] for r in ranges if r["node"] == name),
            "directory_parts": sum(1 for d in directory if d["node"] == name),
            "directory_players": sum(d["players"] for d in directory if d["node"] == name),
        }
        for name in nodes.primaries
    }
    return {
        "generation": layout.generation,
        "ranges": layout.ranges,
        "directory_partitions": layout.partitions,
        "players_per_range": {"min": min(cards), "max": max(cards), "mean": round(sum(cards) / len(cards))},
        "per_node": per_node,
        "range_list": ranges,
        "directory": directory,
    }


def memory_usage(nodes: Nodes, engine: Any, layout_info: dict[str, Any]) -> dict[str, int]:
    """``MEMORY USAGE ... SAMPLES 0`` (every element counted) of every key of the board, summed by kind."""

    def usage(key: str) -> int:
        name = engine.client.get_node_from_key(key).name
        return int(nodes.primaries[name].memory_usage(key, samples=0) or 0)

    return {
        "range_zsets": sum(usage(r["zset"]) for r in layout_info["range_list"]),
        "range_hashes": sum(usage(r["hash"]) for r in layout_info["range_list"]),
        "directory": sum(usage(d["key"]) for d in layout_info["directory"]),
    }


def slot_owner(slot: int, primaries: int) -> int:
    """The primary serving ``slot`` when the slots are split evenly in contiguous blocks (redis-cli --cluster
    create)."""
    return min(primaries - 1, slot * primaries // CLUSTER_SLOTS)


def project(
    *, board: Any, players: int, range_size: int, bytes_per_player: float, key_usage: dict[str, int], node_bytes: int
) -> dict[str, Any]:
    """Memory of the board at GOAL_PLAYERS and the primaries it needs.

    Evenly: the bytes per player measured on the primaries times GOAL_PLAYERS, over the memory one node gives
    to data. By placement: the layout a rebuild at GOAL_PLAYERS would make (its range and directory keys, hence
    their slots), on P primaries splitting the slots evenly; a primary holds the ranges and directory parts its
    slots get, at the measured bytes per player of each, scaled to the measured total. The smallest P (3 at
    least) whose fullest primary fits.

    To rebuild: ``rebuild()`` (and the heal task's re-cut) loads the next generation of ranges beside the live
    one and drops the old one only after the swap, so for a while a primary holds the keys of both generations.
    """
    from redis.crc import key_slot

    from rankings.engine.ranges import Layout
    from rankings.engine.redis import _keys

    projected = bytes_per_player * GOAL_PLAYERS
    even = max(MIN_PRIMARIES, math.ceil(projected / node_bytes))
    used = sum(key_usage.values())
    scale = bytes_per_player * players / used if used else 1.0  # what used_memory counts beyond MEMORY USAGE
    range_bpp = (key_usage["range_zsets"] + key_usage["range_hashes"]) / players * scale
    directory_bpp = key_usage["directory"] / players * scale
    partitions = max(1, -(-GOAL_PLAYERS // range_size))  # as RedisEngine._rebuild_split cuts it
    range_players = [min(range_size, GOAL_PLAYERS - i * range_size) for i in range(partitions)]

    def slots(generation: int) -> tuple[list[int], list[int]]:
        layout = Layout(generation, partitions, ())
        ranges = [key_slot(_keys(layout.range_board(board, i))[0].encode()) for i in range(partitions)]
        return ranges, [key_slot(key.encode()) for key in layout.directory_keys(board)]

    generations = {generation: slots(generation) for generation in (1, 2)}

    def fullest(primaries: int, live: Sequence[int]) -> tuple[float, list[int]]:
        data = [0.0] * primaries
        ranges: Counter[int] = Counter()
        for generation in live:
            range_slots, directory_slots = generations[generation]
            for slot, count in zip(range_slots, range_players, strict=True):
                data[slot_owner(slot, primaries)] += count * range_bpp
                ranges[slot_owner(slot, primaries)] += 1
            for slot in directory_slots:
                data[slot_owner(slot, primaries)] += GOAL_PLAYERS / partitions * directory_bpp
        return max(data), [ranges[n] for n in range(primaries)]

    placed = even
    while fullest(placed, (1,))[0] > node_bytes:
        placed += 1
    largest, ranges_per_primary = fullest(placed, (1,))
    rebuilt = placed
    while fullest(rebuilt, (1, 2))[0] > node_bytes:
        rebuilt += 1
    return {
        "players": GOAL_PLAYERS,
        "bytes_per_player": round(bytes_per_player, 1),
        "range_bytes_per_player": round(range_bpp, 1),
        "directory_bytes_per_player": round(directory_bpp, 1),
        "projected_bytes": round(projected),
        "projected_gib": round(projected / 2**30, 1),
        "node_memory_gib": round(node_bytes / 2**30, 2),
        "ranges": partitions,
        "primaries_even": even,
        "primaries": placed,
        "largest_primary_gib": round(largest / 2**30, 2),
        "ranges_per_primary": ranges_per_primary,
        "replicas": placed,
        "nodes": 2 * placed,
        "rebuild": {
            "what": "rebuild() holds the old and the new generation of ranges at once until its swap",
            "primaries": rebuilt,
            "largest_primary_gib": round(fullest(rebuilt, (1, 2))[0] / 2**30, 2),
            "nodes": 2 * rebuilt,
        },
    }


# --- timing -----------------------------------------------------------------------


def make_moves(
    engine: Any, board: Any, layout: Any, targets: Sequence[Target], rng: random.Random, first_version: int
) -> list[Move]:
    from rankings.engine.redis import _keys

    moves = []
    for offset, target in enumerate(targets):
        value = rng.randrange(VALUE_RANGE)
        moved = Player(target.player.index, target.player.user_id, value, target.player.reached_at)
        member = board_member(board, moved)
        range_board = layout.range_board(board, layout.range_of(member))
        zset = _keys(range_board)[0]
        floor_key = f"bench:cluster_scale:{{{range_board.key}}}:floor"  # the range's hash tag: its slot, its node
        moves.append(Move(target, value, first_version + offset, member, engine._node(zset), floor_key))
    return moves


def apply_move(engine: Any, board: Any, move: Move) -> None:
    from rankings.engine import StandingChange

    player = move.target.player
    engine.apply([StandingChange(board, player.user_id, move.value, player.reached_at, move.version)])


def zadd_wait(move: Move, replicas: int) -> object:
    with move.node.pipeline(transaction=False) as pipe:
        pipe.zadd(move.floor_key, {move.member: 0})
        pipe.execute_command("WAIT", replicas, 1000)
        return pipe.execute()


def time_reads(
    engine: Any, board: Any, layout: Any, targets: Sequence[Target], warmup: Sequence[Target]
) -> list[QueryResult]:
    from rankings.engine.redis import _keys

    first_zset = _keys(layout.range_board(board, 0))[0]
    first_node = engine._node(first_zset)

    def around_floor(target: Target) -> object:
        start = max(0, target.position - AROUND_BEFORE)
        return target.node.zrange(target.zset, start, target.position + AROUND_AFTER)

    queries = [
        Query(
            "entry",
            lambda t: engine.entry(board, t.player.user_id),
            lambda t: t.node.zrank(t.zset, t.member),
            "ZRANK member, its range's node",
        ),
        Query(
            "around",
            lambda t: engine.around(board, t.player.user_id, before=AROUND_BEFORE, after=AROUND_AFTER),
            around_floor,
            f"ZRANGE pos-{AROUND_BEFORE} pos+{AROUND_AFTER}, its range",
        ),
        Query(
            "top",
            lambda t: engine.top(board, offset=0, limit=TOP_LIMIT),
            lambda t: first_node.zrange(first_zset, 0, TOP_LIMIT - 1),
            f"ZRANGE 0 {TOP_LIMIT - 1}, range 0",
        ),
    ]
    results = []
    for query in queries:
        logger.info("timing %s at %d ranges (%d samples)", query.name, layout.ranges, len(targets))
        results.append(time_query(query, targets, warmup))
    return results


def time_writes(
    args: argparse.Namespace, engine: Any, board: Any, layout: Any, targets: Sequence[Target], warmup: Sequence[Target]
) -> tuple[list[QueryResult], list[Move]]:
    """``apply`` against a plain ZADD and, with ``--wait-replicas``, against ZADD + WAIT. Each call moves its
    target to a random value; versions are above the load's 1 and increase in the order the calls are made
    (warm-up first)."""
    rng = random.Random(args.seed + 1)
    moves: list[Move] = []
    floors: list[tuple[Callable[[Move], object], str]] = [
        (lambda m: m.node.zadd(m.floor_key, {m.member: 0}), "ZADD, the new range's node"),
    ]
    if args.wait_replicas:
        floors.append((lambda m: zadd_wait(m, args.wait_replicas), f"ZADD + WAIT {args.wait_replicas}, one trip"))
    results = []
    for floor, what in floors:
        warm = make_moves(engine, board, layout, warmup, rng, 2 + len(moves))
        timed = make_moves(engine, board, layout, targets, rng, 2 + len(moves) + len(warm))
        moves += warm + timed
        logger.info("timing apply against %s (%d samples)", what, len(timed))
        results.append(time_query(Query("apply", lambda m: apply_move(engine, board, m), floor, what), timed, warm))
    return results, moves


# --- report -----------------------------------------------------------------------


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def phases(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The measured phases: the board cut at ``--range-size``, then, if run, at 100M's range count."""
    return [phase for phase in (result.get("phase"), result.get("goal_ranges")) if phase and phase.get("queries")]


def format_table(result: dict[str, Any]) -> str:
    info, settings = result["machine"], result["settings"]
    lines = [
        report.machine_line(
            "cluster_scale",
            info,
            f"Python {info['python']}",
            f"redis-py {info['redis_py']}",
            f"Redis {info['redis_server']}",
        ),
        f"{settings['players']:,} players on one board, range size {settings['range_size']:,}; a cluster of "
        f"{settings['primaries']} primaries + {settings['replicas']} replicas on loopback, wait_replicas "
        f"{settings['wait_replicas']}; {settings['samples']} samples per query after {settings['warmup']} warm-up "
        f"calls, seed {settings['seed']}; times in ms, one caller",
        "",
        f"{'ranges':>6} {'query':6} | {'p50':>7} {'p99':>7} {'mean':>7} {'ops/s':>6} | {'floor':32} {'p50':>7} "
        f"{'p99':>7} {'mean':>7} | {'x p50':>6} {'x p99':>6} | goal p99 < {GOAL_P99_MS:g} ms",
    ]
    lines.append("-" * len(lines[-1]))
    for phase in phases(result):
        for q in phase["queries"]:
            p, f, r = q["podium"], q["floor"], q["ratio"]
            goal = ("met" if p["p99_ms"] < GOAL_P99_MS else "MISSED") if q["name"] in ("entry", "around") else ""
            lines.append(
                f"{phase['layout']['ranges']:>6} {q['name']:6} | {p['p50_ms']:7.3f} {p['p99_ms']:7.3f} "
                f"{p['mean_ms']:7.3f} {p['ops_per_s']:6.0f} | {q['floor_what']:32} {f['p50_ms']:7.3f} "
                f"{f['p99_ms']:7.3f} {f['mean_ms']:7.3f} | {r['p50']:6.2f} {r['p99']:6.2f} | {goal}"
            )
    lines.append("")
    for phase in phases(result):
        figures, layout, grown = phase["load"], phase["layout"], phase["memory"]
        per_range = layout["players_per_range"]
        trips = ", ".join(f"{name} {n}" for name, n in phase["round_trips"].items())
        lines += [
            f"{layout['ranges']} ranges (range size {phase['range_size']:,}): rebuild() {figures['rebuild_seconds']} s "
            f"({figures['players_per_s']:,} players/s), replicas caught up "
            f"{figures['replicas_caught_up_seconds']} s later; "
            f"{per_range['min']:,} to {per_range['max']:,} players a range; primaries +{gib(grown['primaries_grown'])} "
            f"({grown['bytes_per_player_primaries']} bytes/player)",
            "  ranges per primary: "
            + ", ".join(f"{name} {n['ranges']}" for name, n in layout["per_node"].items())
            + f"; round trips per call: {trips}",
        ]
    memory, projection = result["memory"], result["projection"]
    usage = memory["per_player_usage"]
    lines += [
        f"members made and sorted in {result['load']['members_seconds']} s",
        f"memory at {result['phase']['layout']['ranges']} ranges: primaries +{gib(memory['primaries_grown'])} "
        f"({memory['bytes_per_player_primaries']} bytes/player), replicas +{gib(memory['replicas_grown'])} "
        f"({memory['bytes_per_player_replicas']} bytes/player); MEMORY USAGE per player: range sorted sets "
        f"{usage['range_zsets']}, range hashes {usage['range_hashes']}, directory {usage['directory']}",
        f"projection to {projection['players']:,} players: {projection['projected_gib']} GiB on the primaries "
        f"({projection['bytes_per_player']} bytes/player); at {projection['node_memory_gib']:g} GiB of data a node: "
        f"{projection['primaries']} primaries (evenly {projection['primaries_even']}; {projection['ranges']} ranges, "
        f"fullest primary {projection['largest_primary_gib']} GiB) + {projection['replicas']} replicas = "
        f"{projection['nodes']} nodes; to rebuild() it beside the live copy: {projection['rebuild']['primaries']} "
        f"primaries (fullest {projection['rebuild']['largest_primary_gib']} GiB) = {projection['rebuild']['nodes']} "
        "nodes",
    ]
    goal = result["goal"]
    verdicts = ", ".join(
        f"{name} p99 {v['p99_ms']:.3f} ms {'met' if v['met'] else 'MISSED'}" for name, v in goal["results"].items()
    )
    lines.append(f"goal (entry and around p99 < {GOAL_P99_MS:g} ms): {verdicts}")
    return "\n".join(lines)


def goal_verdict(result: dict[str, Any]) -> dict[str, Any]:
    verdict: dict[str, Any] = {
        "p99_ms_under": GOAL_P99_MS,
        "goal_players": GOAL_PLAYERS,
        "measured_players": result["settings"]["players"],
        "results": {},
    }
    for phase in phases(result):
        for q in phase["queries"]:
            if q["name"] in ("entry", "around"):
                p99 = q["podium"]["p99_ms"]
                verdict["results"][f"{q['name']} at {phase['layout']['ranges']} ranges"] = {
                    "p99_ms": p99,
                    "met": p99 < GOAL_P99_MS,
                }
    verdict["met"] = bool(verdict["results"]) and all(v["met"] for v in verdict["results"].values())
    return verdict


# --- main -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser("bench.cluster_scale", __doc__)
    parser.add_argument("--players", type=int, default=10_000_000, help="board size (default 10,000,000)")
    parser.add_argument(
        "--range-size", type=int, default=1_000_000, help="players per range, the engine's range_size (default 1M)"
    )
    parser.add_argument("--samples", type=int, default=2000, help="timed calls per query (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per query first (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    cli.add_json(parser, DEFAULT_JSON)
    parser.add_argument(
        "--cluster-port", type=int, default=7200, help="first port of the bench's own cluster, 6 nodes (default 7200)"
    )
    parser.add_argument(
        "--node-memory-gib",
        type=float,
        default=16,
        help="memory one node may give to data, for the projection to 100M players (default 16)",
    )
    parser.add_argument(
        "--wait-replicas", type=int, default=1, help="the engine's wait_replicas: WAIT after each write (default 1)"
    )
    parser.add_argument(
        "--goal-ranges",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then load the board again cut into as many ranges as 100M players at --range-size make, and time "
        "the reads again (default on)",
    )
    args = parser.parse_args(argv)
    if args.samples < 1 or args.range_size < 1 or args.players <= args.range_size:
        parser.error("need at least one sample and more players than --range-size: the board must be cut")
    if args.range_size < TOP_LIMIT or args.node_memory_gib <= 0 or args.wait_replicas not in (0, 1):
        parser.error("--range-size at least 100, --node-memory-gib above 0, --wait-replicas 0 or 1 (one replica)")
    return args


def machine_info(url: str) -> dict[str, Any]:
    import django
    import redis

    return machine.machine_info(
        loadavg_start=[round(average, 2) for average in os.getloadavg()],
        django=django.get_version(),
        redis_py=redis.__version__,
        redis_server=machine.redis_server_version(url),
        engine_files_sha256=machine.files_sha256(ENGINE_FILES),
        **machine.code_state(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    cli.setup_logging()
    args = parse_args(argv)
    needed = args.players * BYTES_PER_PLAYER_ESTIMATE
    free = machine.free_memory_bytes()
    if free < FREE_FACTOR * needed:
        logger.error(
            "%s players need about %s of Redis data (held twice, primaries and replicas, plus the bench's list of "
            "members): %d times that must be free, %s is",
            f"{args.players:,}",
            gib(needed),
            FREE_FACTOR,
            gib(free),
        )
        return 1
    check_ports_free(args.cluster_port)
    url = f"redis://127.0.0.1:{args.cluster_port}/0"
    setup_django(Profile(database_url=UNUSED_DATABASE_URL, redis_url=url))
    work = work_dir("cluster_scale")
    directory = work / "redis-cluster"
    with procs.interrupted_on():
        try:
            start_cluster(args.cluster_port, directory)
            result = run(args, url)
        finally:
            with procs.ignored_signals():
                stop_cluster(args.cluster_port, directory)
                remove_work_dir(work)
    sys.stdout.write(result["table"] + "\n")
    return 0


def load(engine: Any, nodes: Nodes, board: Any, members: Sequence[bytes]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Load the board with ``rebuild()`` from the sorted members, wait for the replicas; returns the load figures,
    the layout and the memory it took (``used_memory`` of every node before and after)."""
    from rankings.engine import StandingRow
    from rankings.engine.redis import decode_member

    before = nodes.used_memory()
    logger.info("rebuild() of %s players with range_size %s", f"{len(members):,}", f"{engine.range_size:,}")
    started = time.perf_counter()
    rows = (StandingRow(*decode_member(member, descending=True), 1) for member in members)
    loaded = engine.rebuild(board, rows, size=len(members))
    seconds = time.perf_counter() - started
    caught_up = nodes.wait_for_replicas()
    logger.info("loaded %s players in %.1f s; replicas caught up %.1f s later", f"{loaded:,}", seconds, caught_up)
    if loaded != len(members):
        raise RuntimeError(f"rebuild() loaded {loaded} players of {len(members)}")
    after = nodes.used_memory()
    layout = engine._layout(board)
    if layout is None:
        raise RuntimeError("the board was not cut into ranges")
    grown = {role: sum(after[role].values()) - sum(before[role].values()) for role in after}
    figures = {
        "method": "RedisEngine.rebuild(rows in board order, size=players)",
        "loaded": loaded,
        "rebuild_seconds": round(seconds, 1),
        "players_per_s": round(loaded / seconds),
        "replicas_caught_up_seconds": round(caught_up, 1),
    }
    memory = {
        "used_memory_before": before,
        "used_memory_after": after,
        "primaries_grown": grown["primaries"],
        "replicas_grown": grown["replicas"],
        "bytes_per_player_primaries": round(grown["primaries"] / loaded, 1),
        "bytes_per_player_replicas": round(grown["replicas"] / loaded, 1),
    }
    return figures, memory, layout


def flush_cluster(nodes: Nodes, *, timeout: float = 300.0) -> None:
    """Empty every node (FLUSHALL on the primaries reaches their replicas) and wait until the memory is freed."""
    for client in nodes.primaries.values():
        client.flushall(asynchronous=True)
    deadline = time.monotonic() + timeout
    for client in [*nodes.primaries.values(), *nodes.replicas.values()]:
        while client.dbsize() or int(client.info("memory").get("lazyfree_pending_objects", 0)):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not free the board's memory in time")
            time.sleep(0.2)


def measure_reads(
    engine: Any,
    nodes: Nodes,
    board: Any,
    layout: Any,
    members: Sequence[bytes],
    players: Sequence[Player],
    samples: int,
) -> tuple[dict[str, Any], list[Target], list[Target]]:
    """The layout, checks, round trips and timed reads of the board as loaded; returns them with the targets."""
    located = [locate(engine, board, layout, player) for player in players]
    targets, warmup = located[:samples], located[samples:]
    layout_info = describe_layout(engine, nodes, board, layout)
    cards = [r["players"] for r in layout_info["range_list"]]
    logger.info("checking the engine against the sorted members (%d ranges)", layout.ranges)
    checks = check_board(engine, board, members, targets, cards)
    sample = targets[0]
    trips = round_trips(
        {
            "entry": lambda: engine.entry(board, sample.player.user_id),
            "around": lambda: engine.around(board, sample.player.user_id, before=AROUND_BEFORE, after=AROUND_AFTER),
            "top": lambda: engine.top(board, offset=0, limit=TOP_LIMIT),
            "size": lambda: engine.size(board),
        }
    )
    queries = time_reads(engine, board, layout, targets, warmup)
    phase = {
        "range_size": engine.range_size,
        "layout": layout_info,
        "checks": checks,
        "round_trips": trips,
        "queries": [asdict(q) for q in queries],
    }
    return phase, targets, warmup


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from rankings.boards import Board
    from rankings.engine.redis import RedisEngine
    from rankings.periods import Period, period_window

    board = Board("bench.giant", True, period_window(Period.ALL, T0))
    engine = RedisEngine(url, cluster=True, wait_replicas=args.wait_replicas, range_size=args.range_size)
    nodes = Nodes.of(engine.client)
    roles_before = nodes.roles()
    goal_ranges = -(-GOAL_PLAYERS // args.range_size)  # as many ranges as RedisEngine cuts 100M players into
    goal_range_size = -(-args.players // goal_ranges)
    result: dict[str, Any] = {
        "benchmark": "cluster_scale",
        "complete": False,
        "machine": machine_info(url),
        "settings": {
            "players": args.players,
            "range_size": args.range_size,
            "samples": args.samples,
            "warmup": args.warmup,
            "seed": args.seed,
            "wait_replicas": args.wait_replicas,
            "node_memory_gib": args.node_memory_gib,
            "goal_ranges": goal_ranges if args.goal_ranges else None,
            "goal_range_size": goal_range_size if args.goal_ranges else None,
            "cluster_port": args.cluster_port,
            "primaries": len(nodes.primaries),
            "replicas": len(nodes.replicas),
            "cluster_node_timeout_ms": CLUSTER_NODE_TIMEOUT_MS,
            "board": {"key": board.key, "descending": board.descending},
            "around": {"before": AROUND_BEFORE, "after": AROUND_AFTER},
            "top": {"offset": 0, "limit": TOP_LIMIT},
            "value_range": VALUE_RANGE,
        },
        "checks": {},
    }

    def save() -> None:
        report.write_result(args.json, result, complete=False)

    logger.info("making and sorting the members of %s players", f"{args.players:,}")
    started = time.perf_counter()
    members = sorted_members(board, args.players, args.seed)
    result["load"] = {"members_seconds": round(time.perf_counter() - started, 1)}

    # Phase 1: the board cut at --range-size. Layout, memory and the projection; reads, then writes.
    figures, memory, layout = load(engine, nodes, board, members)
    result["load"] |= figures
    layout_info = describe_layout(engine, nodes, board, layout)
    usage = memory_usage(nodes, engine, layout_info)
    loaded = figures["loaded"]
    result["memory"] = memory | {
        "memory_usage": usage,
        "per_player_usage": {kind: round(n / loaded, 1) for kind, n in usage.items()},
    }
    result["projection"] = project(
        board=board,
        players=loaded,
        range_size=args.range_size,
        bytes_per_player=memory["primaries_grown"] / loaded,
        key_usage=usage,
        node_bytes=int(args.node_memory_gib * 2**30),
    )
    result["layout"] = layout_info
    save()

    rng = random.Random(args.seed)
    picked = [make_player(args.seed, rng.randrange(args.players)) for _ in range(args.samples + args.warmup)]
    phase, targets, warmup = measure_reads(engine, nodes, board, layout, members, picked, args.samples)
    phase |= {"load": figures, "memory": memory}
    result["phase"] = phase
    save()
    writes, moves = time_writes(args, engine, board, layout, targets, warmup)
    phase["queries"] += [asdict(q) for q in writes]
    counted = make_moves(engine, board, layout, targets[:CHECKED], random.Random(args.seed + 2), 10**9)
    apply_trips = []
    for move in counted:
        with counting_round_trips() as sent:
            apply_move(engine, board, move)
        apply_trips.append(sent[0])
    phase["round_trips"]["apply"] = f"{min(apply_trips)}-{max(apply_trips)}"
    others = random.Random(args.seed + 3)
    unmoved = [make_player(args.seed, others.randrange(args.players)) for _ in range(4 * CHECKED)]
    phase["checks"]["moves"] = check_moves(engine, board, members, moves + counted, unmoved)
    save()

    # Phase 2: the same players cut into as many ranges as 100M players make at --range-size: what a read costs
    # beyond its floor grows with the range count (a ZCARD of every range per call), not with the players.
    if args.goal_ranges and goal_ranges > layout.ranges:
        logger.info("flushing the cluster, loading again at range size %s", f"{goal_range_size:,}")
        flush_cluster(nodes)
        again = RedisEngine(url, cluster=True, wait_replicas=args.wait_replicas, range_size=goal_range_size)
        figures, memory, layout = load(again, nodes, board, members)
        phase, _, _ = measure_reads(again, nodes, board, layout, members, picked, args.samples)
        result["goal_ranges"] = phase | {"load": figures, "memory": memory}

    roles_after = nodes.roles()
    result["checks"]["roles"] = roles_after
    if roles_after != roles_before:
        raise RuntimeError(f"a node changed role during the run (a failover): {roles_before} -> {roles_after}")
    result["checks"]["loadavg_after"] = [round(average, 2) for average in os.getloadavg()]
    del members  # about 80 bytes a player
    result["goal"] = goal_verdict(result)
    result["complete"] = True
    result["table"] = format_table(result)
    report.write_result(args.json, result, complete=True)
    return result


if __name__ == "__main__":
    cli.run(main, logger=logger, interrupted="interrupted: the cluster is stopped and its files removed")
