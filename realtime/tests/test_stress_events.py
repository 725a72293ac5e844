"""A real stress run streams its figures on the ``stress`` channel of /ws/main.

Embedded: locust's players hit a stub API, and a client of the in-process
/ws/main hears ``stress.started``, ``stress.progress`` and
``stress.finished``. With PostgreSQL and Redis: locust runs against a real
uvicorn server (HTTP and WebSockets), its spectators hold WebSockets there,
and a client of that server hears the run's figures, published by this process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect as ws_connect

from games.tests.factories import GameFactory
from simulator.models import RunStatus, StressTest
from simulator.services import stress

from .conftest import connect, events, run, subscribe
from .servers import serve


def _types(found: list[dict]) -> list[str]:
    return [event["type"] for event in found]


class _EmptyApi(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = json.dumps({"count": 0, "next": None, "previous": None, "results": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def empty_api() -> Iterator[str]:
    """An HTTP server answering every request with an empty page: locust's target when what matters is the
    stress channel (the embedded test database is in memory, in this process, and served by this process)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_a_real_run_streams_its_figures_to_stress_subscribers(empty_api):
    test = StressTest.objects.create(concurrent_users=2, actions_per_second=10, duration=3, target=empty_api)

    async def scenario():
        client = await connect()
        assert (await subscribe(client, "stress"))["type"] == "subscribed"
        # The stub serves no WebSocket: players only.
        runner = asyncio.ensure_future(
            database_sync_to_async(stress.stress_test_run)(stress_test_id=test.pk, spectators=0)
        )
        found: list[dict] = []
        while "stress.finished" not in _types(found):
            found.extend(await events(client, 1, timeout=60))
        result = await runner
        await client.disconnect()
        return found, result

    found, result = run(scenario)

    assert result.status == RunStatus.FINISHED
    assert _types(found)[0] == "stress.started"
    assert "stress.progress" in _types(found)
    assert all(event["channel"] == "stress" for event in found)
    progress = [event["data"] for event in found if event["type"] == "stress.progress"]
    assert all(data["id"] == test.pk for data in progress)
    finished = found[-1]["data"]
    assert finished["status"] == "finished"
    assert finished["report"]["requests"] == result.report["requests"] > 0


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_run_against_real_servers_reaches_their_websocket_clients_and_its_spectators(tmp_path):
    GameFactory(synthetic=True), GameFactory(synthetic=True)
    # Locust signs in with tokens made here: the server must check them with the same key.
    signing = {"JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"]}

    with serve("uvicorn", tmp_path, **signing) as port:
        test = StressTest.objects.create(
            concurrent_users=3, actions_per_second=15, duration=5, target=f"http://127.0.0.1:{port}"
        )

        async def scenario():
            client = await ws_connect(f"ws://127.0.0.1:{port}/ws/main")
            await client.send(json.dumps({"type": "subscribe", "channels": ["stress"]}))
            assert json.loads(await asyncio.wait_for(client.recv(), 5))["type"] == "subscribed"
            runner = asyncio.ensure_future(database_sync_to_async(stress.stress_test_run)(stress_test_id=test.pk))
            found: list[dict] = []
            while "stress.finished" not in _types(found):
                frame = json.loads(await asyncio.wait_for(client.recv(), 60))
                found.extend(frame["events"] if frame["type"] == "batch" else [frame])
            result = await runner
            await client.close()
            return found, result

        found, result = run(scenario)

    assert result.status == RunStatus.FINISHED, result.error
    assert {"stress.started", "stress.progress", "stress.finished"} <= set(_types(found))
    report = result.report
    assert report["requests"] > 0
    assert report["plan"]["spectators"] == 1
    # The spectator counted the events its WebSocket received as "WS" requests.
    received = [entry for entry in report["endpoints"] if entry["method"] == "WS" and "connect" not in entry["name"]]
    assert sum(entry["requests"] for entry in received) > 0
    connects = [entry for entry in report["endpoints"] if entry["name"] == "/ws/main connect"]
    assert connects and connects[0]["failures"] == 0
