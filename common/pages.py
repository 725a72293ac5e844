"""What every server-rendered page shares: the context processor behind ``base.html``, the page number of a list,
the staff-only gate."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

View = Callable[..., HttpResponse]

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


def staff_only(login_next: str | None = None) -> Callable[[View], View]:
    """Anonymous visitors go to sign in (then back to ``login_next``, default this URL); other users get 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(reverse(login_next) if login_next else request.get_full_path())
            if not (request.user.is_active and request.user.is_staff):
                raise PermissionDenied("This page is for staff only.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
