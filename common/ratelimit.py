"""Fixed-window counters for server-side limits, shared by every process.

With Redis a hit is one round trip (INCR, and EXPIRE when the window's key is
new, pipelined). Without it the local cache counts, which is exact for the one
process of the embedded mode. A limit whose counters cannot be reached fails
open: a Redis outage must not turn every submission into an error.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

_clients: dict[str, redis.Redis] = {}


@dataclass(frozen=True)
class Hit:
    count: int
    retry_after: int  # seconds until the window ends


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/min"`` -> (60, 60); ``"5/10s"`` -> (5, 10)."""
    count, period = rate.split("/")
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period.lstrip("0123456789")[0]
    return int(count), int(digits or 1) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _client(url: str) -> redis.Redis:
    if url not in _clients:
        timeout = settings.RATE_LIMIT_REDIS_TIMEOUT
        _clients[url] = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return _clients[url]


def hit_many(names: list[str], period: int, amount: int = 1) -> list[Hit | None]:
    """Count ``amount`` hits on each of ``names`` in the current window of ``period`` seconds, in one round trip.

    Returns each count so far in this window, or None when the counters are unreachable.
    """
    now = time.time()
    window = int(now // period)
    keys = [f"podium:rate:{name}:{window}" for name in names]
    retry_after = max(1, math.ceil((window + 1) * period - now))
    if not settings.REDIS_URL:
        for key in keys:
            cache.add(key, 0, timeout=period + 1)
        return [Hit(cache.incr(key, amount), retry_after) for key in keys]
    try:
        with _client(settings.REDIS_URL).pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.incr(key, amount)
                pipe.expire(key, period + 1, nx=True)
            counts = pipe.execute()[::2]
    except (redis.RedisError, OSError) as exc:
        logger.warning("rate limit counters unreachable, not limiting %s: %s", ", ".join(names), exc)
        return [None] * len(names)
    return [Hit(count, retry_after) for count in counts]


def enforce(name: str, rate: str, error: Callable[..., Exception], *, amount: int = 1) -> None:
    """Count ``amount`` hits on ``name`` against ``rate`` (``"60/min"``); past it, raise ``error`` with Retry-After.

    Fails open: when the counters are unreachable nothing is raised.
    """
    (refused,) = enforce_each([name], rate, error, amount=amount)
    if refused is not None:
        raise refused


def enforce_each(
    names: list[str], rate: str, error: Callable[..., Exception], *, amount: int = 1
) -> list[Exception | None]:
    """``enforce`` on each of ``names`` in one round trip: the error each is past its rate with, or None."""
    allowed, period = parse_rate(rate)
    return [
        error(headers={"Retry-After": str(counted.retry_after)})
        if counted is not None and counted.count > allowed
        else None
        for counted in hit_many(names, period, amount)
    ]
