"""Ranking-engine latency at scale: rank, around and top on one board of 1M (and 10M) players.

For each backend (``redis``, ``sql``) and each query, p50 / p99 / mean / ops/s of
the engine call, one caller, no HTTP:

* ``entry``  -- ``engine.entry(board, user_id)``: one player's rank;
* ``around`` -- ``engine.around(board, user_id, before=10, after=9)``: 20 entries;
* ``top``    -- ``engine.top(board, offset=0, limit=100)``.

In the same run, interleaved sample by sample with the engine calls, the floor
each query stands on, sent through the same client and connection:

* Redis: ``ZRANK`` of the player's member, ``ZRANGE`` of 20 around a known
  position, ``ZRANGE 0 99``;
* SQL: ``SELECT count(*) ... value > v`` (the rank), a keyset ``SELECT`` of the
  20 rows around the player, ``SELECT ... ORDER BY ... LIMIT 100``.

Every engine figure is also reported as a ratio to its floor. Players are
generated from a seed (player ``i`` is the same in every run and at every board
size); targets are drawn uniformly from the board with the same seed.

Run (from the project root)::

    .venv/bin/python -m bench.rank_scale [--players 1000000] [--also-10m] [--samples 2000]
                                         [--json bench/results/rank_scale.json] [--reload]

It uses its own PostgreSQL database (created and migrated if missing, data kept
for the next run) and its own Redis database (flushed at start and at the end).
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import random
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import serving

logger = logging.getLogger("bench.rank_scale")

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
DEFAULT_JSON = PROJECT_DIR / "bench" / "results" / "rank_scale.json"
DEFAULT_SEED = 20260301
TEN_MILLION = 10_000_000

AROUND_BEFORE, AROUND_AFTER = 10, 9
TOP_LIMIT = 100
GOAL_P99_MS = 2.0  # the performance goals: rank / around p99 in the engine, Redis backend

# Player i: a random UUID, a value uniform in [0, VALUE_RANGE) (a few ties at
# 1M, more at 10M) and a reached_at within 30 days of T0, all derived from
# (seed, i) so that any player can be rebuilt without keeping the board in memory.
T0 = datetime(2026, 3, 1, tzinfo=UTC)
VALUE_RANGE = 1_000_000_000
REACHED_SPREAD_MS = 30 * 86_400_000

# Redis memory one player is expected to take (zset + hash entry), with headroom;
# the 10M run is refused when the machine has less than twice that free.
REDIS_BYTES_PER_PLAYER_ESTIMATE = 300
COPY_CHUNK = 50_000
ENGINE_FILES = ("rankings/engine/base.py", "rankings/engine/redis.py", "rankings/engine/sql.py")


@dataclass(frozen=True)
class Player:
    index: int
    user_id: uuid.UUID
    value: int
    reached_at: datetime


def make_player(seed: int, index: int) -> Player:
    digest = hashlib.blake2b(index.to_bytes(8, "big"), digest_size=32, key=seed.to_bytes(8, "big")).digest()
    return Player(
        index=index,
        user_id=uuid.UUID(bytes=digest[:16], version=4),
        value=int.from_bytes(digest[16:24], "big") % VALUE_RANGE,
        reached_at=T0 + timedelta(milliseconds=int.from_bytes(digest[24:32], "big") % REACHED_SPREAD_MS),
    )


def make_players(seed: int, start: int, stop: int) -> Iterator[Player]:
    return (make_player(seed, index) for index in range(start, stop))


# --- timing -----------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    samples: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    ops_per_s: float


def summarize(timings_ns: Sequence[int]) -> Stats:
    """Nearest-rank percentiles; ops/s is one caller back to back (1 / mean)."""
    ordered = sorted(timings_ns)
    count = len(ordered)

    def percentile(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * count) - 1)] / 1e6

    mean_ns = sum(ordered) / count
    return Stats(
        samples=count,
        p50_ms=round(percentile(50), 4),
        p99_ms=round(percentile(99), 4),
        mean_ms=round(mean_ns / 1e6, 4),
        max_ms=round(ordered[-1] / 1e6, 4),
        ops_per_s=round(1e9 / mean_ns, 1),
    )


@dataclass(frozen=True)
class Query:
    """One engine query and the floor it stands on, both called with a target player."""

    name: str
    podium: Callable[[Player], object]
    floor: Callable[[Player], object]
    floor_what: str


@dataclass(frozen=True)
class QueryResult:
    name: str
    podium: Stats
    floor: Stats
    floor_what: str
    ratio: dict[str, float]


def time_query(query: Query, targets: Sequence[Player], warmup: Sequence[Player]) -> QueryResult:
    """Warm up, then time engine call and floor alternately, swapping which goes first every sample.

    Interleaving puts both under the same machine conditions, so the ratio
    holds even when other work on the machine comes and goes.
    """
    for player in warmup:
        query.podium(player)
        query.floor(player)
    podium_ns: list[int] = []
    floor_ns: list[int] = []
    pairs = ((query.podium, podium_ns), (query.floor, floor_ns))
    for i, player in enumerate(targets):
        for call, sink in pairs if i % 2 == 0 else pairs[::-1]:
            start = time.perf_counter_ns()
            call(player)
            sink.append(time.perf_counter_ns() - start)
    podium, floor = summarize(podium_ns), summarize(floor_ns)
    ratio = {
        key: round(getattr(podium, f"{key}_ms") / getattr(floor, f"{key}_ms"), 2) for key in ("p50", "p99", "mean")
    }
    return QueryResult(query.name, podium, floor, query.floor_what, ratio)


# --- results ----------------------------------------------------------------


@dataclass
class BackendRun:
    backend: str
    players: int
    load: dict[str, Any] = field(default_factory=dict)
    queries: list[QueryResult] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


def check_entries(
    engine: Any, board: Any, players: int, checked: Sequence[Player], positions: dict[int, int] | None
) -> dict[int, int]:
    """Untimed sanity checks on a few targets; returns each one's rank for comparing backends."""
    ranks: dict[int, int] = {}
    for player in checked:
        entry = engine.entry(board, player.user_id)
        if entry is None or entry.user_id != player.user_id or entry.value != player.value:
            raise RuntimeError(f"{engine.name}: entry of player {player.index} is {entry!r}")
        around = engine.around(board, player.user_id, before=AROUND_BEFORE, after=AROUND_AFTER)
        if player.user_id not in {row.user_id for row in around}:
            raise RuntimeError(f"{engine.name}: around player {player.index} does not list the player")
        if positions is not None:
            position = positions[player.index]
            expected = min(position, AROUND_BEFORE) + 1 + min(players - 1 - position, AROUND_AFTER)
            if len(around) != expected or not 1 <= entry.rank <= position + 1:
                raise RuntimeError(f"{engine.name}: player {player.index} at {position}: rank {entry.rank}")
        ranks[player.index] = entry.rank
    top = engine.top(board, offset=0, limit=TOP_LIMIT)
    if len(top) != min(TOP_LIMIT, players) or top[0].rank != 1:
        raise RuntimeError(f"{engine.name}: top returned {len(top)} entries")
    return ranks


