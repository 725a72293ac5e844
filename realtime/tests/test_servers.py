"""Events across real processes: a score over HTTP reaches clients of every WebSocket server,
and a client that stops reading does not hold the others back."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
import urllib.request

import pytest
from django.db import connection
from websockets.asyncio.client import connect

from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from events.bus import publish_many, sender
from games.tests.factories import GameFactory

from .conftest import run
from .servers import serve

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def subscribed(port: int, *channels: str, **options):
    client = await connect(f"ws://127.0.0.1:{port}/ws/main", **options)
    await client.send(json.dumps({"type": "subscribe", "channels": list(channels)}))
    assert json.loads(await asyncio.wait_for(client.recv(), 5))["type"] == "subscribed"
    return client


async def next_events(client, count: int, timeout: float = 10.0) -> list[dict]:
    found: list[dict] = []
    while len(found) < count:
        frame = json.loads(await asyncio.wait_for(client.recv(), timeout))
        found.extend(frame["events"] if frame["type"] == "batch" else [frame])
    return found


def post_score(port: int, key: str, user_id: str, game_id: str, value: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/scores",
        data=json.dumps({"user_id": user_id, "game_id": game_id, "score": value}).encode(),
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def cluster_environment() -> dict[str, str]:
    """Servers whose channel layer and ranking index are on the Redis Cluster of REDIS_CLUSTER_URL: the layer
    publishes and subscribes through the cluster's primaries, and the index waits for a replica."""
    from redis.cluster import RedisCluster

    from conftest import REDIS_CLUSTER_URL, redis_index_settings

    client = RedisCluster.from_url(REDIS_CLUSTER_URL)
    try:
        primaries = sorted(f"redis://{node.host}:{node.port}/0" for node in client.get_primaries())
    finally:
        client.close()
    index = redis_index_settings("redis_cluster")
    return {
        "REALTIME_REDIS_URLS": ",".join(primaries),
        "RANKING_REDIS_URL": index["RANKING_REDIS_URL"],
        "RANKING_REDIS_CLUSTER": "true",
        "RANKING_REDIS_WAIT_REPLICAS": str(index["RANKING_REDIS_WAIT_REPLICAS"]),
    }


@pytest.mark.parametrize("layer", ["redis", pytest.param("redis_cluster", marks=pytest.mark.redis_cluster)])
def test_a_score_submitted_over_http_reaches_clients_of_every_websocket_server(tmp_path, layer):
    player, game = UserFactory(), GameFactory()
    _, key = api_key_create(name="match server", games=[game])  # the servers have their own SECRET_KEY
    env = cluster_environment() if layer == "redis_cluster" else {}

    with (
        serve("gunicorn", tmp_path, **env) as http,
        serve("uvicorn", tmp_path, **env) as ws_a,
        serve("uvicorn", tmp_path, **env) as ws_b,
    ):

        async def scenario():
            first = await subscribed(ws_a, "score")
            second = await subscribed(ws_b, f"leaderboard.{game.pk}")
            await next_events(second, 1)  # the board's snapshot
            body = await asyncio.to_thread(post_score, http, key, str(player.pk), str(game.pk), 321)
            received = [await next_events(first, 1), await next_events(second, 1)]
            await first.close()
            await second.close()
            return body, received

        body, received = run(scenario)

    for events in received:
        event = events[0]
        assert event["type"] == "score.submitted", events
        assert event["data"]["score_id"] == body["score"]["id"]
        assert event["data"]["score"] == 321
        assert event["channel"] in ("score", f"leaderboard.{game.pk}")
    assert [events[0]["channel"] for events in received] == ["score", f"leaderboard.{game.pk}"]


def stalled_client(port: int, channel: str) -> socket.socket:
    """A WebSocket client that subscribes and then reads nothing, with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/main HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    payload = json.dumps({"type": "subscribe", "channels": [channel]}).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    time.sleep(0.5)  # the subscription is in place; from now on nothing is read
    return sock


def read_all(sock: socket.socket) -> list[dict]:
    """Everything the server sent a stalled client, once it reads again: its events, batches opened."""
    sock.settimeout(2)
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except TimeoutError:
        pass
    events, at = [], 0
    while at + 2 <= len(data):
        opcode, length, at = data[at] & 0x0F, data[at + 1] & 0x7F, at + 2
        if length == 126:
            length, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif length == 127:
            length, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        if at + length > len(data):
            break
        payload, at = data[at : at + length], at + length
        if opcode != 0x1:  # pings and the like: only text frames carry events
            continue
        frame = json.loads(payload)
        events.extend(frame["events"] if frame["type"] == "batch" else [frame])
    sock.close()
    return events


def publish_from_a_thread(events: list) -> None:
    publish_many(events)
    connection.close()  # the worker thread's own session would keep the test database from being dropped


def test_a_client_that_stops_reading_does_not_delay_the_others(tmp_path):
    events = 3000
    padding = "x" * 3000  # big events fill the stalled client's socket buffers quickly

    with serve("uvicorn", tmp_path, REALTIME_CLIENT_BUFFER="500") as ws:

        async def scenario():
            stalled = await asyncio.to_thread(stalled_client, ws, "score")
            reader = await subscribed(ws, "score")
            loop = asyncio.get_running_loop()
            started = loop.time()
            for chunk in range(0, events, 100):  # a frame of 100 events every 50 ms
                batch = [("score", "score.submitted", {"n": n, "padding": padding}) for n in range(chunk, chunk + 100)]
                await asyncio.to_thread(publish_from_a_thread, batch)
                await asyncio.sleep(0.05)
            await asyncio.to_thread(sender.flush)
            received = await next_events(reader, events)
            reader_took = loop.time() - started
            stalled_frames = await asyncio.to_thread(read_all, stalled)
            await reader.close()
            return received, reader_took, stalled_frames

        received, reader_took, stalled_frames = run(scenario)

    assert [event["data"]["n"] for event in received] == list(range(events))
    assert reader_took < 10
    dropped = [frame for frame in stalled_frames if frame["type"] == "dropped"]
    delivered = [frame for frame in stalled_frames if frame["type"] == "score.submitted"]
    assert dropped, f"{len(delivered)} delivered to the stalled client, none dropped"
    assert sum(frame["count"] for frame in dropped) + len(delivered) == events
