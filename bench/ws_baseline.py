"""The baseline of bench.ws_fanout: Podium's ASGI application plus one plain Channels consumer.

``uvicorn bench.ws_baseline:application`` serves everything
``leaderboard_project.asgi:application`` serves (HTTP and ``/ws/main``, so
the server is the same), plus ``/ws/bench/baseline``: the textbook Channels
fan-out the realtime hub replaces. Each connection joins one channel-layer
group itself (``group_add`` when it subscribes), and every message sent to the
group (``group_send``) reaches each connection through the layer and is
forwarded with ``send_json``: one layer delivery and one JSON encoding per
client and message. Run with ``REALTIME_CHANNEL_LAYER=core``: the default
channels-redis layer, ``channels_redis.core.RedisChannelLayer``.

The client protocol is a subset of ``/ws/main``: ``{"type": "subscribe",
"channels": [...]}`` (the names are not looked at) answered with
``{"type": "subscribed", "channels": ["bench.baseline"]}``; then each message
of the group arrives as its own frame.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leaderboard_project.settings")

django_asgi_app = get_asgi_application()

from typing import Any  # noqa: E402

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.ws_load import BASELINE_GROUP  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402


class BaselineConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "subscribe" and not self.joined:
            await self.channel_layer.group_add(BASELINE_GROUP, self.channel_name)
            self.joined = True
            await self.send_json({"type": "subscribed", "channels": [BASELINE_GROUP]})

    async def bench_event(self, message: dict[str, Any]) -> None:
        """A ``group_send`` of type ``bench.event``: forward its event as it is."""
        await self.send_json(message["event"])

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(BASELINE_GROUP, self.channel_name)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([*websocket_urlpatterns, path("ws/bench/baseline", BaselineConsumer.as_asgi())]),
    }
)