# --- Redis ------------------------------------------------------------------


def redis_memory(client: Any) -> dict[str, int]:
    info = client.info("memory")
    return {key: int(info[key]) for key in ("used_memory", "used_memory_peak")}


def wait_for_lazy_free(client: Any, *, timeout: float = 120.0) -> None:
    """Wait until Redis has freed what earlier asynchronous flushes dropped, so used_memory measures this load only."""
    deadline = time.monotonic() + timeout
    while int(client.info("memory").get("lazyfree_pending_objects", 0)) and time.monotonic() < deadline:
        time.sleep(0.2)


def run_redis(
    *,
    url: str,
    board: Any,
    players: int,
    seed: int,
    targets: Sequence[Player],
    warmup: Sequence[Player],
    reference_ranks: dict[int, int],
) -> BackendRun:
    from rankings.engine import StandingRow
    from rankings.engine.redis import RedisEngine, _keys, encode_member

    run = BackendRun("redis", players)
    engine = RedisEngine(url)
    client = engine.client
    zset, hashed = _keys(board)
    client.flushdb()
    wait_for_lazy_free(client)
    before = redis_memory(client)
    logger.info("redis: loading %s players with rebuild()", f"{players:,}")
    started = time.perf_counter()
    rows = (StandingRow(p.user_id, p.value, p.reached_at, 1) for p in make_players(seed, 0, players))
    loaded = engine.rebuild(board, rows)
    seconds = time.perf_counter() - started
    after = redis_memory(client)
    grown = after["used_memory"] - before["used_memory"]
    run.load = {
        "method": "RedisEngine.rebuild()",
        "loaded": loaded,
        "seconds": round(seconds, 1),
        "players_per_s": round(loaded / seconds),
        "used_memory_before": before["used_memory"],
        "used_memory_after": after["used_memory"],
        "used_memory_grown": grown,
        "bytes_per_player": round(grown / loaded, 1),
        "memory_usage_zset": client.memory_usage(zset),
        "memory_usage_hash": client.memory_usage(hashed),
    }
    logger.info("redis: loaded in %.1f s, %.0f MB", seconds, grown / 2**20)

    def member(player: Player) -> bytes:
        return encode_member(
            descending=board.descending, value=player.value, reached_at=player.reached_at, user_id=player.user_id
        )

    members = {p.index: member(p) for p in [*targets, *warmup]}
    with client.pipeline(transaction=False) as pipe:
        for index in members:
            pipe.zrank(zset, members[index])
        positions = dict(zip(members, pipe.execute(), strict=True))
    run.checks["target_position_quantiles"] = position_quantiles([positions[p.index] for p in targets], players)
    run.checks["ranks"] = check_entries(engine, board, players, targets[:20], positions)
    reference_ranks.update(run.checks["ranks"])

    def around_floor(player: Player) -> object:
        position = positions[player.index]
        return client.zrange(zset, max(0, position - AROUND_BEFORE), position + AROUND_AFTER)

    queries = [
        Query(
            "entry",
            lambda p: engine.entry(board, p.user_id),
            lambda p: client.zrank(zset, members[p.index]),
            "ZRANK member",
        ),
        Query(
            "around",
            lambda p: engine.around(board, p.user_id, before=AROUND_BEFORE, after=AROUND_AFTER),
            around_floor,
            f"ZRANGE pos-{AROUND_BEFORE} pos+{AROUND_AFTER}",
        ),
        Query(
            "top",
            lambda p: engine.top(board, offset=0, limit=TOP_LIMIT),
            lambda p: client.zrange(zset, 0, TOP_LIMIT - 1),
            f"ZRANGE 0 {TOP_LIMIT - 1}",
        ),
    ]
    for query in queries:
        logger.info("redis: timing %s (%d samples)", query.name, len(targets))
        run.queries.append(time_query(query, targets, warmup))
    # Asynchronous, so that dropping millions of members does not stall other users of this Redis.
    client.flushdb(asynchronous=True)
    return run


