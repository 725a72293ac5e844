"""Demo data at scale: ``manage.py populate_demo --players 10000 --scores 200000`` on a fresh database.

For each backend (``sqlite``: the embedded mode, a temporary SQLite file and no
Redis; ``postgres``: a scratch PostgreSQL database dropped and created by the
bench, with the Redis ranking index), the database is created and migrated
(untimed), then ``manage.py populate_demo`` runs in a child process and is timed
from here, from start to exit. The phases come from its progress bar on stderr,
timestamped here as it is drawn.

In the same run, the floor the command stands on: the same score and standing
rows (read back from the tables ``populate_demo`` filled, every column) stored
again into fresh scratch tables with the columns and indexes of
``scores_score`` and ``rankings_standing`` (no foreign keys), from Python in
one transaction: ``executemany`` in batches on SQLite, ``COPY`` on PostgreSQL.
Goal: the command under 10 s.

Run (from the project root)::

    .venv/bin/python -m bench.populate [--players 10000] [--scores 200000] [--backends sqlite,postgres]
                                       [--json bench/results/populate.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench.lib import cli, machine, postgres, report
from bench.lib.paths import PROJECT_DIR, RESULTS_DIR
from bench.lib.profile import Profile, check_dedicated_redis

logger = logging.getLogger("bench.populate")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_populate_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
DEFAULT_JSON = RESULTS_DIR / "populate.json"
DEFAULT_SEED = 2026  # populate_demo's own default
GAMES = 3
GOAL_SECONDS = 10.0
FLOOR_TABLES = (("scores_score", "bench_floor_score"), ("rankings_standing", "bench_floor_standing"))
SQLITE_BATCH = 10_000
MANAGE = [sys.executable, str(PROJECT_DIR / "manage.py")]
BAR = re.compile(r"^(?P<step>\S+)\s+\[[#.]*\]\s+(?P<done>[\d,]+)/(?P<total>[\d,]+)")
FOREIGN_KEY = re.compile(r'\s+REFERENCES\s+"\w+"\s*\("\w+"\)(\s+DEFERRABLE INITIALLY DEFERRED)?')


# --- the floor, run in a child process with the backend's settings -------------------


def clone_table(cursor: Any, vendor: str, source: str, target: str) -> list[str]:
    """Create ``target`` with the columns, constraints and indexes of ``source``, without foreign keys."""
    cursor.execute(f'DROP TABLE IF EXISTS "{target}"')
    if vendor == "postgresql":
        cursor.execute(f'CREATE TABLE "{target}" (LIKE "{source}" INCLUDING ALL)')
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [target])
        return [row[0] for row in cursor.fetchall()]
    # The table first: its UNIQUE and PRIMARY KEY clauses make SQLite's automatic indexes.
    cursor.execute("SELECT sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL ORDER BY type DESC", [source])
    for (sql,) in cursor.fetchall():
        sql = FOREIGN_KEY.sub("", sql).replace(f'"{source}"', f'"{target}"')
        cursor.execute(re.sub(r'INDEX "(\w+)"', rf'INDEX "{target}_\1"', sql))
    cursor.execute("SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [target])
    return [sql or name for name, sql in cursor.fetchall()]


def floor() -> dict[str, Any]:
    """Count what populate_demo stored, then store the same rows again into scratch tables, timed."""
    import django

    django.setup()
    from django.db import connection, transaction

    from accounts.models import User
    from rankings.models import Standing
    from scores.models import Score

    report: dict[str, Any] = {
        "users": User.objects.count(),
        "scores": Score.objects.count(),
        "standings": Standing.objects.count(),
        "tables": {},
    }
    with connection.cursor() as cursor:
        for source, target in FLOOR_TABLES:
            indexes = clone_table(cursor, connection.vendor, source, target)
            cursor.execute(f'SELECT * FROM "{source}"')
            names = [f'"{column[0]}"' for column in cursor.description]
            columns, rows = ", ".join(names), cursor.fetchall()
            started = time.monotonic()
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with cursor.cursor.copy(f'COPY "{target}" ({columns}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    sql = f'INSERT INTO "{target}" ({columns}) VALUES ({", ".join("?" * len(names))})'
                    for start in range(0, len(rows), SQLITE_BATCH):
                        connection.connection.executemany(sql, rows[start : start + SQLITE_BATCH])
            seconds = time.monotonic() - started
            cursor.execute(f'SELECT count(*) FROM "{target}"')
            stored = cursor.fetchone()[0]
            cursor.execute(f'DROP TABLE "{target}"')
            report["tables"][source] = {"rows": stored, "seconds": seconds, "indexes": indexes}
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        report["server"] = cursor.fetchone()[0]
    return report


# --- the parent: databases, child processes, report -----------------------------------


def run_child(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command`` to its end; its wall time, stdout, and each progress-bar update with when it was drawn."""
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events: list[tuple[float, str, int]] = []
    other: list[str] = []
    pending = b""
    while chunk := os.read(child.stderr.fileno(), 65536):
        at = time.monotonic() - started
        *parts, pending = re.split(rb"[\r\n]", pending + chunk)
        for text in (part.decode(errors="replace") for part in parts):
            if match := BAR.match(text):
                events.append((at, match["step"], int(match["done"].replace(",", ""))))
            elif text.strip():
                other.append(text)
    stdout = child.stdout.read().decode()
    seconds = time.monotonic() - started
    if child.wait() != 0:
        raise RuntimeError(f"{' '.join(command[1:3])} failed:\n" + "\n".join(other[-30:]))
    return {"seconds": seconds, "stdout": stdout, "events": events, "stderr": other}


