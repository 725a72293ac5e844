"""Per-client outboxes (a client that does not read fills only its own) and the hub's group membership."""

import asyncio
import json

import pytest

from realtime.hub import Outbox

from .conftest import run


def test_a_slow_client_does_not_delay_others_and_is_told_what_it_missed():
    async def scenario():
        fast_received, slow_received = [], []
        reading = asyncio.Event()

        async def fast_send(frame):
            fast_received.append(frame)

        async def slow_send(frame):
            await reading.wait()  # this client stopped reading
            slow_received.append(frame)

        fast, slow = Outbox(fast_send, limit=5), Outbox(slow_send, limit=5)
        fast.start()
        slow.start()
        for i in range(20):
            for outbox in (fast, slow):
                outbox.put(json.dumps({"type": "e", "seq": i + 1}), "score")
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        fast_done = len(fast_received)
        reading.set()
        await asyncio.sleep(0.05)
        fast.stop()
        slow.stop()
        return fast_done, [json.loads(frame) for frame in slow_received]

    fast_done, slow = run(scenario)

    assert fast_done == 20
    # The first frame was being written when the client stalled, five more waited, the rest were dropped.
    assert [frame["seq"] for frame in slow[:6]] == [1, 2, 3, 4, 5, 6]
    assert slow[6] == {"type": "dropped", "count": 14, "channels": ["score"]}
    assert len(slow) == 7


def test_control_frames_are_never_dropped():
    async def scenario():
        sent = []
        blocked = asyncio.Event()

        async def send(frame):
            await blocked.wait()
            sent.append(frame)

        outbox = Outbox(send, limit=1)
        outbox.start()
        for _ in range(3):
            outbox.put("{}", "score")
        outbox.put('{"type":"pong"}', "", control=True)
        await asyncio.sleep(0)
        blocked.set()
        await asyncio.sleep(0.05)
        outbox.stop()
        return sent

    sent = run(scenario)

    assert sent[-1] == '{"type":"pong"}'
    assert any('"dropped"' in frame for frame in sent)


def test_the_limit_counts_events_not_frames():
    async def scenario():
        sent = []
        blocked = asyncio.Event()

        async def send(frame):
            await blocked.wait()
            sent.append(frame)

        outbox = Outbox(send, limit=10)
        outbox.start()
        outbox.put("big", "score", count=50)  # written at once, and the client's socket is full
        outbox.put("six", "score", count=6)  # an empty queue takes any frame: a client that keeps up loses none
        outbox.put("five", "score", count=5)  # 6 + 5 > 10
        outbox.put("four", "score", count=4)  # 6 + 4 = 10
        blocked.set()
        await asyncio.sleep(0.05)
        outbox.stop()
        return sent

    sent = run(scenario)

    assert sent == ["big", "six", json.dumps({"type": "dropped", "count": 5, "channels": ["score"]}), "four"]


@pytest.mark.django_db(transaction=True)
def test_a_subscriber_attached_after_the_last_other_one_left_still_gets_events():
    from channels.db import database_sync_to_async

    from events.bus import publish, sender
    from events.names import parse_channel
    from realtime.hub import get_hub

    async def scenario():
        hub = get_hub()
        received = []

        async def record(frame):
            received.append(json.loads(frame))

        async def ignore(frame):
            pass

        first, second = Outbox(ignore, 100), Outbox(record, 100)
        second.start()
        score = parse_channel("score")
        await hub.prepare(score)
        hub.attach(first, score)
        await hub.prepare(score)  # the second client, told "subscribed" next
        await hub.unsubscribe(first, "score")  # meanwhile the only attached one leaves: the server leaves the group
        hub.attach(second, score)
        await asyncio.sleep(0.1)
        await database_sync_to_async(publish)("score", "score.submitted", {"n": 1})
        await asyncio.to_thread(sender.flush)
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        second.stop()
        return received

    (event,) = run(scenario)

    assert event["type"] == "score.submitted" and event["data"] == {"n": 1}
