"""What every server-rendered page shares: the context processor behind ``base.html``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """The WebSocket endpoint the page's script connects to (``PAGES_WEBSOCKET_URL``)."""
    return {"websocket_url": settings.PAGES_WEBSOCKET_URL}