def phases(events: Sequence[tuple[float, str, int]], total: float) -> dict[str, float]:
    """Seconds between progress updates; the first ``scores`` update is drawn once the first chunk is stored."""
    first: dict[str, tuple[float, int]] = {}
    last: dict[str, tuple[float, int]] = {}
    for at, step, done in events:
        first.setdefault(step, (at, done))
        last[step] = (at, done)
    if not {"players", "scores"} <= first.keys():
        return {}
    chunks = last["scores"][0] - first["scores"][0]
    return {
        "start": first["players"][0],
        "players": last["players"][0] - first["players"][0],
        "to_first_chunk": first["scores"][0] - last["players"][0],
        "later_chunks": chunks,
        "later_chunks_scores_per_s": (last["scores"][1] - first["scores"][1]) / chunks if chunks else 0.0,
        "finish": total - last["scores"][0],
    }


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="podium-populate-"))
    if backend == "postgres":
        postgres.drop_database(args.database_url)
        postgres.admin(args.database_url, f'CREATE DATABASE "{postgres.database_name(args.database_url)}"')
        profile = Profile(database_url=args.database_url, redis_url=args.redis_url)
    else:
        profile = Profile(database_url=f"sqlite:///{scratch / 'podium.sqlite3'}", redis_url="")
    env = profile.server_environ() | {"PYTHONUNBUFFERED": "1"}
    try:
        if backend == "postgres":
            redis.Redis.from_url(args.redis_url).flushdb()
        subprocess.run([*MANAGE, "migrate", "--verbosity", "0"], cwd=PROJECT_DIR, env=env, check=True)
        logger.info("%s: populate_demo --players %s --scores %s", backend, f"{args.players:,}", f"{args.scores:,}")
        command = [*MANAGE, "populate_demo", "--players", str(args.players), "--scores", str(args.scores)]
        populate = run_child([*command, "--games", str(GAMES), "--seed", str(args.seed)], env)
        logger.info("%s: populate_demo took %.1f s; floor", backend, populate["seconds"])
        measured = run_child([sys.executable, "-m", "bench.populate", "--floor"], env)
    finally:
        if backend == "postgres":
            redis.Redis.from_url(args.redis_url).flushdb()
            postgres.drop_database(args.database_url)
        shutil.rmtree(scratch, ignore_errors=True)
    found = json.loads(measured["stdout"])
    created = re.search(r"Created demo data in ([\d.]+)s", populate["stdout"])
    floor_seconds = sum(table["seconds"] for table in found["tables"].values())
    return {
        "backend": backend,
        "environment": profile.described(),
        "populate_s": populate["seconds"],
        "service_s": float(created[1]) if created else None,
        "output": populate["stdout"].strip(),
        "stderr_other": populate["stderr"][-20:],
        "phases_s": phases(populate["events"], populate["seconds"]),
        "players": args.players,
        "users": found["users"],
        "scores": found["scores"],
        "scores_per_s": found["scores"] / populate["seconds"],
        "standings": found["standings"],
        "floor_s": floor_seconds,
        "floor": found["tables"],
        "x_floor": populate["seconds"] / floor_seconds,
        "server": found["server"],
        "goal_met": populate["seconds"] < GOAL_SECONDS,
    }


