"""Fixtures for the page tests: the real ASGI application on a free port, and Debian's Chromium.

``site`` serves HTTP and ``/ws/main`` from uvicorn in a thread of the test
process, against the test database (so the embedded pass shares its SQLite
file, and the other pass its PostgreSQL and Redis). ``page`` is a fresh
browser tab; when the test ends it saves a screenshot to
``artifacts/screenshots/`` and fails the test if the page logged a console
error or threw. Playwright drives ``/usr/bin/chromium`` and never downloads a
browser of its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@dataclass
class Site:
    url: str

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@dataclass
class Console:
    errors: list[str] = field(default_factory=list)


def _application():
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application

    from realtime.routing import websocket_urlpatterns

    # Tests run with DEBUG off: serve static files from the finders, as the embedded demo does, not from a
    # collectstatic run.
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True):
        http = get_asgi_application()
    return ProtocolTypeRouter({"http": http, "websocket": URLRouter(websocket_urlpatterns)})


async def _start_hub() -> None:
    from realtime.hub import get_hub

    get_hub()


@pytest.fixture
def site(transactional_db, _browser_env) -> Iterator[Site]:
    import uvicorn
    from django.db import connections

    # The server's threads close their database connections after each request, so none outlives the test
    # (PostgreSQL refuses to drop a test database that still has a session).
    database = connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_application(), lifespan="off", log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="page-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the page-test server did not start")
        time.sleep(0.02)
    # The server's hub from the start, so events published by the test itself (in embedded mode, from a thread
    # where Playwright's loop runs) go to the server's loop, as they would from a request.
    asyncio.run_coroutine_threadsafe(_start_hub(), server.servers[0].get_loop()).result(timeout=10)
    yield Site(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    database["CONN_MAX_AGE"] = max_age


@pytest.fixture
def _browser_env() -> Iterator[None]:
    # Playwright's synchronous API keeps an event loop running in the test's thread while it is open, which
    # Django takes for an async context; the test's own database calls are synchronous, so allow them, for
    # this test only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser(_browser_env):
    """Chromium for one test. Not shared across tests: while Playwright runs, its event loop runs in the
    test thread, and every later test of the process would find itself inside it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test installs it as root)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
        # While Playwright's loop runs, Django keeps the test's database connection per context, not per
        # thread: close it here, or it outlives the test (and PostgreSQL will not drop the test database).
        connections.close_all()


def _page_fixture(request: pytest.FixtureRequest, browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(5_000)
    console = Console()
    page.on("console", lambda message: message.type == "error" and console.errors.append(message.text))
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    page.console = console
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not console.errors, f"the page logged errors: {console.errors}"


@pytest.fixture
def page(request, browser, site):
    """A desktop-sized tab (1280x900)."""
    yield from _page_fixture(request, browser, 1280, 900)


@pytest.fixture
def phone(request, browser, site):
    """A phone-sized tab (390x844)."""
    yield from _page_fixture(request, browser, 390, 844)


def sign_in(page, site: Site, user) -> None:
    """Give the tab a session for ``user``, as signing in would."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": site.url}])
