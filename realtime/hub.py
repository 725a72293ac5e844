"""One hub per server process: the only subscriber to the channel layer, fanning out to local clients.

Whatever the number of clients, a server joins each group once (the hub's own
layer channel), receives each message once, and builds each frame once per
channel and tick; every client gets the same text. A client's frames wait in
its own bounded outbox, written by its own task, so a client that does not
read fills only its own outbox: what does not fit is counted and the client is
told how many events it missed.

Boards are coalesced: standings changes arrive on the internal ``boards``
channel, and a board with subscribers sends at most one ``leaderboard.updated``
(``tournament.standings`` for a tournament, also on the ``tournament`` feed)
per ``REALTIME_BOARD_INTERVAL``, read after the changes, so it shows the latest
state. The same read tells watched players (``user.{id}`` subscribers) whether
their rank moved. Such events made here go out in the next tick's frame of
their channel, beside what came from the bus: a client gets at most one frame
a tick and channel. ``seq`` counts the events this server sent on a channel; a
board's snapshot carries the seq of the state it shows.

Every frame to every client passes here, so the sending costs what it must
and no more: a frame is written by the code that made it, without a task
woken per client, unless that client's socket is full (see ``Outbox``).

The layer loses what is published while it is unreachable, and says nothing of
it. So the hub sends itself a probe through the layer every
``REALTIME_LAYER_PROBE_SECONDS``: a probe that cannot be sent or does not come
back in time means the layer is interrupted. When probes come back again, the
hub joins its groups anew (a restarted Redis has forgotten them), forgets the
board states it kept, and tells every client which of its channels may have
missed events (``{"type": "dropped", "count": null, ...}``): clients re-sync
from fresh snapshots.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from common.metrics import EVENTS_DROPPED, EVENTS_SENT, PUBLISH_LAG_SECONDS
from common.serializers import timestamp
from events.bus import MESSAGE_TYPE, serve_on
from events.names import BOARDS, BOARDS_RESYNC, Channel, group_name

if TYPE_CHECKING:
    from games.tiebreak import TieBreak

PROBE_TYPE = "hub.probe"
PROBE_LATE = 10  # probe intervals without one coming back: lost (a busy server's events lag; they are not lost)
UNLISTED_KEPT = 100_000  # tournament channels a hub remembers as unlisted (leagues' cohorts) before it forgets them all

logger = logging.getLogger(__name__)


@dataclass
class _Gap:
    count: int = 0
    channels: set[str] = field(default_factory=set)


class Outbox:
    """Frames on their way to one client, at most ``limit`` events queued.

    A frame with nothing queued before it is written at once, by the caller: the send runs up to its end
    without a task being woken, as it nearly always can (the client's socket takes the frame). A send that
    has to wait (the socket is full: the client reads slowly) is finished by the outbox's own task, and the
    frames after it queue meanwhile.

    An event frame that would take the queue past the limit is dropped and
    counted, in place, so the client learns where it lost events. The limit
    counts events, not frames: when the server itself falls behind, frames
    grow (a tick carries more events) and the limit still holds. A frame is
    always accepted into an empty queue, so a client that keeps up never loses one.
    """

    def __init__(self, send: Callable[[str], Coroutine[Any, Any, None]], limit: int) -> None:
        self.send = send
        self.limit = limit
        self.items: deque[tuple[str, int] | _Gap] = deque()
        self.queued = 0  # events in ``items``
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.waiting: tuple[Coroutine[Any, Any, None], Any] | None = None  # a send waiting for the socket
        self.closed = False

    def start(self) -> None:
        self.task = asyncio.create_task(self._write())

    def stop(self) -> None:
        self.closed = True
        if self.task:
            self.task.cancel()
        if self.waiting is not None:
            self.waiting[0].close()
            self.waiting = None

    def put(self, frame: str, channel: str, *, count: int = 1, control: bool = False) -> bool:
        """Queue a frame of ``count`` events; control frames (replies, snapshots) are never dropped.

        Returns False when the frame was dropped (the caller counts drops, once for all its clients)."""
        if self.closed:
            return True  # the client is gone: nothing is lost that it could still miss
        if not self.items and self.waiting is None and self.task is not None:
            self._begin(frame)
            return True
        queued = True
        if control:
            self.items.append((frame, 0))
        elif self.items and self.queued + count > self.limit:
            last = self.items[-1]
            if not isinstance(last, _Gap):
                last = _Gap()
                self.items.append(last)
            last.count += count
            last.channels.add(channel)
            queued = False
        else:
            self.items.append((frame, count))
            self.queued += count
        self.wake.set()
        return queued

    def _begin(self, frame: str) -> None:
        """Send a frame now; a send that has to wait is left to the outbox's task."""
        sending = self.send(frame)
        try:
            waited = sending.send(None)
        except StopIteration:
            return
        except Exception:  # noqa: BLE001  the server refuses to send: the client is gone, and its consumer stops this
            logger.debug("could not send to a client", exc_info=True)
            self.closed = True
            return
        self.waiting = (sending, waited)
        self.wake.set()

    async def _write(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while not self.closed:
                if self.waiting is not None:
                    await self._finish()
                elif self.items:
                    item = self.items.popleft()
                    if isinstance(item, _Gap):
                        frame = json.dumps({"type": "dropped", "count": item.count, "channels": sorted(item.channels)})
                    else:
                        frame, count = item
                        self.queued -= count
                    self._begin(frame)
                else:
                    break

    async def _finish(self) -> None:
        """Go on with the send that had to wait, as a task running it would: each time what it waits for is done."""
        assert self.waiting is not None
        sending, waited = self.waiting
        try:
            while True:
                if waited is None:  # a bare yield: the send lets the loop turn once
                    await asyncio.sleep(0)
                else:
                    waited._asyncio_future_blocking = False
                    await asyncio.wait([waited])
                try:
                    waited = sending.send(None)
                except StopIteration:
                    return
                except Exception:  # noqa: BLE001  as in _begin
                    logger.debug("could not send to a client", exc_info=True)
                    self.closed = True
                    return
        finally:
            self.waiting = None


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def event_frame(channel: str, seq: int, type: str, data: str, ts: str) -> str:
    """An event's frame, around its already-encoded data."""
    return f'{{"type":{json.dumps(type)},"channel":{json.dumps(channel)},"seq":{seq},"data":{data},"ts":"{ts}"}}'


def board_events(channel: str) -> tuple[str, str]:
    """A board channel's (snapshot, update) event types."""
    if channel.startswith("tournament."):
        return "tournament.snapshot", "tournament.standings"
    return "leaderboard.snapshot", "leaderboard.updated"


def batch_frame(events: list[str]) -> str:
    return '{"type":"batch","events":[' + ",".join(events) + "]}"


def deliver(outboxes: Collection[Outbox], frame: str, channel: str, count: int = 1) -> None:
    """Queue an event frame for every client in ``outboxes``, and count the events sent and dropped.

    The metrics are updated once per call, not once per client: this runs for every frame to every client.
    """
    dropped = 0
    for outbox in outboxes:
        if not outbox.put(frame, channel, count=count):
            dropped += 1
    sent = len(outboxes) - dropped
    if sent:
        EVENTS_SENT.labels(channel.partition(".")[0]).inc(count * sent)
    if dropped:
        EVENTS_DROPPED.inc(count * dropped)


@dataclass
class _Board:
    """What this server knows of a board it serves."""

    body: dict[str, Any] | None = None  # the last state sent (the next snapshot)
    moved: set[str] = field(default_factory=set)  # user ids changed since that state
    waiting: set[Outbox] = field(default_factory=set)  # subscribed before there was a state to show
    due: bool = False
    last_flush: float = 0.0


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel_name: str | None = None
        self.subscribers: dict[str, set[Outbox]] = defaultdict(set)
        self.seq: dict[str, int] = defaultdict(int)
        self.boards: dict[str, _Board] = {}
        # (user id, board channel) -> the (rank, value) a watched player last had there
        self.user_ranks: dict[tuple[str, str], tuple[int | None, int | None, int | None]] = {}
        self.groups: set[str] = set()
        self.unlisted: set[str] = set()  # tournament channels whose standings stay off the ``tournament`` feed
        self.inbox: deque[dict[str, Any]] = deque()
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.flushes: set[asyncio.Task] = set()  # tasks started here and not yet done
        self.started = asyncio.Lock()
        self.presence: asyncio.Task | None = None
        self.probe_seen = time.monotonic()  # when a probe last came back through the layer
        self.interrupted = False

    async def _start(self) -> None:
        async with self.started:
            if self.channel_name is None:
                # The default prefix: channels-redis' core layer reads one process-wide prefix at a time.
                self.channel_name = await self.layer.new_channel()
                self.probe_seen = time.monotonic()
                self.tasks = [
                    asyncio.create_task(self._read()),
                    asyncio.create_task(self._dispatch()),
                    asyncio.create_task(self._probe()),
                ]

    def count_clients(self) -> None:
        """With Redis, keep this process's count of open WebSockets where every process can read it."""
        if settings.REDIS_URL and self.presence is None:
            from .presence import report_forever

            self.presence = asyncio.create_task(report_forever())

    async def _join(self, channel: str) -> None:
        await self._start()
        if channel not in self.groups:
            self.groups.add(channel)
            await self.layer.group_add(group_name(channel), self.channel_name)

    async def _leave(self, channel: str) -> None:
        if channel in self.groups and channel != BOARDS:
            self.groups.discard(channel)
            await self.layer.group_discard(group_name(channel), self.channel_name)

    async def prepare(self, channel: Channel) -> None:
        """Everything a subscription needs before the client is told it is subscribed: the groups joined
        (events from now on reach this server) and, for ``user.{id}``, where the player stands now."""
        if channel.is_board or channel.kind == "user" or channel.name == "tournament":
            await self._join(BOARDS)
        await self._join(channel.name)
        if channel.kind == "user" and channel.name not in self.subscribers:
            from .selectors import user_board_ranks

            standings = await sync_to_async(user_board_ranks)(user_id=channel.user_id)
            for board, seen in standings.items():
                self.user_ranks.setdefault((channel.id, board), seen)

    def attach(self, outbox: Outbox, channel: Channel) -> None:
        """Start sending a prepared channel's events to a client; a board starts with its snapshot."""
        if channel.name not in self.groups:
            # Its last other subscriber left while this one was being prepared: join again.
            self._keep(asyncio.create_task(self._join(channel.name)))
        self.subscribers[channel.name].add(outbox)
        if channel.is_board:
            board = self.boards.setdefault(channel.name, _Board())
            if board.body is not None:
                self._snapshot(channel.name, board.body, [outbox])
            else:
                board.waiting.add(outbox)
                self._schedule(channel.name, at_once=True)

    async def unsubscribe(self, outbox: Outbox, channel: str) -> None:
        listeners = self.subscribers.get(channel)
        if listeners is None:
            return
        listeners.discard(outbox)
        board = self.boards.get(channel)
        if board:
            board.waiting.discard(outbox)
        if not listeners:
            del self.subscribers[channel]
            self.boards.pop(channel, None)
            if channel.startswith("user."):
                self.user_ranks = {key: seen for key, seen in self.user_ranks.items() if key[0] != channel[5:]}
            await self._leave(channel)

    # Receiving: one reader per server, one dispatcher that batches what arrived within a tick.

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  a layer hiccup must not end the server's subscriptions
                logger.warning("channel layer receive failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == MESSAGE_TYPE:
                self.inbox.append(message)
                self.wake.set()
            elif message.get("type") == PROBE_TYPE:
                self.probe_seen = time.monotonic()
                if self.interrupted:
                    await self._resume()

    async def _probe(self) -> None:
        """Send a probe through the layer at each interval; one lost or late means the layer is interrupted."""
        interval = settings.REALTIME_LAYER_PROBE_SECONDS
        while True:
            try:
                await asyncio.wait_for(self.layer.send(self.channel_name, {"type": PROBE_TYPE}), PROBE_LATE * interval)
                failed = time.monotonic() - self.probe_seen > PROBE_LATE * interval
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  whatever the layer raises, events published now are lost
                failed = True
            if failed and not self.interrupted:
                self.interrupted = True
                logger.warning("channel layer interrupted: events published now do not reach this server")
            await asyncio.sleep(interval)

    async def _resume(self) -> None:
        """The layer is back: join the groups again and have every client re-sync what it may have missed."""
        self.interrupted = False
        for group in sorted(self.groups):
            try:
                await self.layer.group_add(group_name(group), self.channel_name)
            except Exception:  # noqa: BLE001  the next lost probe interrupts again, and this runs again
                logger.warning("could not join %s again", group, exc_info=True)
                self.interrupted = True
                return
        logger.warning("channel layer back: %d clients told to re-sync", self._resync())

    def _resync(self) -> int:
        """Forget every board state kept here and tell each client to re-sync all its channels (``dropped``
        with a null count: the client subscribes again and gets fresh snapshots). Returns how many clients."""
        for board in self.boards.values():
            board.body = None  # the state kept from before may be stale: the next snapshot reads it again
        self.user_ranks.clear()
        missed: dict[Outbox, list[str]] = defaultdict(list)
        for channel, listeners in self.subscribers.items():
            for outbox in listeners:
                missed[outbox].append(channel)
        for outbox, channels in missed.items():
            outbox.put(_json({"type": "dropped", "count": None, "channels": sorted(channels)}), "", control=True)
        return len(missed)

    async def _dispatch(self) -> None:
        while True:
            await self.wake.wait()
            await asyncio.sleep(settings.REALTIME_TICK_SECONDS)  # let a burst gather into one frame
            self.wake.clear()
            by_channel: dict[str, list[list[str]]] = defaultdict(list)
            published: dict[str, str] = {}  # channel -> the ts of its oldest event from the bus
            while self.inbox:
                message = self.inbox.popleft()
                channel = message["channel"]
                if message.get("type") == MESSAGE_TYPE:
                    published.setdefault(channel, message["events"][0][2])
                by_channel[channel].extend(message["events"])
            for channel, events in by_channel.items():
                try:
                    if channel == BOARDS:
                        self._boards_changed(events)
                    else:
                        self._fan_out(channel, events, published.get(channel))
                except Exception:  # noqa: BLE001  one bad message must not stop every channel of the server
                    logger.exception("could not dispatch %d events of %s", len(events), channel)

    def _fan_out(self, channel: str, events: list[list[str]], published: str | None = None) -> None:
        """Send events to the channel's clients as one frame. ``published``: the ``ts`` of the oldest of them that
        came from the bus (when it was published), from which the frame's lag is measured."""
        listeners = self.subscribers.get(channel)
        if not listeners:
            return
        frames = []
        for type, data, ts in events:
            self.seq[channel] += 1
            frames.append(event_frame(channel, self.seq[channel], type, data, ts))
        frame = frames[0] if len(frames) == 1 else batch_frame(frames)
        if published:
            PUBLISH_LAG_SECONDS.observe(max(0.0, time.time() - datetime.fromisoformat(published).timestamp()))
        deliver(listeners, frame, channel, len(frames))

    def _send_next_tick(self, channel: str, type: str, data: str) -> None:
        """Send an event made here (a board's update, a rank change) in the next tick's frame of its channel, with
        the events that came from the bus meanwhile: a client gets one frame a tick, whatever moved."""
        self.inbox.append({"channel": channel, "events": [[type, data, timestamp(timezone.now())]]})
        self.wake.set()

    # Boards: coalesced updates, snapshots, and rank changes of watched players.

    def _boards_changed(self, events: list[list[str]]) -> None:
        watching_players = any(name.startswith("user.") for name in self.subscribers)
        for type, data, _ in events:
            if type == BOARDS_RESYNC:
                logger.info("boards changed wholesale: %d clients told to re-sync", self._resync())
                continue
            change = json.loads(data)
            channel = change["channel"]
            if channel not in self.subscribers and not watching_players and not self._in_feed(channel):
                continue
            board = self.boards.setdefault(channel, _Board())
            board.moved.update(change["moved"])
            self._schedule(channel)

    def _in_feed(self, channel: str) -> bool:
        """Whether a board's updates also go to a feed here: every listed tournament's standings go to ``tournament``
        (a tournament is known to be unlisted from the first read of its board)."""
        return channel.startswith("tournament.") and "tournament" in self.subscribers and channel not in self.unlisted

    def _schedule(self, channel: str, *, at_once: bool = False) -> None:
        board = self.boards[channel]
        if board.due:
            return
        board.due = True
        wait = 0.0 if at_once else max(0.0, board.last_flush + settings.REALTIME_BOARD_INTERVAL - time.monotonic())
        asyncio.get_running_loop().call_later(wait, self._start_flush, channel)

    def _start_flush(self, channel: str) -> None:
        self._keep(asyncio.create_task(self._flush(channel)))

    def _keep(self, task: asyncio.Task) -> None:
        self.flushes.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self.flushes.discard)

    async def _flush(self, channel: str) -> None:
        board = self.boards.get(channel)
        if board is None:
            return
        board.due = False
        board.last_flush = time.monotonic()
        moved, board.moved = board.moved, set()
        watched = [name[5:] for name in self.subscribers if name.startswith("user.")]
        from .selectors import board_update

        try:
            update = await sync_to_async(board_update)(channel=channel, moved=moved, watched=watched)
        except Exception:  # noqa: BLE001  try again at the next change rather than lose the server
            logger.warning("could not read board %s", channel, exc_info=True)
            board.moved |= moved
            return
        if update is None or self.boards.get(channel) is not board:
            return
        if not update.listed:
            if len(self.unlisted) >= UNLISTED_KEPT:
                self.unlisted.clear()  # learnt again, one read a board: cohorts of ended periods change no more
            self.unlisted.add(channel)
        body = {**update.body, "moved": [m for m in update.moved if board.body is not None]}
        previous = {entry["user_id"]: entry["rank"] for entry in (board.body or {}).get("top", [])}
        for entry in body["moved"]:
            entry["previous_rank"] = previous.get(entry["user_id"])
        listeners = self.subscribers.get(channel, set())
        fresh = board.waiting & listeners
        current = listeners - fresh
        board.waiting = set()
        _, updated = board_events(channel)
        if current and (moved or board.body is None):
            self._send_next_tick(channel, updated, _json(body))
        if moved and self._in_feed(channel):
            self._send_next_tick("tournament", updated, _json(body))
        board.body = {key: value for key, value in body.items() if key != "moved"}
        if fresh:
            self._snapshot(channel, board.body, fresh)
        descending = update.body["board"]["sort_order"] == "desc"
        self._ranks_changed(
            channel, (descending, update.tiebreak), update.ranks, {m["user_id"]: m for m in update.moved}, moved
        )
        if not listeners:
            board.body = None  # read only for watched players: nobody keeps it current for a later snapshot

    def _snapshot(self, channel: str, body: dict[str, Any], outboxes: Any) -> None:
        snapshot, _ = board_events(channel)
        frame = event_frame(channel, self.seq[channel], snapshot, _json(body), timestamp(timezone.now()))
        for outbox in outboxes:
            outbox.put(frame, channel, control=True)
        EVENTS_SENT.labels(channel.partition(".")[0]).inc(len(outboxes))

    def _ranks_changed(
        self,
        board: str,
        order: tuple[bool, TieBreak | None],
        ranks: dict[str, dict[str, Any] | None],
        movers: dict[str, dict[str, Any]],
        moved: set[str],
    ) -> None:
        """``rank.changed`` for watched players whose rank or value on the board changed since the last look."""
        for user_id, entry in ranks.items():
            key = (user_id, board)
            new = (entry["rank"], entry["value"], entry["tiebreak"]) if entry else (None, None, None)
            known = key in self.user_ranks
            old = self.user_ranks.get(key, (None, None, None))
            self.user_ranks[key] = new
            if new == old or (not known and user_id not in moved):
                continue  # the first look at a player who did not move is only the baseline
            (new_rank, new_value, new_tiebreak), (old_rank, old_value, old_tiebreak) = new, old
            by: list[dict[str, Any]] = []
            if user_id in moved:
                improved = new_value is not None and (old_value is None or _better(order, new[1:], old[1:]))
                reason = "personal_best" if improved else "moved"
            elif old_rank is not None and new_rank is not None and new_rank > old_rank:
                reason = "overtaken"
                by = [
                    {
                        "user_id": m["user_id"],
                        "username": m["username"],
                        "display_name": m["display_name"],
                        "rank": m["rank"],
                    }
                    for m in movers.values()
                    if m["rank"] <= new_rank and m["user_id"] != user_id
                ][:5]
            else:
                reason = "moved"
            data = {
                "board": board,
                "reason": reason,
                "rank": new_rank,
                "previous_rank": old_rank,
                "value": new_value,
                "previous_value": old_value,
                "tiebreak": new_tiebreak,
                "previous_tiebreak": old_tiebreak,
                "by": by,
            }
            self._send_next_tick(f"user.{user_id}", "rank.changed", _json(data))


def _better(order: tuple[bool, TieBreak | None], new: tuple[Any, Any], old: tuple[Any, Any]) -> bool:
    """Whether a (value, tie-break) ranks above another on a board of this direction and tie-break."""
    descending, tiebreak = order
    if tiebreak is None or new[1] is None or old[1] is None:
        new_value, old_value = new[0], old[0]
    else:
        new_value, old_value = tiebreak.encode(*new), tiebreak.encode(*old)
    return new_value > old_value if descending else new_value < old_value


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """This server's hub (one per event loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for stale in [other for other in _hubs if other.is_closed()]:
            del _hubs[stale]
        hub = _hubs[loop] = Hub()
        serve_on(loop)
    return hub
