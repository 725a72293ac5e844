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
# The reporters of this process (normally one: the server's loop), each woken when the count changes.
_reporters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()


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
    for loop, changed in list(_reporters):
        if not loop.is_closed():
            loop.call_soon_threadsafe(changed.set)


def _key() -> str:
    return f"{KEY_PREFIX}{socket.gethostname()}:{os.getpid()}"


async def report_forever() -> None:
    """Keep this process's count in Redis: at once after a change (at most a few times a second), else every
    REFRESH seconds. Runs in the server's event loop for as long as it serves WebSockets."""
    changed = asyncio.Event()
    reporter = (asyncio.get_running_loop(), changed)
    _reporters.add(reporter)
    client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    key = _key()
    try:
        while True:
            changed.clear()
            try:
                await client.set(key, _open, ex=TTL)
            except (redis.RedisError, OSError) as exc:  # the count is only a statistic: never fail the server for it
                logger.debug("could not report open WebSockets: %s", exc)
            try:
                async with asyncio.timeout(REFRESH):
                    await changed.wait()
            except TimeoutError:
                pass
            await asyncio.sleep(0.2)  # gather a burst of connections into one write
    finally:
        _reporters.discard(reporter)
        await client.aclose()


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