def position_quantiles(positions: Sequence[int], players: int) -> dict[str, float]:
    """Where the targets sit on the board, as a share of it (0 = top): shows the sample covers the middle."""
    ordered = sorted(positions)
    return {
        f"p{p}": round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] / players, 3) for p in (1, 25, 50, 75, 99)
    }


# --- PostgreSQL ---------------------------------------------------------------


MARKER_TABLE = "bench_rank_scale_load"


def ensure_database(database_url: str) -> None:
    """Create the bench database if it is missing (connecting to the server's ``postgres`` database)."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            logger.info("postgres: creating database %s", name)
            conn.execute(f'CREATE DATABASE "{name}"')


def _user_lines(seed: int, start: int, stop: int, now: str) -> Iterator[str]:
    for player in make_players(seed, start, stop):
        i = player.index
        yield f"{player.user_id}\t!\t\\N\tf\tbench{i:08d}\tbench{i:08d}@example.invalid\t\t\tf\tt\t{now}\n"


def _standing_lines(seed: int, board_key: str, players: int, now: str) -> Iterator[str]:
    for player in make_players(seed, 0, players):
        yield f"{board_key}\t{player.user_id}\t{player.value}\t{player.reached_at.isoformat()}\t1\t{now}\n"


def _copy(cursor: Any, statement: str, lines: Iterator[str]) -> None:
    with cursor.copy(statement) as copy:
        while chunk := "".join(line for _, line in zip(range(COPY_CHUNK), lines, strict=False)):
            copy.write(chunk)


def reset_postgres(database_url: str) -> None:
    """Empty the bench tables (``--reload``)."""
    import psycopg

    logger.info("postgres: emptying the bench tables")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE accounts_user, rankings_standing CASCADE")
        conn.execute(f"DROP TABLE IF EXISTS {MARKER_TABLE}")


def load_postgres(*, database_url: str, board_key: str, players: int, seed: int) -> dict[str, Any]:
    """Make sure users 0..players-1 and the board's standings are in the bench database (COPY), reusing what is there.

    A marker row per data set (users, each board) is written in the same
    transaction as its COPY, so an interrupted load is never taken for a complete one.
    """
    import psycopg

    report: dict[str, Any] = {"method": "COPY", "reused": True}
    now = datetime.now(UTC).isoformat()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (what text PRIMARY KEY, seed bigint NOT NULL, "
            "players bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())"
        )
        markers = {what: (s, n) for what, s, n in conn.execute(f"SELECT what, seed, players FROM {MARKER_TABLE}")}
        users_seed, users_loaded = markers.get("users", (seed, 0))
        if users_seed != seed:
            logger.info("postgres: data of seed %d there, emptying the bench tables for seed %d", users_seed, seed)
            conn.execute("TRUNCATE accounts_user, rankings_standing CASCADE")
            conn.execute(f"TRUNCATE {MARKER_TABLE}")
            markers, users_loaded = {}, 0
        cursor = conn.cursor()
        if users_loaded < players:
            report["reused"] = False
            logger.info("postgres: loading users %s..%s", f"{users_loaded:,}", f"{players - 1:,}")
            started = time.perf_counter()
            with conn.transaction():
                _copy(
                    cursor,
                    "COPY accounts_user (id, password, last_login, is_superuser, username, email, display_name,"
                    " country, is_staff, is_active, created_at) FROM STDIN",
                    _user_lines(seed, users_loaded, players, now),
                )
                _set_marker(cursor, "users", seed, players)
            report["users_seconds"] = round(time.perf_counter() - started, 1)
        count = cursor.execute("SELECT count(*) FROM rankings_standing WHERE board = %s", [board_key]).fetchone()[0]
        if markers.get(board_key) != (seed, players) or count != players:
            report["reused"] = False
            logger.info("postgres: loading %s standings on %s", f"{players:,}", board_key)
            started = time.perf_counter()
            with conn.transaction():
                cursor.execute("DELETE FROM rankings_standing WHERE board = %s", [board_key])
                _copy(
                    cursor,
                    "COPY rankings_standing (board, user_id, value, reached_at, version, updated_at) FROM STDIN",
                    _standing_lines(seed, board_key, players, now),
                )
                _set_marker(cursor, board_key, seed, players)
            report["standings_seconds"] = round(time.perf_counter() - started, 1)
        if not report["reused"]:
            # VACUUM sets the visibility map, so counts are index-only scans, as on a settled production table.
            started = time.perf_counter()
            conn.execute("VACUUM (ANALYZE) accounts_user")
            conn.execute("VACUUM (ANALYZE) rankings_standing")
            report["vacuum_analyze_seconds"] = round(time.perf_counter() - started, 1)
        report["table_bytes"] = cursor.execute(
            "SELECT pg_total_relation_size('rankings_standing'), pg_total_relation_size('accounts_user')"
        ).fetchone()
    report["standings_total_bytes"], report["users_total_bytes"] = report.pop("table_bytes")
    return report


def _set_marker(cursor: Any, what: str, seed: int, players: int) -> None:
    cursor.execute(
        f"INSERT INTO {MARKER_TABLE} (what, seed, players) VALUES (%s, %s, %s) ON CONFLICT (what) DO UPDATE"
        " SET seed = EXCLUDED.seed, players = EXCLUDED.players, loaded_at = now()",
        [what, seed, players],
    )


# The floors, written for a descending board (the bench board's direction) in
# the engine's order: value desc, reached_at asc, user_id asc. The window is a
# keyset on the player's own (value, reached_at, user_id), bounded on value so
# that it is an index range scan.
SQL_TOP = (
    "SELECT user_id, value, reached_at FROM rankings_standing WHERE board = %s"
    " ORDER BY value DESC, reached_at ASC, user_id ASC LIMIT %s"
)
SQL_RANK = "SELECT count(*) FROM rankings_standing WHERE board = %s AND value > %s"
SQL_WINDOW = """
(SELECT user_id, value, reached_at FROM rankings_standing
  WHERE board = %(board)s AND value >= %(value)s
    AND (value > %(value)s OR reached_at < %(reached_at)s OR (reached_at = %(reached_at)s AND user_id < %(user_id)s))
  ORDER BY value ASC, reached_at DESC, user_id DESC LIMIT %(before)s)
