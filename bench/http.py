"""HTTP throughput of the production serving profile: single score writes, top 100, 20 around a player.

Podium runs as in production: ``granian --interface wsgi leaderboard_project.wsgi:application``
with N workers, which keep connections open (or gunicorn's sync or gthread workers, ``--worker-class sync``), DEBUG off,
PostgreSQL and the Redis ranking index, on a database and a Redis DB of the
bench's own. The data is made fresh every run: 1,000 users, one game
(descending, best score) with a score for each user, an access token per user,
and the ranking index rebuilt (``rebuild_rankings``) so reads come from Redis.

``wrk`` (64 connections, 2 threads, 15 s per phase after a 2 s untimed warm-up)
replays request files rotating over the users; the phases:

* ``floor``  -- ``GET /healthz``: the app has no bare no-op endpoint, and this
  plain Django view answering ``{"status": "ok"}`` through the whole middleware
  stack is the nearest: what the same server does per request with no work;
* ``write``  -- ``POST /api/v1/scores`` with each user's Bearer token, a random score;
* ``top``    -- ``GET /api/v1/leaderboard/game/<id>?limit=100``;
* ``around`` -- ``GET /api/v1/leaderboard/game/<id>?around=<user id>&limit=20``.

For each: requests/s, p50 and p99 latency, every response that is not the
expected status (and socket errors), requests/s as a ratio to the floor, the
CPU used by gunicorn, PostgreSQL, Redis and wrk meanwhile, and what the phase
left in the server log. The figures are compared with a Go game server's on the
same load shape (the performance goals). The per-player score rate
(``SCORE_RATE_PER_USER_GAME``) is raised to 1,000,000/min, out of the way.

Run (from the project root)::

    .venv/bin/python -m bench.http [--duration 15] [--connections 64] [--users 1000] [--workers 2]
                                   [--worker-class sync,gthread] [--json bench/results/http.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.lib import cli, machine, phases, report
from bench.lib.paths import RESULTS_DIR
from bench.lib.phases import Phase, PhaseResult
from bench.lib.profile import SCORE_RATE, Profile, bench_services, check_dedicated_redis
from bench.lib.seed import Seed, reset_and_seed
from bench.lib.server import WSGI_APP, server_config
from bench.lib.wrk import Request, check_wrk, http_call, write_request_file

logger = logging.getLogger("bench.http")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_http_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
DEFAULT_JSON = RESULTS_DIR / "http.json"
DEFAULT_SEED = 20260301
TOP_LIMIT = 100
AROUND_LIMIT = 20

# A Go game server with leaderboards on the same machine and load shape (the performance goals):
# requests/s as (low, high) of its runs, p99 in ms. The goals compare with the high end.
GO = {
    "write": {"requests_per_s": (2100, 2200), "p99_ms": 55.0},
    "top": {"requests_per_s": (950, 1040), "p99_ms": None},
    "around": {"requests_per_s": (1500, 1640), "p99_ms": None},
}
GOAL_FACTOR = {"write": 1.0, "top": 2.0, "around": 1.5}


def write_body(seed: Seed) -> str:
    """The body of a write, ``{score}`` standing for a random integer drawn per request."""
    return json.dumps({"game_id": str(seed.game_id), "score": 0}).replace('"score": 0', '"score": {score}')


def build_phases(work: Path, seed: Seed) -> list[Phase]:
    board = f"/api/v1/leaderboard/game/{seed.game_id}"
    requests = {
        "floor": [Request("GET", "/healthz")],
        "write": [
            Request("POST", "/api/v1/scores", f"Bearer {token}", write_body(seed)) for token in seed.access_tokens
        ],
        "top": [Request("GET", f"{board}?limit={TOP_LIMIT}")],
        "around": [Request("GET", f"{board}?around={user_id}&limit={AROUND_LIMIT}") for user_id in seed.user_ids],
    }
    what = {
        "floor": "GET /healthz (plain Django view, no work)",
        "write": "POST /api/v1/scores, Bearer token, random score",
        "top": f"GET .../leaderboard/game/<id>?limit={TOP_LIMIT}",
        "around": f"GET .../leaderboard/game/<id>?around=<user>&limit={AROUND_LIMIT}",
    }
    ok = {"write": (201,)}
    return [
        Phase(name, what[name], write_request_file(work / f"{name}.txt", lines), ok.get(name, (200,)))
        for name, lines in requests.items()
    ]


def check_server(base_url: str, seed: Seed) -> dict[str, Any]:
    """Untimed checks before measuring: the index is in use, and each phase's request answers as expected."""
    status, ready = http_call(base_url, Request("GET", "/readyz"))
    if status != 200 or ready.get("status") != "ok":
        raise RuntimeError(f"/readyz: {status} {ready} (the ranking index must be complete and in use)")
    token, user_id = seed.access_tokens[0], seed.user_ids[0]
    write = Request("POST", "/api/v1/scores", f"Bearer {token}", write_body(seed))
    status, body = http_call(base_url, write, score=10**9)
    if status != 201 or body["game_board"]["rank"] != 1:
        raise RuntimeError(f"a write answered {status} {body}")
    status, body = http_call(base_url, Request("GET", f"/api/v1/leaderboard/game/{seed.game_id}?limit=100"))
    if status != 200 or len(body["entries"]) != TOP_LIMIT or body["entries"][0]["user_id"] != str(user_id):
        raise RuntimeError(f"top 100 answered {status} {str(body)[:300]}")
    target = seed.user_ids[len(seed.user_ids) // 2]
    around = Request("GET", f"/api/v1/leaderboard/game/{seed.game_id}?around={target}&limit={AROUND_LIMIT}")
    status, body = http_call(base_url, around)
    if (
        status != 200
        or len(body["entries"]) != AROUND_LIMIT
        or str(target) not in {e["user_id"] for e in body["entries"]}
    ):
        raise RuntimeError(f"around answered {status} {str(body)[:300]}")
    return {"readyz": ready, "board_size": body["size"]}


def goal_verdict(results: Sequence[PhaseResult]) -> dict[str, Any]:
    verdict: dict[str, Any] = {}
    for result in results:
        if result.name not in GO:
            continue
        go = GO[result.name]
        target = GOAL_FACTOR[result.name] * go["requests_per_s"][1]
        met = result.result.requests_per_s >= target and result.unexpected == 0
        goal = f">= {target:,.0f}/s"
        if go["p99_ms"] is not None:
            met = met and result.result.latency_ms["p99"] <= go["p99_ms"]
            goal += f", p99 <= {go['p99_ms']:g} ms"
        verdict[f"{result.server}.{result.name}"] = {
            "goal": goal,
            "requests_per_s": result.result.requests_per_s,
            "p99_ms": result.result.latency_ms["p99"],
            "x_go_high": round(result.result.requests_per_s / go["requests_per_s"][1], 2),
            "met": met,
        }
    return verdict


def format_table(
    args: argparse.Namespace, results: Sequence[PhaseResult], machine: dict[str, Any], verdict: dict[str, Any]
) -> str:
    lines = [
        report.serving_machine_line("http", machine),
        f"{WSGI_APP} on {', '.join(args.worker_classes)}; wrk {args.connections} keep-alive connections, "
        f"{args.threads} threads, "
        f"{args.duration:g} s per phase after {args.warmup:g} s warm-up; {args.users:,} users, one game (desc, best)",
        f"DEBUG off; SCORE_RATE_PER_USER_GAME={SCORE_RATE} (raised: the default 60/min would 429 the writes); "
        "floor = GET /healthz (a plain Django view: there is no bare no-op endpoint)",
        "",
        f"{'server':14} {'phase':8} | {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'unexpected':>10} | "
        f"{'x floor':>7} | {'Go req/s':>11} {'Go p99':>6} | goal",
    ]
    lines.append("-" * (len(lines[-1]) + 30))
    floors = {result.server: result.result.requests_per_s for result in results if result.name == "floor"}
    for result in results:
        r = result.result
        floor = floors.get(result.server)
        ratio = f"{r.requests_per_s / floor:7.2f}" if floor else f"{'':7}"
        go = GO.get(result.name)
        go_text = f"{go['requests_per_s'][0]:,}-{go['requests_per_s'][1]:,}" if go else ""
        go_p99 = f"{go['p99_ms']:g}" if go and go["p99_ms"] else ""
        goal = ""
        if (found := verdict.get(f"{result.server}.{result.name}")) is not None:
            goal = f"{found['goal']}: {'met' if found['met'] else 'MISSED'} ({found['x_go_high']:.2f}x Go)"
        lines.append(
            f"{result.server:14} {result.name:8} | {r.requests_per_s:8,.0f} {r.latency_ms['p50']:8.2f} "
            f"{r.latency_ms['p99']:8.2f} {r.latency_ms['max']:8.1f} {phases.statuses_text(result):>10} | "
            f"{ratio} | {go_text:>11} {go_p99:>6} | {goal}"
        )
    lines += ["", *phases.cpu_table(results), ""]
    for result in results:
        if "stored" in result.checks:
            lines.append(
                f"{result.server} write: {result.result.statuses.get(201, 0):,} responses 201 counted by wrk, "
                f"{result.checks['stored']:,} scores stored meanwhile (a difference: requests in flight at either end)"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser("bench.http", __doc__)
    cli.add_wrk_load(parser, duration=15, connections=64)
    cli.add_users(parser)
    cli.add_workers(
        parser,
        worker_class_help="comma-separated servers, each run in turn: granian (the production web server, keep-alive), "
        "sync or gthread (gunicorn's workers)",
    )
    parser.add_argument("--phases", default="floor,write,top,around", help="comma-separated subset of the phases")
    cli.add_json(parser, DEFAULT_JSON)
    cli.add_services(parser, database_url=DEFAULT_DATABASE_URL, redis_url=DEFAULT_REDIS_URL)
    cli.add_run(parser, seed=DEFAULT_SEED, work="http")
    args = parser.parse_args(argv)
    args.phases = cli.known_names(parser, args.phases, ("floor", "write", "top", "around"), "phases")
    cli.check_worker_classes(parser, args)
    if error := check_wrk() or check_dedicated_redis(args.redis_url):
        parser.error(error)
    if args.users < AROUND_LIMIT + TOP_LIMIT:
        parser.error(f"need at least {AROUND_LIMIT + TOP_LIMIT} users")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    cli.setup_logging()
    args = parse_args(argv)
    profile = Profile(database_url=args.database_url, redis_url=args.redis_url)
    results: list[PhaseResult] = []
    with bench_services(profile, name="http", keep_files=args.keep_files) as args.work:
        info = machine.machine_info(**machine.serving_stack(args.redis_url), **machine.load_before())
        machine.warn_if_busy(info)
        seed = reset_and_seed(profile=profile, users=args.users, tokens=True, seed=args.seed)
        built = build_phases(args.work, seed)
        for worker_class in args.worker_classes:
            config = server_config(args, worker_class)
            results += phases.run_server(
                args, profile, config, built, check=lambda url: check_server(url, seed), counted_phase="write"
            )

    verdict = goal_verdict(results)
    table = format_table(args, results, info, verdict)
    sys.stdout.write(table + "\n")
    report.write_json(
        args.json,
        {
            "benchmark": "http",
            "machine": info,
            "settings": {
                **phases.wrk_settings(args),
                "users": args.users,
                **phases.server_settings(args, profile),
                "top_limit": TOP_LIMIT,
                "around_limit": AROUND_LIMIT,
                "floor": "GET /healthz: a plain Django view returning {'status': 'ok'}; the app has no bare endpoint",
            },
            "seed": seed.report,
            "go": GO,
            "goal": verdict,
            "phases": [phases.phase_record(result) for result in results],
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
