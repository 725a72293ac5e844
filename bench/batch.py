"""Batched score writes over HTTP: scores/s through ``POST /api/v1/scores/batch`` with an API key.

Podium is served as in bench.http (gunicorn, ``leaderboard_project.wsgi:application``,
N sync workers, DEBUG off, PostgreSQL and the Redis ranking index), with one
difference: the settings module is ``bench.floor_settings``, Podium's settings
with one bench-only URL appended, ``POST /bench/floor`` (``bench/floor_urls.py``).
The data is made fresh every run: 1,000 users, one game (descending, best
score) with a score for each user, an API key for the game, and the ranking
index rebuilt so that it is in use.

Request bodies are pre-generated (``--bodies``, 16): each a batch of
``--batch-size`` (1,000) items ``{"user_id", "game_id", "score"}``, the users
drawn without repetition (at the default sizes, all 1,000 users, shuffled, so
any two batches name the same players and take turns on their row locks; with
``--users`` at least batch size x bodies, each body has players of its own);
wrk gives every item a fresh random score for every request. ``wrk`` (8 connections, 2 threads, 15 s per
phase after a 2 s untimed warm-up) then runs three phases:

* ``healthz`` -- ``GET /healthz``: the server's request floor (no body, no work);
* ``parse``   -- ``POST /bench/floor`` with the same bodies and API key: the
  floor a batch stands on, everything before Podium's own work (the request,
  the body read, API-key authentication, JSON parsing of the same bytes, a
  small JSON response);
* ``batch``   -- ``POST /api/v1/scores/batch`` with the same bodies.

For each: requests (batches)/s, scores/s, p50 and p99 per request, every
response that is not a 200 (and socket errors), the ratio to the ``parse``
floor, the CPU used by gunicorn, PostgreSQL, Redis and wrk (the load
generator) meanwhile, and what the phase left in the server log. The scores
stored during the batch phase are counted in the database. Goal (the
performance goals): 50,000 scores/s.

Run (from the project root)::

    .venv/bin/python -m bench.batch [--duration 15] [--connections 8] [--batch-size 1000]
                                    [--json bench/results/batch.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.lib import cli, machine, phases, report
from bench.lib.paths import RESULTS_DIR
from bench.lib.phases import Phase, PhaseResult
from bench.lib.profile import Profile, bench_services, check_dedicated_redis
from bench.lib.seed import Seed, reset_and_seed
from bench.lib.server import WSGI_APP, server_config
from bench.lib.wrk import Request, check_wrk, http_call, write_request_file

logger = logging.getLogger("bench.batch")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_batch_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
DEFAULT_JSON = RESULTS_DIR / "batch.json"
DEFAULT_SEED = 20260301
SETTINGS_MODULE = "bench.floor_settings"
FLOOR_PATH = "/bench/floor"
GOAL_SCORES_PER_S = 50_000


def batch_bodies(seed: Seed, *, size: int, count: int, rng: random.Random) -> list[str]:
    """``count`` batch bodies of ``size`` items; ``{score}`` stands for a random score drawn per request.

    With users enough for every body to have its own (``--users`` at least
    ``--batch-size`` x ``--bodies``) the bodies name disjoint sets of users, so
    concurrent batches do not wait on each other's player locks; otherwise
    each body draws its users at random, without repetition within a body.
    """
    game = str(seed.game_id)
    users = [str(user_id) for user_id in seed.user_ids]
    rng.shuffle(users)
    disjoint = len(users) >= size * count
    bodies = []
    for i in range(count):
        if disjoint:
            chosen = users[i * size : (i + 1) * size]
        elif size <= len(users):
            chosen = rng.sample(users, size)
        else:
            chosen = [rng.choice(users) for _ in range(size)]
        items = ",".join(f'{{"user_id": "{user}", "game_id": "{game}", "score": {{score}}}}' for user in chosen)
        bodies.append(f'{{"scores": [{items}]}}')
    return bodies


def build_phases(work: Path, seed: Seed, bodies: list[str]) -> list[Phase]:
    authorization = f"Api-Key {seed.api_key}"
    requests = {
        "healthz": [Request("GET", "/healthz")],
        "parse": [Request("POST", FLOOR_PATH, authorization, body) for body in bodies],
        "batch": [Request("POST", "/api/v1/scores/batch", authorization, body) for body in bodies],
    }
    what = {
        "healthz": "GET /healthz (plain Django view, no work)",
        "parse": f"POST {FLOOR_PATH}: API key, same bodies parsed, no work",
        "batch": "POST /api/v1/scores/batch, API key",
    }
    return [
        Phase(name, what[name], write_request_file(work / f"{name}.txt", lines)) for name, lines in requests.items()
    ]


def check_server(base_url: str, seed: Seed, body: str, size: int) -> dict[str, Any]:
    """Untimed checks: the index is in use, the floor parses every item, a batch stores every item."""
    status, ready = http_call(base_url, Request("GET", "/readyz"))
    if status != 200 or ready.get("status") != "ok":
        raise RuntimeError(f"/readyz: {status} {ready} (the ranking index must be complete and in use)")
    authorization = f"Api-Key {seed.api_key}"
    status, parsed = http_call(base_url, Request("POST", FLOOR_PATH, authorization, body))
    if status != 200 or parsed != {"items": size}:
        raise RuntimeError(f"the parse floor answered {status} {parsed}")
    status, stored = http_call(base_url, Request("POST", "/api/v1/scores/batch", authorization, body))
    if status != 200 or stored.get("created") != size:
        raise RuntimeError(f"a batch answered {status} {str(stored)[:300]}")
    return {"readyz": ready}


def scores_per_s(result: PhaseResult, size: int) -> float:
    return 0.0 if result.name == "healthz" else result.result.requests_per_s * size


def format_table(args: argparse.Namespace, results: Sequence[PhaseResult], machine: dict[str, Any]) -> str:
    lines = [
        report.serving_machine_line("batch", machine),
        f"{WSGI_APP} on {', '.join(args.worker_classes)} (settings {SETTINGS_MODULE}); "
        f"wrk {args.connections} connections, "
        f"{args.threads} threads, {args.duration:g} s per phase after {args.warmup:g} s warm-up; "
        f"{args.users:,} users, one game (desc, best); batches of {args.batch_size:,} items",
        "DEBUG off; floors: healthz = GET /healthz (no body, no work); "
        f"parse = POST {FLOOR_PATH} (API key, the same bodies parsed, nothing done); x parse = req/s over parse's",
        "",
        f"{'server':14} {'phase':8} | {'req/s':>8} {'scores/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'unexpected':>10} | {'x parse':>7} | goal",
    ]
    lines.append("-" * (len(lines[-1]) + 40))
    floors = {result.server: result.result.requests_per_s for result in results if result.name == "parse"}
    for result in results:
        r = result.result
        floor = floors.get(result.server)
        ratio = f"{r.requests_per_s / floor:7.2f}" if floor and result.name != "healthz" else f"{'':7}"
        scores = scores_per_s(result, args.batch_size)
        goal = ""
        if result.name == "batch":
            met = scores >= GOAL_SCORES_PER_S and result.unexpected == 0
            goal = (
                f">= {GOAL_SCORES_PER_S:,} scores/s: {'met' if met else 'MISSED'} ({scores / GOAL_SCORES_PER_S:.2f}x)"
            )
        lines.append(
            f"{result.server:14} {result.name:8} | {r.requests_per_s:8,.1f} {scores:9,.0f} {r.latency_ms['p50']:8.1f} "
            f"{r.latency_ms['p99']:8.1f} {r.latency_ms['max']:8.1f} {phases.statuses_text(result):>10} | "
            f"{ratio} | {goal}"
        )
    lines += ["", *phases.cpu_table(results), ""]
    for result in results:
        if "stored" in result.checks:
            expected = result.result.statuses.get(200, 0) * args.batch_size
            lines.append(
                f"{result.server} batch: {result.result.statuses.get(200, 0):,} responses 200 x {args.batch_size:,} "
                f"= {expected:,} scores; {result.checks['stored']:,} scores stored meanwhile "
                "(a difference: batches in flight at either end)"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser("bench.batch", __doc__)
    cli.add_wrk_load(parser, duration=15, connections=8)
    parser.add_argument("--batch-size", type=int, default=1000, help="items per batch (default 1000, the API's most)")
    parser.add_argument("--bodies", type=int, default=16, help="distinct pre-generated batch bodies (default 16)")
    cli.add_users(parser, each="a first score")
    cli.add_workers(
        parser,
        worker_class_help="comma-separated servers: granian (the production web server, keep-alive), sync or gthread "
        "(gunicorn)",
    )
    parser.add_argument("--phases", default="healthz,parse,batch", help="comma-separated subset of the phases")
    cli.add_json(parser, DEFAULT_JSON)
    cli.add_services(parser, database_url=DEFAULT_DATABASE_URL, redis_url=DEFAULT_REDIS_URL)
    cli.add_run(parser, seed=DEFAULT_SEED, work="batch")
    args = parser.parse_args(argv)
    args.phases = cli.known_names(parser, args.phases, ("healthz", "parse", "batch"), "phases")
    cli.check_worker_classes(parser, args)
    if error := check_wrk() or check_dedicated_redis(args.redis_url):
        parser.error(error)
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be from 1 to 1000 (the API's limit)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    cli.setup_logging()
    args = parse_args(argv)
    profile = Profile(database_url=args.database_url, redis_url=args.redis_url, settings_module=SETTINGS_MODULE)
    results: list[PhaseResult] = []
    with bench_services(profile, name="batch", keep_files=args.keep_files) as args.work:
        info = machine.machine_info(**machine.serving_stack(args.redis_url), **machine.load_before())
        machine.warn_if_busy(info)
        seed = reset_and_seed(profile=profile, users=args.users, tokens=False, seed=args.seed)
        bodies = batch_bodies(seed, size=args.batch_size, count=args.bodies, rng=random.Random(args.seed))
        built = build_phases(args.work, seed, bodies)
        check = partial(check_server, seed=seed, body=bodies[0].replace("{score}", "1"), size=args.batch_size)
        for worker_class in args.worker_classes:
            config = server_config(args, worker_class)
            results += phases.run_server(args, profile, config, built, check=check, counted_phase="batch")

    table = format_table(args, results, info)
    sys.stdout.write(table + "\n")
    batch = [result for result in results if result.name == "batch"]
    report.write_json(
        args.json,
        {
            "benchmark": "batch",
            "machine": info,
            "settings": {
                **phases.wrk_settings(args),
                "batch_size": args.batch_size,
                "bodies": args.bodies,
                "body_bytes": len(bodies[0].replace("{score}", "500000000")),
                "users": args.users,
                **phases.server_settings(args, profile),
                "floors": {
                    "healthz": "GET /healthz: a plain Django view, no body, no work",
                    "parse": f"POST {FLOOR_PATH}: API-key auth and JSON parsing of the same bodies, no work",
                },
            },
            "seed": seed.report,
            "goal": {
                "scores_per_s": GOAL_SCORES_PER_S,
                "results": {
                    result.server: {
                        "scores_per_s": scores_per_s(result, args.batch_size),
                        "met": scores_per_s(result, args.batch_size) >= GOAL_SCORES_PER_S and not result.unexpected,
                    }
                    for result in batch
                },
            },
            "phases": [
                phases.phase_record(result, scores_per_s=scores_per_s(result, args.batch_size)) for result in results
            ],
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    cli.run(
        main,
        logger=logger,
        interrupted="interrupted: the server is stopped and the Redis DB flushed, no results written",
    )
