"""Podium's own Prometheus metrics, next to django-prometheus' HTTP and database metrics.

Every metric is defined here, once; the code that counts imports it from here. Under several
processes (WSGI workers, ASGI servers, Celery workers) the values live in the multiprocess
directory ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up.

Gauges no code counts (``podium_simulator_active``) are read at each scrape by collectors the apps register
here (``register_scrape_collector``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Latency buckets, in seconds, for work that usually takes a few milliseconds.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

SCORES_SUBMITTED = Counter(
    "podium_scores_submitted",
    "Scores accepted, by game (slug) and source (client, server, simulator; import for historical imports).",
    ["game", "source"],
)
SCORE_SUBMIT_SECONDS = Histogram(
    "podium_score_submit_seconds",
    "Time to accept one submission in the service, database and ranking included, by kind (single, group, batch).",
    ["kind"],
    buckets=FAST_BUCKETS,
)
RANKING_SECONDS = Histogram(
    "podium_ranking_seconds",
    "Time of one ranking-engine call, by operation.",
    ["operation"],
    buckets=FAST_BUCKETS,
)
WEBSOCKETS_OPEN = Gauge(
    "podium_websockets_open",
    "WebSocket connections open on /ws/main.",
    multiprocess_mode="livesum",
)
EVENTS_PUBLISHED = Counter(
    "podium_events_published",
    "Events published on the bus, by channel kind (score, leaderboard, tournament, user, stress, game).",
    ["channel"],
)
EVENTS_SENT = Counter(
    "podium_events_sent",
    "Events sent to WebSocket clients (one per client and event), by channel kind.",
    ["channel"],
)
EVENTS_DROPPED = Counter(
    "podium_events_dropped",
    "Events dropped for WebSocket clients that did not keep up.",
)
PUBLISH_LAG_SECONDS = Histogram(
    "podium_publish_lag_seconds",
    "Time from an event's publication to its frame being sent by a WebSocket server.",
    buckets=FAST_BUCKETS,
)
CELERY_TASKS = Counter(
    "podium_celery_tasks",
    "Celery tasks run, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)
PRIZES_PAID = Counter(
    "podium_prizes_paid",
    "Prizes paid to tournament winners (one per award).",
)
SCORES_FLAGGED = Counter(
    "podium_scores_flagged",
    "Scores put in the review queue, by reason (a score flagged for two reasons counts under both).",
    ["reason"],
)
PRIZE_CREDITS_PAID = Counter(
    "podium_prize_credits_paid",
    "Credits paid out as tournament prizes.",
)


def timed(histogram: Histogram, *labels: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: observe in ``histogram`` (with ``labels``) how long each call that returns takes.

    A call that raises is not observed: a refused submission or a failed read says nothing about how long the
    work takes. The labelled child is looked up once, here, not on every call.
    """
    child = histogram.labels(*labels) if labels else histogram

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            result = function(*args, **kwargs)
            child.observe(time.perf_counter() - started)
            return result

        return wrapper

    return decorate


# Collectors read at each scrape of ``/metrics`` (and of a Celery worker's metrics port) and nowhere else, so no
# other reader of the default registry runs them. Apps add theirs from ``AppConfig.ready()``: this module imports
# no app.
_scrape_collectors: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """Add ``collector`` to what each scrape reads (once per type: ``ready()`` may run more than once in tests)."""
    if not any(type(existing) is type(collector) for existing in _scrape_collectors):
        _scrape_collectors.append(collector)


def scrape_collectors() -> list[Collector]:
    """The collectors apps registered for ``/metrics``."""
    return list(_scrape_collectors)
