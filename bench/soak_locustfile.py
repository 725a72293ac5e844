"""The soak test's users: ``locustfile.py``'s players and spectators, with figures per second written for bench.soak.

``SoakPlayer`` is the project's ``Player`` (the same tasks, the same
credentials, pacing and score-limit bookkeeping) with one change:

* it counts its actions, one per task run, so that the bench can compare the
  rate it achieved with the rate it asked for.

``Spectator`` is the project's, unchanged.

Every request and WebSocket event is added to a histogram of its second
(response times rounded to 2-3 significant digits), failures by kind
(``HTTP 500 POST /api/v1/scores``, ``ConnectionError GET ...``). Requests
between ``PODIUM_SOAK_T0`` and ``PODIUM_SOAK_T1`` (Unix times: the measured
window, after the warm-up) are also counted per endpoint. The whole is written
as JSON to ``PODIUM_SOAK_OUTPUT`` every few seconds and when locust quits
(written to a temporary file, then renamed, so a reader never sees half of it).

Run by bench.soak (``PYTHONPATH`` holding the project root, for ``locustfile``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, defaultdict
from typing import Any

import gevent
from locust import events
from locust.env import Environment

from locustfile import Player, Spectator

OUTPUT = os.environ.get("PODIUM_SOAK_OUTPUT", "")
WINDOW = (float(os.environ.get("PODIUM_SOAK_T0", "0") or 0), float(os.environ.get("PODIUM_SOAK_T1", "0") or 0))
FLUSH_SECONDS = 5.0
SAMPLES_PER_KIND = 5

__all__ = ["SoakPlayer", "Spectator"]


def rounded_ms(value: float) -> float:
    """0.1 ms under 10 ms, 1 ms under 100 ms, 10 ms under 1 s, then 100 ms: enough for percentiles, small to store."""
    if value < 10:
        return round(value, 1)
    step = 10 ** (int(math.log10(value)) - 1)
    return float(round(value / step) * step)


class _Figures:
    def __init__(self) -> None:
        self.started = time.time()
        self.seconds: dict[int, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "failures": 0, "ms": Counter()})
        self.samples: dict[str, list[str]] = defaultdict(list)

    def second(self, now: float) -> dict[str, Any]:
        key = int(now)
        bucket = self.seconds.get(key)
        if bucket is None:
            bucket = self.seconds[key] = {
                "actions": 0,
                "http": Counter(),
                "http_errors": Counter(),
                "ws": Counter(),
                "ws_connects": 0,
                "ws_errors": Counter(),
            }
        return bucket

    def action(self) -> None:
        self.second(time.time())["actions"] += 1

    def request(self, request_type: str, name: str, response_time: float, exception: Any, response: Any) -> None:
        now = time.time()
        bucket = self.second(now)
        kind = None
        if exception is not None:
            status = getattr(response, "status_code", 0) or 0
            cause = f"HTTP {status}" if status else type(exception).__name__
            kind = f"{cause} {request_type} {name}"
            samples = self.samples[kind]
            if len(samples) < SAMPLES_PER_KIND:
                samples.append(str(exception)[:300])
        if request_type == "WS":
            if kind:
                bucket["ws_errors"][kind] += 1
            elif name.endswith(" connect"):
                bucket["ws_connects"] += 1
            else:
                bucket["ws"][rounded_ms(response_time)] += 1
            return
        bucket["http"][rounded_ms(response_time)] += 1
        if kind:
            bucket["http_errors"][kind] += 1
        if WINDOW[0] <= now < WINDOW[1]:
            endpoint = self.endpoints[f"{request_type} {name}"]
            endpoint["requests"] += 1
            endpoint["failures"] += int(kind is not None)
            endpoint["ms"][rounded_ms(response_time)] += 1

    def write(self, environment: Environment) -> None:
        if not OUTPUT:
            return
        runner = environment.runner
        data = {
            "started": self.started,
            "updated": time.time(),
            "window": WINDOW,
            "users": runner.user_count if runner is not None else 0,
            "user_classes": dict(runner.user_classes_count) if runner is not None else {},
            "seconds": {str(key): value for key, value in sorted(self.seconds.items())},
            "endpoints": dict(self.endpoints),
            "error_samples": dict(self.samples),
        }
        temporary = f"{OUTPUT}.tmp"
        with open(temporary, "w") as out:
            json.dump(data, out, separators=(",", ":"))
        os.replace(temporary, OUTPUT)


FIGURES = _Figures()


class SoakPlayer(Player):
    """The project's player; each task run is counted as one action."""

    def wait_time(self) -> float:
        FIGURES.action()
        return Player.wait_time(self)


@events.request.add_listener
def _on_request(
    request_type: str, name: str, response_time: float, exception: Any = None, response: Any = None, **_: Any
) -> None:
    FIGURES.request(request_type, name, response_time or 0.0, exception, response)


def _flush_loop(environment: Environment) -> None:
    while True:
        gevent.sleep(FLUSH_SECONDS)
        FIGURES.write(environment)


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    gevent.spawn(_flush_loop, environment)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_kwargs: Any) -> None:
    FIGURES.write(environment)