def format_table(runs: Sequence[dict[str, Any]], machine: dict[str, Any]) -> str:
    lines = [
        report.machine_line("populate", machine, f"Python {machine['python']}", f"Django {machine['django']}"),
        "manage.py populate_demo, fresh database, wall time of the command (process start to exit); "
        "floor = the same score and standing rows stored again into scratch tables with the same indexes "
        "(executemany on SQLite, COPY on PostgreSQL)",
        "",
        f"{'backend':8} | {'populate s':>10} {'service s':>9} {'scores':>8} {'scores/s':>8} {'players':>7} "
        f"{'standings':>9} | {'floor s':>7} {'x floor':>7} | goal",
    ]
    lines.append("-" * (len(lines[-1]) + 20))
    for run in runs:
        service = f"{run['service_s']:9.1f}" if run["service_s"] is not None else f"{'':9}"
        goal = f"< {GOAL_SECONDS:.0f} s: {'met' if run['goal_met'] else 'MISSED'}"
        lines.append(
            f"{run['backend']:8} | {run['populate_s']:10.1f} {service} {run['scores']:8,} {run['scores_per_s']:8,.0f} "
            f"{run['players']:7,} {run['standings']:9,} | {run['floor_s']:7.2f} {run['x_floor']:7.1f} | {goal}"
        )
    lines += [
        "",
        "Phases in s, from populate_demo's progress bar as drawn (its first scores update follows the first chunk):",
        f"{'backend':8} | {'start':>6} {'players':>7} {'to 1st chunk':>12} {'later chunks':>12} {'scores/s':>8} "
        f"{'finish':>6} | {'floor scores':>12} {'floor standings':>15}",
    ]
    for run in runs:
        p, floor = run["phases_s"], run["floor"]
        timed = (
            f"{p['start']:6.1f} {p['players']:7.1f} {p['to_first_chunk']:12.1f} {p['later_chunks']:12.1f} "
            f"{p['later_chunks_scores_per_s']:8,.0f} {p['finish']:6.1f}"
            if p
            else f"{'no progress seen':>56}"
        )
        lines.append(
            f"{run['backend']:8} | {timed} | {floor['scores_score']['seconds']:12.2f} "
            f"{floor['rankings_standing']['seconds']:15.2f}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser("bench.populate", __doc__)
    parser.add_argument("--players", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--scores", type=int, default=200_000, help="default 200,000")
    parser.add_argument("--backends", default=None, help="sqlite, postgres (default both; postgres if reachable)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"populate_demo's seed (default {DEFAULT_SEED})")
    cli.add_json(parser, DEFAULT_JSON)
    cli.add_services(
        parser,
        database_url=DEFAULT_DATABASE_URL,
        redis_url=DEFAULT_REDIS_URL,
        database_help="a scratch database: dropped and created",
    )
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor:
        return args
    explicit = args.backends is not None
    args.backends = cli.known_names(parser, args.backends or "sqlite,postgres", ("sqlite", "postgres"), "backends")
    if error := check_dedicated_redis(args.redis_url):
        parser.error(error)
    if "postgres" in args.backends and not explicit:
        try:
            postgres.admin(args.database_url, "SELECT 1")
        except psycopg.Error as error:
            logger.warning("PostgreSQL at %s is not reachable (%s): SQLite only", args.database_url, error)
            args.backends.remove("postgres")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    cli.setup_logging()
    args = parse_args(argv)
    if args.floor:
        sys.stdout.write(json.dumps(floor(), default=str) + "\n")
        return 0
    import django

    info = machine.machine_info(django=django.get_version(), **machine.load_before(), code=machine.code_state())
    machine.warn_if_busy(info)
    runs = [run_backend(backend, args) for backend in args.backends]
    table = format_table(runs, info)
    sys.stdout.write(table + "\n")
    report.write_json(
        args.json,
        {
            "benchmark": "populate",
            "machine": info,
            "settings": {"players": args.players, "scores": args.scores, "games": GAMES, "seed": args.seed},
            "goal": {"seconds": GOAL_SECONDS, "met": {run["backend"]: run["goal_met"] for run in runs}},
            "runs": runs,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
