"""What every server-rendered page shares: the context processor behind ``base.html``, the page number of a list."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest

# No list of the pages has this many pages: a larger number is a page that does not exist (and an offset no
# database takes).
MAX_PAGE_NUMBER = 1_000_000


def site(request: HttpRequest) -> dict[str, object]:
    """The WebSocket endpoint the page's script connects to (``PAGES_WEBSOCKET_URL``)."""
    return {"websocket_url": settings.PAGES_WEBSOCKET_URL}


def page_number(request: HttpRequest) -> int:
    """``?page=`` of a paged list: 1 when absent or not a number, 404 past any page there can be."""
    text = request.GET.get("page", "1")
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text) > len(str(MAX_PAGE_NUMBER)) or int(text) > MAX_PAGE_NUMBER:
        raise Http404("No such page.")
    return max(1, int(text))
