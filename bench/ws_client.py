"""WebSocket clients of bench.ws_fanout: N connections in one process, each subscribed to one channel.

Run by bench.ws_fanout, never by hand: ``python -m bench.ws_client`` reads its
settings as one JSON line on stdin, connects every client (``urls`` are used in
turn, so clients spread over the servers), subscribes each to ``channel`` and
answers ``{"event": "ready", ...}`` on stdout once every client has its
``subscribed`` reply (and, in ``podium`` mode, the board's
``leaderboard.snapshot``) or has failed. Then it reads frames and obeys
commands, one JSON line each on stdin, answering one JSON line on stdout:

* ``{"cmd": "window", "start": t0, "end": t1}``: count what each client
  receives between these wall-clock times (frames, events, updates);
* ``{"cmd": "progress"}``: events received so far (the caller waits for the
  deliveries to stop before asking for the report);
* ``{"cmd": "report", "ids": [...]}``: latency histogram, receipts per id and
  per client for the ``score.submitted`` events whose ``data.score_id`` is in
  ``ids`` (the scores the load generator got a 201 for in the timed window);
* ``{"cmd": "close"}``: close every connection and exit.

For every frame of ``score.submitted`` events received, a client records the
frame, its wall-clock receipt time and its own index; the report works out each
event's latency (receipt time minus the event's ``ts``, which the server set
after commit; same machine, same clock). Every client of a server receives the
same frame, so a frame is parsed once per process and the result cached, found
by the frame's first bytes and compared whole; per receipt there is one clock
read and three array appends, whatever the number of events in the frame.

Each connection is an asyncio protocol around the ``websockets`` library's
sans-I/O client (``ClientProtocol``): a frame is handled in the callback that
reads it, with no task woken per frame. The instrument shares the machine with
the servers it measures, so what it spends per frame delays the servers too
(and its own receipt times); this keeps it small.

The ``seq`` of each event is checked per client: after the snapshot each event
on the channel must carry the previous seq plus one; a jump counts the events
skipped (the server's ``dropped`` notices should account for them), a step
back counts as a repeat.
"""

from __future__ import annotations

import array
import asyncio
import gc
import json
import os
import resource
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from bench.lib.child import emit
from bench.lib.cpu import rss_mib as processes_rss_mib
from bench.lib.stats import bucket_of

SCORE = "score.submitted"
UPDATED = "leaderboard.updated"
SNAPSHOT = "leaderboard.snapshot"

# What a frame is, once parsed.
EVENTS, SUBSCRIBED, SNAPSHOT_FRAME, DROPPED, OTHER = range(5)
CACHE_LIMIT = 4096
PREFIX = 160  # bytes of a frame that name it in the cache: they hold its first event's seq


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def parse_frame(text: str) -> tuple:
    """(kind, score ids, their ts, first seq, last seq, updates, dropped count, snapshot seq)."""
    message = json.loads(text)
    kind = message.get("type")
    if kind == "batch":
        events = message["events"]
    elif kind == "subscribed":
        return (SUBSCRIBED, (), (), None, None, 0, 0, None)
    elif kind == SNAPSHOT:
        return (SNAPSHOT_FRAME, (), (), None, None, 0, 0, message.get("seq"))
    elif kind == "dropped":
        return (DROPPED, (), (), None, None, 0, int(message.get("count", 0)), None)
    elif "seq" in message:
        events = [message]
    else:
        return (OTHER, (), (), None, None, 0, 0, kind)
    ids, stamps, updates = [], [], 0
    for event in events:
        if event.get("type") == SCORE:
            ids.append(int(event["data"]["score_id"]))
            stamps.append(parse_ts(event["ts"]))
        elif event.get("type") == UPDATED:
            updates += 1
    seqs = [event["seq"] for event in events]
    return (EVENTS, tuple(ids), tuple(stamps), seqs[0], seqs[-1], updates, 0, None)


