"""Open WebSockets are counted per process and, with Redis, across processes."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from realtime.presence import open_connections

from .conftest import connect, run

pytestmark = pytest.mark.django_db(transaction=True)


async def counted(expected: int) -> int:
    """The count once it reaches ``expected`` (reports to Redis are asynchronous), or after 3 s."""
    for _ in range(60):
        found = await database_sync_to_async(open_connections)()
        if found == expected:
            return found
        await asyncio.sleep(0.05)
    return found


def test_connections_are_counted_while_open():
    async def scenario():
        before = await counted(0)
        clients = [await connect() for _ in range(3)]
        during = await counted(3)
        await clients[0].disconnect()
        after_one = await counted(2)
        for client in clients[1:]:
            await client.disconnect()
        return before, during, after_one, await counted(0)

    assert run(scenario) == (0, 3, 2, 0)
