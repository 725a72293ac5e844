"""A server whose channel layer was interrupted tells its clients to re-sync once it is back."""

import asyncio

import pytest
import redis

from events.names import group_name
from realtime.hub import PROBE_LATE, get_hub

from .conftest import connect, frames, run, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

PROBE = 0.1


@pytest.fixture
def fast_probes(settings):
    settings.REALTIME_LAYER_PROBE_SECONDS = PROBE


async def _next_dropped(client) -> dict:
    while True:
        frame = await frames(client)
        if frame["type"] == "dropped":
            return frame


@pytest.mark.parametrize("outage", ["sends_fail", "messages_vanish"])
def test_after_an_interruption_every_client_is_told_which_channels_to_resync(fast_probes, outage):
    async def scenario():
        client = await connect()
        await subscribe(client, "score", "game")
        hub = get_hub()
        layer_send, group_add = hub.layer.send, hub.layer.group_add
        joined: list[str] = []

        async def failing_send(channel, message):
            if outage == "sends_fail":
                raise redis.ConnectionError("Connection refused")
            # accepted, and lost: what a layer whose subscriptions dropped does

        async def recording_group_add(group, channel):
            joined.append(group)
            await group_add(group, channel)

        hub.layer.send = failing_send
        hub.layer.group_add = recording_group_add
        await asyncio.sleep(PROBE * (PROBE_LATE + 4))  # past the intervals a lost probe is given
        interrupted = hub.interrupted
        hub.layer.send = layer_send
        dropped = await _next_dropped(client)
        groups = sorted(group_name(channel) for channel in hub.groups)
        await client.send_json_to({"type": "ping"})
        pong = await frames(client)
        await client.disconnect()
        return interrupted, dropped, sorted(joined), groups, hub.interrupted, pong

    interrupted, dropped, joined, groups, still_interrupted, pong = run(scenario)

    assert interrupted is True
    assert dropped == {"type": "dropped", "count": None, "channels": ["game", "score"]}
    assert joined == groups == sorted(group_name(channel) for channel in ("game", "score"))  # joined anew
    assert still_interrupted is False
    assert pong == {"type": "pong"}


def test_without_an_interruption_no_client_is_told_anything(fast_probes):
    async def scenario():
        client = await connect()
        await subscribe(client, "score")
        await asyncio.sleep(PROBE * (PROBE_LATE + 4))
        hub = get_hub()
        nothing = await client.receive_nothing(timeout=0.3)
        await client.disconnect()
        return hub.interrupted, nothing

    assert run(scenario) == (False, True)
