"""The load of bench.ws_fanout, in a process of its own: scores over HTTP, or the baseline's ``group_send``.

Run by bench.ws_fanout, never by hand: ``python -m bench.ws_load`` reads its
settings as one JSON line on stdin and prints one JSON line, its result, when
done. Both modes are paced on wall-clock slots ``start - warmup + i / rate``
up to ``start + duration``; what was sent from ``start`` on is the timed part.

* ``scores``: ``POST /api/v1/scores`` ``{"game_id", "score"}`` with the
  players' Bearer tokens in turn, a random score each, from a pool of threads
  that each keep one connection open (keep-alive, as game servers and
  browsers do; one is opened again after an error or a close): a slot
  whose thread is still busy waits for the next free one, so a server that
  does not keep up lowers the achieved rate instead of piling up requests.
  The result lists the score ids of the 201 responses to requests sent in the
  timed window: each of them should reach every client.
* ``group_send``: the baseline's publisher: ``group_send`` on the server's
  layer (``channels_redis.core.RedisChannelLayer``, or the pub/sub one) of
  one event per slot to the baseline group, shaped like
  Podium's ``score.submitted`` (``seq``, ``data.score_id``, ``ts`` set right
  before the send, as Podium sets it right after commit).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.lib.child import emit
from bench.lib.stats import summarize_ms

BASELINE_GROUP = "bench.baseline"
BASELINE_MESSAGE_TYPE = "bench.event"


def timestamp(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat()
    return text[:-6] + "Z"


def slots(settings: dict[str, Any]) -> tuple[float, float, float, int]:
    rate, start = settings["rate"], settings["start"]
    first = start - settings["warmup"]
    end = start + settings["duration"]
    return first, end, 1.0 / rate, math.ceil((end - first) * rate)


# --- scores over HTTP ------------------------------------------------------------------------


def run_scores(settings: dict[str, Any]) -> dict[str, Any]:
    first, end, step, count = slots(settings)
    host, port = settings["host"], settings["port"]
    path = "/api/v1/scores"
    game_id, tokens = settings["game_id"], settings["tokens"]
    lock = threading.Lock()
    next_slot = [0]
    records: list[tuple[float, float, float, int, int | None]] = []  # slot, sent, done, status, score id
    failures: Counter[str] = Counter()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection: http.client.HTTPConnection | None = None
        try:
            while True:
                with lock:
                    index = next_slot[0]
                    next_slot[0] += 1
                slot = first + index * step
                if index >= count or slot >= end:
                    return
                pause = slot - time.time()
                if pause > 0:
                    time.sleep(pause)
                elif time.time() >= end:  # behind schedule at the end: the slots left are not sent
                    return
                body = json.dumps({"game_id": game_id, "score": rng.randrange(10**9)})
                headers = {
                    "Authorization": f"Bearer {tokens[index % len(tokens)]}",
                    "Content-Type": "application/json",
                }
                sent = time.time()
                status, score_id = 0, None
                try:
                    if connection is None:
                        connection = http.client.HTTPConnection(host, port, timeout=30)
                    connection.request("POST", path, body=body, headers=headers)
                    response = connection.getresponse()
                    raw = response.read()
                    status = response.status
                    if response.will_close:
                        connection.close()
                        connection = None
                    if status == 201:
                        score_id = json.loads(raw)["score"]["id"]
                except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                    failures[type(error).__name__] += 1
                    if connection is not None:
                        connection.close()
                        connection = None
                done = time.time()
                with lock:
                    records.append((slot, sent, done, status, score_id))
        finally:
            if connection is not None:
                connection.close()

    threads = [
        threading.Thread(target=worker, args=(settings["seed"] + i,), daemon=True) for i in range(settings["threads"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Slots never sent: the server did not keep up and the threads were all busy until the end.
    return summarize(settings, records, failures, ok=201) | {"skipped_slots": count - len(records)}


# --- the baseline's group_send --------------------------------------------------------------------


async def publish_baseline(settings: dict[str, Any]) -> dict[str, Any]:
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    # The layer of the baseline's server: the pub/sub layer publishes to Redis channels, the core one fills lists.
    if settings["layer"] == "pubsub":
        layer = RedisPubSubChannelLayer(hosts=[settings["redis_url"]])
    else:
        layer = RedisChannelLayer(hosts=[settings["redis_url"]])
    first, end, step, count = slots(settings)
    rng = random.Random(settings["seed"])
    game_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    records: list[tuple[float, float, float, int, int | None]] = []
    failures: Counter[str] = Counter()
    for index in range(count):
        slot = first + index * step
        if slot >= end:
            break
        pause = slot - time.time()
        if pause > 0:
            await asyncio.sleep(pause)
        seq = index + 1
        sent = time.time()
        ts = timestamp(sent)
        user = rng.randrange(1000)
        event = {
            "type": "score.submitted",
            "channel": BASELINE_GROUP,
            "seq": seq,
            "data": {
                "score_id": seq,
                "user_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "username": f"bench{user:06d}",
                "game_id": game_id,
                "score": rng.randrange(10**9),
                "personal_best": False,
                "source": "client",
                "created_at": ts,
            },
            "ts": ts,
        }
        status = 0
        try:
            await layer.group_send(BASELINE_GROUP, {"type": BASELINE_MESSAGE_TYPE, "event": event})
            status = 1
        except Exception as error:  # noqa: BLE001  counted and reported
            failures[type(error).__name__] += 1
        records.append((slot, sent, time.time(), status, seq if status else None))
    if settings["layer"] == "pubsub":
        await layer.flush()
    else:
        await layer.close_pools()
    return summarize(settings, records, failures, ok=1)


# --- result ---------------------------------------------------------------------------------------


def summarize(
    settings: dict[str, Any], records: list[tuple[float, float, float, int, int | None]], failures: Counter, *, ok: int
) -> dict[str, Any]:
    start, end = settings["start"], settings["start"] + settings["duration"]
    timed = [r for r in records if start <= r[1] < end]
    warm = [r for r in records if r[1] < start]
    timed_ok = [r for r in timed if r[3] == ok]
    latencies = [(r[2] - r[1]) * 1000 for r in timed]
    lateness = [(r[1] - r[0]) * 1000 for r in timed]
    done_in_window = sum(1 for r in timed_ok if r[2] < end)
    return {
        "event": "result",
        "mode": settings["mode"],
        "rate": settings["rate"],
        "duration_s": settings["duration"],
        "warmup": {"requests": len(warm), "statuses": dict(Counter(r[3] for r in warm))},
        "timed": {
            "requests": len(timed),
            "ok": len(timed_ok),
            "statuses": dict(Counter(r[3] for r in timed)),
            "achieved_per_s": round(len(timed_ok) / settings["duration"], 1),
            "completed_in_window_per_s": round(done_in_window / settings["duration"], 1),
            "latency_ms": summarize_ms(latencies, (0.50, 0.90, 0.99)),
            "send_late_ms": summarize_ms(lateness, (0.50, 0.99)),
            "ids": sorted(r[4] for r in timed_ok if r[4] is not None),
            "first_sent": min((r[1] for r in timed), default=None),
            "last_done": max((r[2] for r in timed), default=None),
        },
        "failures": dict(failures),
        "threads": settings.get("threads"),
    }


def main() -> None:
    settings = json.loads(sys.stdin.readline())
    if settings["mode"] == "scores":
        result = run_scores(settings)
    else:
        result = asyncio.run(publish_baseline(settings))
    emit(result)


if __name__ == "__main__":
    main()