class Client:
    __slots__ = (
        "index", "url", "subscribed", "ready", "last_seq", "seq_gap", "seq_back", "frames", "events",
        "updates", "dropped_notices", "dropped_events", "other", "w_frames", "w_events", "w_updates",
        "error", "closed_code", "ready_at", "connection",
    )  # fmt: skip

    def __init__(self, index: int, url: str) -> None:
        self.index = index
        self.url = url
        self.connection: Connection | None = None
        self.subscribed = False
        self.ready = False
        self.ready_at = 0.0
        self.last_seq: int | None = None
        self.seq_gap = self.seq_back = 0
        self.frames = self.events = self.updates = 0
        self.dropped_notices = self.dropped_events = 0
        self.other: Counter[str] = Counter()
        self.w_frames = self.w_events = self.w_updates = 0
        self.error: str | None = None
        self.closed_code: int | None = None


class Clients:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.mode = settings["mode"]
        urls = settings["urls"]
        first = settings.get("first_index", 0)
        self.clients = [Client(i, urls[(first + i) % len(urls)]) for i in range(settings["clients"])]
        # A frame's first bytes -> the frames seen with them: (text, parsed, number). Looked up by a prefix, then
        # compared whole: hashing every received frame whole cost more than the rest of its handling.
        self.cache: dict[bytes, list[tuple[bytes, tuple, int]]] = {}
        self.parsed: list[tuple] = []  # every event frame parsed, by number
        # One receipt per event frame and client: which frame, when, which client (the events' latencies are
        # worked out in the report, not per event on receipt).
        self.receipt_frames = array.array("I")
        self.receipt_times = array.array("d")
        self.receipt_owners = array.array("I")
        self.ts_of: dict[int, float] = {}
        self.window = (float("inf"), float("inf"))
        self.received = 0
        self.last_receipt = 0.0
        self.negative = 0
        self.errors: Counter[str] = Counter()
        self.all_ready = asyncio.Event()
        self.pending = len(self.clients)
        self.closing = False

    def _settled(self, client: Client) -> None:
        self.pending -= 1
        if self.pending == 0:
            self.all_ready.set()

    async def run_client(self, client: Client, gate: asyncio.Semaphore) -> None:
        settled = False
        timeout = self.settings.get("open_timeout", 60)
        loop = asyncio.get_running_loop()
        try:
            async with gate:
                uri = parse_uri(client.url)
                _, connection = await asyncio.wait_for(
                    loop.create_connection(lambda: Connection(self, client, uri), uri.host, uri.port), timeout
                )
                client.connection = connection
                await asyncio.wait_for(asyncio.shield(connection.opened), timeout)
                connection.send_text(json.dumps({"type": "subscribe", "channels": [self.settings["channel"]]}))
                await asyncio.wait_for(asyncio.shield(connection.ready), timeout)
                client.ready_at = time.time()
            self._settled(client)
            settled = True
            await connection.closed
        except TimeoutError:
            client.error = "timeout" if not client.connection else "timeout waiting for subscribed/snapshot"
        except HandshakeFailed as error:
            client.error = f"handshake: {error}"
        except ConnectionEnded as ended:
            client.closed_code = ended.code
            if not self.closing:
                client.error = (
                    f"closed by the server, code {ended.code}" if ended.code else "connection lost (no close frame)"
                )
        except OSError as error:
            client.error = f"{type(error).__name__}: {error.strerror or error}"
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001  a client's failure is a result, not the bench's end
            client.error = f"{type(error).__name__}: {str(error)[:80]}"
        finally:
            if client.error:
                self.errors[client.error.split(":")[0] if "handshake" in client.error else client.error] += 1
            if not settled:
                self._settled(client)

    def _parsed(self, data: bytes) -> tuple[tuple, int]:
        """The frame parsed, and its number (event frames only; -1 for others), parsing it once per process."""
        prefix = data[:PREFIX]
        seen = self.cache.get(prefix)
        if seen is not None:
            for known, parsed, number in seen:
                if known == data:
                    return parsed, number
        parsed = parse_frame(data.decode())
        number = -1
        if parsed[0] == EVENTS and parsed[1]:
            number = len(self.parsed)
            self.parsed.append(parsed)
            for score_id, stamp in zip(parsed[1], parsed[2], strict=True):
                self.ts_of.setdefault(score_id, stamp)
        if len(self.cache) >= CACHE_LIMIT:
            self.cache.clear()
        self.cache.setdefault(prefix, []).append((data, parsed, number))
        return parsed, number

    def handle(self, client: Client, data: bytes) -> None:
        now = time.time()
        parsed, number = self._parsed(data)
        kind, ids, stamps, first_seq, last_seq, updates, dropped, extra = parsed
        client.frames += 1
        in_window = self.window[0] <= now < self.window[1]
        if in_window:
            client.w_frames += 1
        if kind == EVENTS:
            if client.last_seq is not None:
                expected = client.last_seq + 1
                if first_seq > expected:
                    client.seq_gap += first_seq - expected
                elif first_seq < expected:
                    client.seq_back += 1
                client.last_seq = last_seq
            elif self.mode != "podium":  # no snapshot: the first event starts the count
                client.last_seq = last_seq
            if ids:
                count = len(ids)
                self.receipt_frames.append(number)
                self.receipt_times.append(now)
                self.receipt_owners.append(client.index)
                if stamps[0] > now:
                    self.negative += count
                client.events += count
                self.received += count
                self.last_receipt = now
                if in_window:
                    client.w_events += count
            if updates:
                client.updates += updates
                if in_window:
                    client.w_updates += updates
        elif kind == SUBSCRIBED:
            client.subscribed = True
            if self.mode != "podium":
                client.ready = True
        elif kind == SNAPSHOT_FRAME:
            client.last_seq = extra
            if client.subscribed:
                client.ready = True
        elif kind == DROPPED:
            client.dropped_notices += 1
            client.dropped_events += dropped
        else:
            client.other[str(extra)] += 1

    # --- commands ---------------------------------------------------------------------------

    def ready_report(self, seconds: float) -> dict[str, Any]:
        ready = [c for c in self.clients if c.ready]
        return {
            "event": "ready",
            "clients": len(self.clients),
            "ready": len(ready),
            "failed": len(self.clients) - len(ready),
            "errors": dict(self.errors),
            "seconds": round(seconds, 2),
            "rss_mib": rss_mib(),
        }

    def progress(self) -> dict[str, Any]:
        return {
            "event": "progress",
            "received": self.received,
            "last_receipt": self.last_receipt,
            "open": sum(1 for c in self.clients if c.ready and c.error is None),
        }

    def report(self, timed_ids: list[int], t0: float) -> dict[str, Any]:
        """Figures for the timed scores; the caller merges the reports of every client process."""
        wanted = set(timed_ids)
        histogram: Counter[int] = Counter()
        per_id: Counter[int] = Counter()
        per_client = [0] * len(self.clients)
        by_second: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # count, sum, max (ms)
        ts_of = self.ts_of
        for number, at, owner in zip(self.receipt_frames, self.receipt_times, self.receipt_owners, strict=True):
            _, ids, stamps = self.parsed[number][:3]
            for score_id, stamp in zip(ids, stamps, strict=True):
                if score_id not in wanted:
                    continue
                ms = (at - stamp) * 1000
                histogram[bucket_of(ms)] += 1
                per_id[score_id] += 1
                per_client[owner] += 1
                second = by_second[int(ts_of[score_id] - t0)]
                second[0] += 1
                second[1] += ms
                if ms > second[2]:
                    second[2] = ms
        ready = [c for c in self.clients if c.ready]
        other: Counter[str] = Counter()
        for c in self.clients:
            other.update(c.other)
        return {
            "event": "report",
            "clients": len(self.clients),
            "ready": len(ready),
            "histogram": dict(histogram),
            "per_id": dict(per_id),
            "per_client_timed": [per_client[c.index] for c in ready],
            "per_client_window": [[c.w_frames, c.w_events, c.w_updates] for c in ready],
            "by_second": {str(k): v for k, v in sorted(by_second.items())},
            "received_all": self.received,
            "negative_latencies": self.negative,
            "frames": sum(c.frames for c in self.clients),
            "updates": sum(c.updates for c in self.clients),
            "dropped_notices": sum(c.dropped_notices for c in self.clients),
            "dropped_events": sum(c.dropped_events for c in self.clients),
            "clients_with_drops": sum(1 for c in self.clients if c.dropped_notices),
            "seq_gap_events": sum(c.seq_gap for c in self.clients),
            "seq_back": sum(c.seq_back for c in self.clients),
            "other_frames": dict(other),
            "errors_after_ready": dict(Counter(c.error for c in ready if c.error)),
            "errors": dict(self.errors),
            "rss_mib": rss_mib(),
            "cpu_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2),
        }

    async def close_all(self) -> dict[str, Any]:
        self.closing = True
        started = time.monotonic()
        sockets = [c.connection for c in self.clients if c.connection is not None]
        results = await asyncio.gather(*(connection.close() for connection in sockets), return_exceptions=True)
        failures = sum(1 for result in results if isinstance(result, BaseException))
        return {
            "event": "closed",
            "closed": len(sockets),
            "failures": failures,
            "seconds": round(time.monotonic() - started, 2),
        }


