"""The benches' data: users, a game and first scores loaded through Podium's services, or players made from a seed.

* ``reset_and_seed`` (bench.http, bench.batch, bench.servers, bench.ws_fanout):
  migrate, empty every table and the Redis DB, then load N users, one game
  (descending, best score), a score for each user (through
  ``score_submit_batch``), an API key for the game, optionally an access token
  per user, and rebuild the ranking index (``rebuild_rankings``) so that it is
  marked complete and reads are served by Redis.
* ``make_players`` and ``load_postgres`` (bench.rank_scale): player ``i`` is
  derived from ``(seed, i)`` alone, so a board of any size is generated, not
  kept, and loaded into PostgreSQL with ``COPY``, reused by the next run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.lib.profile import Profile

logger = logging.getLogger("bench.seed")

# Player i: a random UUID, a value uniform in [0, VALUE_RANGE) (a few ties at
# 1M, more at 10M) and a reached_at within 30 days of T0, all derived from
# (seed, i) so that any player can be rebuilt without keeping the board in memory.
T0 = datetime(2026, 3, 1, tzinfo=UTC)
VALUE_RANGE = 1_000_000_000
REACHED_SPREAD_MS = 30 * 86_400_000
COPY_CHUNK = 50_000
MARKER_TABLE = "bench_rank_scale_load"


@dataclass
class Seed:
    game_id: uuid.UUID
    user_ids: list[uuid.UUID]
    access_tokens: list[str]
    api_key: str
    report: dict[str, Any]


def reset_and_seed(*, profile: Profile, users: int, tokens: bool, seed: int) -> Seed:
    """Empty the bench database and Redis DB, then load the bench data (see the module docstring)."""
    import redis
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from accounts.services import api_key_create, user_tokens
    from games.services import game_create
    from scores.services import MAX_BATCH, BatchItem, score_submit_batch

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(profile.redis_url).flushdb()

    rng = random.Random(seed)
    people = []
    for i in range(users):
        user = User(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            username=f"bench{i:06d}",
            email=f"bench{i:06d}@example.invalid",
            display_name=f"Bench player {i}",
        )
        user.set_unusable_password()
        people.append(user)
    User.objects.bulk_create(people, batch_size=5_000)
    game = game_create(name="Bench game", slug="bench-game", sort_order="desc", score_operator="best")
    api_key, raw_key = api_key_create(name="bench", games=[game])
    for start in range(0, users, MAX_BATCH):
        items = [
            BatchItem(user.pk, game.pk, rng.randrange(10**9), {}, None) for user in people[start : start + MAX_BATCH]
        ]
        outcomes = score_submit_batch(api_key=api_key, items=items)
        if any(outcome.status != "created" for outcome in outcomes):
            raise RuntimeError(f"seeding: a first score was not created: {outcomes[0]}")
    access = [user_tokens(user=user)["access"] for user in people] if tokens else []
    with contextlib.redirect_stdout(io.StringIO()) as rebuilt:
        call_command("rebuild_rankings")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    seconds = round(time.perf_counter() - started, 1)
    summary = rebuilt.getvalue().strip().rsplit("\n", 1)[-1].strip()
    logger.info("seeded %s users, 1 game, %s scores in %.1fs; %s", f"{users:,}", f"{users:,}", seconds, summary)
    return Seed(
        game_id=game.pk,
        user_ids=[user.pk for user in people],
        access_tokens=access,
        api_key=raw_key,
        report={
            "users": users,
            "games": 1,
            "game": {"slug": game.slug, "sort_order": "desc", "score_operator": "best"},
            "first_scores": users,
            "access_tokens": len(access),
            "rebuild_rankings": summary,
            "seconds": seconds,
        },
    )


def score_count() -> int:
    from scores.models import Score

    return Score.objects.count()


# --- players made from a seed (bench.rank_scale) ----------------------------------------------


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


def _user_lines(seed: int, start: int, stop: int, now: str) -> Iterator[str]:
    for player in make_players(seed, start, stop):
        i = player.index
        yield f"{player.user_id}\t!\t\\N\tf\tbench{i:08d}\tbench{i:08d}@example.invalid\t\t\tf\tt\t{now}\tf\n"


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
                    " country, is_staff, is_active, created_at, is_synthetic) FROM STDIN",
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