UNION ALL
(SELECT user_id, value, reached_at FROM rankings_standing
  WHERE board = %(board)s AND value <= %(value)s
    AND (value < %(value)s OR reached_at > %(reached_at)s OR (reached_at = %(reached_at)s AND user_id >= %(user_id)s))
  ORDER BY value DESC, reached_at ASC, user_id ASC LIMIT %(rest)s)
"""


def run_sql(
    *,
    board: Any,
    players: int,
    targets: Sequence[Player],
    warmup: Sequence[Player],
    load: dict[str, Any],
    reference_ranks: dict[int, int],
) -> BackendRun:
    from django.db import connection

    from rankings.engine.sql import SqlEngine

    if not board.descending:
        raise ValueError("the SQL floors are written for a descending board")
    run = BackendRun("sql", players, load=load)
    engine = SqlEngine()
    ranks = check_entries(engine, board, players, targets[:20], None)
    run.checks["ranks"] = ranks
    mismatched = {
        i: (r, reference_ranks[i]) for i, r in ranks.items() if i in reference_ranks and reference_ranks[i] != r
    }
    if mismatched:
        raise RuntimeError(f"sql and redis disagree on ranks (sql, redis): {mismatched}")
    run.checks["ranks_match_redis"] = bool(reference_ranks)

    connection.ensure_connection()
    # Django's own psycopg connection and cursor class (client-side binding, as the ORM uses), minus the ORM.
    cursor = connection.connection.cursor()

    def sql(statement: str, params: Any) -> list[tuple]:
        cursor.execute(statement, params)
        return cursor.fetchall()

    def window(player: Player) -> object:
        params = {
            "board": board.key,
            "value": player.value,
            "reached_at": player.reached_at,
            "user_id": player.user_id,
            "before": AROUND_BEFORE,
            "rest": AROUND_AFTER + 1,
        }
        return sql(SQL_WINDOW, params)

    run.checks["plans"] = {
        name: [row[0] for row in sql(f"EXPLAIN {statement}", params)]
        for name, statement, params in (
            ("top", SQL_TOP, [board.key, TOP_LIMIT]),
            ("rank", SQL_RANK, [board.key, targets[0].value]),
        )
    }
    run.checks["engine_statements"] = explain_engine_calls(engine, board, median_target(targets, reference_ranks))
    queries = [
        Query(
            "entry",
            lambda p: engine.entry(board, p.user_id),
            lambda p: sql(SQL_RANK, [board.key, p.value]),
            "SELECT count(*) WHERE value > v",
        ),
        Query(
            "around",
            lambda p: engine.around(board, p.user_id, before=AROUND_BEFORE, after=AROUND_AFTER),
            window,
            "keyset SELECT of the 20 rows around",
        ),
        Query(
            "top",
            lambda p: engine.top(board, offset=0, limit=TOP_LIMIT),
            lambda p: sql(SQL_TOP, [board.key, TOP_LIMIT]),
            f"SELECT ... ORDER BY ... LIMIT {TOP_LIMIT}",
        ),
    ]
    for query in queries:
        logger.info("sql: timing %s (%d samples)", query.name, len(targets))
        run.queries.append(time_query(query, targets, warmup))
    return run


def median_target(targets: Sequence[Player], ranks: dict[int, int]) -> Player:
    """The checked target nearest the middle of the board (by the other backend's ranks if known)."""
    checked = [p for p in targets[:20] if p.index in ranks] or list(targets[:20])
    if not ranks:
        return sorted(checked, key=lambda p: p.value)[len(checked) // 2]
    return sorted(checked, key=lambda p: ranks[p.index])[len(checked) // 2]


def explain_engine_calls(engine: Any, board: Any, player: Player) -> dict[str, list[dict[str, Any]]]:
    """The statements the ORM sends for entry / around / top on one target, each with its EXPLAIN ANALYZE.

    Untimed: this is where to look when an engine call is far slower than its floor.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    calls = {
        "entry": lambda: engine.entry(board, player.user_id),
        "around": lambda: engine.around(board, player.user_id, before=AROUND_BEFORE, after=AROUND_AFTER),
        "top": lambda: engine.top(board, offset=0, limit=TOP_LIMIT),
    }
    explained: dict[str, list[dict[str, Any]]] = {}
    for name, call in calls.items():
        with CaptureQueriesContext(connection) as captured:
            call()
        explained[name] = []
        for query in captured.captured_queries:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
                plan = [row[0] for row in cursor.fetchall()]
            explained[name].append({"sql": query["sql"], "seconds": float(query["time"]), "plan": plan})
    return explained


# --- set-up, report -------------------------------------------------------------


def setup_django(*, database_url: str, redis_url: str) -> None:
    """Point Podium at the bench database and Redis DB, as production would run (DEBUG off, no tracing)."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="leaderboard_project.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        RANKING_REDIS_URL=redis_url,
        # DEBUG on would record every SQL statement and time the ORM with its debug cursor.
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    os.environ.pop("RANKING_ENGINE", None)
    import django

    django.setup()


def machine_info(redis_url: str) -> dict[str, Any]:
    import django
    import psycopg
    import redis
    from django.db import connection

    meminfo = _meminfo_kib() if Path("/proc/meminfo").exists() else {}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres_version = cursor.fetchone()[0]
    client = redis.Redis.from_url(redis_url)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": [round(load, 2) for load in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "cpu_model": serving.cpu_model(),
        "mem_total_gib": round(meminfo.get("MemTotal", 0) / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "redis_py": redis.__version__,
        "redis_server": client.info("server")["redis_version"],
        "psycopg": psycopg.__version__,
        "postgres": postgres_version,
        "engine_files_sha256": {
            name: hashlib.sha256((PROJECT_DIR / name).read_bytes()).hexdigest()[:16] for name in ENGINE_FILES
        },
    }


def _meminfo_kib() -> dict[str, int]:
    fields = (line.split() for line in Path("/proc/meminfo").read_text().splitlines())
    return {parts[0].rstrip(":"): int(parts[1]) for parts in fields if len(parts) >= 2}


def free_memory_bytes() -> int:
    return _meminfo_kib().get("MemAvailable", 0) * 1024


def format_table(runs: Sequence[BackendRun], settings: dict[str, Any], machine: dict[str, Any]) -> str:
    lines = [
        f"rank_scale  {machine['date']}  {machine['cpu_count']} CPUs ({machine['cpu_model']})  "
        f"Python {machine['python']}  redis-py {machine['redis_py']}  Redis {machine['redis_server']}  "
        f"PostgreSQL {machine['postgres']}",
        f"{settings['samples']} samples per query after {settings['warmup']} warm-up calls, seed {settings['seed']}; "
        f"around = before {AROUND_BEFORE}, after {AROUND_AFTER} (20 entries); top = offset 0, limit {TOP_LIMIT}; "
        "times in ms, one caller",
        "",
        f"{'players':>10}  {'backend':7} {'query':6} | {'p50':>8} {'p99':>8} {'mean':>8} {'ops/s':>8} | "
        f"{'floor':36} {'p50':>8} {'p99':>8} {'mean':>8} {'ops/s':>8} | {'x p50':>6} {'x p99':>6} {'x mean':>6}",
    ]
    lines.append("-" * len(lines[-1]))
    runs = sorted(runs, key=lambda run: (run.players, run.backend))
    for run in runs:
        if run.skipped:
            lines.append(f"{run.players:>10,}  {run.backend:7} skipped: {run.skipped}")
            continue
        for result in run.queries:
            p, f, r = result.podium, result.floor, result.ratio
            goal = ""
            if run.backend == "redis" and result.name in ("entry", "around"):
                goal = f"  goal p99<{GOAL_P99_MS:g}: {'met' if p.p99_ms < GOAL_P99_MS else 'MISSED'}"
            lines.append(
                f"{run.players:>10,}  {run.backend:7} {result.name:6} | {p.p50_ms:8.3f} {p.p99_ms:8.3f} "
                f"{p.mean_ms:8.3f} {p.ops_per_s:8.0f} | {result.floor_what:36} {f.p50_ms:8.3f} {f.p99_ms:8.3f} "
                f"{f.mean_ms:8.3f} {f.ops_per_s:8.0f} | {r['p50']:6.2f} {r['p99']:6.2f} {r['mean']:6.2f}{goal}"
            )
    lines.append("")
    for run in runs:
        if run.load and not run.skipped:
            load = ", ".join(f"{key} {value}" for key, value in run.load.items())
            lines.append(f"load {run.backend} {run.players:,}: {load}")
    return "\n".join(lines)


def goal_verdict(runs: Sequence[BackendRun]) -> dict[str, Any]:
    verdict: dict[str, Any] = {"redis_p99_ms_under": GOAL_P99_MS, "results": {}}
    for run in runs:
        if run.backend == "redis" and not run.skipped:
            for result in run.queries:
                if result.name in ("entry", "around"):
                    verdict["results"][f"{run.players}.{result.name}"] = {
                        "p99_ms": result.podium.p99_ms,
                        "met": result.podium.p99_ms < GOAL_P99_MS,
                    }
    return verdict


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rank_scale", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--players", type=int, default=1_000_000, help="board size (default 1,000,000)")
    parser.add_argument("--also-10m", action="store_true", help="also run the Redis backend at 10M players")
    parser.add_argument("--samples", type=int, default=2000, help="timed calls per query (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per query first (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--backends", default="redis,sql", help="comma-separated: redis, sql (default both)")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON.relative_to(PROJECT_DIR)}"
    )
    parser.add_argument("--reload", action="store_true", help="reload the PostgreSQL data even if it is there")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="a dedicated Redis DB: it is flushed")
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if unknown := set(args.backends) - {"redis", "sql"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if urlsplit(args.redis_url).path.strip("/") in ("", "0"):
        parser.error("--redis-url must name a dedicated Redis DB other than 0: the bench flushes it")
    if args.samples < 1 or args.players < AROUND_BEFORE + AROUND_AFTER + TOP_LIMIT:
        parser.error("need at least one sample and a board larger than the queries")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    setup_django(database_url=args.database_url, redis_url=args.redis_url)

    import redis
    from django.core.management import call_command

    from rankings.boards import Board
    from rankings.periods import Period, period_window

    if "sql" in args.backends:
        call_command("migrate", interactive=False, verbosity=0)
        if args.reload:
            reset_postgres(args.database_url)
    machine = machine_info(args.redis_url)
    settings = {"samples": args.samples, "warmup": args.warmup, "seed": args.seed, "backends": args.backends}
    sizes = [args.players] + ([TEN_MILLION] if args.also_10m and args.players != TEN_MILLION else [])
    flush_client = redis.Redis.from_url(args.redis_url)
    flush_client.flushdb()
    runs: list[BackendRun] = []
    try:
        # Redis first at every size (minutes), then SQL (its O(N) counts take far longer).
        phases = {"redis": redis_phase, "sql": sql_phase}
        ranks_by_size: dict[int, dict[int, int]] = {players: {} for players in sizes}
        for backend in [name for name in phases if name in args.backends]:
            for players in sizes:
                board = Board(f"bench.rank_scale.p{players}", True, period_window(Period.ALL, T0))
                rng = random.Random(args.seed)
                targets = [make_player(args.seed, rng.randrange(players)) for _ in range(args.samples)]
                warmup = [make_player(args.seed, rng.randrange(players)) for _ in range(args.warmup)]
                runs.append(phases[backend](args, board, players, targets, warmup, ranks_by_size[players]))
                # Load average after the phase: the bench itself keeps about 1-3 busy; more means other work ran.
                runs[-1].checks["loadavg_after"] = [round(load, 2) for load in os.getloadavg()]
                write_report(args.json, runs, settings, machine, complete=False)
    finally:
        flush_client.flushdb(asynchronous=True)

    table = write_report(args.json, runs, settings, machine, complete=True)
    sys.stdout.write(table + "\n")
    logger.info("wrote %s", args.json)
    return 0


def write_report(
    path: Path, runs: Sequence[BackendRun], settings: dict[str, Any], machine: dict[str, Any], *, complete: bool
) -> str:
    """Write the JSON report and return the table. Until the run is complete it goes to ``<path>.partial``,
    so a run that dies keeps what it measured without overwriting the last complete report."""
    table = format_table(runs, settings, machine)
    report = {
        "benchmark": "rank_scale",
        "complete": complete,
        "machine": machine,
        "settings": {
            **settings,
            "around": {"before": AROUND_BEFORE, "after": AROUND_AFTER},
            "top": {"offset": 0, "limit": TOP_LIMIT},
            "value_range": VALUE_RANGE,
            "board_descending": True,
        },
        "goal": goal_verdict(runs),
        "runs": [asdict(run) for run in runs],
        "table": table,
    }
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    (path if complete else partial).write_text(json.dumps(report, indent=2, default=str) + "\n")
    if complete:
        partial.unlink(missing_ok=True)
    return table


def redis_phase(
    args: argparse.Namespace,
    board: Any,
    players: int,
    targets: Sequence[Player],
    warmup: Sequence[Player],
    reference_ranks: dict[int, int],
) -> BackendRun:
    needed = players * REDIS_BYTES_PER_PLAYER_ESTIMATE
    if free_memory_bytes() < 2 * needed:
        reason = f"needs about {needed / 2**30:.1f} GiB twice over, {free_memory_bytes() / 2**30:.1f} GiB free"
        logger.warning("redis at %s players skipped: %s", f"{players:,}", reason)
        return BackendRun("redis", players, skipped=reason)
    return run_redis(
        url=args.redis_url,
        board=board,
        players=players,
        seed=args.seed,
        targets=targets,
        warmup=warmup,
        reference_ranks=reference_ranks,
    )


def sql_phase(
    args: argparse.Namespace,
    board: Any,
    players: int,
    targets: Sequence[Player],
    warmup: Sequence[Player],
    reference_ranks: dict[int, int],
) -> BackendRun:
    if players != args.players:
        # Every SQL rank is a count of the players above, O(N): at 10M the 1M run's
        # minutes become hours. Run it alone, with fewer samples, if wanted.
        reason = "O(N) rank counts, hours at 10M; run --players 10000000 --backends sql --samples 200 for it"
        return BackendRun("sql", players, skipped=reason)
    load = load_postgres(database_url=args.database_url, board_key=board.key, players=players, seed=args.seed)
    return run_sql(
        board=board, players=players, targets=targets, warmup=warmup, load=load, reference_ranks=reference_ranks
    )


if __name__ == "__main__":
    sys.exit(main())