class HandshakeFailed(Exception):
    pass


class ConnectionEnded(Exception):
    """The connection ended: ``code`` is the close code the server sent, None when it sent none."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


# What a socket read lands in: every connection of the process reads into the same buffer, since what is read is
# handled before the next read (no buffer made per read).
_READ_BUFFER = memoryview(bytearray(256 * 1024))


class Connection(asyncio.BufferedProtocol):
    """One client's WebSocket: the sans-I/O protocol fed from the socket, each message handed to ``Clients``."""

    def __init__(self, clients: Clients, client: Client, uri: Any) -> None:
        self.clients, self.client = clients, client
        extensions = enable_client_permessage_deflate(None) if clients.settings["compression"] == "deflate" else None
        # No size limit, as browsers: a late server sends big batches.
        self.protocol = ClientProtocol(uri, extensions=extensions, max_size=None)
        self.transport: asyncio.Transport | None = None
        self.parts: list[bytes] = []
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.protocol.receive_data(bytes(_READ_BUFFER[:nbytes]))
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Response):
                self._handshake()
        self._flush()
        if self.protocol.close_expected():
            self.transport.close()

    def _handshake(self) -> None:
        error = self.protocol.handshake_exc
        if error is None:
            self.opened.set_result(None)
        elif not self.opened.done():
            self.opened.set_exception(HandshakeFailed(f"{type(error).__name__}: {str(error)[:80]}"))
            self.transport.close()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if not frame.fin:
                self.parts.append(frame.data)
                return
            message = bytes(frame.data)  # the library may hand a bytearray: the parse cache needs a hashable key
            if self.parts:
                message = b"".join([*self.parts, message])
                self.parts.clear()
            client = self.client
            self.clients.handle(client, message)
            if client.ready and not self.ready.done():
                self.ready.set_result(None)

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        received = self.protocol.close_rcvd
        ended = ConnectionEnded(received.code if received else None)
        for waiter in (self.opened, self.ready, self.closed):
            if not waiter.done():
                waiter.set_exception(ended)
                waiter.exception()  # retrieved: a client that never got this far has no one waiting on it

    async def close(self) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 5)
        except ConnectionEnded:
            pass
        except TimeoutError:
            self.transport.abort()
            raise


