"""The event bus: services publish, and committed events reach every server's subscribers.

``publish`` checks the payload is JSON at once (a bad payload is the caller's
bug, raised where it is made: a type JSON has not, a key that is not a
string) and hands it to the channel layer only after the transaction
commits, so a rolled-back write never announces anything. One message per
channel and commit carries every event of that channel, and the JSON is made
once here: servers pass it through to their clients untouched.

From a WSGI process the layer is fed by one background thread with its own
event loop: the request does not wait on Redis, the layer's connections stay
open between requests, and events leave in the order they were committed.
With the in-memory layer (the embedded mode, one process) events are sent in
the server's own event loop instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.utils import timezone
from opentelemetry import context as otel_context

from common.metrics import EVENTS_PUBLISHED
from common.serializers import timestamp
from common.tracing import tracer

from .names import BOARDS, BOARDS_RESYNC, group_name, parse_channel

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "bus.events"  # what a server's hub receives from the layer

# An event: the channel it is sent on, its type, its data (JSON).
Event = tuple[str, str, Mapping[str, Any]]


def publish(channel: str, type: str, data: Mapping[str, Any]) -> None:
    """Send an event on a channel once the current transaction commits (at once outside one)."""
    publish_many([(channel, type, data)])


def publish_many(events: Sequence[Event]) -> None:
    """``publish`` for several events: one commit hook, one layer message per channel."""
    prepared = [_prepare(channel, type, data) for channel, type, data in events]
    if prepared:
        transaction.on_commit(partial(_send, prepared))


def publish_resync() -> None:
    """After commit, have every server forget the boards it keeps and every client re-sync its channels.

    For writes that change boards wholesale (the demo data created or reset), where
    announcing each moved player would cost more than every client reading again.
    """
    publish(BOARDS, BOARDS_RESYNC, {})


def _prepare(channel: str, type: str, data: Mapping[str, Any]) -> tuple[str, str, str]:
    if channel != BOARDS:
        parsed = parse_channel(channel)
        if parsed is None or parsed.name != channel:
            raise ValueError(f"no such channel: {channel!r}")
    # orjson: a thousand events of a batch cost a tenth of what the json module took. Moments and dataclasses
    # are refused (callers send them as strings and plain mappings), as the json module refused them; a NaN or
    # an infinity goes out as null, as a browser's JSON.stringify sends it, where the json module raised.
    return channel, type, orjson.dumps(data, option=_STRICT).decode()


_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _send(events: list[tuple[str, str, str]]) -> None:
    with tracer.start_as_current_span("realtime.publish") as span:
        ts = timestamp(timezone.now())
        messages: dict[str, dict[str, Any]] = {}
        for channel, type, data in events:
            message = messages.setdefault(channel, {"type": MESSAGE_TYPE, "channel": channel, "events": []})
            message["events"].append([type, data, ts])
        kinds = Counter(channel.partition(".")[0] for channel, _, _ in events)  # "tournament.7": "tournament"
        for kind, count in kinds.items():
            EVENTS_PUBLISHED.labels(kind).inc(count)
        if span.is_recording():
            span.set_attributes({"podium.channels": sorted(kinds), "podium.events": len(events)})
        sender.send([(group_name(channel), message) for channel, message in messages.items()])


async def _group_send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for group, message in messages:
        try:
            await layer.group_send(group, message)
        except Exception:  # noqa: BLE001  the write is committed; a lost event must not fail it
            logger.warning("could not publish to %s", group, exc_info=True)


# The event loops of this process's WebSocket servers (their hubs register them): the in-memory layer's queues
# live there.
_server_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Deliver this process's in-memory events on ``loop``, the loop of a WebSocket server that listens here."""
    _server_loops.add(loop)


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop of this process's WebSocket server, if it runs one and this is not its thread."""
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    for loop in list(_server_loops):
        if loop.is_running() and loop is not current:
            return loop
    return None


class _Sender:
    """Feeds the channel layer from synchronous code."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        # Each item carries the trace context of the publish, so the layer's writes join the publisher's trace.
        self.queue: asyncio.Queue[tuple[list[tuple[str, dict[str, Any]]], otel_context.Context]] | None = None
        self.pid = 0
        self.pending = 0

    def send(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            # The in-memory layer's queues belong to the loop of the server that listens: send there, whatever
            # thread publishes (a request, a background job), and wait, so events keep their order.
            loop = _serving_loop()
            if loop is None:
                async_to_sync(_group_send)(messages)
            else:
                asyncio.run_coroutine_threadsafe(_group_send(messages), loop).result(timeout=10)
            return
        loop, queue = self._started()
        with self.lock:
            self.pending += 1
        loop.call_soon_threadsafe(queue.put_nowait, (messages, otel_context.get_current()))

    def _started(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():  # a forked worker starts its own thread
                ready = threading.Event()
                self.pid = os.getpid()
                threading.Thread(target=self._run, args=(ready,), name="realtime-sender", daemon=True).start()
                ready.wait()
            assert self.loop is not None and self.queue is not None
            return self.loop, self.queue

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.queue = asyncio.Queue()
        self.loop = loop
        ready.set()
        loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        assert self.queue is not None
        while True:
            messages, trace_context = await self.queue.get()
            token = otel_context.attach(trace_context)
            try:
                await _group_send(messages)
            finally:
                otel_context.detach(token)
            with self.lock:
                self.pending -= 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed to the background thread has been sent (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self.pending


sender = _Sender()
