"""Podium's own Prometheus metrics, next to django-prometheus' HTTP and database metrics.

Every metric is defined here, once; the code that counts imports it from here. Under several
processes (WSGI workers, ASGI servers, Celery workers) the values live in the multiprocess
directory ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up.

``podium_simulator_active`` is not counted by anyone: ``SimulatorCollector`` reads it from the
database when ``/metrics`` is scraped (see ``metrics_view``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
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


class SimulatorCollector(Collector):
    """``podium_simulator_active{kind}``: 1 while a simulation, stress test or demo population is starting,
    running or stopping, else 0, read from the database at each scrape.

    Kept out of the default registry: ``/metrics`` adds it to what it collects, so no other reader of the
    registry queries the database. When the database does not answer, the metric is left out of that scrape
    rather than failing the whole page.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db import DatabaseError

        from simulator.selectors import simulator_active

        try:
            active = simulator_active()
        except DatabaseError:
            logger.warning("could not read the simulator's state for /metrics", exc_info=True)
            return
        family = GaugeMetricFamily(
            "podium_simulator_active",
            "1 while a background run of this kind (simulation, stress_test, population) is starting, running or"
            " stopping, else 0.",
            labels=["kind"],
        )
        for kind, running in active.items():
            family.add_metric([kind], 1.0 if running else 0.0)
        yield family