def rss_mib() -> float:
    return processes_rss_mib([os.getpid()])


async def main_async(settings: dict[str, Any], commands: asyncio.StreamReader) -> None:
    clients = Clients(settings)
    gate = asyncio.Semaphore(settings.get("connect_concurrency", 100))
    started = time.monotonic()
    tasks = [asyncio.create_task(clients.run_client(client, gate)) for client in clients.clients]
    await clients.all_ready.wait()
    # The clients' connections live until the end: frozen, and young collections rare (as the server's
    # ASGI_GC_THRESHOLD), so that no collection of this process pauses its receipt of frames, which would count
    # as the server's latency.
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    emit(clients.ready_report(time.monotonic() - started))
    while line := await commands.readline():
        command = json.loads(line)
        name = command["cmd"]
        if name == "window":
            clients.window = (command["start"], command["end"])
            emit({"event": "window"})
        elif name == "progress":
            emit(clients.progress())
        elif name == "report":
            emit(clients.report(command["ids"], command["t0"]))
        elif name == "close":
            emit(await clients.close_all())
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def stdin_reader() -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=2**26)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def entry() -> None:
    commands = await stdin_reader()
    settings = json.loads(await commands.readline())
    await main_async(settings, commands)


if __name__ == "__main__":
    asyncio.run(entry())
