"""``/ws/main``: subscribe to channels, receive their events.

Client frames: ``{"type": "subscribe" | "unsubscribe", "channels": [...]}`` and
``{"type": "ping"}``. A bad frame gets an error frame and the connection stays
open; a client that sends frames faster than the configured rate is closed
with 4429. ``user.{id}`` needs the JWT of that user in the ``token`` query
parameter, and ``moderation`` a staff member's; a token that is not valid closes the connection with 4401.
The consumer never writes to the database.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from common.metrics import WEBSOCKETS_OPEN
from events.names import Channel, parse_channel

from . import presence, selectors
from .hub import Hub, Outbox, get_hub

CLOSE_INVALID_TOKEN = 4401
CLOSE_TOO_FAST = 4429


_active_user = database_sync_to_async(selectors.token_user)
_unknown_boards = database_sync_to_async(selectors.unknown_boards)


class _Bucket:
    """Token bucket: ``rate`` frames a second, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class MainConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel per connection: the server's hub is the only layer subscriber.
    channel_layer_alias = "podium.none"
    hub: Hub
    outbox: Outbox

    async def connect(self) -> None:
        self.user_id: uuid.UUID | None = None
        self.is_staff = False
        self.channels: set[str] = set()
        self.bucket = _Bucket(settings.REALTIME_CLIENT_FRAMES_PER_SECOND, settings.REALTIME_CLIENT_FRAME_BURST)
        self.outbox = Outbox(self._send_frame, settings.REALTIME_CLIENT_BUFFER)
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token")
        await self.accept()
        if token:
            user = await _active_user(token[0])
            if user is None:
                await self.close(code=CLOSE_INVALID_TOKEN, reason="invalid token")
                return
            self.user_id, self.is_staff = user.id, user.is_staff
        self.hub = get_hub()
        self.outbox.start()
        presence.opened()
        WEBSOCKETS_OPEN.inc()
        self.counted = True
        self.hub.count_clients()

    def _send_frame(self, frame: str) -> Coroutine[Any, Any, None]:
        # The server's own send, which Channels' send() would only wrap: this runs for every frame to every client.
        return self.base_send({"type": "websocket.send", "text": frame})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            self.counted = False
            presence.closed()
            WEBSOCKETS_OPEN.dec()
        self.outbox.stop()
        if hasattr(self, "hub"):
            for channel in list(self.channels):
                await self.hub.unsubscribe(self.outbox, channel)
        self.channels.clear()

    def _reply(self, body: dict[str, Any]) -> None:
        self.outbox.put(json.dumps(body), "", control=True)

    def _error(self, code: str, message: str) -> None:
        self._reply({"type": "error", "code": code, "message": message})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.bucket.take():
            await self.close(code=CLOSE_TOO_FAST, reason="too many frames")
            return
        raw = text_data.encode() if text_data is not None else (bytes_data or b"")
        if len(raw) > settings.REALTIME_MAX_FRAME_BYTES:
            self._error("frame_too_large", f"Frames may be at most {settings.REALTIME_MAX_FRAME_BYTES} bytes.")
            return
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth ("[[[[...")
            self._error("invalid_json", "The frame is not JSON.")
            return
        if not isinstance(message, dict):
            self._error("invalid_message", "A frame is a JSON object with a type.")
            return
        kind = message.get("type")
        if kind == "ping":
            self._reply({"type": "pong"})
        elif kind in ("subscribe", "unsubscribe"):
            names = message.get("channels")
            if not isinstance(names, list) or not names:
                self._error("invalid_message", "channels must be a non-empty list of channel names.")
            elif kind == "subscribe":
                await self._subscribe(names)
            else:
                await self._unsubscribe(names)
        else:
            self._error("unknown_type", "type must be subscribe, unsubscribe or ping.")

    async def _subscribe(self, names: list[Any]) -> None:
        wanted: list[Channel] = []
        for name in names:
            channel = parse_channel(name)
            if channel is None:
                self._error("unknown_channel", f"There is no channel {str(name)[:64]!r}.")
                return
            if channel.kind == "user" and channel.user_id != self.user_id:
                self._error("forbidden_channel", "user.{id} is only for that user, signed in with ?token=.")
                return
            if channel.kind == "moderation" and not self.is_staff:
                self._error("forbidden_channel", "moderation is only for staff, signed in with ?token=.")
                return
            if channel.name not in self.channels and channel not in wanted:
                wanted.append(channel)
        unknown = await _unknown_boards(wanted)
        if unknown:
            kind, _, ident = unknown[0].partition(".")
            self._error("unknown_channel", f"There is no {'game' if kind == 'leaderboard' else kind} {ident}.")
            return
        if len(self.channels) + len(wanted) > settings.REALTIME_MAX_SUBSCRIPTIONS:
            self._error(
                "too_many_subscriptions", f"A connection may hold at most {settings.REALTIME_MAX_SUBSCRIPTIONS}."
            )
            return
        for channel in wanted:
            await self.hub.prepare(channel)
        # Events flow from here on; "subscribed" goes first, so a board's snapshot always follows it.
        self._reply({"type": "subscribed", "channels": [channel.name for channel in wanted]})
        for channel in wanted:
            self.channels.add(channel.name)
            self.hub.attach(self.outbox, channel)

    async def _unsubscribe(self, names: list[Any]) -> None:
        gone = []
        for name in names:
            channel = parse_channel(name)
            if channel is not None and channel.name in self.channels:
                self.channels.discard(channel.name)
                await self.hub.unsubscribe(self.outbox, channel.name)
                gone.append(channel.name)
        self._reply({"type": "unsubscribed", "channels": gone})
