"""How many WebSocket clients are connected: counted per server process, summed across processes in Redis.

Each process keeps its own count and, with Redis, reports it under a key of its
own that expires unless refreshed, so a process that dies stops counting
within ``TTL`` seconds. Without Redis (the embedded demo) one process serves
everything and its own count is the total.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "podium:ws:open:"
TTL = 30  # seconds a process's report lives without a refresh
REFRESH = 10  # seconds between refreshes when nothing changes

_open = 0
_changed: asyncio.Event | None = None


def opened() -> None:
    global _open
    _open += 1
    _wake()


def closed() -> None:
    global _open
    _open = max(0, _open - 1)
    _wake()


def local_count() -> int:
    return _open


def _wake() -> None:
    if _changed is not None:
        _changed.set()


def _key() -> str:
    return f"{KEY_PREFIX}{socket.gethostname()}:{os.getpid()}"


async def report_forever() -> None:
    """Keep this process's count in Redis: at once after a change (at most a few times a second), else every
    REFRESH seconds. Runs in the server's event loop for as long as it serves WebSockets."""
    global _changed
    _changed = asyncio.Event()
    client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    key = _key()
    while True:
        try:
            await client.set(key, _open, ex=TTL)
        except (redis.RedisError, OSError) as exc:  # the count is only a statistic: never fail the server for it
            logger.debug("could not report open WebSockets: %s", exc)
        try:
            await asyncio.wait_for(_changed.wait(), REFRESH)
        except TimeoutError:
            pass
        _changed.clear()
        await asyncio.sleep(0.2)  # gather a burst of connections into one write


def open_connections() -> int:
    """WebSocket clients connected to every server process (this one's own count without Redis)."""
    if not settings.REDIS_URL:
        return _open
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
    try:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
        return sum(int(value) for value in client.mget(keys) if value) if keys else 0
    except (redis.RedisError, OSError):
        logger.warning("could not read open WebSockets from Redis; counting this process only", exc_info=True)
        return _open
    finally:
        client.close()
