"""Helpers for WebSocket tests: a client on /ws/main, and reading its frames as events.

Each test runs its scenario in one event loop (``run``), because the channel
layer and the server's hub belong to the loop they were first used in. Writes
go through ``database_sync_to_async``, as a request's would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from leaderboard_project.asgi import application

TIMEOUT = 5.0


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    async def scenario_then_end_tasks() -> Any:
        try:
            return await scenario()
        finally:
            await _end_tasks()

    return async_to_sync(scenario_then_end_tasks)()


async def _end_tasks(attempts: int = 3, wait: float = 2.0) -> None:
    """Cancel what the scenario left running (the hub's reader, its clients' writers), again if need be.

    The loop's own end cancels each task once and waits for it without limit; a channel layer's clean-up on
    cancellation (an UNSUBSCRIBE) may wait on Redis, and a second cancel is what ends that wait.
    """
    current = asyncio.current_task()
    for _ in range(attempts):
        pending = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=wait)


async def connect(token: str | None = None) -> WebsocketCommunicator:
    path = "/ws/main" + (f"?token={token}" if token else "")
    client = WebsocketCommunicator(application, path)
    connected, _ = await client.connect(timeout=TIMEOUT)
    assert connected
    return client


async def frames(client: WebsocketCommunicator, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(await client.receive_from(timeout=timeout))


async def events(client: WebsocketCommunicator, count: int, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """The next ``count`` events, batch frames opened."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        frame = await frames(client, timeout)
        found.extend(frame["events"] if frame["type"] == "batch" else [frame])
    return found


async def until(client: WebsocketCommunicator, type: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Skip frames up to the first event of ``type``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        for event in await events(client, 1, max(left, 0.01)):
            if event["type"] == type:
                return event


async def subscribe(client: WebsocketCommunicator, *channels: str) -> dict[str, Any]:
    await client.send_json_to({"type": "subscribe", "channels": list(channels)})
    return await frames(client)


@pytest.fixture(autouse=True)
def _realtime(settings, ranking_index):
    """Short coalescing interval for tests; the ranking index (when configured) empty and in use."""
    settings.REALTIME_BOARD_INTERVAL = 0.05
    yield
