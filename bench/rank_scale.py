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
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.lib import cli, machine, report, stats
from bench.lib.paths import RESULTS_DIR
from bench.lib.postgres import ensure_database
from bench.lib.profile import Profile, check_dedicated_redis, setup_django
from bench.lib.seed import T0, VALUE_RANGE, Player, load_postgres, make_player, make_players, reset_postgres
from bench.lib.timing import Query, QueryResult, time_query

logger = logging.getLogger("bench.rank_scale")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
DEFAULT_JSON = RESULTS_DIR / "rank_scale.json"
DEFAULT_SEED = 20260301
TEN_MILLION = 10_000_000

AROUND_BEFORE, AROUND_AFTER = 10, 9
TOP_LIMIT = 100
GOAL_P99_MS = 2.0  # the performance goals: rank / around p99 in the engine, Redis backend

# Redis memory one player is expected to take (zset + hash entry), with headroom;
# the 10M run is refused when the machine has less than twice that free.
REDIS_BYTES_PER_PLAYER_ESTIMATE = 300
ENGINE_FILES = ("rankings/engine/base.py", "rankings/engine/redis.py", "rankings/engine/sql.py")


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
    return {f"p{p}": round(stats.percentile(ordered, p / 100) / players, 3) for p in (1, 25, 50, 75, 99)}


# --- PostgreSQL ---------------------------------------------------------------


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


def format_table(runs: Sequence[BackendRun], settings: dict[str, Any], machine: dict[str, Any]) -> str:
    lines = [
        report.machine_line(
            "rank_scale",
            machine,
            f"Python {machine['python']}",
            f"redis-py {machine['redis_py']}",
            f"Redis {machine['redis_server']}",
            f"PostgreSQL {machine['postgres']}",
        ),  # fmt: skip
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
    parser = cli.parser("bench.rank_scale", __doc__)
    parser.add_argument("--players", type=int, default=1_000_000, help="board size (default 1,000,000)")
    parser.add_argument("--also-10m", action="store_true", help="also run the Redis backend at 10M players")
    parser.add_argument("--samples", type=int, default=2000, help="timed calls per query (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per query first (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--backends", default="redis,sql", help="comma-separated: redis, sql (default both)")
    cli.add_json(parser, DEFAULT_JSON)
    parser.add_argument("--reload", action="store_true", help="reload the PostgreSQL data even if it is there")
    cli.add_services(parser, database_url=DEFAULT_DATABASE_URL, redis_url=DEFAULT_REDIS_URL, database_help=None)
    args = parser.parse_args(argv)
    args.backends = cli.known_names(parser, args.backends, ("redis", "sql"), "backends")
    if error := check_dedicated_redis(args.redis_url):
        parser.error(error)
    if args.samples < 1 or args.players < AROUND_BEFORE + AROUND_AFTER + TOP_LIMIT:
        parser.error("need at least one sample and a board larger than the queries")
    return args


def machine_info(redis_url: str) -> dict[str, Any]:
    import django
    import psycopg
    import redis

    return machine.machine_info(
        loadavg_start=[round(load, 2) for load in os.getloadavg()],
        django=django.get_version(),
        redis_py=redis.__version__,
        redis_server=machine.redis_server_version(redis_url),
        psycopg=psycopg.__version__,
        postgres=machine.postgres_version(),
        engine_files_sha256=machine.files_sha256(ENGINE_FILES),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    # DEBUG off: the debug cursor would record every SQL statement and time the ORM.
    setup_django(Profile(database_url=args.database_url, redis_url=args.redis_url))

    import redis
    from django.core.management import call_command

    from rankings.boards import Board
    from rankings.periods import Period, period_window

    if "sql" in args.backends:
        call_command("migrate", interactive=False, verbosity=0)
        if args.reload:
            reset_postgres(args.database_url)
    info = machine_info(args.redis_url)
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
                write_report(args.json, runs, settings, info, complete=False)
    finally:
        flush_client.flushdb(asynchronous=True)

    table = write_report(args.json, runs, settings, info, complete=True)
    sys.stdout.write(table + "\n")
    return 0


def write_report(
    path: Path, runs: Sequence[BackendRun], settings: dict[str, Any], machine: dict[str, Any], *, complete: bool
) -> str:
    """Write the JSON report (``<path>.partial`` until the run is complete) and return the table."""
    table = format_table(runs, settings, machine)
    result = {
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
    report.write_result(path, result, complete=complete)
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
    if machine.free_memory_bytes() < 2 * needed:
        reason = f"needs about {needed / 2**30:.1f} GiB twice over, {machine.free_memory_bytes() / 2**30:.1f} GiB free"
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
